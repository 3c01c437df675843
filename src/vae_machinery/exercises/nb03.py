"""Self-checks of notebook 03 (training)."""

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
    expect_finite,
    expect_shape,
    fmt,
    number,
    random_arrays,
)


def _log_mean_exp(fn: Any) -> None:
    known = [  # (a, the log of the mean of exp(a) along the last axis)
        (np.array([[0.0, 0.0]]), [0.0]),
        (np.array([[0.0, math.log(3.0)]]), [math.log(2.0)]),  # exp: 1 and 3, their mean 2
        (np.array([[5.0, 5.0, 5.0]]), [5.0]),
    ]
    for a, want in known:
        expect_close(fn(a, -1), want, what="result", case=describe_inputs(a=a, axis=-1))
    for level in (1000.0, -1000.0):
        a = np.array([[level, level]])
        case = describe_inputs(a=a, axis=-1)
        expect_finite(fn(a, -1), what="result", case=case)
        expect_close(fn(a, -1), [level], what="result", case=case)
    a = random_arrays((3, 5), seed=9, scale=3.0)[0].astype(np.float64)
    for axis, shape in ((-1, (3,)), (0, (5,))):
        case = f"a random array of shape (3, 5) and axis={axis}"
        result = expect_shape(fn(a, axis), shape, what="result", case=case,
                              why="the axis you average over is gone from the shape")
        low, high = a.min(axis=axis), a.max(axis=axis)
        if np.any(result < low - 1e-9) or np.any(result > high + 1e-9):
            raise Mismatch(f"for {case} your result {fmt(result)} leaves the range of the values it averages "
                           f"(from {fmt(low)} to {fmt(high)}): a mean stays between the smallest and the "
                           "largest")


def _bce_per_kl_nat(answer: Any, history: dict) -> None:
    value = number(answer, "a number of nats of BCE per nat of KL")
    if not np.isfinite(value):
        raise Mismatch(f"{fmt(value)} is not a finite number: did the KL not change between the two epochs?")
    bce, kl = history["val_reconstruction_loss"], history["val_kl_loss"]
    if bce[-1] < bce[0] and kl[-1] > kl[0] and value <= 0:
        raise Mismatch("in this run the validation BCE fell and the validation KL rose, so the BCE gained "
                       "for each nat of KL spent is a positive number")


def _two_epochs(history: dict, **_: Any) -> str | None:
    if len(history["val_kl_loss"]) < 2:
        return "it compares the first epoch with the last, and this run has one epoch"
    return None


def _log_px_by_k(answer: Any, model: Any, data: Any, seed: int) -> None:
    values = as_array(answer, "list of three numbers")
    if values.shape != (3,):
        raise Mismatch(f"give three numbers, for K = 1, 10 and 100 in that order (yours has shape "
                       f"{values.shape})")
    if not np.all(np.isfinite(values)) or np.any(values >= 0):
        raise Mismatch("log p(x) of an image under a model of 784 pixels is a negative number of nats")


def _extra_loss(answer: Any, history: dict) -> None:
    value = number(answer, "a number of nats")
    if value <= 0:
        raise Mismatch("a larger beta puts more weight on a KL that is positive: the loss goes up, not down")
    if value >= 4 * history["val_loss"][-1]:
        raise Mismatch(f"{fmt(value)} nats is more than four times the whole loss of the model")


CHECKS = {
    "03.1": SelfCheck(
        "the average inside the log", _log_mean_exp,
        "the known values, finite results at +-1000, the axis removed from the shape, and results between "
        "the smallest and the largest value",
        hints=("It is the log of a mean of exponentials: a mean, not a sum, and the log comes last.",
               "exp(1000) overflows to inf and exp(-1000) to 0: what could you take out of every value "
               "before exponentiating, and put back after the log?",
               "The result has the shape of a without the axis you average over (keepdims, or squeeze)."),
        code=True, library=("log_mean_exp", "iwae_log_likelihood")),
    "03.2": SelfCheck(
        "what a nat of KL buys", _bce_per_kl_nat,
        "a number of nats of BCE per nat of KL, positive when the BCE fell and the KL rose",
        hints=("Use the validation values (the names that start with val_) of the first epoch (index 0) and "
               "of the last (index -1).",
               "A fall is the earlier value minus the later one, a rise the later minus the earlier; the "
               "answer is in nats of BCE per nat of KL."),
        applies=_two_epochs),
    "03.3": SelfCheck(
        "watch the bound tighten", _log_px_by_k, "three negative numbers of nats",
        hints=("Call vh.iwae_log_likelihood three times on the first 500 validation images, with the seed.",
               "Its result is a dict: the estimate is under 'log_px'.")),
    "03.4": SelfCheck(
        "what a larger beta costs", _extra_loss, "a positive number of nats",
        hints=("Only the KL term is multiplied by beta; the BCE of the same model does not change.",
               "Use the last epoch's validation KL from the history.")),
}
