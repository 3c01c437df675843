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

from vae_machinery import submissions
from vae_machinery.files import atomic_write
from vae_machinery.parameters import parse_value
from vae_tools.series import notebooks

ROOT = Path(__file__).resolve().parent.parent

NOTEBOOKS = ROOT / "notebooks"
INSTRUCTOR = ROOT / "instructor"  # the hidden tests' expected answers (vae_answers): never given to students
STUDENT_EDITION = ROOT / "editions" / "student" / "notebooks"  # committed: what Colab opens
RUNS = ROOT / "artifacts"  # the instructor's finished runs (ARTIFACTS_DIR; 07's SWEEP_DIR is below it)
EXERCISE_TAGS = {"exercise", "exercise-check", "exercise-explanation"}
INSTRUCTOR_ONLY = "instructor-only"  # lesson cells that the student edition leaves out


def series(folder: Path = NOTEBOOKS) -> list[Path]:
    """The notebooks of the series in order: 01_data.ipynb, 02_model.ipynb, ... (vae_tools.series)."""
    return notebooks(folder)


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


def _nbgrader_process(*args: str, course: Path, root: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run one nbgrader command on the course folder (or on the folder ``root`` with the course's
    settings), from the course folder, so that nbgrader reads the course's ``nbgrader_config.py``
    (:func:`write_course_config`: the project's settings, the course id and the exchange); its exit
    status and output, whatever they are."""
    write_course_config(course)
    return subprocess.run([_nbgrader(), *args, f"--CourseDirectory.root={(root or course).resolve()}"],
                          cwd=course, capture_output=True, text=True, env=_grader_environment())


def _run_nbgrader(*args: str, course: Path) -> str:
    """Run one nbgrader command on the course folder; stop with its output if it fails, else return it."""
    result = _nbgrader_process(*args, course=course)
    if result.returncode != 0:
        raise SystemExit(f"nbgrader {args[0]} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return f"{result.stdout}\n{result.stderr}"


COURSE_CONFIG = """\
# nbgrader's settings for this course folder, written by tools/editions.py ({command}).
# Run nbgrader from this folder (cd {root}) and it reads them.
c = get_config()  # noqa: F821 - provided by nbgrader
load_subconfig({project!r})  # noqa: F821 - the series' settings: stubs, cell timeout
c.CourseDirectory.root = {root!r}
"""
EXCHANGE_CONFIG = """\
c.CourseDirectory.course_id = {course_id!r}
c.Exchange.root = {exchange!r}
"""


def write_course_config(course: Path, course_id: str | None = None, exchange: Path | None = None) -> Path:
    """The course folder's ``nbgrader_config.py``: it loads the project's (``nbgrader_config.py`` at
    the repository root) and names the folder as the course's root; with ``course_id`` and
    ``exchange``, it also sets nbgrader's course id and exchange folder, which nbgrader's exchange
    (``release_assignment``, ``collect``, the students' ``fetch_assignment`` and ``submit``) needs.
    Written when missing or when a course id is given (:func:`setup_course`); kept otherwise."""
    config = course / "nbgrader_config.py"
    if config.exists() and course_id is None:
        return config
    text = COURSE_CONFIG.format(command="setup" if course_id else "a course folder of its own",
                                root=str(course.resolve()), project=str(ROOT / "nbgrader_config.py"))
    if course_id is not None:
        text += EXCHANGE_CONFIG.format(course_id=course_id, exchange=str(Path(exchange or "").resolve()))
    course.mkdir(parents=True, exist_ok=True)
    atomic_write(config, lambda tmp: tmp.write_text(text))
    return config


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
        released = course / "release" / assignment(path) / path.name
        nb = _student_cells(nbformat.read(released, as_version=4))
        _write_atomically(nb, released)  # what nbgrader's exchange releases: the answer cells open
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
def submission_pattern(notebooks: Sequence[Path]) -> re.Pattern[str]:
    """The regular expression of the file names that :func:`match_notebook` takes for ``notebooks``:
    the group ``notebook`` is the notebook's name without ``.ipynb``."""
    return submissions.submission_pattern([path.stem for path in notebooks])


def match_notebook(name: str, notebooks: Sequence[Path] | None = None) -> Path | None:
    """The notebook of ``notebooks`` (default: the series) that a submitted file named ``name`` is,
    or None (see :func:`vae_machinery.submissions.parse_submission_name` for the names taken)."""
    notebooks = list(notebooks or series())
    found = submissions.parse_submission_name(name, [path.stem for path in notebooks])
    return None if found is None else next(path for path in notebooks if path.stem == found.notebook)


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
                if inner.name.startswith(".") or inner.name in NBGRADER_FILES:
                    continue
                if inner.name.lower() == f"{entry.name}.ipynb".lower():  # zip_collect keeps ".IPYNB"
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


NBGRADER_FILES = ("timestamp.txt", "submission_secret.txt")  # what nbgrader keeps beside a submission
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


def submit(course: Path, student: str, path: Path, content: bytes, timestamp: str,
           secret: bytes | None = None) -> Path | None:
    """Write a submission of notebook ``path`` (``content``, handed in at ``timestamp``) where
    ``nbgrader autograde`` reads it, ``submitted/<student>/<assignment>/`` with its
    ``timestamp.txt`` (and nbgrader's ``submission_secret.txt``, ``secret``, which its exchange
    needs to release the feedback). A folder already there (from ``nbgrader collect`` or an earlier
    grading) is
    never deleted or overwritten: unless it holds exactly these two files already, it is moved whole
    to ``superseded/<student>/<assignment>/<UTC time of the move>/`` in the course (outside
    ``submitted/``, where nbgrader would take it for another assignment); return where it went."""
    target = course / "submitted" / student / assignment(path)
    files = {path.name: content, "timestamp.txt": timestamp.encode()}
    if secret is not None:
        files["submission_secret.txt"] = secret
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
    late: float = 0.0  # seconds after the assignment's due date (nbgrader's, 0 without a due date)

    def line(self) -> str:
        late = f", late by {self.late / 3600:.1f} h" if self.late > 0 else ""
        return (f"{self.auto:g} of {self.auto_max:g} autograded points, written answers worth "
                f"{self.written_max:g} to read{late} ({self.seconds:.0f} s)")


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
    tasks: int = 0  # submissions handed to nbgrader
    seconds: float = 0.0  # wall time of autograding them

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
        late = gradebook.find_submission(assignment(path), student).total_seconds_late
        return Score(auto=sum(g.score for g in auto), auto_max=sum(g.max_score for g in auto),
                     written_max=sum(g.max_score for g in written), seconds=seconds, late=late)


@dataclass(frozen=True)
class Task:
    """One submission to autograde: a student's notebook, already in the course's ``submitted/``."""

    student: str
    notebook: str  # the notebook's name without .ipynb, also the assignment's
    file: Path  # the student's file it came from


def autograde_task(course: str, student: str, name: str, timeout: int | None = None) -> dict[str, object]:
    """Autograde one submission, ``submitted/<student>/<name>/``, with ``nbgrader autograde`` in a
    working folder of its own, ``grading/<student>/<name>/`` in the course: a copy of the course's
    gradebook (made by :func:`grade` before any task starts) and links to the course's ``source/``,
    ``release/`` and this submission; ``timeout``: seconds a cell may run (default: the project's
    ``c.Execute.timeout``). No two tasks write one file, so tasks run at once on any
    Dask worker that sees the course folder; :func:`merge_task` then takes the result into the
    course, one task after another. Return nbgrader's exit status, output and the seconds taken."""
    root = Path(course)
    work = root / "grading" / student / name
    (work / "submitted" / student).mkdir(parents=True, exist_ok=True)
    for folder in ("source", "release"):
        if not (work / folder).exists():
            (work / folder).symlink_to(root / folder)
    link = work / "submitted" / student / name
    if not link.is_symlink():
        link.symlink_to(root / "submitted" / student / name)
    start = time.perf_counter()
    options = [] if timeout is None else [f"--Execute.timeout={timeout}"]
    result = _nbgrader_process("autograde", name, f"--student={student}", "--force", *options,
                               course=root, root=work)
    return {"returncode": result.returncode, "output": f"{result.stdout}\n{result.stderr}".strip(),
            "seconds": time.perf_counter() - start}


def merge_task(course: Path, student: str, name: str) -> None:
    """Take a finished task's grades (:func:`autograde_task`) into the course's gradebook and its
    graded notebook into ``autograded/<student>/<name>/``; remove the task's working folder. The one
    writer of the course's gradebook: nbgrader's SQLite database is never written by two processes."""
    import warnings

    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    work = course / "grading" / student / name
    with Gradebook(f"sqlite:///{work / 'gradebook.db'}") as done, \
            Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook, warnings.catch_warnings():
        # nbgrader's own add_submission warns so (its autograde too); the rows are written all the same
        warnings.filterwarnings("ignore", "Object of type .* not in session", SAWarning)
        graded = done.find_submission(name, student)
        submission = gradebook.update_or_create_submission(name, student, timestamp=graded.timestamp)
        submission.extension = graded.extension
        for notebook in graded.notebooks:
            target = gradebook.find_submission_notebook(notebook.name, name, student)
            target.flagged = notebook.flagged
            target.late_submission_penalty = notebook.late_submission_penalty
            grades = {grade.name: grade for grade in notebook.grades}
            for grade in target.grades:
                for column in ("auto_score", "manual_score", "extra_credit", "needs_manual_grade"):
                    setattr(grade, column, getattr(grades[grade.name], column))
            comments = {comment.name: comment for comment in notebook.comments}
            for comment in target.comments:
                comment.auto_comment = comments[comment.name].auto_comment
                comment.manual_comment = comments[comment.name].manual_comment
        gradebook.db.commit()
    target_folder = course / "autograded" / student / name
    if target_folder.exists():
        shutil.rmtree(target_folder)  # the previous grading's output; what was submitted stays in submitted/
    target_folder.parent.mkdir(parents=True, exist_ok=True)
    (work / "autograded" / student / name).rename(target_folder)
    shutil.rmtree(work)
    for graded in target_folder.glob("*.ipynb"):
        add_rubrics(graded, course / "source" / name / graded.name)


RUBRIC_TAG = submissions.RUBRIC_TAG  # nbgrader_config.py removes these cells from the feedback
RUBRIC = re.compile(r"^\*\*Rubric \(\d+ points?\):\*\*.*$", re.MULTILINE)


def add_rubrics(graded: Path, source: Path) -> int:
    """Put the rubric of each written answer (the "**Rubric (1 point):** ..." line of the
    instructor's explanation, in ``source``) in a cell of its own right below the student's answer
    in the graded notebook, where the formgrader shows it; the cells are tagged ``grader-rubric``,
    which the feedback leaves out. Return the number of rubrics added."""
    if not source.is_file():
        return 0
    rubrics = {}
    for cell in nbformat.read(source, as_version=4).cells:
        found = RUBRIC.search(cell.source) if cell.cell_type == "markdown" else None
        if found and cell.metadata.get("nbgrader", {}).get("grade_id"):
            rubrics[cell.metadata["nbgrader"]["grade_id"]] = found.group(0)
    try:
        nb = nbformat.read(graded, as_version=4)
    except Exception:  # nbgrader graded it, so it reads; anything else is left as it is
        return 0
    cells = []
    for cell in nb.cells:
        if RUBRIC_TAG in cell.metadata.get("tags", []):
            continue  # from an earlier grading
        cells.append(cell)
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "markdown" and grade_id in rubrics:
            text = rubrics[grade_id].replace("**Rubric", "**Rubric, for the grader", 1)
            cells.append(nbformat.v4.new_markdown_cell(f"> {text}", metadata={"tags": [RUBRIC_TAG]}))
    nb.cells = cells
    _write_atomically(nb, graded)
    return sum(RUBRIC_TAG in c.metadata.get("tags", []) for c in cells)


def _prepare(folders: Iterable[Path], course: Path, notebooks: Sequence[Path], runs: Path,
             parameters: dict[str, object], report: GradingReport) -> list[Task]:
    """Match each student's files to the notebooks, record the student, give them a copy of the runs
    and write each submission where nbgrader reads it (:func:`submit`); the tasks to grade."""
    from nbgrader.api import Gradebook

    known = {path.stem: path for path in [*series(), *notebooks]}
    tasks = []
    for folder in folders:
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
                content = _submission_content(file, path, student_runs.resolve(), parameters)
            except Exception as error:  # one submission's problem: reported, the others graded
                report.failures.append(Failure(student, path.stem, file,
                                               f"the grader could not add its parameters: {error!r}"))
                continue
            secret = file.parent / "submission_secret.txt"  # from nbgrader's exchange (collect)
            in_layout = file.parent.name == path.stem and secret.is_file()
            moved = submit(course, student, path, content, submission_timestamp(file),
                           secret.read_bytes() if in_layout else None)
            if moved is not None:
                report.superseded.append(moved)
            tasks.append(Task(student, path.stem, file))
    return tasks


def _broken_task(error: Exception) -> dict[str, object]:
    """The result of a grading task that raised instead of returning nbgrader's outcome."""
    return {"returncode": -1, "output": f"the grading task failed: {error!r}", "seconds": 0.0}


def _finished(tasks: Sequence[Task], course: Path, workers: int, scheduler: str | None,
              timeout: int | None) -> Iterator[tuple[Task, dict[str, object]]]:
    """Each task with its result as it finishes: in this process one after another (``workers`` 1,
    no scheduler), else as Dask tasks on a local cluster of ``workers`` or the cluster at ``scheduler``."""
    if workers == 1 and scheduler is None:
        for task in tasks:
            try:
                yield task, autograde_task(str(course.resolve()), task.student, task.notebook, timeout)
            except Exception as error:  # the task itself broke: reported, the others graded
                yield task, _broken_task(error)
        return
    from distributed import Client, LocalCluster, as_completed

    # Each task waits on an nbgrader process, so a local worker is a thread; a cluster's workers
    # must see the course folder at the same path (a shared file system).
    client = (Client(scheduler) if scheduler else
              Client(LocalCluster(n_workers=1, threads_per_worker=workers, processes=False,
                                  dashboard_address=":0")))
    try:
        futures = {client.submit(autograde_task, str(course.resolve()), task.student, task.notebook, timeout,
                                 key=f"autograde-{task.student}-{task.notebook}", pure=False): task
                   for task in tasks}
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as error:  # the task broke (or its worker died): reported, the others graded
                result = _broken_task(error)
            yield futures[future], result
    finally:
        cluster = client.cluster
        client.close()
        if cluster is not None and not scheduler:
            cluster.close()


def grade(submissions: Iterable[Path], course: Path, notebooks: Sequence[Path] | None = None, *,
          runs: Path = RUNS, parameters: dict[str, object] | None = None, workers: int | None = None,
          scheduler: str | None = None, timeout: int | None = None, progress: bool = False) -> GradingReport:
    """Autograde each student's folder of submitted notebooks with nbgrader; the student's id is the
    folder's name. Each file is matched to its notebook by name (:func:`match_notebook`,
    :func:`find_submissions`); the notebooks of ``notebooks`` (default: the series) that a folder
    holds are graded, a notebook it does not hold is not graded for that student. Every submission
    is a task (:func:`autograde_task`) run on Dask: on a local cluster of ``workers`` threads
    (default: the CPUs this process may use, at most one per task; 1: one after another in this
    process, without Dask) or
    on the cluster at ``scheduler``; ``timeout``: the seconds a cell may run (default: 300, from
    nbgrader_config.py); ``progress`` prints a line per finished task. Return a
    :class:`GradingReport`: {student: {notebook stem: Score}}, and every submission nbgrader could
    not grade and every file not graded, with why. One submission that fails does not stop the
    others; nothing already in the course's ``submitted/`` is deleted (:func:`submit`)."""
    from dask.system import CPU_COUNT

    notebooks = list(notebooks or series())
    student_edition(course / "student", course=course, notebooks=notebooks, database=True)
    report = GradingReport()
    tasks = _prepare(submissions, course, notebooks, runs, parameters or {}, report)
    for task in tasks:  # each task starts from the gradebook as it is now
        work = course / "grading" / task.student / task.notebook
        if work.exists():
            shutil.rmtree(work)  # a task of an earlier grading that was stopped
        work.mkdir(parents=True)
        shutil.copy2(course / "gradebook.db", work / "gradebook.db")
    paths = {path.stem: path for path in notebooks}
    start = time.perf_counter()
    workers = min(workers or CPU_COUNT, max(len(tasks), 1))
    for i, (task, result) in enumerate(_finished(tasks, course, workers, scheduler, timeout), 1):
        output = str(result["output"])
        if result["returncode"] == 0:
            try:
                merge_task(course, task.student, task.notebook)
                score = _read_score(course, paths[task.notebook], task.student, float(result["seconds"]))
            except Exception as error:  # recorded for this one submission only; the others go on
                result, output = {**result, "returncode": -1}, f"the grades could not be recorded: {error!r}"
            else:
                report.scores.setdefault(task.student, {})[task.notebook] = score
                line = f"{score.auto:g} of {score.auto_max:g}"
        if result["returncode"] != 0:
            report.failures.append(Failure(task.student, task.notebook, task.file, nbgrader_error(output),
                                           "\n".join(output.splitlines()[-20:])))
            shutil.rmtree(course / "grading" / task.student / task.notebook, ignore_errors=True)
            line = f"not graded: {report.failures[-1].reason}"
        if progress:
            print(f"[{i:>{len(str(len(tasks)))}}/{len(tasks)}] {task.student} {task.notebook}: {line} "
                  f"({float(result['seconds']):.0f} s; {time.perf_counter() - start:.0f} s in all)",
                  file=sys.stderr, flush=True)
    report.seconds = time.perf_counter() - start
    report.tasks = len(tasks)
    # Tasks finish in any order: the report lists students by name and their notebooks in series order.
    report.scores = {student: dict(sorted(rows.items())) for student, rows in sorted(report.scores.items())}
    return report


# --------------------------------------------------------------------------
# A term: the exchange, the roster, a platform's download, feedback and grades out
# --------------------------------------------------------------------------
def setup_course(course: Path, course_id: str, exchange: Path) -> Path:
    """Set up the course folder for nbgrader's exchange: its ``nbgrader_config.py`` with the course id
    and the exchange folder (:func:`write_course_config`), and the exchange folder, writable by every
    user as nbgrader's docs ask (``chmod ugo+rw``). Return the course's config file."""
    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*", course_id):
        raise SystemExit(f"course id {course_id!r}: use letters, digits, '.', '_' or '-' (nbgrader puts it "
                         "in folder names), e.g. vae101")
    try:
        exchange.mkdir(parents=True, exist_ok=True)
        if exchange.stat().st_mode & 0o777 != 0o777:
            exchange.chmod(0o777)
    except PermissionError:
        raise SystemExit(f"cannot create {exchange} writable by every user: as an administrator, run\n"
                         f"  sudo mkdir -p {exchange} && sudo chmod ugo+rwx {exchange}\n"
                         "then setup again") from None
    return write_course_config(course, course_id, exchange)


ROSTER_COLUMNS = ("id", "first_name", "last_name", "email")  # nbgrader db student import's


def import_roster(course: Path, roster: Path) -> int:
    """Add the students of the CSV file ``roster`` to the course's gradebook with ``nbgrader db student
    import``: columns ``id`` (the student's id: their hub user name, or their id on the platform
    whose downloads you collect), ``first_name``, ``last_name``, ``email``. A student already there
    is updated. Return the number of students; a file without these columns stops with what it has."""
    import csv

    with roster.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in ROSTER_COLUMNS if column not in (reader.fieldnames or [])]
        rows = list(reader)
    if missing:
        has = ", ".join(reader.fieldnames or [])
        raise SystemExit(f"{roster}: no column {', '.join(missing)} (it has {has}); "
                         f"the roster's first line must name the columns {','.join(ROSTER_COLUMNS)}")
    empty = [str(i) for i, row in enumerate(rows, 2) if not (row["id"] or "").strip()]
    if empty:
        raise SystemExit(f"{roster}: line {', '.join(empty)} has no id")
    clean = course / "roster.csv"  # what nbgrader reads: UTF-8 without a spreadsheet's byte-order mark

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, ROSTER_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows({k: (row[k] or "").strip() for k in ROSTER_COLUMNS} for row in rows)
    atomic_write(clean, write)
    _run_nbgrader("db", "student", "import", str(clean.resolve()), course=course)
    return len(rows)


def set_due_date(course: Path, notebook: Path, due: str) -> None:
    """Record ``notebook``'s due date in the course's gradebook (``nbgrader db assignment add
    --duedate``; "2026-10-09 23:59 UTC"): autograding then records how late each submission is."""
    student_edition(course / "student", course=course, notebooks=[notebook], database=True)
    _run_nbgrader("db", "assignment", "add", assignment(notebook), f"--duedate={due}", course=course)


def release(course: Path, notebook: Path) -> None:
    """Release ``notebook`` to the students through nbgrader's exchange (:func:`setup_course` first):
    the student edition of it, as :func:`student_edition` writes it, ``nbgrader release_assignment``."""
    student_edition(course / "student", course=course, notebooks=[notebook], database=True)
    _run_nbgrader("release_assignment", assignment(notebook), "--force", course=course)


def collect_exchange(course: Path, notebook: Path) -> Path:
    """``nbgrader collect``: the students' submissions of ``notebook`` from the exchange into the
    course's ``submitted/<student>/<notebook>/``, each with its ``timestamp.txt``; a student's
    later submission replaces the one collected before (``--update``: the exchange keeps them all).
    Return ``submitted/``, whose student folders :func:`grade` takes."""
    _run_nbgrader("collect", assignment(notebook), "--update", course=course)
    return course / "submitted"


@dataclass
class Collected:
    """What :func:`collect_download` did: the folder of one folder per student, and the files of the
    download it did not take, each as "<file name>: <why>"."""

    folder: Path
    students: list[str]
    skipped: list[str]


def collect_download(course: Path, notebook: Path, downloads: Sequence[Path]) -> Collected:
    """Collect a learning platform's bulk download of ``notebook`` (Canvas, Blackboard or Moodle: zip
    archives or their files) with ``nbgrader zip_collect``, its files read by
    :class:`vae_machinery.nbgrader_plugins.SeriesCollector`: whose file (the id in its name) and
    which notebook. They go into a new folder ``collected/<notebook>/<UTC time>/<student>/`` of the
    course, in nbgrader's layout with each file's ``timestamp.txt`` (the time in the name, else the
    archive's), for :func:`grade`; nothing collected earlier is touched. Of two files of one student,
    nbgrader keeps the later. Every file not taken is listed with why (:func:`_collected`)."""
    missing = [str(download) for download in downloads if not download.is_file()]
    if missing:
        raise SystemExit(f"no such file: {', '.join(missing)} (give the platform's zip or its files)")
    name = assignment(notebook)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%S.%fZ")
    archive = course / "downloaded" / name / stamp / "archive"
    archive.mkdir(parents=True)
    for download in downloads:
        shutil.copy2(download, archive / download.name)
    student_edition(course / "student", course=course, notebooks=[notebook], database=True)
    collected = Path("collected") / name / stamp
    output = _run_nbgrader(
        "zip_collect", name, "--strict",
        f"--ZipCollectApp.downloaded_directory=downloaded/{name}/{stamp}",
        "--ZipCollectApp.collect_directory_structure={downloaded}/{collect_step}",
        "--ZipCollectApp.collector_plugin=vae_machinery.nbgrader_plugins.SeriesCollector",
        "--ZipCollectApp.extractor_plugin=vae_machinery.nbgrader_plugins.TimeKeepingExtractor",
        f"--CourseDirectory.submitted_directory={collected}", course=course)
    return _collected(course / collected, output)


def _collected(folder: Path, output: str) -> Collected:
    """What zip_collect did, from the collector's ``vae-collect:`` lines (see
    :class:`vae_machinery.nbgrader_plugins.SeriesCollector`) and the files it copied: each file not
    collected, with why; of two files of one student, the one not kept."""
    taken: dict[str, list[Path]] = {}
    skipped = []
    for line in output.splitlines():
        if "vae-collect: " not in line:
            continue
        entry = line.split("vae-collect: ", 1)[1]
        if " skipped: " in entry:
            file, why = entry.split(" skipped: ", 1)
            skipped.append(f"{Path(file).name}: {why.strip()}")
        elif " -> " in entry:
            file, student = entry.rsplit(" -> ", 1)
            taken.setdefault(student.strip(), []).append(Path(file))
    for student, files in taken.items():
        kept = [p.read_bytes() for p in (folder / student).glob("*/*.ipynb")]
        skipped += [f"{file.name}: another file of {student} is later (kept that one)"
                    for file in files if len(files) > 1 and file.read_bytes() not in kept]
    students = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    return Collected(folder, students, skipped)


def generate_feedback(course: Path, notebooks: Sequence[Path], *,
                      release_to_exchange: bool = False) -> list[Path]:
    """``nbgrader generate_feedback`` for every graded submission of ``notebooks``: the HTML files
    ``feedback/<student>/<notebook>/<notebook>.html`` (each cell's points, the self-checks' messages,
    the grader's comments; not the rubrics). With ``release_to_exchange``, ``nbgrader
    release_feedback`` also puts the feedback of what was collected from the exchange there (not
    of what came from a platform's download: nbgrader finds feedback by the secret its exchange
    gave the submission), for the students' ``nbgrader fetch_feedback``. Return the HTML files."""
    written = []
    for path in notebooks:
        if not any((course / "autograded").glob(f"*/{assignment(path)}")):
            continue
        _run_nbgrader("generate_feedback", assignment(path), "--force", course=course)
        if release_to_exchange:  # only what came through the exchange has nbgrader's secret to find it by
            folders = sorted((course / "feedback").glob(f"*/{assignment(path)}"))
            others = [f.parent.name for f in folders if not (f / "submission_secret.txt").is_file()]
            if len(others) < len(folders):
                _run_nbgrader("release_feedback", assignment(path),
                              f"--CourseDirectory.student_id_exclude={','.join(others)}", course=course)
        written += sorted((course / "feedback").glob(f"*/{assignment(path)}/{path.stem}.html"))
    return written


def export_grades(course: Path, out: Path) -> dict[str, Path]:
    """The gradebook in three CSV files in ``out``: ``grades.csv``, nbgrader's own export (one row per
    student and notebook, with the roster's columns); ``canvas.csv`` and ``moodle.csv``, the same
    points (``grades.csv``'s ``score``) turned to one row per student and one column per notebook
    that someone handed in, in the columns Canvas's and Moodle's gradebook imports read (see
    docs/teaching.md). A notebook a student did not hand in is 0. Return the files by name."""
    import csv

    out.mkdir(parents=True, exist_ok=True)
    files = {"grades": out / "grades.csv", "canvas": out / "canvas.csv", "moodle": out / "moodle.csv"}
    _run_nbgrader("export", f"--to={files['grades'].resolve()}", course=course)
    with files["grades"].open(newline="", encoding="utf-8") as handle:
        exported = list(csv.DictReader(handle))
    names = sorted({row["assignment"] for row in exported if row["timestamp"]})  # handed in by someone
    students = {row["student_id"]: row for row in exported}  # the roster's columns of each student
    points = {(row["student_id"], row["assignment"]): float(row["score"] or 0) for row in exported}
    columns = [[points.get((student, name), 0.0) for name in names] for student in sorted(students)]
    canvas = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *names]]
    moodle = [["ID number", "Email address", "First name", "Last name", *names]]
    for student, row in zip(sorted(students), columns, strict=True):
        who = students[student]
        # Canvas's user ids (what its downloads name) are numbers; other ids are taken for SIS ids
        ids = [student, ""] if student.isdigit() else ["", student]
        canvas.append([f"{who['last_name']}, {who['first_name']}".strip(", "), *ids, who["email"], "", *row])
        moodle.append([student, who["email"], who["first_name"], who["last_name"], *row])
    for key, table in (("canvas", canvas), ("moodle", moodle)):
        def write(tmp: Path, table: list[list[object]] = table) -> None:
            with tmp.open("w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerows(table)
        atomic_write(files[key], write)
    return files


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
    grading.add_argument("--workers", type=int, default=None,
                         help="submissions graded at once on a local Dask cluster (default: the CPUs this "
                              "process may use; 1: one after another, without Dask)")
    grading.add_argument("--scheduler", default=None,
                         help="a Dask scheduler's address (tcp://host:8786) to grade on that cluster; "
                              "its workers must see the course folder at the same path")
    course_option = dict(type=Path, default=ROOT / "build" / "editions" / "course",
                         help="the nbgrader course folder (default: build/editions/course)")
    setup = sub.add_parser("setup", help="set up the course folder for nbgrader's exchange")
    setup.add_argument("--course-id", required=True, help="the course's id, e.g. vae101")
    setup.add_argument("--exchange", type=Path, default=Path("/srv/nbgrader/exchange"),
                       help="the exchange folder every student can reach (default: /srv/nbgrader/exchange)")
    roster = sub.add_parser("roster", help="import the students: a CSV with id,first_name,last_name,email")
    roster.add_argument("csv", type=Path)
    for name, text in (("release", "release a notebook through nbgrader's exchange"),
                       ("collect", "collect a notebook from the exchange, or from a platform's download")):
        command = sub.add_parser(name, help=text)
        command.add_argument("notebook", help="the notebook, e.g. 03")
        if name == "collect":
            command.add_argument("downloads", type=Path, nargs="*",
                                 help="a platform's bulk download (zip files or files); none: the exchange")
    due = sub.add_parser("due", help="record a notebook's due date, e.g. due 03 '2026-10-09 23:59 UTC'")
    due.add_argument("notebook")
    due.add_argument("when")
    feedback = sub.add_parser("feedback", help="feedback (HTML) for every graded submission")
    feedback.add_argument("--notebook", nargs="*", help="only these notebooks (default: all)")
    feedback.add_argument("--release", action="store_true",
                          help="also release it to nbgrader's exchange (students: nbgrader fetch_feedback)")
    export = sub.add_parser("export", help="grades as CSV: nbgrader's, Canvas's and Moodle's")
    export.add_argument("--out", type=Path, default=ROOT / "build" / "editions" / "grades")
    for name in TERM_COMMANDS:
        sub.choices[name].add_argument("--course", **course_option)
    grading.add_argument("--timeout", type=int, default=None,
                         help="seconds a cell may run before it fails (default: 300, nbgrader_config.py)")
    args = parser.parse_args(argv)
    if args.command in TERM_COMMANDS:
        return term_command(args)
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
        parameters = {name: parse_value(value) for name, value in args.parameter}
        report = grade(args.submissions, args.course, notebooks, runs=args.runs, parameters=parameters,
                       workers=args.workers, scheduler=args.scheduler, timeout=args.timeout, progress=True)
        print(report.summary())
        print(f"Written answers: jupyter lab --CourseDirectory.root={args.course}, "
              "then Nbgrader > Formgrader")
        return 1 if report.failures or report.skipped else 0
    print(f"Wrote {len(written)} notebooks to {written[0].parent}")
    return 0


TERM_COMMANDS = ("setup", "roster", "due", "release", "collect", "feedback", "export")


def term_command(args: argparse.Namespace) -> int:
    """The commands of a term (setup, roster, release, collect, feedback, export): run one, print
    what it did."""
    course = args.course
    if args.command == "setup":
        config = setup_course(course, args.course_id, args.exchange)
        print(f"Course {args.course_id}: {config} (run nbgrader from {course}); "
              f"exchange {args.exchange.resolve()}.\n"
              "Students: put these two lines in ~/.jupyter/nbgrader_config.py (the hub image does):\n"
              f"  c.CourseDirectory.course_id = {args.course_id!r}\n"
              f"  c.Exchange.root = {str(args.exchange.resolve())!r}")
    elif args.command == "roster":
        print(f"{import_roster(course, args.csv)} students in the gradebook of {course}")
    elif args.command == "due":
        (notebook,) = select([args.notebook])
        set_due_date(course, notebook, args.when)
        print(f"{assignment(notebook)} is due {args.when}")
    elif args.command == "release":
        (notebook,) = select([args.notebook])
        release(course, notebook)
        print(f"Released {assignment(notebook)} to the exchange")
    elif args.command == "collect":
        (notebook,) = select([args.notebook])
        if not args.downloads:
            folder = collect_exchange(course, notebook)
            print(f"Collected into {folder}; grade: tools/editions.py grade --notebook {args.notebook} "
                  f"--course {course} {folder}/*/")
            return 0
        collected = collect_download(course, notebook, args.downloads)
        print(f"Collected {len(collected.students)} students into {collected.folder}; "
              "grade: tools/editions.py "
              f"grade --notebook {args.notebook} --course {course} {collected.folder}/*/")
        for entry in collected.skipped:
            print(f"  not collected: {entry}")
        notebooks_skipped = [e for e in collected.skipped if e.split(": ", 1)[0].lower().endswith(".ipynb")]
        return 1 if notebooks_skipped else 0
    elif args.command == "feedback":
        written = generate_feedback(course, select(args.notebook), release_to_exchange=args.release)
        print(f"Wrote {len(written)} feedback files into {course / 'feedback'}")
    else:
        for name, path in export_grades(course, args.out).items():
            print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
