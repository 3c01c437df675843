"""Self-checks for the notebooks' exercises, one module per notebook (``nb01``, ``nb02``, ...).

A notebook's check cell calls ``vh.check("03.2", answer, history=history)``.
The check judges what it can without knowing the answer (see
:mod:`.engine`) and prints "Passes the self-check: ...", or "Not quite: ..."
with hints that grow with each wrong attempt, or "Not answered yet". The
exact answer is checked by the hidden tests, which only the instructor's
grader has (``instructor/vae_answers`` in the repository).
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from .engine import SelfCheck, function_problem, library_functions_used, reset_attempts, run_self_check

# Every module nbNN of this package, in order: a new notebook's checks need no line here.
SELF_CHECKS: dict[str, SelfCheck] = {
    exercise: check
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("nb"))
    for exercise, check in importlib.import_module(f"{__name__}.{module}").CHECKS.items()
}


def check(exercise: str, answer: Any, **context: Any) -> bool | None:
    """The self-check of exercise ``exercise`` ("01.1", ...): prints what it found and
    returns True (passes), False, or None (not answered yet). ``context`` holds the
    notebook objects the check may look at (``data=data``)."""
    if exercise not in SELF_CHECKS:
        raise KeyError(f"no exercise {exercise!r}: the series has {', '.join(SELF_CHECKS)}")
    return run_self_check(exercise, SELF_CHECKS[exercise], answer, context)


__all__ = ["SELF_CHECKS", "SelfCheck", "check", "function_problem", "library_functions_used",
           "reset_attempts"]
