"""Comparing a student's answer with the expected one, as a careful teaching assistant would."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from keras import ops

from vae_machinery.exercises.engine import Mismatch, expect_close

FLOAT32_RTOL = 1e-6  # numbers a student computed in float32 differ from float64 by about this much


@dataclass(frozen=True)
class Value:
    """A value exercise: ``expected(**context)`` computes the answer from the notebook's objects;
    answers within ``tolerance`` (or right at the precision they are written with) are right."""

    expected: Callable[..., Any]
    tolerance: float = 0.0


@dataclass(frozen=True)
class Code:
    """A code exercise: ``reference`` is the worked function; ``cases()`` gives (arguments, description)
    pairs on which the student's function must give the reference's result."""

    reference: Callable[..., Any]
    cases: Callable[[], Sequence[tuple[tuple[Any, ...], str]]]
    what: str = "result"

    def compare(self, fn: Callable[..., Any]) -> None:
        """Raise Mismatch at the first case where ``fn`` differs from the reference."""
        for args, case in self.cases():
            want = self.reference(*args)  # first, in case the student's function changes its arguments
            expect_close(fn(*args), want, what=self.what, case=case)


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
    two significant digits of ``want`` (of ``scale``, for a list: its largest value)."""
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


def same_answer(answer: Any, expected: Any, *, tolerance: float = 0.0) -> bool:
    """Whether ``answer`` is ``expected``. Strings match ignoring case and surrounding spaces (a
    class name may be given as the number it is, 1 for "1"). Numbers, and lists or arrays of them
    element by element, match within ``tolerance`` or at the precision they are written with (0.81
    or 0.809 for 0.8088, 543.4 for 543.43); ints, floats, NumPy scalars and numeric strings ("0.81",
    "80.9%") count the same."""
    if answer is None:
        return False
    if isinstance(expected, str):
        if isinstance(answer, (int, np.integer)) and not isinstance(answer, bool):
            answer = str(int(answer))
        return isinstance(answer, str) and answer.strip().lower() == expected.strip().lower()
    want = np.asarray(expected, dtype=float)
    try:
        items = ops.convert_to_numpy(answer).tolist() if hasattr(answer, "shape") and not isinstance(
            answer, np.generic) else answer
    except Exception:
        return False
    if want.ndim == 0:
        return _same_number(items, float(want), tolerance)
    try:
        shape_ok = np.shape(items) == want.shape
    except ValueError:  # a ragged list
        return False
    if not shape_ok:
        return False
    flat = np.asarray(items, dtype=object).ravel().tolist()
    # A list is written to one precision: [0.23, 0.1] is [0.23, 0.10] (a float drops the zero).
    places = max((w[1] for w in map(_as_written, flat) if w is not None), default=0)
    scale = float(np.max(np.abs(want))) if want.size else 0.0  # two significant digits of the largest
    return all(_same_number(a, float(w), tolerance, places, scale) for a, w in zip(flat, want.ravel()))


def random_cases(shapes: Sequence[tuple[int, ...]], arrays: int, seed: int,
                 scale: float = 1.0) -> list[tuple[tuple[np.ndarray, ...], str]]:
    """``arrays`` standard normal float32 arrays of each shape in ``shapes`` (times ``scale``),
    each shape with its own seed from ``seed`` on."""
    cases = []
    for i, shape in enumerate(shapes):
        rng = np.random.default_rng(seed + i)
        args = tuple(np.float32(scale) * rng.standard_normal(shape, dtype=np.float32) for _ in range(arrays))
        cases.append((args, f"random inputs of shape {shape}"))
    return cases


__all__ = ["Code", "Mismatch", "Value", "random_cases", "same_answer"]
