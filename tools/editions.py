"""Student and instructor editions of the series, made by nbgrader from the committed notebooks.

The committed notebooks are the single source (see nbgrader_config.py for how
an exercise is marked up). From them:

* the **instructor edition** is the notebooks as committed: worked solutions,
  explanations and hidden tests in place, executed;
* the **student edition** is what ``nbgrader generate_assignment`` makes:
  answer cells reduced to ``name = None`` and ``# YOUR CODE HERE``,
  explanations to a prompt, hidden tests removed, outputs cleared; this tool
  also opens the answer cells that the instructor edition keeps collapsed;
* ``grade`` autogrades submitted notebooks with ``nbgrader autograde`` (the
  hidden tests come back for grading) and prints each one's score.

Examples, from the repository root::

    python tools/editions.py student                  # -> build/editions/student/*.ipynb
    python tools/editions.py instructor               # -> build/editions/instructor/*.ipynb
    python tools/editions.py grade alice/ bob/        # folders of submitted notebooks

A course on nbgrader can also take ``build/editions/course/source/vae`` as its
source folder and run nbgrader's own commands there. :func:`student_notebook`
gives the student version of one notebook with its other outputs kept (for
the student flavour of the documentation site).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from vae_machinery.files import atomic_write  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
ASSIGNMENT = "vae"
EXERCISE_TAGS = {"exercise", "exercise-check", "exercise-explanation"}


def series(folder: Path = NOTEBOOKS) -> list[Path]:
    """The notebooks of the series in order: 01_data.ipynb, 02_model.ipynb, ..."""
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise SystemExit(f"No notebooks like 01_data.ipynb in {folder}.")
    return found


def _nbgrader() -> str:
    """The nbgrader command of this Python's environment."""
    command = shutil.which("nbgrader", path=str(Path(sys.executable).parent)) or shutil.which("nbgrader")
    if command is None:
        raise SystemExit("nbgrader is not installed: pip install -r requirements.txt (it pins nbgrader).")
    return command


def _run_nbgrader(*args: str, course: Path) -> None:
    """Run one nbgrader command on the course folder with the project's nbgrader_config.py."""
    # nbgrader runs `alembic` (its database migrations) by name: this environment's bin/ comes first.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "PATH": path}
    result = subprocess.run([_nbgrader(), *args, f"--CourseDirectory.root={course}"], cwd=ROOT,
                            capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise SystemExit(f"nbgrader {args[0]} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def _open_answer_cells(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Answer cells are collapsed in the instructor edition (the solution is in them); a student
    edition shows them open, ready to type in."""
    for cell in nb.cells:
        if "exercise" in cell.metadata.get("tags", []):
            cell.metadata.pop("jupyter", None)
    return nb


def _write_atomically(nb: nbformat.NotebookNode, path: Path) -> None:
    atomic_write(path, lambda tmp: nbformat.write(nb, str(tmp)))


def make_course(course: Path, notebooks: Sequence[Path]) -> Path:
    """An nbgrader course folder whose assignment ``vae`` holds ``notebooks`` as its source."""
    source = course / "source" / ASSIGNMENT
    if source.exists():
        shutil.rmtree(source)
    source.mkdir(parents=True)
    for path in notebooks:
        shutil.copy(path, source / path.name)
    return source


def student_edition(out: Path, *, course: Path | None = None, notebooks: Sequence[Path] | None = None,
                    database: bool = False) -> list[Path]:
    """Write the student edition of ``notebooks`` (default: the series) into ``out``; return its files.
    With ``database``, nbgrader also records the assignment in the course's gradebook (for grading)."""
    notebooks = list(notebooks or series())
    course = course or out.parent / "course"
    make_course(course, notebooks)
    options = ["--force"] + ([] if database else ["--no-db"])
    _run_nbgrader("generate_assignment", ASSIGNMENT, *options, course=course)
    written = []
    for path in notebooks:
        nb = _open_answer_cells(nbformat.read(course / "release" / ASSIGNMENT / path.name, as_version=4))
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
    ClearSolutions and ClearHiddenTests (with the project's stubs), and no outputs in the
    exercise cells (they would show the solution's results and "Correct!")."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    nb = nbformat.from_dict(nb)
    for preprocessor in (ClearSolutions(config=config), ClearHiddenTests(config=config)):
        nb, _ = preprocessor.preprocess(nb, {})
    for cell in nb.cells:
        if EXERCISE_TAGS & set(cell.metadata.get("tags", [])) and cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return _open_answer_cells(nb)


def grade(submissions: Iterable[Path], course: Path, notebooks: Sequence[Path] | None = None
          ) -> dict[str, dict[str, float]]:
    """Autograde each folder of submitted notebooks (named as in the series) with nbgrader:
    {student: {"score": points, "max_score": points, <notebook>: points, ...}}. The student's
    id is the folder's name."""
    from nbgrader.api import Gradebook

    notebooks = list(notebooks or series())
    student_edition(course / "student", course=course, notebooks=notebooks, database=True)
    students = []
    for folder in submissions:
        student = folder.name
        target = course / "submitted" / student / ASSIGNMENT
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for path in notebooks:
            if (folder / path.name).exists():
                shutil.copy(folder / path.name, target / path.name)
        _run_nbgrader("db", "student", "add", student, course=course)
        students.append(student)
    for student in students:
        _run_nbgrader("autograde", ASSIGNMENT, f"--student={student}", "--force", course=course)
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in students:
            submission = gradebook.find_submission(ASSIGNMENT, student)
            row = {"score": submission.score, "max_score": submission.max_score}
            row.update({nb.name: nb.score for nb in submission.notebooks})
            scores[student] = row
    return scores


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("student", "instructor"):
        command = sub.add_parser(name, help=f"write the {name} edition")
        command.add_argument("--out", type=Path, default=ROOT / "build" / "editions" / name)
    grading = sub.add_parser("grade", help="autograde folders of submitted notebooks")
    grading.add_argument("submissions", type=Path, nargs="+", help="one folder per student")
    grading.add_argument("--course", type=Path, default=ROOT / "build" / "editions" / "course")
    args = parser.parse_args(argv)
    if args.command == "student":
        written = student_edition(args.out)
    elif args.command == "instructor":
        written = instructor_edition(args.out)
    else:
        missing = [str(folder) for folder in args.submissions if not folder.is_dir()]
        if missing:
            parser.error(f"not a folder of submitted notebooks: {', '.join(missing)}")
        for student, row in grade(args.submissions, args.course).items():
            parts = ", ".join(f"{name} {points:g}" for name, points in row.items() if name[:2].isdigit())
            print(f"{student}: {row['score']:g} of {row['max_score']:g} points ({parts})")
        return 0
    print(f"Wrote {len(written)} notebooks to {written[0].parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
