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
  parameters, so no notebook retrains while it is graded. A student's files
  are matched to the notebooks by name (:func:`match_notebook`: the name as
  released, or as Colab, a browser, Canvas, Blackboard or Moodle change it);
  each submission goes into the course's ``submitted/`` with a
  ``timestamp.txt`` of when it was handed in, and whatever nbgrader collected
  there before is moved aside, never deleted (:func:`submit`). A submission
  nbgrader cannot grade does not stop the others: the result, a
  :class:`GradingReport`, lists it with nbgrader's error, and every file not
  graded (a name of no notebook, two files of one notebook) with why.

Examples, from the repository root::

    python tools/editions.py student                   # -> editions/student/notebooks/*.ipynb (committed)
    python tools/editions.py instructor                # -> build/editions/instructor/*.ipynb
    python tools/editions.py grade alice/ bob/         # every notebook found in each student's folder
    python tools/editions.py grade --notebook 03 alice/ bob/     # one week's notebook
    python tools/editions.py grade -p EPOCHS 1 alice/  # a course that runs a short version

The course folder (default ``build/editions/course``) is an ordinary nbgrader
course: ``source/<notebook>/``, ``release/<notebook>/``, ``submitted/``,
``autograded/``, ``gradebook.db`` (and ``superseded/``, what ``grade`` moved
out of ``submitted/``); nbgrader's own tools work on it (the
formgrader in ``jupyter lab --CourseDirectory.root=...`` to read the written
answers, ``nbgrader export`` for a CSV of grades). :func:`student_notebook` gives the student version of one
notebook with its other outputs kept (for the student flavour of the site).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
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


def _nbgrader_process(*args: str, course: Path) -> subprocess.CompletedProcess[str]:
    """Run one nbgrader command on the course folder with the project's nbgrader_config.py; its
    exit status and output, whatever they are."""
    return subprocess.run([_nbgrader(), *args, f"--CourseDirectory.root={course}"], cwd=ROOT,
                          capture_output=True, text=True, env=_grader_environment())


def _run_nbgrader(*args: str, course: Path) -> None:
    """Run one nbgrader command on the course folder; stop with its output if it fails."""
    result = _nbgrader_process(*args, course=course)
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


# --------------------------------------------------------------------------
# Submitted files: which notebook each is, and when it was handed in
# --------------------------------------------------------------------------
# What the students' tools and the learning platforms put around a notebook's file name. Matched
# case-insensitively, the name being the series' own (``03_training``) and ending in ``.ipynb``:
LMS_PREFIXES = {
    # Canvas, "Download Submissions": <lastnamefirstname>_[LATE_]<user id>_<submission id>_<file name>
    "Canvas": r"[^_]+_(?:late_)?\d+_\d+_",
    # Blackboard, "Download Assignment": <assignment>_<user name>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file name>
    "Blackboard": r".+_attempt_\d{4}(?:-\d{2}){5}_",
    # Moodle, "Download all submissions" (not in folders): <Full Name>_<id>_assignsubmission_file_<file name>
    "Moodle": r".+_\d+_assignsubmission_file_",
}
COPY_PREFIX = r"(?:copy[ _]of[ _])*"  # Colab's and Google Drive's "Copy of ", once or more
COPY_SUFFIX = r"(?:[ _]?\(\d+\)|-\d+)?"  # a browser's second download " (1)"; Canvas's re-submission "-1"


def submission_pattern(notebooks: Sequence[Path]) -> re.Pattern[str]:
    """The regular expression of the file names that :func:`match_notebook` takes for ``notebooks``:
    the group ``notebook`` is the notebook's name without ``.ipynb``."""
    stems = "|".join(re.escape(path.stem) for path in notebooks)
    lms = "|".join(LMS_PREFIXES.values())
    return re.compile(rf"(?:{lms})?{COPY_PREFIX}(?P<notebook>{stems}){COPY_SUFFIX}\.ipynb", re.IGNORECASE)


def match_notebook(name: str, notebooks: Sequence[Path] | None = None) -> Path | None:
    """The notebook of ``notebooks`` (default: the series) that a submitted file named ``name`` is,
    or None: its name as released ("03_training.ipynb"), or as Colab, Google Drive or a browser save
    a copy ("Copy of 03_training.ipynb", "03_training (1).ipynb"), or as Canvas, Blackboard or
    Moodle name it in a bulk download ("smithjane_LATE_12345_67890_03_training.ipynb",
    "Week 3_jdoe_attempt_2026-10-02-10-11-12_03_training.ipynb",
    "Jane Smith_4242_assignsubmission_file_03_training.ipynb"), in any case. Only ``.ipynb``
    files match; another notebook's number, or a name of no notebook, does not."""
    notebooks = list(notebooks or series())
    found = submission_pattern(notebooks).fullmatch(name)
    if found is None:
        return None
    return next(path for path in notebooks if path.stem.lower() == found["notebook"].lower())


@dataclass(frozen=True)
class Skipped:
    """A file of a student's folder that is not graded, and why."""

    student: str
    file: Path
    reason: str

    def line(self) -> str:
        return f"{self.student}: {self.file.name}: {self.reason}"


def find_submissions(folder: Path, notebooks: Sequence[Path] | None = None,
                     ) -> tuple[dict[str, Path], list[Skipped]]:
    """The notebooks that a student's ``folder`` holds: {notebook stem: the student's file}, and the
    files it holds that are not graded, each with why (a name of no notebook of ``notebooks``, or one
    of two files of the same notebook: which to grade is the instructor's choice). The files are
    those directly in ``folder``, and those of nbgrader's own layout, ``<folder>/<stem>/<stem>.ipynb``
    with its ``timestamp.txt`` (what ``nbgrader collect`` and ``zip_collect`` write into
    ``submitted/<student>/``). Hidden files (``.DS_Store``, ``.ipynb_checkpoints``) are left out."""
    notebooks = list(notebooks or series())
    student = folder.name
    stems = {path.stem for path in notebooks}
    candidates: dict[str, list[Path]] = {}
    skipped = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and entry.name in stems:  # nbgrader's layout
            for inner in sorted(entry.iterdir()):
                if inner.name.startswith(".") or inner.name == "timestamp.txt":
                    continue
                if inner.name == f"{entry.name}.ipynb":
                    candidates.setdefault(entry.name, []).append(inner)
                else:
                    skipped.append(Skipped(student, inner, f"not {entry.name}.ipynb, in {entry.name}/"))
            continue
        path = match_notebook(entry.name, notebooks) if entry.is_file() else None
        if path is None:
            what = "a folder" if entry.is_dir() else "its name"
            skipped.append(Skipped(student, entry, f"{what} matches no notebook of the series"))
        else:
            candidates.setdefault(path.stem, []).append(entry)
    found = {}
    for stem, files in candidates.items():
        if len(files) == 1:
            found[stem] = files[0]
            continue
        for file in files:
            others = ", ".join(repr(str(other.relative_to(folder))) for other in files if other != file)
            skipped.append(Skipped(student, file, f"two files are {stem} (also {others}): neither is graded; "
                                                  "keep the one to grade"))
    return found, skipped


TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"  # nbgrader's (its exchange's timestamp_format), in UTC


def submission_timestamp(file: Path) -> str:
    """When ``file`` was handed in, as nbgrader's ``timestamp.txt`` holds it: the ``timestamp.txt``
    beside it when the file is in nbgrader's layout (``<assignment>/<assignment>.ipynb``, as
    collected), else the file's modification time, in UTC, in nbgrader's format
    ("2026-10-02 10:11:12.345678 UTC"). nbgrader's autograde reads it to record the submission's
    time and, where the assignment has a due date, how late it is."""
    beside = file.parent / "timestamp.txt"
    if file.parent.name == file.stem and beside.is_file() and beside.read_text().strip():
        return beside.read_text().strip()
    nanoseconds = file.stat().st_mtime_ns
    when = datetime.fromtimestamp(nanoseconds // 10**9, UTC).replace(microsecond=nanoseconds % 10**9 // 1000)
    return when.strftime(TIMESTAMP_FORMAT)


def submit(course: Path, student: str, path: Path, content: bytes, timestamp: str) -> Path | None:
    """Write a submission of notebook ``path`` (``content``, handed in at ``timestamp``) where
    ``nbgrader autograde`` reads it, ``submitted/<student>/<assignment>/`` with its
    ``timestamp.txt``. A folder already there (from ``nbgrader collect`` or an earlier grading) is
    never deleted or overwritten: unless it holds exactly these two files already, it is moved whole
    to ``superseded/<student>/<assignment>/<UTC time of the move>/`` in the course (outside
    ``submitted/``, where nbgrader would take it for another assignment); return where it went."""
    target = course / "submitted" / student / assignment(path)
    files = {path.name: content, "timestamp.txt": timestamp.encode()}
    moved = None
    if target.exists():
        there = {p.name: p.read_bytes() for p in target.iterdir() if p.is_file()}
        if there == files and all(p.is_file() for p in target.iterdir()):
            return None
        moved = (course / "superseded" / student / assignment(path)
                 / datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%S.%fZ"))
        moved.parent.mkdir(parents=True, exist_ok=True)
        target.rename(moved)
    target.mkdir(parents=True)
    for name, data in files.items():
        (target / name).write_bytes(data)
    return moved


# --------------------------------------------------------------------------
# Grading a class
# --------------------------------------------------------------------------
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


@dataclass(frozen=True)
class Failure:
    """A submission that nbgrader could not grade: the student, the notebook, the file, why (nbgrader's
    error), and the last lines nbgrader printed."""

    student: str
    notebook: str
    file: Path
    reason: str
    output: str = ""

    def line(self) -> str:
        return f"{self.student}: {self.notebook} ({self.file.name}): {self.reason}"


def nbgrader_error(output: str) -> str:
    """The reason in nbgrader's output of a failed command: the last exception of its tracebacks
    ("nbformat.reader.NotJSONError: Notebook does not appear to be JSON: ..."), else its last error
    message other than the closing "There was an error processing assignment ...", else its last line."""
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    exceptions = [line.strip() for line in lines
                  if re.fullmatch(r"\s*[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)(?::.*)?", line)]
    if exceptions:
        return exceptions[-1][:500]
    messages: list[list[str]] = []  # each log line of nbgrader's, with the lines that continue it
    for line in lines:
        if line.startswith("["):
            messages.append([line])
        elif messages:
            messages[-1].append(line.strip())
    generic = ("There was an error processing assignment", "Please see the")
    errors = [" ".join(m)[m[0].index("]") + 1:].strip() for m in messages
              if "| ERROR]" in m[0] and not any(g in m[0] for g in generic)]
    return (errors or lines or ["nbgrader failed without a message"])[-1][:500]


@dataclass
class GradingReport(Mapping[str, dict[str, Score]]):
    """What :func:`grade` did: a mapping {student: {notebook stem: Score}} of what was graded, and
    what was not, each with its reason: ``failures`` (nbgrader could not grade a submission) and
    ``skipped`` (a file that is no notebook of the series, or one of two files of one notebook);
    ``superseded``: the folders of ``submitted/`` found there before, moved aside (see :func:`submit`)."""

    scores: dict[str, dict[str, Score]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    superseded: list[Path] = field(default_factory=list)

    def __getitem__(self, student: str) -> dict[str, Score]:
        return self.scores[student]

    def __iter__(self) -> Iterator[str]:
        return iter(self.scores)

    def __len__(self) -> int:
        return len(self.scores)

    def summary(self) -> str:
        """The report as the command prints it: points per student and notebook, then every
        submission not graded and every file skipped, with why, and where earlier submissions went."""
        out = []
        for student, rows in self.scores.items():
            out.append(f"{student}: {sum(s.auto for s in rows.values()):g} of "
                       f"{sum(s.auto_max for s in rows.values()):g} autograded points")
            out += [f"  {name:<24}{score.line()}" for name, score in rows.items()]
        if self.failures:
            out.append(f"Not graded ({len(self.failures)}):")
            out += [f"  {failure.line()}" for failure in self.failures]
        if self.skipped:
            out.append(f"Files not graded ({len(self.skipped)}):")
            out += [f"  {skipped.line()}" for skipped in self.skipped]
        if self.superseded:
            out.append(f"Earlier submissions kept, moved out of submitted/ ({len(self.superseded)}):")
            out += [f"  {folder}" for folder in self.superseded]
        return "\n".join(out)


def _submission_content(file: Path, path: Path, runs: Path, parameters: dict[str, object]) -> bytes:
    """The notebook to grade: the student's ``file`` with the grader's parameters injected, or, when it
    is no readable notebook, the file as it is (nbgrader then fails on it and says why)."""
    raw = file.read_bytes()
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except Exception:  # not UTF-8, not JSON, not a notebook: nbgrader's error is the reason
        return raw
    nb = inject_parameters(nb, grading_parameters(path, runs, parameters))
    return nbformat.writes(nb).encode("utf-8")


def _read_score(course: Path, path: Path, student: str, seconds: float) -> Score:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(path.stem, assignment(path), student)
        auto = [g for g in notebook.grades if g.cell_type == "code"]
        written = [g for g in notebook.grades if g.cell_type == "markdown"]
        return Score(auto=sum(g.score for g in auto), auto_max=sum(g.max_score for g in auto),
                     written_max=sum(g.max_score for g in written), seconds=seconds)


def grade(submissions: Iterable[Path], course: Path, notebooks: Sequence[Path] | None = None, *,
          runs: Path = RUNS, parameters: dict[str, object] | None = None) -> GradingReport:
    """Autograde each student's folder of submitted notebooks with nbgrader, one submission after
    the other; the student's id is the folder's name. Each file is matched to its notebook by name
    (:func:`match_notebook`, :func:`find_submissions`); the notebooks of ``notebooks`` (default: the
    series) that a folder holds are graded, a notebook it does not hold is not graded for that
    student. Return a :class:`GradingReport`: {student: {notebook stem: Score}}, and every submission
    nbgrader could not grade and every file not graded, with why. One submission that fails does
    not stop the others; nothing already in the course's ``submitted/`` is deleted (:func:`submit`)."""
    from nbgrader.api import Gradebook

    notebooks = list(notebooks or series())
    known = {path.stem: path for path in [*series(), *notebooks]}
    student_edition(course / "student", course=course, notebooks=notebooks, database=True)
    report = GradingReport()
    for folder in submissions:
        student = folder.name
        found, skipped = find_submissions(folder, list(known.values()))
        report.skipped += skipped
        chosen = [(path, found[path.stem]) for path in notebooks if path.stem in found]
        if not chosen:
            continue
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
            gradebook.update_or_create_student(student)  # as `nbgrader db student add`, names kept
        student_runs = course / "runs" / student
        linked_copy(runs, student_runs)
        for path, file in chosen:
            try:
                content = _submission_content(file, path, student_runs.resolve(), parameters or {})
            except Exception as error:  # one submission's problem: reported, the others graded
                report.failures.append(Failure(student, path.stem, file,
                                               f"the grader could not add its parameters: {error!r}"))
                continue
            moved = submit(course, student, path, content, submission_timestamp(file))
            if moved is not None:
                report.superseded.append(moved)
            start = time.perf_counter()
            result = _nbgrader_process("autograde", assignment(path), f"--student={student}", "--force",
                                       course=course)
            seconds = time.perf_counter() - start
            if result.returncode != 0:
                output = f"{result.stdout}\n{result.stderr}".strip()
                report.failures.append(Failure(student, path.stem, file, nbgrader_error(output),
                                               "\n".join(output.splitlines()[-20:])))
                continue
            report.scores.setdefault(student, {})[path.stem] = _read_score(course, path, student, seconds)
    return report


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
        report = grade(args.submissions, args.course, notebooks, runs=args.runs, parameters=parameters)
        print(report.summary())
        print(f"Written answers: jupyter lab --CourseDirectory.root={args.course}, "
              "then Nbgrader > Formgrader")
        return 1 if report.failures or report.skipped else 0
    print(f"Wrote {len(written)} notebooks to {written[0].parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
