"""nbgrader plugins for ``nbgrader zip_collect`` of a learning platform's bulk download.

``tools/editions.py collect`` runs ``nbgrader zip_collect`` with these two (nbgrader's collector
and extractor plugins, https://nbgrader.readthedocs.io/en/stable/plugins/zipcollect-plugin.html):

* :class:`SeriesCollector` reads a file's name as the grader does
  (:func:`vae_machinery.submissions.parse_submission_name`): the student's id on Canvas, Blackboard
  or Moodle, and the notebook, whatever Colab or a browser did to its name;
* :class:`TimeKeepingExtractor` extracts the archives keeping each file's time as the archive holds
  it, which :class:`SeriesCollector` reports as the time the file was handed in where the name
  carries none (only Blackboard's does); it leaves out macOS's ``__MACOSX/`` and hidden files;
* :class:`RemoveRubrics` leaves the graders' rubrics out of the feedback (nbgrader_config.py).

This module imports nbgrader: only nbgrader loads it.
"""

from __future__ import annotations

import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nbconvert.preprocessors import Preprocessor
from nbgrader.plugins import ExtractorPlugin, FileNameCollectorPlugin
from traitlets import Bool

from vae_machinery.submissions import RUBRIC_TAG, parse_submission_name

# The collector's log lines: "vae-collect: <file> -> <student>", "vae-collect: <file> skipped: <why>"
COLLECTED = "vae-collect"


class SeriesCollector(FileNameCollectorPlugin):
    """The student's id and the notebook from a bulk download's file name. Canvas's user id and
    Blackboard's user name are the student's id; Moodle's number is a participant id of that
    assignment only, so a Moodle file is the student of the course's roster whose "first last"
    (or "last first") name is the name in the file (case and spaces aside). A file of no notebook
    of the assignment, without a student's id, or of a Moodle name that is not one student of the
    roster, is skipped.
    Each file's outcome is logged in a line starting with ``vae-collect:`` (what
    ``tools/editions.py collect`` reports)."""

    def _roster(self) -> dict[str, list[str]]:
        from nbgrader.api import Gradebook

        names: dict[str, list[str]] = {}
        coursedir = self.parent.coursedir
        with Gradebook(coursedir.db_url, coursedir.course_id or "default_course") as gradebook:
            for student in gradebook.students:
                first, last = student.first_name or "", student.last_name or ""
                for full in {_key(f"{first} {last}"), _key(f"{last} {first}")}:
                    names.setdefault(full, []).append(student.id)
        return names

    def collect(self, submitted_file: str) -> dict[str, str] | None:
        path = Path(submitted_file)
        released = Path(self.parent.coursedir.format_path(
            self.parent.coursedir.release_directory, ".", self.parent.coursedir.assignment_id))
        stems = sorted(p.stem for p in released.glob("*.ipynb"))
        found = parse_submission_name(path.name, stems)
        student = found.student if found else None
        why = "not a notebook of this assignment" if found is None else "no student's id in its name"
        if found is not None and found.platform == "Moodle":
            matches = sorted(set(self._roster().get(_key(found.name or ""), [])))
            student = matches[0] if len(matches) == 1 else None
            whom = "two students of the roster" if matches else "no student of the roster"
            why = f"Moodle's name {found.name!r} is {whom}"
        if student is None:
            self.log.warning("%s: %s skipped: %s", COLLECTED, path, why)
            return None
        when = found.handed_in or datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime(
            "%Y-%m-%d %H:%M:%S.%f %Z")
        self.log.warning("%s: %s -> %s", COLLECTED, path, student)
        return {"student_id": student, "file_id": f"{found.notebook}.ipynb", "timestamp": when}


def _key(name: str) -> str:
    """A person's name for matching: lower case, single spaces."""
    return " ".join(name.lower().split())


class RemoveRubrics(Preprocessor):
    """Leave out the cells tagged ``grader-rubric`` (the rubrics ``tools/editions.py grade`` puts in
    the graded notebooks for the formgrader): nbgrader_config.py runs it for the feedback only."""

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        nb.cells = [cell for cell in nb.cells if RUBRIC_TAG not in cell.metadata.get("tags", [])]
        return nb, resources


class TimeKeepingExtractor(ExtractorPlugin):
    """Extract every ``.zip`` of the archive folder and copy every other file, keeping each file's
    modification time (Python's zipfile does not): the time the platform wrote into the archive."""

    def extract(self, archive_path: str, extracted_path: str) -> None:
        for root, _, files in os.walk(archive_path):
            for name in sorted(files):
                if name.startswith("."):
                    continue
                source = Path(root, name)
                if zipfile.is_zipfile(source):
                    target = Path(extracted_path, source.stem)
                    with zipfile.ZipFile(source) as archive:
                        for info in archive.infolist():
                            if any(part.startswith((".", "__MACOSX")) for part in Path(info.filename).parts):
                                continue
                            written = Path(archive.extract(info, target))
                            if not info.is_dir():
                                stamp = datetime(*info.date_time, tzinfo=UTC).timestamp()
                                os.utime(written, (stamp, stamp))
                else:
                    target = Path(extracted_path, name)
                    target.write_bytes(source.read_bytes())
                    os.utime(target, (source.stat().st_atime, source.stat().st_mtime))
