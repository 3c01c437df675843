"""Self-checks of notebook 10 (posterior collapse)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .engine import (
    Mismatch,
    SelfCheck,
    as_array,
    describe_inputs,
    expect_close,
    expect_shape,
    gradients,
    number,
    number_in,
    random_arrays,
)


def _free_bits_kl(fn: Any) -> None:
    one = np.array([[2.0, 0.0]], "float32"), np.zeros((1, 2), "float32")  # KL per dimension: 2 and 0
    for free_bits, want in ((0.0, 2.0), (0.25, 2.25), (3.0, 6.0)):
        case = describe_inputs(z_mean=one[0], z_log_var=one[1], free_bits=free_bits)
        expect_shape(fn(*one, free_bits), (), what="KL term", case=case, why="one number for the whole batch")
        expect_close(fn(*one, free_bits), want, what="KL term", case=case)
    two = np.array([[2.0, 0.0], [0.0, 0.0]], "float32"), np.zeros((2, 2), "float32")  # batch means 1 and 0
    case = describe_inputs(z_mean=two[0], z_log_var=two[1], free_bits=0.5)
    expect_close(fn(*two, 0.5), 1.5, what="KL term",
                 case=case + " (the floor applies to each dimension's KL averaged over the batch)")
    logvar = np.array([[0.0, 2.0]], "float32")
    case = describe_inputs(z_mean=np.zeros((1, 2)), z_log_var=logvar, free_bits=0.0)
    expect_close(fn(np.zeros((1, 2), "float32"), logvar, 0.0), 0.5 * (math.exp(2) - 3), what="KL term",
                 case=case)
    z_mean, z_log_var = random_arrays((16, 32), (16, 32), seed=5)
    value = float(as_array(fn(z_mean, z_log_var, 0.2), "KL term"))
    if value < 32 * 0.2 - 1e-6:
        raise Mismatch(f"for random inputs of shape (16, 32) and free_bits=0.2 your KL term is {value:.4g}; "
                       "with a floor of 0.2 nats on each of 32 dimensions it is at least 6.4")
    grads = gradients(lambda m, v: fn(m, v, 0.2), [z_mean, z_log_var], wrt=(0, 1))
    if grads is not None and any(g is None for g in grads):
        raise Mismatch("no gradient flows from your KL term back to z_mean and z_log_var: the training step "
                       "needs them; use keras.ops, not NumPy")


def _half_share(answer: Any, by_name: dict) -> None:
    value = number_in(answer, 0.0, 100.0, "a share of the KL")
    if value > 1.0:
        raise Mismatch(f"{value:g} looks like a percentage: give the share as a number between 0 and 1 "
                       "(or as a string such as \"12.5%\")")
    if value > 0.5:
        raise Mismatch(f"{value:g} is more than half: the half of the dimensions with the smallest KL cannot "
                       "carry more than the other half")
    # Each of the smaller half's dimensions carries at least the run's smallest KL, so the share is at least
    # half * smallest / sum. Half of that bound is checked: it rejects 0 and another run's (collapsed) share,
    # and says nothing about the value itself.
    kl = np.sort(np.asarray(by_name.get("β = 1, free bits", {}).get("kl_per_dim", []), dtype=np.float64))
    if kl.size >= 2 and kl.sum() > 0:
        bound = (kl.size // 2) * kl[0] / kl.sum()
        if bound > 0.01 and value < bound / 2:
            raise Mismatch(f"{value:g} is too small for this run: every dimension of \"β = 1, free bits\" "
                           "carries some KL, so the half with the smallest KL carries a good part of the "
                           "total; use that run's kl_per_dim, and its sum as the whole")


def _bce_rise(answer: Any, models: dict, by_name: dict, data: Any) -> None:
    value = number(answer, "a number of nats")
    if not np.isfinite(value):
        raise Mismatch(f"{value} is not a finite number of nats")
    if value == 0:
        raise Mismatch("exactly 0: the decoder got the same codes twice; set the chosen unit of every "
                       "image's mean code to 0 before decoding")
    if abs(value) > 543:
        raise Mismatch(f"{value:g} nats per image is more than a decoder that says 0.5 for every pixel loses "
                       "(784 ln 2 = 543 nats): average over the images, do not sum")


CHECKS = {
    "10.1": SelfCheck(
        "the free-bits KL", _free_bits_kl,
        "one number per batch, the known values with and without a floor, the floor applied to each "
        "dimension's batch average, and gradients that flow to z_mean and z_log_var",
        hints=("First the KL of each latent dimension, averaged over the images of the batch.",
               "Then raise each dimension's KL to at least free_bits, and add the dimensions up.",
               "Stay with keras.ops: the training step differentiates this."),
        code=True, library=("kl_divergence", "kl_per_dimension")),
    "10.2": SelfCheck(
        "what do the extra units carry?", _half_share, "a share between 0 and 1/2",
        hints=("run[\"kl_per_dim\"] holds one KL per dimension, in nats per image; np.sort puts them in "
               "increasing order.",
               "The share is a sum over half of the dimensions divided by the sum over all of them.")),
    "10.3": SelfCheck(
        "what does the decoder lose without a unit?", _bce_rise, "a finite number of nats per image",
        hints=("The unit is the one with the largest entry of kl_per_dim (np.argmax).",
               "Decode the mean codes twice, as they are and with that unit's column set to 0, and compare "
               "the mean BCE of the two decodings (vh.reconstruction_bce of the images and the logits).",
               "The rise is the mean BCE with the unit set to 0 minus the mean BCE without the change.")),
}
