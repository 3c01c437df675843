"""Notebook 10's exercise 2 self-check: every right answer passes, and a share too small for the run
(0, or the share of a run whose smaller half collapsed) fails without the message giving the value."""

import contextlib
import io

import numpy as np
import pytest

import vae_helpers as vh
from vae_machinery import exercises

# KL per dimension as the committed run printed its shape: a few informative dimensions, the rest at the
# free-bits floor (lambda = 0.25); and a plain run whose smaller half collapsed.
FREE = [2.5, 2.4, 2.2, 1.9, 1.8, 1.6, 1.5, 1.4, 0.9, 0.8, 0.8, 0.27, 0.26] + [0.25] * 19
PLAIN = [2.6, 2.4, 2.1, 1.8, 1.7, 1.6, 1.5, 1.5, 1.3, 1.2, 1.2, 1.1, 0.9, 0.6, 0.6] + [0.0003] * 17
BY_NAME = {"β = 1": {"kl_per_dim": PLAIN}, "β = 1, free bits": {"kl_per_dim": FREE}}


def share(kl):
    kl = np.sort(np.asarray(kl, float))
    return float(kl[: len(kl) // 2].sum() / kl.sum())


def verdict(answer, by_name=BY_NAME):
    exercises.reset_attempts()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        vh.check("10.2", answer, by_name=by_name)
    return out.getvalue()


@pytest.mark.parametrize("form", ["exact", "3 places", "2 places", "per cent"])
def test_every_right_answer_passes(form):
    right = share(FREE)
    answer = {"exact": right, "3 places": round(right, 3), "2 places": round(right, 2),
              "per cent": f"{100 * right:.1f}%"}[form]
    assert verdict(answer).startswith("Passes the self-check"), answer


@pytest.mark.parametrize("wrong", [0.0, share(PLAIN), share(FREE) / 4])
def test_a_share_too_small_for_the_run_fails_and_gives_nothing_away(wrong):
    text = verdict(wrong)
    assert text.startswith("Not quite") and "too small for this run" in text, text
    right = share(FREE)
    for places in (2, 3):
        assert f"{right:.{places}f}" not in text


def test_a_run_whose_smaller_half_collapsed_allows_a_share_near_zero():
    """If the free-bits run itself had a collapsed half (free bits of 0), a share near 0 is right."""
    assert verdict(share(PLAIN), by_name={"β = 1, free bits": {"kl_per_dim": PLAIN}}).startswith("Passes")
