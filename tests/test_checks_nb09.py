"""Notebook 09's two exercises on the notebook's own (untrained) convolutional VAE: the right count
passes the self-check and the grading in the forms a student writes it; the usual mistakes fail the
grading, those outside the bounds also the self-check, and no message gives the answer away.

The counts depend only on the architecture, so the model is built from the notebook's own cell (no
training); tests/test_beyond.py runs the worked solutions on a short real run."""

import contextlib
import io
import json
from pathlib import Path

import keras
import pytest
import vae_answers
from keras import layers

import vae_helpers as vh
from vae_machinery.exercises import engine

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "09_conv_vae.ipynb"
PARAMETERS_5X5, MULTIPLY_ADDS = 266_261, 6_660_928  # printed by the committed notebook under each exercise
BIASES, HEADS = 3_349, 64  # the model's biases; the kernels of z_mean and z_log_var


@pytest.fixture(scope="module")
def conv_vae():
    """The notebook's ConvVAE at latent size 2, built by its own cell (dec8c9c2)."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    source = "".join(next(c["source"] for c in cells if c.get("id") == "dec8c9c2"))
    namespace = {"keras": keras, "layers": layers, "vh": vh}
    exec(source.split("\nconv_vae = ConvVAE")[0], namespace)  # noqa: S102 - the notebook's own model code
    return namespace["ConvVAE"](latent_dim=2, seed=42)


def _self_check(exercise, answer, conv_vae):
    engine.reset_attempts()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        vh.check(exercise, answer, conv_vae=conv_vae)
    return out.getvalue()


def _graded(exercise, answer, conv_vae):
    try:
        vae_answers.grade(exercise, answer, conv_vae=conv_vae)
    except AssertionError:
        return False
    return True


def test_the_expected_answers_are_the_counts_the_notebook_prints(conv_vae):
    assert vae_answers.ANSWERS["09.1"].expected(conv_vae=conv_vae) == PARAMETERS_5X5
    assert vae_answers.ANSWERS["09.2"].expected(conv_vae=conv_vae) == MULTIPLY_ADDS
    assert conv_vae.count_params() - sum(int(w.numpy().size) for w in conv_vae.trainable_weights
                                         if len(w.shape) > 1) == BIASES


@pytest.mark.parametrize("exercise, answer", [
    ("09.1", PARAMETERS_5X5), ("09.1", "266,261"), ("09.1", float(PARAMETERS_5X5)), ("09.1", " 266261 "),
    ("09.2", MULTIPLY_ADDS), ("09.2", "6,660,928"), ("09.2", float(MULTIPLY_ADDS)),
    ("09.2", "6.66e6"),  # rounded as written: within the grading's tolerance
])
def test_a_right_answer_passes_the_self_check_and_the_grading(exercise, answer, conv_vae):
    assert _self_check(exercise, answer, conv_vae).startswith("Passes the self-check"), answer
    assert _graded(exercise, answer, conv_vae), answer


@pytest.mark.parametrize("exercise, answer, why", [
    ("09.1", 266_604, "the biases scaled by 25/9 as well"),
    ("09.1", 372_680, "every parameter scaled by 25/9"),
    ("09.1", 206_593, "the convolutions only, without the dense layers"),
    ("09.1", PARAMETERS_5X5 + 1, "off by one"),
    ("09.1", 134_165, "the 3 x 3 count"),
    ("09.1", 0, "nothing"),
    ("09.2", MULTIPLY_ADDS - 225_792, "deconv3 left out"),
    ("09.2", MULTIPLY_ADDS - 6_272, "the decoder's dense layer left out"),
    ("09.2", MULTIPLY_ADDS + 36_864 * (196 - 49) + 18_432 * (784 - 196),
     "the transposed convolutions counted at their output positions"),
    ("09.2", 130_816, "each weight once, as in a dense network"),
    ("09.2", 6.7e6, "rounded too far"),
    ("09.2", 0, "nothing"),
])
def test_a_wrong_answer_fails_the_grading(exercise, answer, why, conv_vae):
    assert not _graded(exercise, answer, conv_vae), why


@pytest.mark.parametrize("exercise, answer", [
    ("09.1", 134_165), ("09.1", 0), ("09.1", 400_000), ("09.1", 266_261.5), ("09.1", "many"),
    ("09.2", 0), ("09.2", 100_000), ("09.2", 130_816 * 784 + 1), ("09.2", -1),
])
def test_an_answer_outside_the_bounds_fails_the_self_check_without_giving_the_answer(exercise, answer,
                                                                                     conv_vae):
    printed = _self_check(exercise, answer, conv_vae)
    assert printed.startswith("Not quite"), (answer, printed)
    for right in (PARAMETERS_5X5, MULTIPLY_ADDS):
        assert f"{right:,}" not in printed and str(right) not in printed, printed


def test_the_grading_tolerance_of_exercise_2_is_below_any_left_out_layer(conv_vae):
    """09.2 accepts a count off by the biases (3,349) or the two 64-weight heads, as its comment says,
    and nothing off by a whole layer: the smallest other layer makes 6,272."""
    assert _graded("09.2", MULTIPLY_ADDS + BIASES, conv_vae)
    assert _graded("09.2", MULTIPLY_ADDS - HEADS, conv_vae)
    assert vae_answers.ANSWERS["09.2"].tolerance < 6_272
