"""Notebook 02's checks can fail, and their messages give no other exercise's answer.

* The Monte-Carlo check of the closed-form KL (the sanity-check cell) tests a code far from the prior,
  with a tolerance of four Monte-Carlo standard errors: a KL of 0, or a KL with a usual mistake, fails it.
* Exercise 02.2's self-check shows known KL values when it fails; none of its known points is a
  mean-only shift (the question of exercise 02.4), so no failing message works 02.4 out.
* Exercise 02.5's pass message does not describe the form of the answer.
"""

import json
import types
from pathlib import Path

import numpy as np
import pytest
from keras import ops

import vae_helpers as vh
from vae_machinery import exercises

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "02_model.ipynb"
SANITY_CELL = "050faad3"


def _kl_dims(m, v):
    return 0.5 * (ops.square(m) + ops.exp(v) - 1.0 - v)


WRONG_KL = {
    "returns 0": lambda m, v: ops.sum(0.0 * m, axis=-1),
    "missing 1/2": lambda m, v: 2.0 * ops.sum(_kl_dims(m, v), axis=-1),
    "sigma for sigma^2": lambda m, v: 0.5 * ops.sum(ops.square(m) + ops.exp(0.5 * v) - 1.0 - v, axis=-1),
    "mean over dimensions": lambda m, v: ops.mean(_kl_dims(m, v), axis=-1),
    "mean only": lambda m, v: 0.5 * ops.sum(ops.square(m), axis=-1),
}


def _monte_carlo_check(kl_divergence):
    """Run the Monte-Carlo part of notebook 02's sanity-check cell with ``kl_divergence`` as the
    closed form; raises AssertionError when the two disagree."""
    cell = next(c for c in json.loads(NOTEBOOK.read_text())["cells"] if c.get("id") == SANITY_CELL)
    source = "".join(cell["source"])
    code = source[source.index("# Monte-Carlo check"):]
    helpers = types.SimpleNamespace(kl_divergence=kl_divergence)
    exec(code, {"np": np, "vh": helpers, "LATENT_DIM": 2, "SEED": 42, "print": lambda *a, **k: None})


def test_the_monte_carlo_check_passes_the_closed_form():
    _monte_carlo_check(vh.kl_divergence)


@pytest.mark.parametrize("mistake", WRONG_KL)
def test_the_monte_carlo_check_fails_a_wrong_kl(mistake):
    with pytest.raises(AssertionError, match="closed-form KL disagrees with Monte Carlo"):
        _monte_carlo_check(WRONG_KL[mistake])


@pytest.mark.parametrize("mistake", WRONG_KL)
def test_a_wrong_kl_fails_02_2_without_working_out_exercise_4(mistake, capsys):
    exercises.reset_attempts()
    assert exercises.check("02.2", WRONG_KL[mistake]) is False
    message = capsys.readouterr().out.splitlines()[0]
    assert message.startswith("Not quite: ")
    # exercise 4: mu = (1, 0), log sigma^2 = (0, 0); a failing message must not show the KL of a
    # shifted mean with the prior's variance (e.g. "z_mean=[[2, 0]] and z_log_var=[[0, 0]] ... expected 2")
    shows_mean_only_shift = "z_log_var=[[0, 0]]" in message and "z_mean=[[0, 0]]" not in message
    assert not shows_mean_only_shift, message


def test_the_right_kl_passes_02_2_in_several_forms():
    def with_numpy(m, v):
        return 0.5 * np.sum(np.square(m) + np.exp(v) - 1.0 - v, axis=-1)

    def with_sqrt(m, v):
        return 0.5 * ops.sum(ops.square(m) + ops.square(ops.sqrt(ops.exp(v))) - 1.0 - v, axis=-1)

    for fn in (with_numpy, with_sqrt):
        exercises.reset_attempts()
        assert exercises.check("02.2", fn) is True


def test_the_pass_message_of_02_5_does_not_describe_the_answer():
    passed = exercises.SELF_CHECKS["02.5"].passed
    assert "multiple" not in passed and "18" not in passed and "per " not in passed, passed
