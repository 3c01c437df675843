"""Self-checks of notebook 06 (the latent space)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .engine import (
    Mismatch,
    SelfCheck,
    array_of,
    describe_inputs,
    expect_close,
    expect_shape,
    fmt,
    number_in,
    random_arrays,
)

IMAGES = 1000  # exercise 06.3 looks at the first this many test images


def _interpolate(fn: Any) -> None:
    z_start, z_end = np.array([0.0, 0.0], "float32"), np.array([1.0, 2.0], "float32")
    for steps in (3, 2, 5):
        case = describe_inputs(z_start=z_start, z_end=z_end, steps=steps)
        path = expect_shape(fn(z_start, z_end, steps), (steps, 2), what="interpolation", case=case,
                            why="steps points, each a code of the latent size")
        expect_close(path[0], z_start, what="first point", case=case)
        expect_close(path[-1], z_end, what="last point", case=case)
        step = np.diff(path, axis=0)
        expect_close(step, np.broadcast_to(step[0], step.shape), what="steps between the points",
                     case=case + " (evenly spaced points are equally far apart)")
    a, b = random_arrays((5,), (5,), seed=10)
    path = expect_shape(fn(a, b, 7), (7, 5), what="interpolation", case="random codes of size 5 and steps=7",
                        why="steps points, each a code of the latent size")
    expect_close(path[[0, -1]], np.stack([a, b]), what="ends", case="random codes of size 5 and steps=7")


def _centre(answer: Any, mu: Any, data: Any) -> None:
    centre = array_of(answer, (mu.shape[1],), "the mean code of a class")
    if np.any(centre < mu.min(axis=0)) or np.any(centre > mu.max(axis=0)):
        raise Mismatch("a mean of codes lies inside the box that holds all the codes; yours is outside it")
    zeros = np.asarray(mu[np.asarray(data.y_test) == 0], np.float64)
    if np.any(centre < zeros.min(axis=0)) or np.any(centre > zeros.max(axis=0)):
        raise Mismatch("the mean of the codes of the 0s lies inside the box that holds those codes; yours is "
                       "outside it (the codes of other classes, or of all images?)")
    # On every axis a mean lies within one standard deviation of the median (|mean - median| <= std):
    # a property of every mean, which the means of other classes or of all codes usually break.
    median, spread = np.median(zeros, axis=0), zeros.std(axis=0)
    if np.any(np.abs(centre - median) > spread * (1 + 1e-4) + 1e-6):
        raise Mismatch("on each axis, the mean of the codes of the 0s lies within one standard deviation of "
                       "their median; yours is farther (the codes of other classes, or of all images?)")


def _neighbour_agreement(answer: Any, mu: Any, mu_train: Any, data: Any) -> None:
    value = number_in(answer, 0.0, 1.0, "a fraction of the images")
    if value == 1.0:
        raise Mismatch("every image agreeing with its nearest code: is each test code its own nearest code? "
                       "Search the training codes, mu_train")
    images = min(IMAGES, len(mu))
    count = value * images
    # A fraction of n images is k / n; rounded to the decimals it is written with, it may be off by
    # up to half a unit of the last decimal (0.64 for 641 / 1000): only finer mismatches are flagged.
    written = str(answer).strip().rstrip("%")
    decimals = len(written.partition(".")[2]) if "." in written and "e" not in written.lower() else 0
    slack = 0.5 * 10.0 ** -decimals * images if decimals else 0.0
    if decimals >= 4 and abs(count - round(count)) > slack + 0.02:
        raise Mismatch(f"a fraction of {images:,} images is a whole number of images divided by {images:,}; "
                       f"{fmt(value)} is not (the first {images:,} test images?)")


CHECKS = {
    "06.1": SelfCheck(
        "walk from one digit to another", _interpolate,
        "steps points of the latent size, from z_start to z_end, evenly spaced",
        hints=("Both ends are included: the first point is z_start and the last z_end.",
               "np.linspace gives evenly spaced numbers from 0 to 1; use them as weights of the two ends.",
               "Broadcasting a column of weights (shape (steps, 1)) against a code makes every point "
               "at once."),
        code=True, library=("interpolate",)),
    "06.2": SelfCheck(
        "the centre of a class", _centre, "a code of the latent size, near the middle of the codes of the 0s",
        hints=("Select the rows of mu whose test label (data.y_test) is 0.",
               "Average them over the images (axis 0): one mean per latent dimension.")),
    "06.3": SelfCheck(
        "does the nearest neighbour know better?", _neighbour_agreement,
        f"a fraction of the {IMAGES:,} images, and not all of them",
        hints=("For each of the first 1,000 test codes mu[i], compute its squared distance to every row "
               "of mu_train (one number per training image) and take the label, in data.y_train, of the "
               "nearest.",
               "Count how often that label equals the test image's own label, data.y_test[i], and divide by "
               "the number of images.")),
}
