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

import contextlib
import io
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import ops

RTOL, ATOL = 1e-5, 1e-6  # how close a student's values must be to the reference's
FLOAT32_RTOL = 1e-6  # numbers a student computed in float32 differ from float64 by about this much

Case = tuple[tuple[Any, ...], str, str | None]  # (arguments, how to describe them, hint if it fails, or None)


def _decimals(text: str) -> int:
    """Decimal places of a number as written: '0.81' -> 2, '543' -> 0, '1e-05' -> 5."""
    mantissa, _, exponent = text.lower().partition("e")
    places = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return max(places - int(exponent or 0), 0)


def _as_written(value: Any) -> tuple[float, int] | None:
    """A scalar answer as a float and the decimal places it was written with
    (numeric strings and NumPy scalars included), or None if it is no number."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, np.floating):  # str() is NumPy's shortest form: 0.8003262 for a float32
        value = str(value)
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, int):
        return float(value), 0
    if isinstance(value, float):
        return value, _decimals(repr(value))
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        percent = text.endswith("%")  # "80.9%" is 0.809, written to three decimals
        text = text.removesuffix("%").strip()
        try:
            number, places = float(text), _decimals(text)
        except ValueError:
            return None
        return (round(number / 100, places + 2), places + 2) if percent else (number, places)
    return None


def _same_number(answer: Any, want: float, tolerance: float, places: int | None = None,
                 scale: float | None = None) -> bool:
    """``answer`` equals ``want`` within ``tolerance`` (plus float32's rounding), or is ``want`` rounded to
    the decimals the answer was written with (at least ``places``), as long as that keeps at least
    two significant digits of ``want`` (of ``scale``, for a list: its largest value):
    0.81 for 0.8088 passes, 0.8 and 1 do not."""
    written = _as_written(answer)
    if written is None:
        return False
    got, written_places = written
    places = written_places if places is None else max(places, written_places)
    if math.isnan(want) or math.isnan(got):  # a model that gives NaN: only NaN is the right answer
        return math.isnan(want) and math.isnan(got)
    if abs(got - want) <= tolerance + FLOAT32_RTOL * abs(want):
        return True
    return max(abs(want), scale or 0.0) >= 10.0 ** (1 - places) and round(want, places) == got


def check_answer(answer: Any, expected: Any, *, tolerance: float = 0.0, hint: str = "") -> bool | None:
    """Self-check for the notebooks' exercises: print whether ``answer``
    matches ``expected``, and return True, False, or None while the answer is
    still ``None``. ``expected`` may be a function, called only when an answer
    is given, so an unanswered exercise costs nothing.

    Strings match ignoring case and surrounding spaces (a class name may be
    given as the number it is, 1 for "1"). Numbers, and lists or arrays of
    them element by element, match within ``tolerance`` or at the precision
    they are written with (0.81 or 0.809 for 0.8088, 543.4 for 543.43); ints,
    floats, NumPy scalars and numeric strings ("0.81", "80.9%") count the same.
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
            # A list is written to one precision: [0.23, 0.1] is [0.23, 0.10] (a float drops the zero).
            places = max((w[1] for w in map(_as_written, flat) if w is not None), default=0)
            scale = float(np.max(np.abs(want))) if want.size else 0.0  # two significant digits of the largest
            ok = shape_ok and all(_same_number(a, float(w), tolerance, places, scale)
                                  for a, w in zip(flat, want.ravel()))
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


def _random_shapes(shapes: list[tuple[int, ...]], extra_shapes: list[tuple[int, ...]],
                   extra: bool) -> list[tuple[int, tuple[int, ...]]]:
    """(seed, shape) pairs for the random cases: ``shapes`` with seeds 0, 1, ...; with
    ``extra`` (the hidden tests) also ``extra_shapes``, with seeds from 100."""
    return list(enumerate(shapes)) + (list(enumerate(extra_shapes, start=100)) if extra else [])


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


def check_reparameterize(fn: Callable[..., Any] | None, *, extra: bool = False) -> bool | None:
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
                  for seed, shape in _random_shapes([(5, 2), (3, 20)], [(7, 3), (2, 50)], extra)]
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


def check_kl_divergence(fn: Callable[..., Any] | None, *, extra: bool = False) -> bool | None:
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
                   None) for seed, shape in _random_shapes([(4, 3), (6, 20)], [(5, 7), (3, 50)], extra)]
        _expect_cases(fn, vh.kl_divergence, cases, what="KL",
                      shape_hint="one KL per row (image): sum over the latent axis only (axis=-1), "
                                 "not over the batch.")

    return _verdict(run, "KL = 1/2 * sum over the latent axis (axis=-1) of (z_mean^2 + exp(z_log_var) - 1 - "
                         "z_log_var); z_log_var is log sigma^2, so sigma^2 = exp(z_log_var).")


def check_vae_loss(fn: Callable[..., Any] | None, *, extra: bool = False) -> bool | None:
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
                  None if beta == 1.0 else beta_hint)
                 for beta in (1.0, 0.5, 4.0) + ((2.0, 0.25) if extra else ())]
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


def check_log_mean_exp(fn: Callable[..., Any] | None, *, extra: bool = False) -> bool | None:
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
        if extra:
            b = 40.0 * np.random.default_rng(109).standard_normal((4, 6)) - 300.0
            cases += [((b, axis), f"a random array a of shape (4, 6) around -300 and axis={axis}", None)
                      for axis in (1, -2)]
        _expect_cases(fn, vh.log_mean_exp, cases, what="result",
                      shape_hint="the result has the shape of a without the axis you average over.")

    return _verdict(run, "log mean exp(a) = m + log(mean(exp(a - m))) with m = max of a along axis. It is a "
                         "mean, not a sum (log-sum-exp is log K larger), and not the mean of a (the ELBO).")


def _interpolation_reference(z_start: np.ndarray, z_end: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` evenly spaced points from z_start to z_end, both included: (steps, latent_dim)."""
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return (1.0 - t) * np.asarray(z_start, np.float64) + t * np.asarray(z_end, np.float64)


def check_interpolation(fn: Callable[..., Any] | None, *, extra: bool = False) -> bool | None:
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
        if extra:
            cases.append((tuple(_random((3,), (3,), seed=110)) + (11,),
                          "random z_start and z_end of size 3 and steps=11", None))
        _expect_cases(fn, _interpolation_reference, cases, what="interpolation",
                      shape_hint="return steps points, both ends included: an array of shape "
                                 "(steps, latent_dim).")

    return _verdict(run, "t = np.linspace(0, 1, steps) includes both ends; point i is (1 - t[i]) * "
                         "z_start + t[i] * z_end, so the first row is z_start and the last z_end.")


NUM_CLASSES = 10  # the digits 0-9 of notebook 08's conditional VAE


def _condition_reference(z: Any, digits: Any) -> np.ndarray:
    """z with the one-hot code of each digit appended: (batch, latent_dim + 10)."""
    one_hot = np.eye(NUM_CLASSES)[np.asarray(digits, dtype=int)]
    return np.concatenate([np.asarray(z, np.float64), one_hot], axis=-1)


def check_condition(fn: Callable[..., Any] | None, *, extra: bool = False) -> bool | None:
    """Check a student's ``condition(z, digits)`` (notebook 08): the decoder's
    input, z of shape (batch, latent_dim) followed by the one-hot code of each
    digit (integers 0-9), shape (batch, latent_dim + 10); on hand-picked and
    random inputs, and (TensorFlow backend only) a gradient of 1 from the
    result back to z."""
    if fn is None:
        return _unanswered("condition(z, digits)")

    def run() -> None:
        z_small = np.array([[0.5, -1.0]], np.float32)
        cases = [((z_small, np.array([d])), _inputs(z=z_small, digits=[d]), None) for d in (3, 0)]
        for seed, (batch, dim) in _random_shapes([(4, 2), (6, 20)], [(5, 7), (9, 32)], extra):
            digits = np.random.default_rng(seed).integers(0, NUM_CLASSES, batch)
            cases.append(((_random((batch, dim), seed=seed)[0], digits),
                          f"random z of shape {(batch, dim)} and digits {digits.tolist()}", None))
        for args, case, _ in cases:
            want = _condition_reference(*args)
            got = _as_array(fn(*args), "decoder input")
            if got.ndim == want.ndim and got.shape[:-1] == want.shape[:-1] and got.shape != want.shape:
                raise _Mismatch(f"for {case} your decoder input has shape {got.shape}, expected {want.shape}",
                                "append the one-hot code of the digit, ops.one_hot(digits, 10): ten numbers "
                                "with a 1 at the digit's place, not the digit itself.")
            _expect_close(got, want, what="decoder input", case=case,
                          hint="z comes first, then the one-hot code: "
                               "ops.concatenate([z, one_hot], axis=-1).",
                          shape_hint="join along the last axis (axis=-1): one row per image, "
                                     "latent_dim + 10 numbers in it.")
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            z = tf.Variable(cases[2][0][0])
            with tf.GradientTape() as tape:
                total = tf.reduce_sum(fn(z, cases[2][0][1]))
            grad = tape.gradient(total, z)
            if grad is None:
                raise _Mismatch("no gradient flows from your result back to z "
                                "(TensorFlow's gradient is None)",
                                "use keras.ops (ops.one_hot, ops.concatenate), not NumPy: the model calls "
                                "this on tensors, and training needs gradients through z.")
            _expect_close(grad, np.ones(z.shape), what="gradient d(sum)/dz", case=cases[2][1])

    return _verdict(run, "one_hot = ops.one_hot(digits, 10), then ops.concatenate([z, one_hot], axis=-1): "
                         "z first, the ten label numbers after it, in every row.")


def _free_bits_kl_reference(z_mean: Any, z_log_var: Any, free_bits: float) -> np.ndarray:
    m, v = np.asarray(z_mean, np.float64), np.asarray(z_log_var, np.float64)
    per_dim = np.mean(0.5 * (m**2 + np.exp(v) - 1.0 - v), axis=0)  # batch mean, one per dimension
    return np.sum(np.maximum(per_dim, free_bits))


def check_free_bits_kl(fn: Callable[..., Any] | None, *, extra: bool = False) -> bool | None:
    """Check a student's ``free_bits_kl(z_mean, z_log_var, free_bits)``
    (notebook 10): the KL term of a batch with free bits, the sum over latent
    dimensions of max(free_bits, that dimension's KL averaged over the
    batch), one number; on hand-picked and random inputs."""
    if fn is None:
        return _unanswered("free_bits_kl(z_mean, z_log_var, free_bits)")

    def run() -> None:
        small = np.array([[1.0, 0.0]], np.float32), np.zeros((1, 2), np.float32)
        cases = [((*small, lam), _inputs(z_mean=small[0], z_log_var=small[1], free_bits=lam), None)
                 for lam in (0.0, 0.25, 1.0)]
        two = np.array([[2.0, 0.0], [0.0, 0.0]], np.float32), np.zeros((2, 2), np.float32)
        cases.append(((*two, 0.5), _inputs(z_mean=two[0], z_log_var=two[1], free_bits=0.5),
                      "average each dimension's KL over the batch first (ops.mean(..., axis=0)), then "
                      "floor it at free_bits: the floor is per dimension, not per image."))
        for seed, shape in _random_shapes([(8, 5), (16, 32)], [(4, 3), (32, 50)], extra):
            lam = 0.1 + 0.1 * (seed % 3)
            cases.append(((*_random(shape, shape, seed=seed), lam),
                          f"random z_mean and z_log_var of shape {shape} and free_bits={lam:g}", None))
        _expect_cases(fn, _free_bits_kl_reference, cases, what="KL term",
                      shape_hint="one number for the batch: average over the batch (axis 0), floor each "
                                 "dimension, then sum over the dimensions.")

    return _verdict(run, "per dimension KL_j = 1/2 (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2), averaged over "
                         "the batch (axis=0); then sum over j of ops.maximum(KL_j, free_bits).")


# --------------------------------------------------------------------------
# The series' exercises, by number: what the self-check cells call
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Exercise:
    """One exercise of the series. A value exercise computes its answer from the
    notebook's objects (``answer(**context)``, e.g. ``data=data``), so the check
    cell never shows it; a code exercise names the check that runs the
    student's function (``code_check(fn, extra=...)``)."""

    title: str
    answer: Callable[..., Any] | None = None
    code_check: Callable[..., bool | None] | None = None
    tolerance: float = 0.0
    hint: str = ""


def _decoded(model: Any, point: float) -> np.ndarray:
    """The image the model decodes at z = (point, point, ...)."""
    return model.decode(np.full((1, model.latent_dim), point, "float32"))[0]


def _per_image_bce(x: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """BCE of every image against pixel probabilities (NumPy, clipped away from 0 and 1)."""
    p = np.clip(probabilities, 1e-7, 1 - 1e-7)
    return -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)


def _reconstruct(model: Any, x: np.ndarray) -> np.ndarray:
    import vae_helpers as vh

    return vh.reconstruct(model, x)


def _sampled_bce(model: Any, data: Any, seed: int = 0) -> float:
    """Mean BCE of the first 1,000 test images decoded from z = mu + sigma * eps,
    eps from ``np.random.default_rng(seed)``."""
    import vae_helpers as vh  # here, not at the top: vae_helpers imports this module

    x = data.x_test[:1000]
    z_mean, z_log_var = model.encoder(x)
    eps = np.random.default_rng(seed).standard_normal(tuple(z_mean.shape)).astype("float32")
    logits = model.decoder(vh.reparameterize(z_mean, z_log_var, eps))
    return float(np.mean(ops.convert_to_numpy(vh.reconstruction_bce(x, logits))))


def _log_px_by_k(model: Any, data: Any, seed: int) -> list[float]:
    import vae_helpers as vh

    return [vh.iwae_log_likelihood(model, data.x_val[:500], k=k, seed=seed)["log_px"] for k in (1, 10, 100)]


def _kl_of(mean: Sequence[float], log_var: Sequence[float]) -> float:
    import vae_helpers as vh

    return float(ops.convert_to_numpy(vh.kl_divergence(np.array([mean], "float32"),
                                                       np.array([log_var], "float32")))[0])


def _parameter_count() -> int:
    import vae_helpers as vh

    return vh.VAE(latent_dim=2, hidden_dim=512).count_params()


def _know_nothing_bce() -> float:
    import vae_helpers as vh

    x = np.random.default_rng(0).random((1, 784), dtype=np.float32)  # any image: p = 0.5 costs log 2 a pixel
    return float(ops.convert_to_numpy(vh.reconstruction_bce(x, np.zeros((1, 784), "float32")))[0])


def _most_confused(nearest: np.ndarray, data: Any) -> str:
    error_rate = [np.mean(nearest[data.y_test == k] != k) for k in range(len(data.class_names))]
    return data.class_names[int(np.argmax(error_rate))]


def _worst_reconstruction(model: Any, data: Any) -> int:
    return int(np.argmax(_per_image_bce(data.x_test, _reconstruct(model, data.x_test))))


def _best_beta(beta_rows: Sequence[dict[str, Any]]) -> float:
    return min(beta_rows, key=lambda row: row["test_neg_elbo"])["BETA"]


def _nats_saved(by_dim: dict[int, dict[str, Any]]) -> float:
    return by_dim[min(by_dim)]["test_neg_elbo"] - by_dim[max(by_dim)]["test_neg_elbo"]


def _label_gain(results: dict[str, dict[str, float]]) -> float:
    return results["VAE"]["neg_elbo"] - results["conditional VAE"]["neg_elbo"]


def _centre_accuracy(mu_cvae: np.ndarray, data: Any) -> float:
    """How often the nearest class centre (mean code of each class) of a test code is its class."""
    classes = len(data.class_names)
    centres = np.stack([mu_cvae[data.y_test == k].mean(axis=0) for k in range(classes)])
    nearest = ((mu_cvae[:, None] - centres[None]) ** 2).sum(axis=-1).argmin(axis=1)
    return float(np.mean(nearest == data.y_test))


def _conv2_parameters() -> int:
    return 3 * 3 * 32 * 64 + 64  # notebook 09's second convolution: 64 filters of 3 x 3 x 32, a bias each


def _time_ratio(conv_rows: Sequence[dict[str, Any]]) -> float:
    """Seconds per epoch of the convolutional VAE over the MLP's, at the first latent size of the rows."""
    latent = conv_rows[0]["LATENT_DIM"]
    by_model = {r["model"]: r for r in conv_rows if r["LATENT_DIM"] == latent}
    return by_model["conv"]["s_per_epoch"] / by_model["MLP"]["s_per_epoch"]


def _collapsed_kl(by_name: dict[str, dict[str, Any]], threshold: float = 0.01) -> float:
    """The summed KL of the inactive units (encoder-mean variance <= threshold) of the run "β = 1"."""
    run = by_name["β = 1"]
    return float(sum(k for k, v in zip(run["kl_per_dim"], run["mu_variance"]) if v <= threshold))


def _best_run(collapse_rows: Sequence[dict[str, Any]]) -> str:
    return max(collapse_rows, key=lambda row: row["test_log_px"])["run"]


EXERCISES: dict[str, Exercise] = {
    "01.1": Exercise(
        "how empty is an image?", lambda data: float(np.mean(data.x_train == 0)),
        hint="Compare data.x_train with 0 and take the mean of the resulting True/False array."),
    "01.2": Exercise(
        "the most common class", lambda data: data.class_names[int(np.argmax(np.bincount(data.y_train)))],
        hint="np.bincount(data.y_train) counts the images per class; np.argmax finds the largest."),
    "01.3": Exercise(
        "the average digit", lambda data: data.x_test[data.y_test == 3].mean(axis=0), tolerance=1e-4,
        hint="Select the rows of data.x_test whose label (data.y_test) is 3, then average over axis 0."),
    "02.1": Exercise("the reparameterisation trick", code_check=check_reparameterize),
    "02.2": Exercise("the KL in code", code_check=check_kl_divergence),
    "02.3": Exercise("the loss of one image", code_check=check_vae_loss),
    "02.4": Exercise(
        "a KL by hand", lambda: _kl_of([1.0, 0.0], [0.0, 0.0]), tolerance=1e-4,
        hint="Per dimension: (mu^2 + sigma^2 - 1 - log sigma^2) / 2, with sigma^2 = exp(0) = 1."),
    "02.5": Exercise(
        "count the parameters", _parameter_count,
        hint="Encoder: 784->512, 512->512, then two heads 512->2. Decoder: 2->512, 512->512, 512->784. "
             "Each layer from a to b units has a*b weights and b biases."),
    "02.6": Exercise(
        "the loss of a know-nothing decoder", _know_nothing_bce, tolerance=0.01,
        hint="-[x log 0.5 + (1 - x) log 0.5] = log 2 for every pixel; there are 784 pixels."),
    "03.1": Exercise("the average inside the log", code_check=check_log_mean_exp),
    "03.2": Exercise(
        "read the training history", lambda history: int(np.argmax(history["val_kl_loss"])) + 1,
        hint="np.argmax gives a position counted from 0; epochs are counted from 1."),
    "03.3": Exercise(
        "watch the bound tighten", _log_px_by_k,
        hint="Use data.x_val[:500] and K = 1, 10, 100 in that order, with seed=SEED."),
    "03.4": Exercise(
        "what a larger beta costs", lambda history: 3.0 * history["val_kl_loss"][-1],
        tolerance=0.02,  # 3 x a KL printed with two decimals
        hint="The loss is BCE + beta * KL: going from beta = 1 to beta = 4 adds 3 * KL. "
             "Use the last epoch's validation KL, history['val_kl_loss'][-1]."),
    "04.1": Exercise(
        "the worst reconstruction", _worst_reconstruction,
        hint="Sum the BCE over axis 1 (pixels) to get one value per image, then take np.argmax."),
    "04.2": Exercise(
        "a sample or the mean?", _sampled_bce, tolerance=0.05,
        hint="z = vh.reparameterize(z_mean, z_log_var, eps) with z_mean, z_log_var = model.encoder(x) "
             "for x = data.x_test[:1000] and eps from np.random.default_rng(0).standard_normal("
             "z_mean.shape); then the mean of vh.reconstruction_bce(x, model.decoder(z))."),
    "05.1": Exercise(
        "decode a chosen point", lambda model: _decoded(model, 0.0), tolerance=1e-5,
        hint="Build z with np.zeros((1, LATENT_DIM), 'float32'), decode it and take row 0."),
    "05.2": Exercise(
        "far outside the prior", lambda model: _decoded(model, 6.0), tolerance=1e-5,
        hint="np.full((1, LATENT_DIM), 6.0, 'float32') is the point (6, 6, ...)."),
    "06.1": Exercise("walk from one digit to another", code_check=check_interpolation),
    "06.2": Exercise(
        "the centre of a class", lambda mu, data: mu[data.y_test == 0].mean(axis=0), tolerance=1e-4,
        hint="Select the rows of mu where data.y_test == 0 and average over axis 0."),
    "06.3": Exercise(
        "which classes overlap most?", _most_confused,
        hint="For each class k, the error rate is the mean of (nearest != k) over the images with label k."),
    "07.1": Exercise(
        "the best beta", _best_beta,
        hint="Each row of beta_rows is a dict, one per beta, holding the means over the seeds; "
             "min(..., key=...) finds the row with the smallest value."),
    "07.2": Exercise(
        "what the extra dimensions buy", _nats_saved,
        tolerance=0.011,  # a difference of two numbers printed with two decimals
        hint="by_dim maps each latent size to its row; subtract the largest size's value from the "
             "smallest's."),
    "08.1": Exercise("the decoder's input", code_check=check_condition),
    "08.2": Exercise(
        "what the label is worth here", _label_gain,
        hint="results maps each model's name to its test numbers; subtract the conditional VAE's "
             "neg_elbo from the VAE's."),
    "08.3": Exercise(
        "how much class is left in the code?", _centre_accuracy,
        hint="centres[k] = mu_cvae[data.y_test == k].mean(axis=0); the nearest centre of each code is the "
             "argmin over k of the squared distance; then the mean of (nearest == data.y_test)."),
    "09.1": Exercise(
        "the weights of a convolution", _conv2_parameters,
        hint="Each of the 64 output channels has one 3 x 3 filter per input channel (32 of them) "
             "and one bias."),
    "09.2": Exercise(
        "the price in time", _time_ratio, tolerance=0.05,
        hint="Divide the convolutional VAE's s_per_epoch by the MLP's, both at latent size 2."),
    "10.1": Exercise("the free-bits KL", code_check=check_free_bits_kl),
    "10.2": Exercise(
        "how little do the collapsed units carry?", _collapsed_kl,
        tolerance=0.005,  # "next to nothing": a few thousandths of a nat, or 0
        hint="Sum kl_per_dim over the units whose mu_variance is at most THRESHOLD (0.01), for the run "
             "'β = 1' only."),
    "10.3": Exercise(
        "which run models the test images best?", _best_run,
        hint="The highest log p(x) is the largest test_log_px (the least negative): "
             "max(collapse_rows, key=...)."),
}


def _judge(exercise: str, answer: Any, context: dict[str, Any], *, extra: bool) -> bool | None:
    """Print the verdict on ``answer`` (see :func:`check`) and return it."""
    if exercise not in EXERCISES:
        raise KeyError(f"no exercise {exercise!r}: the series has {', '.join(EXERCISES)}")
    spec = EXERCISES[exercise]
    if spec.code_check is not None:
        return spec.code_check(answer, extra=extra)
    return check_answer(answer, lambda: spec.answer(**context), tolerance=spec.tolerance, hint=spec.hint)


def check(exercise: str, answer: Any, **context: Any) -> None:
    """The public self-check of exercise ``exercise`` ("01.1", ...): prints
    "Correct!", or "Not quite" with a hint, or "Not answered yet". ``context``
    holds the notebook objects the answer is computed from (``data=data``)."""
    _judge(exercise, answer, context, extra=False)


def grade(exercise: str, answer: Any, **context: Any) -> None:
    """The hidden test of an exercise, for grading: the same verdict as
    :func:`check` (code exercises also on further random inputs), silent when
    right, an ``AssertionError`` saying what is wrong otherwise."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        verdict = _judge(exercise, answer, context, extra=True)
    if not verdict:
        raise AssertionError(f"Exercise {exercise}: {printed.getvalue().strip()}")
