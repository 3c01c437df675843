"""Self-checks of notebook 09 (the convolutional VAE)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .engine import Mismatch, SelfCheck, fmt, whole_number

ARCHITECTURES = ("MLP", "conv")  # the order of the two numbers of exercise 2


def _larger_filters(answer: Any, conv_vae: Any) -> None:
    value = whole_number(answer, "a parameter count")
    now = int(conv_vae.count_params())
    if value <= now:
        raise Mismatch(f"{value:,} is not more than the {now:,} parameters the model has with 3 x 3 filters: "
                       "a 5 x 5 filter has more weights than a 3 x 3 one")
    if value * 9 > now * 25:
        raise Mismatch(f"{value:,} is more than 25/9 times the {now:,} parameters of the 3 x 3 model: not "
                       "every parameter grows with the size of the filters")


def _generalisation_gaps(answer: Any, models: dict, data: Any, latent_dim: int) -> None:
    try:
        values = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError):
        raise Mismatch(f"this is a {type(answer).__name__}, not a list of two numbers") from None
    if values.shape != (len(ARCHITECTURES),):
        raise Mismatch(f"your answer has shape {values.shape}; give two numbers, [the MLP's gap, the "
                       "convolutional VAE's gap]")
    if not np.all(np.isfinite(values)):
        raise Mismatch(f"your list {fmt(values)} holds inf or NaN")
    if np.any(np.abs(values) > 50):
        largest = values[np.argmax(np.abs(values))]
        raise Mismatch(f"a gap of {fmt(largest)} nats is far more than two means of the same model's BCE per "
                       "image differ: average over the images (do not sum), and subtract two means")
    if values[0] == values[1]:
        raise Mismatch("both gaps are the same number: compute one for each model")


CHECKS = {
    "09.1": SelfCheck(
        "bigger filters", _larger_filters,
        "a whole number, more than the 3 x 3 model's count and less than 25/9 times it",
        hints=("Go through the model summary layer by layer: which layers have filters, and which do not?",
               "With padding=\"same\" a larger filter does not change the size of the maps a layer writes: "
               "what does that mean for the dense layers?",
               "A layer's biases, one per output channel, do not depend on the size of its filters.")),
    "09.2": SelfCheck(
        "seen and unseen images", _generalisation_gaps,
        "two finite numbers, [MLP, conv], of a size that differences of mean BCEs can have",
        hints=("For one model and one set of images: the mean codes mu(x) (vh.latent_means), decoded into "
               "logits (the model's decoder), and vh.reconstruction_bce of the images and the logits: one "
               "number per image; then their mean.",
               "The gap is the mean over the validation images minus the mean over the first 5,000 training "
               "images: positive if the model does better on images it was trained on.",
               "models[\"MLP\", d] and models[\"conv\", d] are the two models, with "
               "d = CONV_LATENT_DIMS[0].")),
}
