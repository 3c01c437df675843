"""Notebook 06's exercise 2 asks for the mean code of the test 0s. The self-check does not compute that
mean; it checks two properties every mean has (it lies in the box of its points, and on each axis within
one standard deviation of their median). Codes laid out like the committed run's: the 0s' box spans most
of the map, so the box alone passed the mean of every other class; the second property rejects them."""

import contextlib
import io
from types import SimpleNamespace

import numpy as np
import pytest

import vae_helpers as vh

# Class centres roughly as in the committed run's map (0s at the top, 1s right, 7s left, ...).
CENTRES = np.array([[-0.5, 2.1], [1.8, -1.1], [-0.1, 0.5], [0.15, 0.0], [-0.8, -0.9], [0.6, 0.1],
                    [0.0, 1.2], [-1.3, -1.2], [0.6, -0.3], [-0.6, -1.0]], "float32")


@pytest.fixture(scope="module")
def codes():
    rng = np.random.default_rng(6)
    y = np.repeat(np.arange(10), 300)
    mu = (CENTRES[y] + 0.6 * rng.standard_normal((len(y), 2))).astype("float32")
    mu[:4] = [[-2.1, 0.0], [2.1, 1.0], [0.0, -1.2], [0.5, 4.1]]  # a few stray 0s widen their box
    return mu, SimpleNamespace(y_test=y)


def _verdict(answer, mu, data):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        vh.check("06.2", answer, mu=mu, data=data)
    return out.getvalue()


def test_the_mean_of_the_zeros_passes_in_its_usual_forms(codes):
    mu, data = codes
    right = mu[data.y_test == 0].mean(axis=0)
    for answer in (right, right.astype("float64"), right.tolist(), np.mean(mu[data.y_test == 0], 0),
                   mu[data.y_test == 0].astype("float64").mean(axis=0)):
        assert _verdict(answer, mu, data).startswith("Passes the self-check"), answer


def test_the_mean_of_another_class_of_all_codes_or_zero_fails(codes):
    mu, data = codes
    zeros = mu[data.y_test == 0]
    for k in range(1, 10):
        wrong = mu[data.y_test == k].mean(axis=0)
        assert np.all(wrong >= zeros.min(axis=0)) and np.all(wrong <= zeros.max(axis=0)), \
            "the stand-in must put every class mean inside the 0s' box, as the committed run does"
        assert _verdict(wrong, mu, data).startswith("Not quite"), k
    for wrong in (mu.mean(axis=0), np.zeros(2, "float32")):
        assert _verdict(wrong, mu, data).startswith("Not quite"), wrong


@pytest.mark.parametrize("seed", range(5))
def test_a_mean_passes_however_skewed_its_codes_are(seed):
    """|mean - median| <= std holds for every sample: a skewed class still passes."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(2), 200)
    skewed = rng.exponential(1.0, (200, 3)) ** 3
    mu = np.concatenate([skewed, rng.standard_normal((200, 3))]).astype("float32")
    data = SimpleNamespace(y_test=y)
    assert _verdict(mu[y == 0].mean(axis=0), mu, data).startswith("Passes the self-check")
