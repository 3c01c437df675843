"""Self-checks for the notebooks' exercises.

:func:`check_answer` checks a value (a number, a word, an array). The
``check_<name>`` functions check code: the student writes a function in the
notebook and passes it in, e.g. ``vh.check_reparameterize(reparameterize)``.
It is run on a few hand-picked inputs (whose mistakes are easy to read) and
on random ones, and compared with the reference in ``vae_helpers``. Each
check prints "Correct!" or "Not quite: <what went wrong>" and a hint, and
returns True, False, or None while the function is still ``None``. An
exception in the student's code is reported, never raised.

``vae_helpers`` imports this module, so the checks import it only when they
run (``import vae_helpers as vh`` inside the function), never at the top.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

RTOL, ATOL = 1e-5, 1e-6  # how close a student's values must be to the reference's

Case = tuple[tuple[Any, ...], str, str | None]  # (arguments, how to describe them, hint if it fails, or None)


def _decimals(text: str) -> int:
    """Decimal places of a number as written: '0.81' -> 2, '543' -> 0, '1e-05' -> 5."""
    mantissa, _, exponent = text.lower().partition("e")
    places = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return max(places - int(exponent or 0), 0)


def _as_written(value: Any) -> tuple[float, int] | None:
    """A scalar answer as a float and the decimal places it was written with
    (numeric strings and NumPy scalars included), or None if it is no number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, int):
        return float(value), 0
    if isinstance(value, float):
        return value, _decimals(repr(value))
    if isinstance(value, str):
        try:
            return float(value.strip()), _decimals(value.strip())
        except ValueError:
            return None
    return None


def _same_number(answer: Any, want: float, tolerance: float) -> bool:
    """``answer`` equals ``want`` within ``tolerance``, or is ``want`` rounded to
    the decimals the answer was written with, as long as that keeps at least
    two significant digits (0.81 for 0.8088 passes, 0.8 and 1 do not)."""
    written = _as_written(answer)
    if written is None:
        return False
    got, places = written
    if abs(got - want) <= tolerance:
        return True
    return abs(want) >= 10.0 ** (1 - places) and round(want, places) == got


def check_answer(answer: Any, expected: Any, *, tolerance: float = 0.0, hint: str = "") -> bool | None:
    """Self-check for the notebooks' exercises: print whether ``answer``
    matches ``expected``, and return True, False, or None while the answer is
    still ``None``. ``expected`` may be a function, called only when an answer
    is given, so an unanswered exercise costs nothing.

    Strings match ignoring case and surrounding spaces (a class name may be
    given as the number it is, 1 for "1"). Numbers, and lists or arrays of
    them element by element, match within ``tolerance`` or at the precision
    they are written with (0.81 or 0.809 for 0.8088, 543.4 for 543.43); ints,
    floats, NumPy scalars and numeric strings count the same.
    """
    if answer is None:
        print("Not answered yet: replace None with your answer and run this cell again.")
        return None
    if callable(expected):
        expected = expected()
    if isinstance(expected, str):
        if isinstance(answer, (int, np.integer)) and not isinstance(answer, bool):
            answer = str(int(answer))
        ok = isinstance(answer, str) and answer.strip().lower() == expected.strip().lower()
    else:
        want = np.asarray(expected, dtype=float)
        items = answer.tolist() if isinstance(answer, np.ndarray) else answer
        if want.ndim == 0:
            ok = _same_number(items, float(want), tolerance)
        else:
            try:
                shape_ok = np.shape(items) == want.shape
            except ValueError:  # a ragged list
                shape_ok = False
            flat = np.asarray(items, dtype=object).ravel().tolist() if shape_ok else []
            ok = shape_ok and all(_same_number(a, float(w), tolerance) for a, w in zip(flat, want.ravel()))
    print("Correct!" if ok else f"Not quite. {hint}".rstrip())
    return ok


# --------------------------------------------------------------------------
# Shared machinery of the code checks
# --------------------------------------------------------------------------
class _Mismatch(Exception):
    """The student's function gave a wrong result: the message says what,
    ``hint`` (if not None) replaces the exercise's general hint."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def _fmt(value: Any, digits: int = 4) -> str:
    """A short, readable rendering of a number or a small array."""
    a = np.asarray(value, dtype=np.float64)
    if a.size == 1:
        return f"{a.item() + 0.0:.{digits}g}"

    def show(x: Any) -> str:
        return "[" + ", ".join(map(show, x)) + "]" if isinstance(x, list) else f"{x + 0.0:.{digits}g}"

    return show(a.tolist())


def _inputs(**values: Any) -> str:
    """``_inputs(z_mean=0, eps=1)`` -> ``"z_mean=0 and eps=1"``."""
    parts = [f"{name}={_fmt(value)}" for name, value in values.items()]
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]


def _random(*shapes: tuple[int, ...], seed: int, scale: float = 1.0) -> list[np.ndarray]:
    """Standard normal float32 arrays of the given shapes (times ``scale``), from a fixed seed."""
    rng = np.random.default_rng(seed)
    return [np.float32(scale) * rng.standard_normal(shape, dtype=np.float32) for shape in shapes]


def _as_array(value: Any, what: str) -> np.ndarray:
    """The student's result as a float64 NumPy array, or a _Mismatch saying why it is not one."""
    if value is None:
        raise _Mismatch(f"your function returned None instead of the {what}: did you forget `return`?")
    try:
        return np.asarray(ops.convert_to_numpy(value), dtype=np.float64)
    except Exception:
        raise _Mismatch(f"your function returned a {type(value).__name__}, not an array of numbers") from None


def _expect_close(got: Any, want: Any, *, what: str, case: str, hint: str | None = None,
                  shape_hint: str | None = None) -> None:
    """Raise a _Mismatch naming the first difference between the student's ``got`` and ``want``:
    the shape, else the values (all of them for a small array, else the first wrong element)."""
    got, want = _as_array(got, what), np.asarray(ops.convert_to_numpy(want), dtype=np.float64)
    if got.shape != want.shape:
        raise _Mismatch(f"for {case} your {what} has shape {got.shape}, expected {want.shape}", shape_hint)
    wrong = ~np.isclose(got, want, rtol=RTOL, atol=ATOL)
    if not wrong.any():
        return
    if want.size <= 8:
        digits = 4 if _fmt(got) != _fmt(want) else 9
        raise _Mismatch(f"for {case} your {what} is {_fmt(got, digits)}, expected {_fmt(want, digits)}", hint)
    index = tuple(int(i) for i in np.argwhere(wrong)[0])
    where = ", ".join(map(str, index))
    raise _Mismatch(f"for {case} your {what}[{where}] is {got[index]:.6g}, expected {want[index]:.6g}", hint)


def _expect_cases(fn: Callable[..., Any], reference: Callable[..., Any], cases: Sequence[Case], *,
                  what: str, shape_hint: str) -> None:
    """Compare ``fn(*args)`` with ``reference(*args)`` for every case (reference first, in case
    the student's function changes its arguments in place)."""
    for args, case, hint in cases:
        want = reference(*args)
        _expect_close(fn(*args), want, what=what, case=case, hint=hint, shape_hint=shape_hint)


def _verdict(run: Callable[[], None], hint: str) -> bool:
    """Run the checks in ``run`` and print "Correct!", or "Not quite: ..." and a hint."""
    try:
        with np.errstate(all="ignore"):  # a naive exp(1000) is a wrong answer, not a warning
            run()
    except _Mismatch as problem:
        message, hint = str(problem), problem.hint or hint
    except Exception as error:  # the student's code failed: report it, do not raise it
        first_line = (str(error).strip().splitlines() or [""])[0][:200]
        message = f"your function raised {type(error).__name__}" + (f": {first_line}" if first_line else "")
    else:
        print("Correct!")
        return True
    print(f"Not quite: {message}.")
    print(f"Hint: {hint}")
    return False


def _unanswered(signature: str) -> None:
    print(f"Not answered yet: write your own {signature} in the exercise cell, assign it to the name "
          "that is None there now, and run this cell again.")
    return None


# --------------------------------------------------------------------------
# The code checks
# --------------------------------------------------------------------------
REPARAMETERIZE_HINT = ("z = z_mean + exp(0.5 * z_log_var) * eps. z_log_var is log sigma^2, so "
                       "sigma = exp(z_log_var / 2); use the eps you are given (draw no new noise).")
NO_GRADIENT_HINT = ("compute z with keras.ops (ops.exp), not NumPy: np.asarray and np.exp turn the "
                    "tensors into plain arrays, and backpropagation cannot go through them.")


def check_reparameterize(fn: Callable[..., Any] | None) -> bool | None:
    """Check a student's ``reparameterize(z_mean, z_log_var, eps)``: z against
    ``vae_helpers.reparameterize`` on hand-picked and random float32 inputs
    of shapes (5, 2) and (3, 20), z of the inputs' shape, and (TensorFlow
    backend only) gradients through z: d(sum z)/dz_mean = 1 and
    d(sum z)/dz_log_var = 0.5 * exp(0.5 * z_log_var) * eps."""
    if fn is None:
        return _unanswered("reparameterize(z_mean, z_log_var, eps)")
    import vae_helpers as vh  # here, not at the top: vae_helpers imports this module

    def run() -> None:
        small = [[np.array([[a]], np.float32) for a in values] for values in [(0, 0, 1), (1, 2, 0.5)]]
        cases = [((m, v, e), _inputs(z_mean=m, z_log_var=v, eps=e), None) for m, v, e in small]
        cases += [(tuple(_random(shape, shape, shape, seed=seed)),
                   f"random z_mean, z_log_var and eps of shape {shape}", None)
                  for seed, shape in enumerate([(5, 2), (3, 20)])]
        _expect_cases(fn, vh.reparameterize, cases, what="z",
                      shape_hint="z has the shape of z_mean: one sample per element, nothing summed.")
        _expect_gradients(fn, *cases[2][0])

    return _verdict(run, REPARAMETERIZE_HINT)


def _expect_gradients(fn: Callable[..., Any], z_mean: np.ndarray, z_log_var: np.ndarray,
                      eps: np.ndarray) -> None:
    """With TensorFlow's GradientTape, the gradients of sum(z) must be 1 for z_mean and
    0.5 * exp(0.5 * z_log_var) * eps for z_log_var. Other backends: a note, no check."""
    if keras.backend.backend() != "tensorflow":
        print(f"(Gradients not checked: that part needs the TensorFlow backend, "
              f"not {keras.backend.backend()}.)")
        return
    import tensorflow as tf

    mean, log_var = tf.Variable(z_mean), tf.Variable(z_log_var)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(fn(mean, log_var, tf.constant(eps)))
    grads = tape.gradient(total, [mean, log_var])
    wanted = [np.ones_like(z_mean), 0.5 * np.exp(0.5 * z_log_var) * eps]
    for name, grad, want in zip(["z_mean", "z_log_var"], grads, wanted):
        if grad is None:
            raise _Mismatch(f"no gradient flows from z back to {name} (TensorFlow's gradient is None)",
                            NO_GRADIENT_HINT)
        _expect_close(grad, want, what=f"gradient d(sum z)/d{name}",
                      case=f"random z_mean, z_log_var and eps of shape {z_mean.shape}")


def check_kl_divergence(fn: Callable[..., Any] | None) -> bool | None:
    """Check a student's ``kl_divergence(z_mean, z_log_var)`` against
    ``vae_helpers.kl_divergence``: one value per row, on hand-picked inputs
    (mu = 0 or 1 with sigma = 1; log sigma^2 = +-2) and random ones."""
    if fn is None:
        return _unanswered("kl_divergence(z_mean, z_log_var)")
    import vae_helpers as vh  # here, not at the top: vae_helpers imports this module

    def run() -> None:
        small = [(np.array([[0, 0], [1, 1]], np.float32), np.zeros((2, 2), np.float32)),
                 (np.zeros((1, 2), np.float32), np.array([[2, -2]], np.float32))]
        cases = [((m, v), _inputs(z_mean=m, z_log_var=v), None) for m, v in small]
        cases += [(tuple(_random(shape, shape, seed=seed)), f"random z_mean and z_log_var of shape {shape}",
                   None) for seed, shape in enumerate([(4, 3), (6, 20)])]
        _expect_cases(fn, vh.kl_divergence, cases, what="KL",
                      shape_hint="one KL per row (image): sum over the latent axis only (axis=-1), "
                                 "not over the batch.")

    return _verdict(run, "KL = 1/2 * sum over the latent axis (axis=-1) of (z_mean^2 + exp(z_log_var) - 1 - "
                         "z_log_var); z_log_var is log sigma^2, so sigma^2 = exp(z_log_var).")


def check_vae_loss(fn: Callable[..., Any] | None) -> bool | None:
    """Check a student's ``vae_loss(x, logits, z_mean, z_log_var, beta)``
    against ``vae_helpers.vae_loss`` on 3 random images (784 pixels) with
    beta = 1, 0.5 and 4: one value per image, BCE + beta * KL."""
    if fn is None:
        return _unanswered("vae_loss(x, logits, z_mean, z_log_var, beta)")
    import vae_helpers as vh  # here, not at the top: vae_helpers imports this module

    def run() -> None:
        x = np.random.default_rng(7).random((3, 784), dtype=np.float32)
        logits, z_mean, z_log_var = _random((3, 784), (3, 5), (3, 5), seed=8, scale=2.0)
        images = "3 random images (x and logits of shape (3, 784), z_mean and z_log_var of shape (3, 5))"
        beta_hint = "multiply the KL term, and only it, by beta: loss = BCE + beta * KL."
        cases = [((x, logits, z_mean, z_log_var, beta), f"{images} and beta={beta:g}",
                  None if beta == 1.0 else beta_hint) for beta in (1.0, 0.5, 4.0)]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _expect_cases(fn, vh.vae_loss, cases, what="loss",
                          shape_hint="one loss per image: sum over pixels and latent dimensions (axis=-1), "
                                     "never over the batch.")
        if any("produced by a Sigmoid" in str(w.message) for w in caught):  # TensorFlow undid the sigmoid
            raise _Mismatch("you passed sigmoid probabilities where binary_crossentropy(..., "
                            "from_logits=True) expects logits (Keras noticed and used the logits, "
                            "but not on every backend)",
                            "pass the decoder's logits themselves, without a sigmoid, with from_logits=True.")

    return _verdict(run, "loss = BCE + beta * KL for each image, where BCE sums ops.binary_crossentropy("
                         "x, logits, from_logits=True) over the 784 pixels (axis=-1): a sum, not a mean, "
                         "and the decoder gives logits, not probabilities.")


def check_log_mean_exp(fn: Callable[..., Any] | None) -> bool | None:
    """Check a student's ``log_mean_exp(a, axis=-1)`` (NumPy) against
    ``vae_helpers.log_mean_exp``: a hand-picked row, rows around +1000 and
    -1000 (the result must be finite), and a random (3, 5) array along
    axis -1 and axis 0, with the axis removed from the shape."""
    if fn is None:
        return _unanswered("log_mean_exp(a, axis=-1)")
    import vae_helpers as vh  # here, not at the top: vae_helpers imports this module

    def run() -> None:
        overflow = ("exp(1000) overflows to inf and exp(-1000) underflows to 0: take out the largest "
                    "value m first, log mean exp(a) = m + log(mean(exp(a - m))).")
        rows = [(np.array([[0.0, 2.0]]), None), (np.array([[1000.0, 1002.0]]), overflow),
                (np.array([[-1000.0, -1002.0]]), overflow)]
        cases = [((a, -1), _inputs(a=a, axis=-1), hint) for a, hint in rows]
        a = 3.0 * np.random.default_rng(9).standard_normal((3, 5))
        cases += [((a, axis), f"a random array a of shape (3, 5) and axis={axis}", None) for axis in (-1, 0)]
        _expect_cases(fn, vh.log_mean_exp, cases, what="result",
                      shape_hint="the result has the shape of a without the axis you average over.")

    return _verdict(run, "log mean exp(a) = m + log(mean(exp(a - m))) with m = max of a along axis. It is a "
                         "mean, not a sum (log-sum-exp is log K larger), and not the mean of a (the ELBO).")


def _interpolation_reference(z_start: np.ndarray, z_end: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` evenly spaced points from z_start to z_end, both included: (steps, latent_dim)."""
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return (1.0 - t) * np.asarray(z_start, np.float64) + t * np.asarray(z_end, np.float64)


def check_interpolation(fn: Callable[..., Any] | None) -> bool | None:
    """Check a student's ``interpolate_latent(z_start, z_end, steps)``:
    ``steps`` evenly spaced points from z_start to z_end, both ends included,
    in that order, as an array of shape (steps, latent_dim)."""
    if fn is None:
        return _unanswered("interpolate_latent(z_start, z_end, steps)")

    def run() -> None:
        z_start, z_end = np.array([0, 0], np.float32), np.array([1, 2], np.float32)
        cases = [((z_start, z_end, steps), _inputs(z_start=z_start, z_end=z_end, steps=steps), None)
                 for steps in (3, 2)]
        cases.append((tuple(_random((5,), (5,), seed=10)) + (7,),
                      "random z_start and z_end of size 5 and steps=7", None))
        _expect_cases(fn, _interpolation_reference, cases, what="interpolation",
                      shape_hint="return steps points, both ends included: an array of shape "
                                 "(steps, latent_dim).")

    return _verdict(run, "t = np.linspace(0, 1, steps) includes both ends; point i is (1 - t[i]) * "
                         "z_start + t[i] * z_end, so the first row is z_start and the last z_end.")
