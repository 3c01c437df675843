"""How a self-check runs: the answer's form and behaviour, hints that grow, no answer.

A self-check never knows the expected answer. It looks at what it can judge
without one: the type, shape and range of a value, the invariants a right
value must have (a fraction lies in [0, 1], a likelihood bound rises with K),
and, for a function, its behaviour (the KL is 0 at the prior and grows with
the distance from it; the mean and spread of z over many eps are mu and
sigma; gradients flow). A wrong answer gets what went wrong and
a hint; each further wrong attempt at the same exercise gets the next, more
specific hint. No hint states the formula or the value.

The exact value is checked by the hidden test that the instructor's grader
adds back (``instructor/vae_answers`` in the repository, never installed with
this package).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import sys
import types
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
from keras import ops

RTOL, ATOL = 1e-5, 1e-6  # how close a function's values must be to a known value
LIBRARY_MODULES = ("vae_helpers", "vae_machinery")  # the series' own code: not an answer


class Mismatch(Exception):
    """What is wrong with an answer, in words a student can act on."""


@dataclass(frozen=True)
class SelfCheck:
    """The self-check of one exercise.

    ``inspect(answer, **context)`` raises :class:`Mismatch` when the answer
    cannot be right (the message says why); ``passed`` says what a passing
    answer has shown; ``hints`` are given one more per wrong attempt.
    A code exercise (``code=True``) expects a function; it may not call the
    ``vae_helpers`` functions named in ``library`` (writing them is the
    exercise). ``applies(**context)`` gives the reason when the question
    has no answer in this run (one epoch leaves nothing to compare), else None."""

    title: str
    inspect: Callable[..., None]
    passed: str
    hints: tuple[str, ...]
    code: bool = False
    library: tuple[str, ...] = field(default=())
    applies: Callable[..., str | None] | None = None

    def not_applicable(self, context: dict[str, Any]) -> str | None:
        """Why the question has no answer in this run, or None when it has one."""
        return None if self.applies is None else self.applies(**context)


# Wrong attempts per exercise in this kernel: the hints grow with them. Restarting the kernel
# starts again from the first hint.
_attempts: Counter[str] = Counter()


def reset_attempts() -> None:
    """Forget the wrong attempts (the next hint is the first again)."""
    _attempts.clear()


def run_self_check(exercise: str, spec: SelfCheck, answer: Any, context: dict[str, Any]) -> bool | None:
    """Print the verdict of ``spec`` on ``answer``; return True (passed), False, or None (unanswered,
    or a question this run cannot answer)."""
    reason = spec.not_applicable(context)
    if reason is not None:
        print(f"This exercise has no answer in this run: {reason}. The default run has one.")
        return None
    if answer is None:
        what = "your own function, assigned to the name that is None" if spec.code else "your answer"
        print(f"Not answered yet: put {what} in the exercise cell, then run this cell again.")
        return None
    try:
        if spec.code:
            if not callable(answer):
                raise Mismatch(f"this is a {type(answer).__name__}, not a function: define one with def "
                               "and assign the function itself (no brackets after its name)")
            used = library_functions_used(answer, spec.library)
            if used:
                raise Mismatch(f"your function uses the series' own {', '.join(used)}: the exercise is to "
                               "write it yourself, with keras.ops or NumPy")
        with np.errstate(all="ignore"), library_calls(answer if spec.code else None, spec.library) as called:
            spec.inspect(answer, **context)  # a naive exp(1000) is a wrong answer, not a warning
        if called:
            raise Mismatch(_calls_message(called, "your function"))
    except Mismatch as problem:
        message = str(problem)
    except Exception as error:  # the student's code failed: report it, do not raise it
        first_line = (str(error).strip().splitlines() or [""])[0][:200]
        message = (f"{'your function' if spec.code else 'checking your answer'} raised "
                   f"{type(error).__name__}" + (f": {first_line}" if first_line else ""))
    else:
        print(f"Passes the self-check: {spec.passed}.")
        return True
    _attempts[exercise] += 1
    shown = min(_attempts[exercise], len(spec.hints))
    print(f"Not quite: {message}.")
    for number in range(shown):
        print(f"Hint {number + 1}: {spec.hints[number]}")
    if shown < len(spec.hints):
        print("(Another wrong attempt shows another hint.)")
    return False


# --------------------------------------------------------------------------
# The series' own functions are not answers
# --------------------------------------------------------------------------
def _is_library(obj: Any) -> bool:
    module = obj.__name__ if isinstance(obj, types.ModuleType) else getattr(obj, "__module__", None)
    return isinstance(module, str) and module.split(".")[0] in LIBRARY_MODULES


def _code_objects(code: types.CodeType) -> list[types.CodeType]:
    """``code`` and every function or lambda defined inside it."""
    found = [code]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found += _code_objects(const)
    return found


def _library_code(names: Sequence[str]) -> dict[types.CodeType, str]:
    """The code objects of ``vae_helpers``' functions ``names``: ``{code: "vh.<name>"}``."""
    helpers = importlib.import_module(LIBRARY_MODULES[0])
    codes = {}
    for name in names:
        code = getattr(getattr(helpers, name, None), "__code__", None)
        if isinstance(code, types.CodeType):
            codes[code] = f"vh.{name}"
    return codes


def _same_code(a: types.CodeType, b: types.CodeType) -> bool:
    """The same function body: the same bytecode, constants and names (a copy of the source compiles
    to it; so does the code object itself, reused through ``types.FunctionType``)."""
    return a is b or (a.co_code, a.co_consts, a.co_names) == (b.co_code, b.co_consts, b.co_names)


def _own_code(fn: Any) -> types.CodeType | None:
    """The code of the function ``fn`` (through ``functools.partial`` and callable objects), or None."""
    while hasattr(fn, "func") and callable(fn.func):  # functools.partial
        fn = fn.func
    method = type(fn).__dict__.get("__call__") if not isinstance(fn, types.FunctionType) else None
    code = getattr(fn, "__code__", None) or getattr(method, "__code__", None)  # a callable object's __call__
    return code if isinstance(code, types.CodeType) else None


@contextlib.contextmanager
def library_calls(fn: Any, names: Sequence[str]) -> Iterator[set[str]]:
    """Record which of the series' functions ``names`` run while ``fn``'s code is on the call stack,
    whatever route led there: a name, ``getattr``, ``vars(vh)``, a closure, an alias of the module, a
    helper function of the student's. A profile hook (``sys.setprofile``) sees every Python call; a
    call of the series' function by the checker itself (the grader's reference) is not counted.
    Yields the set it fills (``{"vh.kl_divergence"}``); ``fn = None`` watches nothing."""
    called: set[str] = set()
    code = None if fn is None else _own_code(fn)
    if code is None or not names:
        yield called
        return
    codes, own = _library_code(names), set(_code_objects(code))

    def hook(frame: types.FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code in codes:
            caller = frame.f_back
            while caller is not None and caller.f_code not in codes:  # the series' calling itself: once
                if caller.f_code in own:
                    called.add(codes[frame.f_code])
                    return
                caller = caller.f_back

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        yield called
    finally:
        sys.setprofile(previous)


def _calls_message(called: set[str], who: str) -> str:
    return (f"{who} calls the series' own {', '.join(sorted(called))} while it is checked: the exercise "
            "is to write it yourself, with keras.ops or NumPy")


def library_functions_used(fn: Any, names: Sequence[str]) -> list[str]:
    """The functions of ``vae_helpers`` among ``names`` that ``fn`` is, wraps or calls, as its code
    shows: ``vh.kl_divergence`` itself, ``functools.partial`` of it, a function with its code (a copy of
    its source, or its code object rebuilt into a new function), a function whose code reads
    ``vh.kl_divergence`` or a name bound to it. ``["vh.kl_divergence"]``, or []. Routes the code does not
    show (``getattr``, ``vars(vh)``) are caught while the function runs (:func:`library_calls`)."""
    wanted = set(names)
    while hasattr(fn, "func") and callable(fn.func):  # functools.partial
        fn = fn.func
    if _is_library(fn) and getattr(fn, "__name__", None) in wanted:
        return [f"vh.{fn.__name__}"]
    code = getattr(fn, "__code__", None)
    if code is None:
        return []
    libraries = _library_code(sorted(wanted)).items()
    copies = sorted(name for library, name in libraries if _same_code(code, library))
    if copies:
        return copies
    scope = dict(getattr(fn, "__globals__", {}))
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        try:
            scope[name] = cell.cell_contents
        except ValueError:  # an empty cell
            pass
    used = set()
    for inner in _code_objects(code):
        attributes = set(inner.co_names)
        for name in (*inner.co_names, *inner.co_freevars):
            value = scope.get(name)
            if isinstance(value, types.ModuleType) and _is_library(value):
                used |= {f"vh.{n}" for n in wanted & attributes if hasattr(value, n)}
            elif callable(value) and _is_library(value) and getattr(value, "__name__", None) in wanted:
                used.add(f"vh.{value.__name__}")
    return sorted(used)


def function_problem(fn: Any, spec: SelfCheck, *, compare: Callable[[Any], None] | None = None,
                     **context: Any) -> str | None:
    """What is wrong with the function ``fn`` as an answer to ``spec``, quietly (nothing printed), as
    the end of a sentence that starts "your <name> ...": not a function, the series' own function, a
    failed inspection (or ``compare``, the grader's comparison with the reference), or an error it
    raised. None when nothing is."""
    if not callable(fn):
        return f"is a {type(fn).__name__}, not a function"
    used = library_functions_used(fn, spec.library)
    if used:
        return f"uses the series' own {', '.join(used)}"
    steps = [("its self-check", lambda: spec.inspect(fn, **context))]
    if compare is not None:
        steps.append(("the comparison with the reference", lambda: compare(fn)))
    for step, run in steps:
        try:
            with (contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"),
                  library_calls(fn, spec.library) as called):
                run()
        except Mismatch as problem:
            return f"does not pass {step} ({problem})"
        except Exception as error:
            first = (str(error).strip().splitlines() or [""])[0][:200]
            return f"raises {type(error).__name__}{': ' + first if first else ''} in {step}"
        if called:
            return _calls_message(called, "").strip()
    return None


# --------------------------------------------------------------------------
# Building blocks of the inspections
# --------------------------------------------------------------------------
def fmt(value: Any, digits: int = 4) -> str:
    """A short, readable rendering of a number or a small array."""
    a = np.asarray(value, dtype=np.float64)
    if a.size == 1:
        return f"{a.item() + 0.0:.{digits}g}"

    def show(x: Any) -> str:
        return "[" + ", ".join(map(show, x)) + "]" if isinstance(x, list) else f"{x + 0.0:.{digits}g}"

    return show(a.tolist())


def describe_inputs(**values: Any) -> str:
    """``describe_inputs(z_mean=0, eps=1)`` -> ``"z_mean=0 and eps=1"``."""
    parts = [f"{name}={fmt(value)}" for name, value in values.items()]
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]


def random_arrays(*shapes: tuple[int, ...], seed: int, scale: float = 1.0) -> list[np.ndarray]:
    """Standard normal float32 arrays of the given shapes (times ``scale``), from a fixed seed."""
    rng = np.random.default_rng(seed)
    return [np.float32(scale) * rng.standard_normal(shape, dtype=np.float32) for shape in shapes]


def as_array(value: Any, what: str) -> np.ndarray:
    """A result as a float64 NumPy array, or a Mismatch saying why it is not one."""
    if value is None:
        raise Mismatch(f"your function returned None instead of the {what}: did you forget `return`?")
    try:
        return np.asarray(ops.convert_to_numpy(value), dtype=np.float64)
    except Exception:
        raise Mismatch(f"your function returned a {type(value).__name__}, not an array of numbers") from None


def expect_shape(got: Any, shape: tuple[int, ...], *, what: str, case: str, why: str) -> np.ndarray:
    """``got`` as an array; a Mismatch if its shape is not ``shape`` (``why`` says what the shape means)."""
    array = as_array(got, what)
    if array.shape != tuple(shape):
        raise Mismatch(f"for {case} your {what} has shape {array.shape}, expected {tuple(shape)}: {why}")
    return array


def expect_close(got: Any, want: Any, *, what: str, case: str, rtol: float = RTOL,
                 atol: float = ATOL) -> None:
    """A Mismatch naming the first difference between ``got`` and the known value ``want``."""
    got, want = as_array(got, what), np.asarray(ops.convert_to_numpy(want), dtype=np.float64)
    if got.shape != want.shape:
        raise Mismatch(f"for {case} your {what} has shape {got.shape}, expected {want.shape}")
    wrong = ~np.isclose(got, want, rtol=rtol, atol=atol)
    if not wrong.any():
        return
    if want.size <= 8:
        digits = 4 if fmt(got) != fmt(want) else 9
        raise Mismatch(f"for {case} your {what} is {fmt(got, digits)}, expected {fmt(want, digits)}")
    index = tuple(int(i) for i in np.argwhere(wrong)[0])
    where = ", ".join(map(str, index))
    raise Mismatch(f"for {case} your {what}[{where}] is {got[index]:.6g}, expected {want[index]:.6g}")


def expect_finite(got: Any, *, what: str, case: str) -> np.ndarray:
    """``got`` as an array; a Mismatch if any value is inf or NaN."""
    array = as_array(got, what)
    if not np.all(np.isfinite(array)):
        raise Mismatch(f"for {case} your {what} is {fmt(array)}: not a finite number (an overflow?)")
    return array


def gradients(fn: Callable[..., Any], inputs: Sequence[np.ndarray], wrt: Sequence[int]) -> list[Any] | None:
    """With TensorFlow, the gradients of sum(fn(*inputs)) with respect to the inputs at the
    positions ``wrt`` (None where no gradient flows); with another backend None (a note is
    printed: the gradient part of the check needs TensorFlow)."""
    if keras.backend.backend() != "tensorflow":
        print(f"(Gradients not checked: that part needs the TensorFlow backend, "
              f"not {keras.backend.backend()}.)")
        return None
    import tensorflow as tf

    args = [tf.Variable(a) if i in wrt else tf.constant(a) for i, a in enumerate(inputs)]
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(fn(*args))
    return tape.gradient(total, [args[i] for i in wrt])


def number(answer: Any, what: str) -> float:
    """A scalar answer (int, float, NumPy scalar, numeric string, "80.9%") as a float."""
    if isinstance(answer, (bool, np.bool_)):
        raise Mismatch(f"{what} is a number, not {answer}")
    if isinstance(answer, str):
        text = answer.strip().replace(",", "")
        percent = text.endswith("%")
        try:
            value = float(text.removesuffix("%"))
        except ValueError:
            raise Mismatch(f"{answer!r} is not a number; {what} is") from None
        return value / 100 if percent else value
    if isinstance(answer, np.ndarray) and answer.size == 1:
        answer = answer.item()
    if isinstance(answer, (int, float, np.integer, np.floating)):
        return float(answer)
    raise Mismatch(f"this is a {type(answer).__name__}; {what} is one number")


def number_in(answer: Any, low: float, high: float, what: str) -> float:
    """A scalar answer that must lie in [low, high] (a finite number)."""
    value = number(answer, what)
    if not np.isfinite(value) or not low <= value <= high:
        raise Mismatch(f"{fmt(value)} cannot be right: {what} lies between {fmt(low)} and {fmt(high)}")
    return value


def whole_number(answer: Any, what: str) -> int:
    """An answer that must be a whole number."""
    value = number(answer, what)
    if not np.isfinite(value) or value != int(value):
        raise Mismatch(f"{fmt(value)} is not a whole number; {what} is")
    return int(value)


def array_of(answer: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """An array answer of the given shape with finite values."""
    try:
        array = np.asarray(ops.convert_to_numpy(answer), dtype=np.float64)
    except Exception:
        raise Mismatch(f"this is a {type(answer).__name__}, not an array of numbers; {what} is") from None
    if array.shape != tuple(shape):
        raise Mismatch(f"your array has shape {array.shape}; {what} has shape {tuple(shape)}")
    if not np.all(np.isfinite(array)):
        raise Mismatch("your array holds inf or NaN")
    return array


def one_of(answer: Any, choices: Sequence[Any], what: str) -> Any:
    """An answer that must be one of ``choices`` (strings compare ignoring case and spaces;
    a class name may be given as the number it is)."""
    normal = {str(c).strip().lower(): c for c in choices}
    whole = isinstance(answer, (int, np.integer)) and not isinstance(answer, bool)
    key = str(int(answer)) if whole else answer
    if isinstance(key, (float, np.floating)):
        numbers = [c for c in choices if isinstance(c, (int, float)) and not isinstance(c, bool)]
        for choice in numbers:
            if float(key) == float(choice):
                return choice
    if isinstance(key, str) and key.strip().lower() in normal:
        return normal[key.strip().lower()]
    shown = ", ".join(repr(c) for c in choices)
    raise Mismatch(f"{answer!r} is not one of the possible answers; {what} is one of {shown}")
