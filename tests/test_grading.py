"""Grading a class with tools/editions.py: submitted files matched to their notebooks whatever the
students' tools and the learning platform named them, every file not graded reported with why,
the submission times kept for nbgrader, nothing that nbgrader collected deleted, and one broken
submission stopping nothing.

The fast tests check the parts without nbgrader; one slow test grades a small class of notebook 01
(the fastest to grade) with nbgrader.
"""

import copy
import os
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest

from vae_tools import editions

ROOT = Path(__file__).resolve().parent.parent

NOTEBOOKS = editions.series()
DATA, TRAINING, COLLAPSE = NOTEBOOKS[0], NOTEBOOKS[2], NOTEBOOKS[9]  # 01_data, 03_training, 10_posterior_...


@pytest.mark.parametrize("name", [
    "{}.ipynb",  # as released
    "{}.IPYNB",
    "Copy of {}.ipynb",  # Colab, Google Drive
    "Copy of Copy of {}.ipynb",
    "copy_of_{}.ipynb",
    "{} (1).ipynb",  # a browser's second download
    "{}(2).ipynb",
    "{}-1.ipynb",  # Canvas: a re-submission
    "smithjane_12345_67890_{}.ipynb",  # Canvas: <name>_<user id>_<submission id>_<file name>
    "smithjane_LATE_12345_67890_{}.ipynb",
    "smithjane_late_12345_67890_{}-2.ipynb",
    "smithjane_12345_67890_Copy of {}.ipynb",
    "jdoe_12345_attempt_2026-10-02-10-11-12_{}.ipynb",  # Blackboard: <assignment>_<user>_attempt_<time>_
    "Week 3_jdoe_attempt_2026-10-02-10-11-12_{}.ipynb",
    "Jane Smith_4242_assignsubmission_file_{}.ipynb",  # Moodle: <Full Name>_<id>_assignsubmission_file_
    "Jane Smith_4242_assignsubmission_file_Copy of {} (1).ipynb",
])
@pytest.mark.parametrize("notebook", [TRAINING, COLLAPSE], ids=lambda path: path.stem)
def test_a_submitted_file_is_matched_to_its_notebook_by_name(name, notebook):
    assert editions.match_notebook(name.format(notebook.stem)) == notebook
    upper = name.format(notebook.stem.upper())
    assert editions.match_notebook(upper) == notebook, "case does not matter"


@pytest.mark.parametrize("name", [
    "13_training.ipynb", "3_training.ipynb", "04_training.ipynb", "03_data.ipynb",  # another number
    "notes.ipynb", "Copy of notes.ipynb", "smithjane_12345_67890_notes.ipynb",
    "03_training.py", "03_training.ipynb.bak", "03_training.html", "03_training",  # not a notebook
    "03_training-checkpoint.ipynb",  # Jupyter's checkpoint
    "x03_training.ipynb", "03_training_v2.ipynb", "smithjane_12345_03_training.ipynb",
])
def test_a_file_of_no_notebook_matches_nothing(name):
    assert editions.match_notebook(name) is None


def test_the_name_pattern_is_one_regular_expression():
    pattern = editions.submission_pattern([DATA, TRAINING]).pattern
    assert pattern == (r"(?:(?:[^_]+_(?P<late>late_)?(?P<canvas_id>\d+)_\d+_)"
                       r"|(?:.+_(?P<blackboard_id>[^_]+)_attempt_(?P<handed_in>\d{4}(?:-\d{2}){5})_)"
                       r"|(?:(?P<moodle_name>.+)_(?P<moodle_id>\d+)_assignsubmission_file_))?"
                       r"(?:copy[ _]of[ _])*(?P<notebook>01_data|03_training)(?:[ _]?\(\d+\)|-\d+)?\.ipynb")


def _notebook(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(), path)


def test_a_students_folder_is_sorted_into_notebooks_and_files_reported_with_why(tmp_path):
    folder = tmp_path / "jane"
    for name in ("Copy of 01_data.ipynb", "smithjane_12345_67890_02_model.ipynb", "notes.ipynb",
                 "03_training.ipynb", "03_training (1).ipynb", ".DS_Store", ".ipynb_checkpoints/x.ipynb",
                 "04_reconstructions/04_reconstructions.ipynb", "04_reconstructions/timestamp.txt"):
        _notebook(folder / name)
    (folder / "helpers.py").write_text("x = 1\n")
    found, skipped = editions.find_submissions(folder)
    assert {stem: path.relative_to(folder).as_posix() for stem, path in found.items()} == {
        "01_data": "Copy of 01_data.ipynb", "02_model": "smithjane_12345_67890_02_model.ipynb",
        "04_reconstructions": "04_reconstructions/04_reconstructions.ipynb"}
    reasons = {s.file.name: s.reason for s in skipped}
    assert set(reasons) == {"notes.ipynb", "helpers.py", "03_training.ipynb", "03_training (1).ipynb"}
    assert all(s.student == "jane" for s in skipped)
    assert reasons["notes.ipynb"] == reasons["helpers.py"] == "its name matches no notebook of the series"
    assert reasons["03_training.ipynb"].startswith("two files are 03_training (also '03_training (1).ipynb')")


def test_the_submission_time_is_the_files_time_in_nbgraders_format(tmp_path):
    from nbgrader.utils import parse_utc

    file = tmp_path / "Copy of 01_data.ipynb"
    _notebook(file)
    when = datetime(2026, 10, 2, 10, 11, 12, 345678, tzinfo=UTC)
    nanoseconds = int(when.replace(microsecond=0).timestamp()) * 10**9 + 345678123
    os.utime(file, ns=(nanoseconds, nanoseconds))
    stamp = editions.submission_timestamp(file)
    assert stamp == "2026-10-02 10:11:12.345678 UTC"
    assert parse_utc(stamp) == when.replace(tzinfo=None), "nbgrader reads it as the same time (UTC)"
    collected = tmp_path / "submitted" / "jane" / "01_data" / "01_data.ipynb"  # nbgrader collect's layout
    _notebook(collected)
    (collected.parent / "timestamp.txt").write_text("2026-10-01 09:00:00.000000 UTC")
    assert editions.submission_timestamp(collected) == "2026-10-01 09:00:00.000000 UTC"


def test_a_submission_never_deletes_what_was_collected(tmp_path):
    """submitted/<student>/<assignment>/ from nbgrader collect is moved aside whole, with its
    timestamp.txt, before the grader's copy is written; the same copy again moves nothing."""
    course = tmp_path / "course"
    collected = course / "submitted" / "jane" / "01_data"
    _notebook(collected / "01_data.ipynb")
    (collected / "timestamp.txt").write_text("2026-10-01 09:00:00.000000 UTC")
    before = {p.name: p.read_bytes() for p in collected.iterdir()}
    moved = editions.submit(course, "jane", DATA, b'{"cells": []}', "2026-10-02 10:11:12.345678 UTC")
    assert moved is not None and moved.parent == course / "superseded" / "jane" / "01_data"
    assert {p.name: p.read_bytes() for p in moved.iterdir()} == before
    assert (collected / "01_data.ipynb").read_bytes() == b'{"cells": []}'
    assert (collected / "timestamp.txt").read_text() == "2026-10-02 10:11:12.345678 UTC"
    assert editions.submit(course, "jane", DATA, b'{"cells": []}', "2026-10-02 10:11:12.345678 UTC") is None
    again = editions.submit(course, "jane", DATA, b'{"cells": [1]}', "2026-10-02 10:11:12.345678 UTC")
    assert again is not None and again != moved and moved.is_dir()
    assert len(list((course / "superseded" / "jane" / "01_data").iterdir())) == 2


NOT_JSON = """\
    Traceback (most recent call last):
      File "/x/nbformat/reader.py", line 25, in parse_json
        raise NotJSONError(message) from e
    nbformat.reader.NotJSONError: Notebook does not appear to be JSON: '{\\n "cells": [...
    \n[AutogradeApp | ERROR] There was an error processing assignment '01_data' for student 'bob'
[AutogradeApp | ERROR] Please see the the above traceback for details on the specific errors ...
"""
TOO_NEW = """\
[AutogradeApp | INFO] Sanitizing /c/submitted/bob/01_data/01_data.ipynb
[AutogradeApp | ERROR] One or more notebooks in the assignment use an newer version
    of the nbgrader metadata format. Please update your version of
    nbgrader to the latest version to be able to use this notebook.
"""


def test_the_reason_of_a_failure_is_nbgraders_error():
    assert editions.nbgrader_error(NOT_JSON) == (
        "nbformat.reader.NotJSONError: Notebook does not appear to be JSON: '{\\n \"cells\": [...")
    assert editions.nbgrader_error(TOO_NEW) == (
        "One or more notebooks in the assignment use an newer version of the nbgrader metadata format. "
        "Please update your version of nbgrader to the latest version to be able to use this notebook.")
    assert editions.nbgrader_error("") == "nbgrader failed without a message"


@pytest.mark.slow
def test_grading_a_class_with_platform_names_a_broken_notebook_and_a_collected_one(tmp_path, monkeypatch,
                                                                                   mnist_dir):
    """Notebook 01 (the fastest to grade) handed in by five students: the worked solutions under
    Colab's name, handed in at a known time; a notebook cut off mid-file (not JSON); a late Canvas
    download whose first answer raises; a file named notes.ipynb; and a notebook whose earlier version
    nbgrader already collected into submitted/, with its timestamp.txt. Every submission is graded
    or reported with its reason, the batch finishes, and the collected files are all still there."""
    monkeypatch.setenv("VAE_DATA_DIR", str(mnist_dir))
    submissions, course = tmp_path / "submissions", tmp_path / "course"
    solutions = nbformat.read(DATA, as_version=4)

    def hand_in(student: str, name: str, nb: nbformat.NotebookNode) -> Path:
        (submissions / student).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, submissions / student / name)
        return submissions / student / name

    colab = hand_in("colab", "Copy of 01_data.ipynb", solutions)
    handed_in = datetime(2026, 10, 2, 10, 11, 12, tzinfo=UTC)
    os.utime(colab, (handed_in.timestamp(), handed_in.timestamp()))
    (submissions / "broken").mkdir()
    (submissions / "broken" / "01_data.ipynb").write_text(DATA.read_text()[:5000])
    raising = copy.deepcopy(solutions)
    answer = next(c for c in raising.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                  == "ex01-1-answer")
    answer.source = "raise ValueError('a bug of the student')"
    hand_in("canvas", "smithjane_LATE_12345_67890_01_data.ipynb", raising)
    hand_in("misnamed", "notes.ipynb", solutions)
    hand_in("collected", "01_data.ipynb", solutions)
    collected = course / "submitted" / "collected" / "01_data"
    collected.mkdir(parents=True)
    nbformat.write(raising, collected / "01_data.ipynb")
    (collected / "timestamp.txt").write_text("2026-10-01 09:00:00.000000 UTC")
    before = {p.name: p.read_bytes() for p in collected.iterdir()}

    students = ["colab", "broken", "canvas", "misnamed", "collected"]
    report = editions.grade([submissions / s for s in students], course, [DATA], runs=tmp_path / "no-runs")

    points = {student: {name: (s.auto, s.auto_max) for name, s in rows.items()}
              for student, rows in report.items()}
    assert points == {"colab": {"01_data": (3, 3)},
                      "canvas": {"01_data": (2, 3)},  # the cells after the error ran: 2 of 3
                      "collected": {"01_data": (3, 3)}}
    assert [(f.student, f.notebook, f.file.name) for f in report.failures] == [
        ("broken", "01_data", "01_data.ipynb")]
    assert "NotJSONError: Notebook does not appear to be JSON" in report.failures[0].reason
    assert [(s.student, s.file.name, s.reason) for s in report.skipped] == [
        ("misnamed", "notes.ipynb", "its name matches no notebook of the series")]
    assert len(report.superseded) == 1, report.superseded
    kept = {p.name: p.read_bytes() for p in report.superseded[0].iterdir()}
    assert kept == before, "nothing collected is lost"
    summary = report.summary()
    for line in ("colab: 3 of 3 autograded points",
                 "  broken: 01_data (01_data.ipynb): nbformat.reader.NotJSONError",
                 "  misnamed: notes.ipynb: its name matches no notebook", str(report.superseded[0])):
        assert line in summary, summary

    from nbgrader.api import Gradebook

    assert (course / "submitted" / "colab" / "01_data" / "timestamp.txt").read_text() == \
        "2026-10-02 10:11:12.000000 UTC"
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        assert gradebook.find_submission("01_data", "colab").timestamp == handed_in.replace(tzinfo=None)
