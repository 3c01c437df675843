"""The hidden tests of the series' exercises: instructor-only, never installed with the package.

The committed notebooks (the instructor edition) end every exercise's check cell with::

    ### BEGIN HIDDEN TESTS
    import vae_answers  # instructor-only: instructor/ in the repository
    vae_answers.grade("03.2", highest_kl_epoch, history=history)
    ### END HIDDEN TESTS

``nbgrader generate_assignment`` removes that block from the student edition;
``nbgrader autograde`` puts it back and runs it. :func:`grade` computes the
expected answer from the notebook's objects (one module per notebook,
``nb01``, ``nb02``, ...), compares, and raises ``AssertionError`` on a wrong
answer; it is silent on a right one. A function answer must also pass the
student's self-check and match the reference on further random inputs, and
may not be, wrap or call the series' own function for it.

This folder is on the path of the project's environment (``make venv``
writes a ``.pth`` file for it) and of the grader (``tools/editions.py``).
Students receive the student edition and the ``vae-mnist-notebooks``
package, which holds none of this.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from vae_machinery.exercises import SELF_CHECKS, function_problem

from .compare import Code, Value, same_answer

# Every module nbNN of this package, in order: a new notebook's answers need no line here.
ANSWERS: dict[str, Value | Code] = {
    exercise: answer
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("nb"))
    for exercise, answer in importlib.import_module(f"{__name__}.{module}").ANSWERS.items()
}


def verdict(exercise: str, answer: Any, **context: Any) -> str | None:
    """None if ``answer`` is right, else what is wrong (for the grader's report)."""
    if exercise not in ANSWERS:
        raise KeyError(f"no exercise {exercise!r}: the series has {', '.join(ANSWERS)}")
    spec, check = ANSWERS[exercise], SELF_CHECKS[exercise]
    if check.not_applicable(context) is not None:
        return None  # the question has no answer in this run (a non-default run of the instructor edition)
    if answer is None:
        return "not answered"
    if isinstance(spec, Value):
        right = same_answer(answer, spec.expected(**context), tolerance=spec.tolerance)
        return None if right else "wrong value"
    return function_problem(answer, check, compare=spec.compare, **context)


def grade(exercise: str, answer: Any, **context: Any) -> None:
    """The hidden test: silent when ``answer`` is right, an AssertionError saying what is wrong otherwise."""
    problem = verdict(exercise, answer, **context)
    if problem is not None:
        raise AssertionError(f"Exercise {exercise}: {problem}")


__all__ = ["ANSWERS", "Code", "Value", "grade", "same_answer", "verdict"]
