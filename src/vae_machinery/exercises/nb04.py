"""Self-checks of notebook 04 (reconstructions)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .engine import Mismatch, SelfCheck, array_of, fmt, number_in, whole_number


def _entropy(x: Any) -> np.ndarray:
    """The entropy of each image's grey levels, summed over its pixels (nats): the least BCE any
    decoder can score on that image (it is reached only by predicting every grey level exactly)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        h = np.where(x > 0, x * np.log(x), 0.0) + np.where(x < 1, (1 - x) * np.log1p(-x), 0.0)
    return -h.sum(axis=1)


def _worst_index(answer: Any, model: Any, data: Any) -> None:
    index = whole_number(answer, "an index into data.x_test")
    if not 0 <= index < len(data.x_test):
        last = len(data.x_test) - 1
        raise Mismatch(f"data.x_test has {len(data.x_test):,} images, indexed from 0 to {last}")


def _sampled_bce(answer: Any, model: Any, data: Any) -> None:
    value = number_in(answer, 0.0, data.x_test.shape[1] * math.log(2.0),
                      "a mean BCE per image of a trained model (nats)")
    floor = float(np.mean(_entropy(data.x_test[:1000])))
    if value < floor:
        raise Mismatch(f"{fmt(value)} nats is less than any decoder can score on these images ({fmt(floor)} "
                       "nats, the entropy of their grey levels): the BCE of an image is a sum over its 784 "
                       "pixels, and the answer its mean over the 1,000 images")


def _bce_by_class(answer: Any, model: Any, data: Any) -> None:
    classes = len(data.class_names)
    values = array_of(answer, (classes,), f"one mean BCE per class ({classes} numbers)")
    top = data.x_test.shape[1] * math.log(2.0)
    if np.any(values < 0) or np.any(values > top):
        raise Mismatch(f"a mean BCE per image of a trained model lies between 0 and {fmt(top)} nats; "
                       f"yours range from {fmt(values.min())} to {fmt(values.max())}")
    if np.ptp(values) == 0:
        raise Mismatch("all your numbers are the same: average over the images of each class separately")
    entropy = _entropy(data.x_test)
    floor = np.array([entropy[data.y_test == k].mean() for k in range(classes)])
    below = np.flatnonzero(values < floor)
    if below.size:
        k = int(below[0])
        raise Mismatch(f"for class {data.class_names[k]} your {fmt(values[k])} nats is less than any decoder "
                       f"can score on its images ({fmt(floor[k])}, the entropy of their grey levels): the "
                       "BCE of an image is a sum over its pixels, averaged over the images of the class")


CHECKS = {
    "04.1": SelfCheck(
        "the worst reconstruction", _worst_index, "an index of a test image",
        hints=("Compute one BCE per image: sum over the pixels (axis 1), not over the images.",
               "The worst reconstruction has the largest BCE; store its position, not the BCE itself.",
               "Decode the mean mu(x), as the figure above does (vh.reconstruct), not a random sample.")),
    "04.2": SelfCheck(
        "a sample or the mean?", _sampled_bce,
        "a mean BCE per image that a decoder can score on these images",
        hints=("Encode the first 1,000 test images, draw eps from np.random.default_rng(0) with the shape of "
               "z_mean, and make z with the reparameterisation.",
               "Decode z to logits (model.decoder, not model.decode) and average the per-image BCE over the "
               "1,000 images.")),
    "04.3": SelfCheck(
        "which digits cost the most nats?", _bce_by_class,
        "one mean BCE per class, each one a decoder can score on that class's images",
        hints=("Start from one BCE per test image (exercise 1), decoding the mean mu(x).",
               "For class k, select the per-image BCEs with the mask data.y_test == k and average them; "
               "put the ten means in the order of data.class_names.")),
}
