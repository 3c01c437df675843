"""Student and instructor editions of the series, and grading, with nbgrader; one assignment per notebook.

The committed notebooks are the single source (see nbgrader_config.py for how
an exercise is marked up). From them:

* the **instructor edition** is the notebooks as committed: worked solutions,
  explanations with their rubrics and hidden tests in place, executed;
* the **student edition** is what ``nbgrader generate_assignment`` makes of
  each notebook, released as an assignment of its own (a course sets one
  deadline per notebook): answer cells reduced to ``name = None`` and
  ``# YOUR CODE HERE``, explanations to a prompt, hidden tests removed,
  outputs cleared; this tool also drops the cells tagged ``instructor-only``
  (the series' own code of what an exercise asks the student to write) and
  opens the answer cells that the instructor edition keeps collapsed. It is
  committed in ``editions/student/notebooks/``, what the Colab badges
  (``tools/badges.py``) and the student site's launch buttons open; a test
  checks that it is up to date;
* ``grade`` autogrades submitted notebooks with ``nbgrader autograde``: the
  hidden tests come back (they import ``instructor/vae_answers``, which this
  tool puts on the kernel's path) and every notebook is re-executed, on the
  instructor's finished runs: each student's submission gets a hard-linked
  copy of the run folder (``artifacts/``, filled by ``make run`` and ``make
  experiments beyond``) and the parameters ``ARTIFACTS_DIR`` / ``SWEEP_DIR``
  pointing at it and ``RESUME = True``, injected the way papermill injects
  parameters, so no notebook retrains while it is graded.

Examples, from the repository root::

    python tools/editions.py student                   # -> editions/student/notebooks/*.ipynb (committed)
    python tools/editions.py instructor                # -> build/editions/instructor/*.ipynb
    python tools/editions.py grade alice/ bob/         # every notebook found in each student's folder
    python tools/editions.py grade --notebook 03 alice/ bob/     # one week's notebook
    python tools/editions.py grade -p EPOCHS 1 alice/  # a course that runs a short version

The course folder (default ``build/editions/course``) is an ordinary nbgrader
course: ``source/<notebook>/``, ``release/<notebook>/``, ``submitted/``,
``autograded/``, ``gradebook.db``; nbgrader's own tools work on it (the
formgrader in ``jupyter lab --CourseDirectory.root=...`` to read the written
answers, ``nbgrader export`` for a CSV of grades). :func:`student_notebook` gives the student version of one
notebook with its other outputs kept (for the student flavour of the site).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
from vae_machinery.files import atomic_write  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"
INSTRUCTOR = ROOT / "instructor"  # the hidden tests' expected answers (vae_answers): never given to students
STUDENT_EDITION = ROOT / "editions" / "student" / "notebooks"  # committed: what Colab opens
RUNS = ROOT / "artifacts"  # the instructor's finished runs (ARTIFACTS_DIR; 07's SWEEP_DIR is below it)
EXERCISE_TAGS = {"exercise", "exercise-check", "exercise-explanation"}
INSTRUCTOR_ONLY = "instructor-only"  # lesson cells that the student edition leaves out


def series(folder: Path = NOTEBOOKS) -> list[Path]:
    """The notebooks of the series in order: 01_data.ipynb, 02_model.ipynb, ..."""
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise SystemExit(f"No notebooks like 01_data.ipynb in {folder}.")
    return found


def select(prefixes: Sequence[str] | None, notebooks: Sequence[Path] | None = None) -> list[Path]:
    """The notebooks whose names start with one of ``prefixes`` ("03", "07_experiments"); all if None."""
    notebooks = list(notebooks or series())
    if not prefixes:
        return notebooks
    chosen = [p for p in notebooks if any(p.name.startswith(prefix) for prefix in prefixes)]
    if not chosen:
        raise SystemExit(f"No notebook starts with {' or '.join(prefixes)}; "
                         f"the series has {', '.join(p.stem for p in notebooks)}.")
    return chosen


def _nbgrader() -> str:
    """The nbgrader command of this Python's environment."""
    command = shutil.which("nbgrader", path=str(Path(sys.executable).parent)) or shutil.which("nbgrader")
    if command is None:
        raise SystemExit("nbgrader is not installed: pip install -r requirements.txt (it pins nbgrader).")
    return command


def _grader_environment() -> dict[str, str]:
    """nbgrader's environment (its kernels inherit it): this environment's bin/ first on PATH
    (nbgrader runs `alembic` by name) and instructor/ on PYTHONPATH (the hidden tests import
    vae_answers from it)."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    python_path = os.pathsep.join(p for p in (str(INSTRUCTOR), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PATH": path, "PYTHONPATH": python_path}


def _run_nbgrader(*args: str, course: Path) -> None:
    """Run one nbgrader command on the course folder with the project's nbgrader_config.py."""
    result = subprocess.run([_nbgrader(), *args, f"--CourseDirectory.root={course}"], cwd=ROOT,
                            capture_output=True, text=True, env=_grader_environment())
    if result.returncode != 0:
        raise SystemExit(f"nbgrader {args[0]} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def _student_cells(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop the instructor-only cells; open the answer cells, which the instructor edition keeps
    collapsed (the solution is in them), ready to type in."""
    nb.cells = [cell for cell in nb.cells if INSTRUCTOR_ONLY not in cell.metadata.get("tags", [])]
    for cell in nb.cells:
        if "exercise" in cell.metadata.get("tags", []):
            cell.metadata.pop("jupyter", None)
    return nb


def _write_atomically(nb: nbformat.NotebookNode, path: Path) -> None:
    atomic_write(path, lambda tmp: nbformat.write(nb, str(tmp)))


def assignment(path: Path) -> str:
    """The nbgrader assignment of a notebook: its name without .ipynb ("03_training")."""
    return path.stem


def make_course(course: Path, notebooks: Sequence[Path]) -> None:
    """An nbgrader course folder with one assignment per notebook, ``source/<stem>/<stem>.ipynb``,
    without the notebooks' instructor-only cells (nbgrader would release them as they are)."""
    for path in notebooks:
        source = course / "source" / assignment(path)
        if source.exists():
            shutil.rmtree(source)
        source.mkdir(parents=True)
        nb = nbformat.read(path, as_version=4)
        nb.cells = [cell for cell in nb.cells if INSTRUCTOR_ONLY not in cell.metadata.get("tags", [])]
        nbformat.write(nb, source / path.name)


def student_edition(out: Path, *, course: Path | None = None, notebooks: Sequence[Path] | None = None,
                    database: bool = False) -> list[Path]:
    """Release every notebook of ``notebooks`` (default: the series) as an assignment of its own and
    write the student edition into ``out``; return its files. With ``database``, nbgrader also
    records the assignments in the course's gradebook (for grading)."""
    notebooks = list(notebooks or series())
    course = course or out.parent / "course"
    make_course(course, notebooks)
    written = []
    for path in notebooks:
        options = ["--force"] + ([] if database else ["--no-db"])
        _run_nbgrader("generate_assignment", assignment(path), *options, course=course)
        nb = _student_cells(nbformat.read(course / "release" / assignment(path) / path.name, as_version=4))
        _write_atomically(nb, out / path.name)
        written.append(out / path.name)
    return written


def instructor_edition(out: Path, notebooks: Sequence[Path] | None = None) -> list[Path]:
    """Write the instructor edition (the committed notebooks) into ``out``; return its files."""
    written = []
    for path in notebooks or series():
        _write_atomically(nbformat.read(path, as_version=4), out / path.name)
        written.append(out / path.name)
    return written


def student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student version of one executed notebook with its other outputs kept: nbgrader's own
    ClearSolutions and ClearHiddenTests (with the project's stubs), no instructor-only cells, and
    no outputs in the exercise cells (they would show the solution's results)."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    nb = nbformat.from_dict(nb)
    for preprocessor in (ClearSolutions(config=config), ClearHiddenTests(config=config)):
        nb, _ = preprocessor.preprocess(nb, {})
    for cell in nb.cells:
        if EXERCISE_TAGS & set(cell.metadata.get("tags", [])) and cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return _student_cells(nb)


# --------------------------------------------------------------------------
# Grading
# --------------------------------------------------------------------------
def linked_copy(source: Path, target: Path) -> None:
    """``target`` as a copy of the folder ``source`` made of hard links (no space, no time). The
    series writes every file atomically (a new file renamed over the old), so a notebook that
    saves into the copy replaces its links and never changes the instructor's files."""
    if target.exists():
        shutil.rmtree(target)
    if source.is_dir():
        try:
            shutil.copytree(source, target, copy_function=os.link)
        except OSError:  # another file system: a real copy
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target)
    else:
        target.mkdir(parents=True)


def grading_parameters(path: Path, runs: Path, extra: dict[str, object]) -> dict[str, object]:
    """The parameters injected into a submission of ``path`` for grading: where the finished runs
    are, RESUME = True, and ``extra`` (a course's short version), each only if the notebook has it."""
    import papermill as pm

    declared = set(pm.inspect_notebook(str(path)))
    wanted = {"ARTIFACTS_DIR": str(runs), "SWEEP_DIR": str(runs / "experiments"), "RESUME": True, **extra}
    return {name: value for name, value in wanted.items() if name in declared}


def inject_parameters(nb: nbformat.NotebookNode, parameters: dict[str, object]) -> nbformat.NotebookNode:
    """``nb`` with a cell of ``parameters`` after its parameters cell, as papermill injects them."""
    from papermill.parameterize import parameterize_notebook

    if not parameters:
        return nb
    nb.metadata.setdefault("kernelspec", {"name": "python3", "language": "python",
                                          "display_name": "Python 3"})
    nb.metadata.setdefault("papermill", {})  # where papermill records the parameters
    return parameterize_notebook(nb, parameters,
                                 comment="Parameters injected by the grader (tools/editions.py)")


@dataclass
class Score:
    """A graded notebook: the points of the autograded checks, and the written answers to read."""

    auto: float
    auto_max: float
    written_max: float  # explanation cells: points a person gives in formgrader
    seconds: float

    def line(self) -> str:
        return (f"{self.auto:g} of {self.auto_max:g} autograded points, written answers worth "
                f"{self.written_max:g} to read ({self.seconds:.0f} s)")


def grade(submissions: Iterable[Path], course: Path, notebooks: Sequence[Path] | None = None, *,
          runs: Path = RUNS, parameters: dict[str, object] | None = None) -> dict[str, dict[str, Score]]:
    """Autograde each folder of submitted notebooks (named as in the series) with nbgrader:
    {student: {notebook stem: Score}}. The student's id is the folder's name; a notebook a
    folder does not have is not graded for that student."""
    from nbgrader.api import Gradebook

    notebooks = list(notebooks or series())
    student_edition(course / "student", course=course, notebooks=notebooks, database=True)
    submitted = {}
    for folder in submissions:
        student = folder.name
        _run_nbgrader("db", "student", "add", student, course=course)
        student_runs = course / "runs" / student
        linked_copy(runs, student_runs)
        for path in notebooks:
            if not (folder / path.name).exists():
                continue
            target = course / "submitted" / student / assignment(path)
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            nb = nbformat.read(folder / path.name, as_version=4)
            nb = inject_parameters(nb, grading_parameters(path, student_runs.resolve(), parameters or {}))
            nbformat.write(nb, target / path.name)
            submitted.setdefault(student, []).append(path)
    scores: dict[str, dict[str, Score]] = {}
    for student, paths in submitted.items():
        for path in paths:
            start = time.perf_counter()
            _run_nbgrader("autograde", assignment(path), f"--student={student}", "--force", course=course)
            seconds = time.perf_counter() - start
            with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
                notebook = gradebook.find_submission_notebook(path.stem, assignment(path), student)
                auto = [g for g in notebook.grades if g.cell_type == "code"]
                written = [g for g in notebook.grades if g.cell_type == "markdown"]
                scores.setdefault(student, {})[path.stem] = Score(
                    auto=sum(g.score for g in auto), auto_max=sum(g.max_score for g in auto),
                    written_max=sum(g.max_score for g in written), seconds=seconds)
    return scores


def _parse_value(text: str) -> object:
    """A command-line value: a Python literal (1, 0.5, True, None, [42, 43]), else the text."""
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    instructor = ROOT / "build" / "editions" / "instructor"
    for name, out in (("student", STUDENT_EDITION), ("instructor", instructor)):
        command = sub.add_parser(name, help=f"write the {name} edition")
        command.add_argument("--out", type=Path, default=out, help=f"default: {out.relative_to(ROOT)}")
        command.add_argument("--notebook", nargs="*", help="only these notebooks, e.g. 03 04 (default: all)")
    grading = sub.add_parser("grade", help="autograde folders of submitted notebooks")
    grading.add_argument("submissions", type=Path, nargs="+", help="one folder per student")
    grading.add_argument("--notebook", nargs="*", help="grade only these notebooks, e.g. 03 (default: all)")
    grading.add_argument("--course", type=Path, default=ROOT / "build" / "editions" / "course")
    grading.add_argument("--runs", type=Path, default=RUNS,
                         help="the instructor's finished runs (default: artifacts/, from make run)")
    grading.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                         help="a parameter of a course's short version, injected into every submission")
    args = parser.parse_args(argv)
    notebooks = select(args.notebook)
    if args.command == "student":
        written = student_edition(args.out, course=ROOT / "build" / "editions" / "course",
                                  notebooks=notebooks)
    elif args.command == "instructor":
        written = instructor_edition(args.out, notebooks)
    else:
        missing = [str(folder) for folder in args.submissions if not folder.is_dir()]
        if missing:
            parser.error(f"not a folder of submitted notebooks: {', '.join(missing)}")
        parameters = {name: _parse_value(value) for name, value in args.parameter}
        for student, rows in grade(args.submissions, args.course, notebooks, runs=args.runs,
                                   parameters=parameters).items():
            print(f"{student}: {sum(s.auto for s in rows.values()):g} of "
                  f"{sum(s.auto_max for s in rows.values()):g} autograded points")
            for name, score in rows.items():
                print(f"  {name:<24}{score.line()}")
        print(f"Written answers: jupyter lab --CourseDirectory.root={args.course}, "
              "then Nbgrader > Formgrader")
        return 0
    print(f"Wrote {len(written)} notebooks to {written[0].parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
