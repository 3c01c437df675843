"""Notebook 03 trains with the functions the student wrote in notebook 02, when they pass their checks.

:func:`functions_from_notebook` reads notebook 02 (``02_model.ipynb``) with
nbformat, runs only the answer cells of its exercises 1-3 (nbgrader ids
``ex02-1-answer`` ... ``ex02-3-answer``), in order, in a namespace that holds
what notebook 02's cells use (``np``, ``ops``, ``keras``, ``vh``), and puts
each function through its public self-check (the one ``vh.check`` runs) and
all three through one compiled training step of a tiny VAE. It prints one line
saying which functions the model will train with, and returns them as keyword
arguments of ``vh.VAE``: the student's three, or none (``{}``: the module's own)
when the notebook is not there (Colab, a notebook graded on its own) or a
function is missing or fails.

Nothing here changes the random state of the run: the same seed trains the
same model whether or not this ran first.
"""

from __future__ import annotations

import contextlib
import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from .exercises import SELF_CHECKS, function_problem


@dataclass(frozen=True)
class StudentFunction:
    """One function of notebook 02 that the VAE can train with."""

    exercise: str  # its self-check, "02.1"
    cell: str  # the nbgrader grade_id of its answer cell
    name: str  # the name the student assigns it to
    parameter: str  # the keyword argument of vh.VAE (the module's function of that name)


STUDENT_FUNCTIONS = (
    StudentFunction("02.1", "ex02-1-answer", "my_reparameterize", "reparameterize"),
    StudentFunction("02.2", "ex02-2-answer", "my_kl_divergence", "kl_divergence"),
    StudentFunction("02.3", "ex02-3-answer", "my_vae_loss", "vae_loss"),
)
REASON_CHARACTERS = 240  # a reason longer than this is cut: the message is one line


@contextlib.contextmanager
def _random_state_kept() -> Iterator[None]:
    """Put Python's and NumPy's global random state back afterwards: a Keras layer draws its
    initializer's seed from Python's, so building the trial model would change the run's weights."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def _one_line(text: str) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= REASON_CHARACTERS else line[: REASON_CHARACTERS - 3] + "..."


def _error(error: BaseException) -> str:
    first = (str(error).strip().splitlines() or [""])[0]
    return type(error).__name__ + (f": {first}" if first else "")


def _answer_cells(notebook: Path) -> dict[str, str]:
    """The source of each answer cell of exercises 02.1-02.3, by grade_id."""
    import nbformat

    wanted = {f.cell for f in STUDENT_FUNCTIONS}
    cells = {}
    for cell in nbformat.read(notebook, as_version=4).cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and grade_id in wanted:
            cells[grade_id] = cell.source
    return cells


def _run_cells(cells: dict[str, str], vh: ModuleType) -> tuple[dict[str, Any], dict[str, str]]:
    """Run the answer cells in order in one namespace (with ``vh``, the helper module, as notebook 02
    imports it); return it and each failed cell's error."""
    import keras
    from keras import ops

    namespace: dict[str, Any] = {"__name__": "notebook_02", "np": np, "ops": ops, "keras": keras, "vh": vh}
    errors = {}
    for function in STUDENT_FUNCTIONS:
        if function.cell not in cells:
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                exec(compile(cells[function.cell], f"<02_model.ipynb, {function.cell}>", "exec"), namespace)
        except Exception as error:  # the student's cell failed: say so, train with the module's
            errors[function.cell] = _error(error)
    return namespace, errors


def _training_step(functions: dict[str, Any], vh: ModuleType) -> str | None:
    """Train a tiny ``vh.VAE`` with ``functions`` for one compiled step (as ``fit`` runs it); None if that
    works and the loss is finite, else what went wrong (e.g. NumPy inside a function, which the compiled
    step cannot run, though the self-check's plain arrays can)."""
    import keras

    x = np.random.default_rng(0).random((16, vh.IMAGE_PIXELS), dtype=np.float32)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            model = vh.VAE(latent_dim=2, hidden_dim=8, seed=0, name="student_functions_trial", **functions)
            model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-3), jit_compile=False)
            loss = float(model.train_on_batch(x, return_dict=True)["loss"])
    except Exception as error:
        return _error(error)
    return None if np.isfinite(loss) else f"the loss of a training step is {loss}"


def _training_failure(functions: dict[str, Any], vh: ModuleType) -> str | None:
    """Why the three functions cannot train the model (naming the ones that fail on their own
    beside the module's other two), or None."""
    failure = _training_step(functions, vh)
    if failure is None:
        return None
    alone = [f.name for f in STUDENT_FUNCTIONS if _training_step({f.parameter: functions[f.parameter]}, vh)]
    who = _listing(alone) if alone else _listing([f.name for f in STUDENT_FUNCTIONS])
    verb = "fails" if len(alone) == 1 else "fail"
    numpy = "; NumPy cannot work on the step's tensors: use keras.ops" if "numpy" in failure.lower() else ""
    return (f"your {who} {verb} in a compiled training step although the self-checks pass "
            f"({_one_line(failure)}){numpy}")


def _listing(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def functions_from_notebook(notebook: str | Path, vh: ModuleType, *, verbose: bool = True) -> dict[str, Any]:
    """The functions the student wrote in notebook 02 (exercises 1-3), as keyword arguments of
    ``vh.VAE`` (``reparameterize=``, ``kl_divergence=``, ``vae_loss=``) when all three pass their
    self-checks and train a tiny VAE for one step; else ``{}``, and the model uses the module's own.
    Prints one line saying which, and why (``verbose=False``: silent). ``vh`` is the helper module
    (``vae_helpers``, which calls this with itself: this package never imports it)."""
    path = Path(notebook)
    names = _listing([f.name for f in STUDENT_FUNCTIONS])
    own = "Training with vae_helpers' own " + _listing([f.parameter for f in STUDENT_FUNCTIONS])

    def fall_back(reason: str) -> dict[str, Any]:
        if verbose:
            print(f"{own}: {reason}.")
        return {}

    if not path.is_file():
        return fall_back(f"{path.name}, where you write {names}, is not beside this notebook")
    with _random_state_kept():
        try:
            cells = _answer_cells(path)
        except Exception as error:
            return fall_back(f"{path.name} could not be read ({_one_line(_error(error))})")
        namespace, errors = _run_cells(cells, vh)
        found, problems, unwritten = {}, [], []
        for function in STUDENT_FUNCTIONS:
            fn = namespace.get(function.name)
            if function.cell not in cells:
                problems.append(f"{path.name} has no answer cell for {function.name}")
            elif fn is None and function.cell in errors:
                why = _one_line(f"its cell raised {errors[function.cell]}")
                problems.append(f"your {function.name} is not written yet ({why})")
            elif fn is None:
                unwritten.append(function.name)
            else:
                problem = function_problem(fn, SELF_CHECKS[function.exercise])
                if problem is None:
                    found[function.parameter] = fn
                else:
                    problems.append(f"your {function.name} {_one_line(problem)}")
        if unwritten:
            verb = "is" if len(unwritten) == 1 else "are"
            problems.insert(0, f"your {_listing(unwritten)} {verb} not written yet (still None)")
        failure = None if problems else _training_failure(found, vh)
        if failure is not None:
            problems.append(failure)
    if problems:
        return fall_back("; ".join(problems))
    if verbose:
        print(f"Training with your own {names} from {path.name} (they pass their self-checks).")
    return found


__all__ = ["STUDENT_FUNCTIONS", "StudentFunction", "functions_from_notebook"]
