"""Self-checks of notebook 07 (experiments: beta and the latent size)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .engine import Mismatch, SelfCheck, fmt, number


def _one_per_step(answer: Any, steps: int, what: str) -> np.ndarray:
    """A list of ``steps`` finite numbers (one per pair of neighbouring settings), or a Mismatch."""
    if steps < 1:
        raise Mismatch(f"this sweep has no pair of neighbouring {what} to compare: the exercise needs "
                       "two or more")
    try:
        values = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError):
        raise Mismatch(f"this is a {type(answer).__name__}, not a list of numbers") from None
    if values.ndim == 0:
        raise Mismatch(f"this is one number; give a list of {steps}, one for each pair of neighbouring "
                       f"{what}")
    if values.shape != (steps,):
        raise Mismatch(f"your list has shape {values.shape}: this sweep has {steps} pair(s) of neighbouring "
                       f"{what}, so give {steps} number(s), in increasing order")
    if not np.all(np.isfinite(values)):
        raise Mismatch(f"your list {fmt(values)} holds inf or NaN")
    return values


def _exchange_rates(answer: Any, vae_rows: list) -> None:
    rows = sorted(vae_rows, key=lambda r: r["BETA"])
    values = _one_per_step(answer, len(rows) - 1, "betas")
    pairs = list(zip(rows, rows[1:]))
    # In a sweep where the rate falls and the distortion rises from each beta to the next, every
    # exchange rate is positive; a negative one has a difference the wrong way round.
    monotone = all(a["test_kl"] > b["test_kl"] and a["test_bce"] < b["test_bce"] for a, b in pairs)
    if monotone and np.any(values <= 0):
        raise Mismatch("in this sweep the mean KL falls and the mean BCE rises from each beta to the next, "
                       "so every exchange rate is a positive number: check the direction of your differences")


def _nats_per_dimension(answer: Any, by_dim: dict) -> None:
    sizes = sorted(by_dim)
    values = _one_per_step(answer, len(sizes) - 1, "latent sizes")
    pairs = list(zip(sizes, sizes[1:]))
    if all(by_dim[a]["test_neg_elbo"] > by_dim[b]["test_neg_elbo"] for a, b in pairs) and np.any(values <= 0):
        raise Mismatch("in this sweep every larger latent size has a lower mean test negative ELBO, so what "
                       "each step saves is a positive number of nats")


def _implied_sigma(answer: Any) -> None:
    value = number(answer, "sigma")
    if not np.isfinite(value) or value <= 0:
        raise Mismatch(f"{fmt(value)} cannot be a standard deviation: sigma is a positive number")
    if value <= 1:
        raise Mismatch("a Gaussian with sigma = 1 weighs the summed squared errors by 1/2; Keras' mean "
                       "weighs them by less, so its sigma is larger than 1")


CHECKS = {
    "07.1": SelfCheck(
        "the exchange rate of beta", _exchange_rates,
        "one finite number per pair of neighbouring betas, each of the sign this sweep's means allow",
        hints=("by_beta holds the rows of vae_rows in increasing beta; zip(by_beta, by_beta[1:]) gives the "
               "pairs of neighbours.",
               "Nats of BCE per nat of KL: the change of which column goes on top of the fraction, and "
               "which one below?",
               "Use the rows' means, test_bce and test_kl (not their standard deviations, and not "
               "test_neg_elbo).")),
    "07.2": SelfCheck(
        "what each extra dimension buys", _nats_per_dimension,
        "one finite number per pair of neighbouring latent sizes, of the sign this sweep's means allow",
        hints=("by_dim maps each latent size to its row of means; sorted(by_dim) gives the sizes in "
               "increasing order.",
               "Per added dimension: the step from 5 to 10 adds five dimensions, not one.")),
    "07.3": SelfCheck(
        "the sigma of Keras' mean squared error", _implied_sigma,
        "one positive number, larger than 1",
        hints=("Write both losses as a factor times the summed squared error, sum_i (x_i - mu_i)^2: the "
               "factor of the Gaussian's -log N is 1/(2 sigma^2), and Keras' mean divides by the number of "
               "pixels.",
               "Give sigma, the standard deviation, not the variance sigma^2.")),
}
