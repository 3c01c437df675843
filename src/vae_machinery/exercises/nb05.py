"""Self-checks of notebook 05 (sampling)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .engine import Mismatch, SelfCheck, array_of, fmt

SAMPLES = 1000  # exercise 05.3 labels this many draws from the prior


def _decoded_image(answer: Any, model: Any) -> None:
    try:
        shape = np.shape(answer)
    except Exception:
        shape = None
    if shape == (1, model.input_dim):
        raise Mismatch(f"your array has shape {shape}, a batch of one image: take its first row")
    image = array_of(answer, (model.input_dim,), "a decoded image (one probability per pixel)")
    if image.min() < 0.0 or image.max() > 1.0:
        raise Mismatch("the decoder's pixels are probabilities, between 0 and 1: did you keep the logits?")
    if np.all((image == 0.0) | (image == 1.0)):
        raise Mismatch("every value is exactly 0 or 1: that is an image from the data, not a decoded one")


def _class_shares(answer: Any, mu_train: Any, data: Any) -> None:
    classes = len(data.class_names)
    shares = array_of(answer, (classes,), f"one share per class ({classes} numbers)")
    if np.any(shares < 0) or np.any(shares > 1):
        raise Mismatch(f"a share of the samples lies between 0 and 1; yours range from {fmt(shares.min())} "
                       f"to {fmt(shares.max())} (counts, or percentages?)")
    counts = shares * SAMPLES
    if np.allclose(counts, np.round(counts), atol=0.02):
        slack = 2e-3  # exact shares: whole numbers of samples
    elif np.allclose(shares, np.round(shares, 2), atol=1e-9):
        slack = 0.05  # shares rounded to two decimals
    else:
        raise Mismatch(f"a share of {SAMPLES:,} samples is a whole number of samples divided by {SAMPLES:,}; "
                       "yours are not (did you draw a different number of points?)")
    if abs(shares.sum() - 1.0) > slack:
        raise Mismatch(f"your shares add up to {fmt(shares.sum())}: every sample lands in exactly one class, "
                       "so the shares of all classes add up to 1")


CHECKS = {
    "05.1": SelfCheck(
        "decode a chosen point", _decoded_image,
        "784 pixel probabilities of a decoded image (which point you decoded is checked at grading)",
        hints=("Build z as an array of shape (1, LATENT_DIM) in float32.",
               "model.decode gives probabilities for a batch: take its first row.")),
    "05.2": SelfCheck(
        "far outside the prior", _decoded_image,
        "784 pixel probabilities of a decoded image (which point you decoded is checked at grading)",
        hints=("The point has every coordinate equal to 6: np.full builds it.",
               "model.decode gives probabilities for a batch: take its first row.")),
    "05.3": SelfCheck(
        "which digits does the prior produce?", _class_shares,
        f"one share per class, adding up to 1, each a whole number of the {SAMPLES:,} samples",
        hints=(f"Draw the {SAMPLES:,} points with np.random.default_rng(0).standard_normal((1000, "
               "LATENT_DIM)), all at once, so that they are the same points as ours.",
               "For one point, compute its squared distance to every row of mu_train (one number per "
               "training image); np.argmin gives the nearest, and data.y_train its class.",
               "np.bincount(labels, minlength=10) counts the points of each class; divide by the number "
               "of points.")),
}
