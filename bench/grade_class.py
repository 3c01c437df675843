"""A synthetic class handing in the series' notebooks, and the time to autograde it.

Every student hands in each notebook as one of these kinds (cycled through the class), under a
name a student's tools or a platform give it (cycled too):

* ``perfect``: the student edition with the worked solutions typed into every answer cell;
* ``partial``: the same with the first exercise left unanswered;
* ``wrong``: every answer a wrong value (``name = -1``);
* ``empty``: the student edition as released, nothing answered;
* ``broken``: the file cut off mid-way (not JSON);
* ``never_ends`` (one student of the class): the first answer cell loops forever.

Measure sequential against parallel grading (on the instructor's runs in artifacts/, from make run)::

    python bench/grade_class.py --students 80 --notebook 01 --workers 1   # one after another
    python bench/grade_class.py --students 80 --notebook 01               # Dask, every CPU

It prints the wall time, the time per task and the projected wall time on 8 and 32 workers.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

import nbformat

from vae_tools import editions

ROOT = Path(__file__).resolve().parent.parent

KINDS = ("perfect", "partial", "wrong", "empty", "perfect", "broken")
NAMES = ("{stem}.ipynb", "Copy of {stem}.ipynb", "{stem} (1).ipynb", "COPY_OF_{stem}.ipynb")
NEVER_ENDS = 6  # the student (by index) whose first answer cell loops forever


def solutions(notebook: Path) -> dict[str, str]:
    """The worked solution of each answer cell of ``notebook``, by grade id, without nbgrader's markers."""
    nb = nbformat.read(notebook, as_version=4)
    return {cell.metadata["nbgrader"]["grade_id"]: re.sub(r"^\s*### (BEGIN|END) SOLUTION\n", "", cell.source,
                                                         flags=re.MULTILINE)
            for cell in nb.cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")}


def submission(kind: str, notebook: Path) -> str:
    """The text of a submission of ``notebook`` of the given kind (see the module's docstring)."""
    nb = nbformat.read(editions.STUDENT_EDITION / notebook.name, as_version=4)
    answers = solutions(notebook)
    answer_cells = [cell for cell in nb.cells if cell.cell_type == "code"
                    and cell.metadata.get("nbgrader", {}).get("solution")]
    for i, cell in enumerate(answer_cells):
        if kind in {"perfect", "broken"} or (kind == "partial" and i > 0):
            cell.source = answers[cell.metadata["nbgrader"]["grade_id"]]
        elif kind == "wrong":
            cell.source = re.sub(r"^(\w+) = None$", r"\1 = -1", cell.source, flags=re.MULTILINE)
        elif kind == "never_ends" and i == 0:
            cell.source = "while True:\n    pass"
    text = nbformat.writes(nb)
    return text[: len(text) // 2] if kind == "broken" else text


def make_class(folder: Path, students: int, notebooks: list[Path]) -> dict[str, dict[str, str]]:
    """One folder per student (``student01``...) in ``folder`` with a submission of each notebook;
    return {student: {notebook stem: kind}}."""
    kinds: dict[str, dict[str, str]] = {}
    for i in range(students):
        student = f"student{i + 1:02d}"
        (folder / student).mkdir(parents=True, exist_ok=True)
        for notebook in notebooks:
            kind = "never_ends" if i == NEVER_ENDS else KINDS[i % len(KINDS)]
            name = NAMES[i % len(NAMES)].format(stem=notebook.stem)
            (folder / student / name).write_text(submission(kind, notebook))
            kinds.setdefault(student, {})[notebook.stem] = kind
    return kinds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=80)
    parser.add_argument("--notebook", nargs="*", default=["01"], help="the notebooks handed in (default: 01)")
    parser.add_argument("--workers", type=int, default=None, help="1: one after another (default: every CPU)")
    parser.add_argument("--timeout", type=int, default=None, help="seconds a cell may run (default: 300)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "grade-class")
    args = parser.parse_args()
    notebooks = editions.select(args.notebook)
    folder = args.out / f"workers-{args.workers or 'all'}"
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    make_class(folder / "submissions", args.students, notebooks)
    start = time.perf_counter()
    report = editions.grade(sorted((folder / "submissions").iterdir()), folder / "course", notebooks,
                            workers=args.workers, timeout=args.timeout, progress=True)
    total = time.perf_counter() - start
    per_task = [score.seconds for rows in report.values() for score in rows.values()]
    print(report.summary().splitlines()[-1] if report.failures else "")
    print(f"{args.students} students x {len(notebooks)} notebooks: {report.tasks} tasks, "
          f"{len(per_task)} graded, {len(report.failures)} not graded")
    print(f"wall time {total:.0f} s in all, autograding {report.seconds:.0f} s "
          f"({args.workers or 'every CPU'} workers)")
    mean = statistics.mean(per_task)
    print(f"time per graded task: mean {mean:.1f} s, median {statistics.median(per_task):.1f} s, "
          f"max {max(per_task):.1f} s")
    for workers in (8, 32):
        projected = max(report.tasks * mean / workers, max(per_task))
        print(f"projected on {workers} workers: {projected:.0f} s (the tasks' mean time x {report.tasks} "
              f"tasks / {workers} workers, and no less than the slowest task)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
