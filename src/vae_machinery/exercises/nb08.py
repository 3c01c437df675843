"""Self-checks of notebook 08 (the conditional VAE)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .engine import (
    Mismatch,
    SelfCheck,
    describe_inputs,
    expect_close,
    expect_shape,
    gradients,
    number_in,
    random_arrays,
)

NUM_CLASSES = 10  # the digits 0-9


def _condition(fn: Any) -> None:
    z = np.array([[0.5, -1.0]], "float32")
    for digit in (3, 0, 9):
        case = describe_inputs(z=z, digits=[digit])
        joined = expect_shape(fn(z, np.array([digit])), (1, 2 + NUM_CLASSES), what="decoder input", case=case,
                              why="z and ten numbers for the label, side by side in one row")
        expect_close(joined[:, :2], z, what="first two numbers", case=case + " (z comes first, unchanged)")
        label = np.zeros((1, NUM_CLASSES))
        label[0, digit] = 1.0
        expect_close(joined[:, 2:], label, what="label part",
                     case=case + " (a 1 at the digit's place, 0 elsewhere)")
    digits = np.random.default_rng(4).integers(0, NUM_CLASSES, 6)
    (z6,) = random_arrays((6, 20), seed=4)
    case = f"random z of shape (6, 20) and digits {digits.tolist()}"
    joined = expect_shape(fn(z6, digits), (6, 20 + NUM_CLASSES), what="decoder input", case=case,
                          why="one row per image, latent size + 10 numbers in it")
    expect_close(joined[:, :20], z6, what="z part", case=case)
    expect_close(joined[:, 20:].sum(axis=1), np.ones(6), what="sum of each row's label part", case=case)
    grads = gradients(fn, [z6, digits], wrt=(0,))
    if grads is not None and grads[0] is None:
        raise Mismatch("no gradient flows from your result back to z: use keras.ops, not NumPy")


def _fraction(answer: Any) -> float:
    value = number_in(answer, 0.0, 100.0, "a fraction of test images")
    if value > 1.0:
        raise Mismatch(f"{value:g} looks like a percentage: give the fraction, a number between 0 and 1")
    return value


def _classifier_accuracy(answer: Any, cvae: Any, data: Any) -> None:
    value = _fraction(answer)
    # Even a model that ignored the label (the same score under every label) would be right about one
    # time in ten; well below that, the scores are being read the wrong way round.
    if value < 0.5 / NUM_CLASSES:
        raise Mismatch(f"{value:g} is far below chance (one in {NUM_CLASSES}): even a model that ignored the "
                       "label would do better, so look again at which label you take as the guess")


def _centre_accuracy(answer: Any, mu_cvae: Any, data: Any) -> None:
    value = _fraction(answer)
    # Each centre is the mean of its own class's codes: even codes that held nothing of the class would
    # put about one image in ten nearest its own centre. Well below that, the count is of something else.
    if value < 0.5 / NUM_CLASSES:
        raise Mismatch(f"{value:g} is far below chance (one in {NUM_CLASSES}): even codes that held nothing "
                       "of the class would put about one test image in ten nearest its own digit's centre, "
                       "so check that you count the images whose nearest centre is their own digit")


CHECKS = {
    "08.1": SelfCheck(
        "the decoder's input", _condition,
        "z first, unchanged, then a one-hot label of ten numbers, one row per image, and gradients flow to z",
        hints=("The label enters as ten numbers with a 1 at the digit's place: keras.ops has a function "
               "for that.",
               "Join z and the label along the last axis, z first."),
        code=True),
    "08.2": SelfCheck(
        "the conditional VAE as a classifier", _classifier_accuracy,
        "a fraction between 0 and 1, and not far below chance",
        hints=("For each of the ten labels, give every test image that label (a batch of one-hot rows), "
               "encode, decode the mean code, and keep one score per image: a table of 10,000 x 10 scores.",
               "The score is a negative ELBO, a cost: the model's guess is the label with the lowest score "
               "(np.argmin along the labels' axis), and Bayes' rule says why.",
               "The score has both parts of the loss, the reconstruction BCE and the KL, each one number "
               "per image (vh.reconstruction_bce and vh.kl_divergence give them from logits and codes).")),
    "08.3": SelfCheck(
        "how much class is left in the code?", _centre_accuracy,
        "a fraction between 0 and 1, and not far below chance",
        hints=("The centre of a class is the mean code of its test images.",
               "For each code find the nearest centre (the smallest squared distance), then count how often "
               "it is the code's own class.")),
}
