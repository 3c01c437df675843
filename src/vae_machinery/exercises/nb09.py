"""Self-checks of notebook 09 (the convolutional VAE)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .engine import Mismatch, SelfCheck, whole_number

PIXELS = 28 * 28  # the largest map of the network: no weight is used at more positions


def _larger_filters(answer: Any, conv_vae: Any) -> None:
    value = whole_number(answer, "a parameter count")
    now = int(conv_vae.count_params())
    if value <= now:
        raise Mismatch(f"{value:,} is not more than the {now:,} parameters the model has with 3 x 3 filters: "
                       "a 5 x 5 filter has more weights than a 3 x 3 one")
    if value * 9 > now * 25:
        raise Mismatch(f"{value:,} is more than 25/9 times the {now:,} parameters of the 3 x 3 model: not "
                       "every parameter grows with the size of the filters")


def _multiply_adds(answer: Any, conv_vae: Any) -> None:
    value = whole_number(answer, "a number of multiply-adds")
    weights = sum(int(np.prod(w.shape)) for w in conv_vae.trainable_weights if len(w.shape) > 1)
    if value < weights:
        raise Mismatch(f"{value:,} is fewer than the model's {weights:,} weights (biases left out): "
                       "every weight is used at least once per image")
    if value > weights * PIXELS:
        raise Mismatch(f"{value:,} is more than {PIXELS:,} uses of each of the model's {weights:,} weights: "
                       "no weight is used at more positions than a 28 x 28 map has")


CHECKS = {
    "09.1": SelfCheck(
        "bigger filters", _larger_filters,
        "a whole number, more than the 3 x 3 model's count and less than 25/9 times it",
        hints=("Go through the model summary layer by layer: which layers have filters, and which do not?",
               "With padding=\"same\" a larger filter does not change the size of the maps a layer writes: "
               "what does that mean for the dense layers?",
               "A layer's biases, one per output channel, do not depend on the size of its filters.")),
    "09.2": SelfCheck(
        "the price in arithmetic", _multiply_adds,
        "a whole number, at least one use of each weight and at most one per pixel of a 28 x 28 map",
        hints=("Go layer by layer through the model summary: the weights of each layer without its "
               "biases, and the number of positions at which each of them is used.",
               "The positions are those of a convolution's output map and of a transposed convolution's "
               "input map: the summary prints the shape before and after every layer.",
               "Leave no layer out: the dense layers count too, and so does the decoder's last transposed "
               "convolution, which keeps the 28 x 28 size.")),
}
