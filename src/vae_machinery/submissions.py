"""Submitted files' names: which notebook a file is, whose it is, and when it was handed in.

Students hand in a notebook under the name it was released with (``03_training.ipynb``) or as
their tools change it (Colab's "Copy of ", a browser's " (1)"); a learning platform's bulk
download puts the student before it. :func:`parse_submission_name` reads all of these; the
grader (``tools/editions.py``) and nbgrader's ``zip_collect`` (through
:mod:`vae_machinery.nbgrader_plugins`) both use it, so a name that one takes, the other takes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

# What the learning platforms put before a notebook's file name in a bulk download, with the
# groups that say whose file it is (``student``) and, where the platform writes it, when it was
# handed in (``handed_in``) or that it was late (``late``). Matched case-insensitively.
LMS_PREFIXES = {
    # Canvas, "Download Submissions": <lastnamefirstname>_[LATE_]<user id>_<submission id>_<file name>
    "Canvas": r"[^_]+_(?P<late>late_)?(?P<canvas_id>\d+)_\d+_",
    # Blackboard, "Download Assignment": <assignment>_<user name>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file name>
    "Blackboard": r".+_(?P<blackboard_id>[^_]+)_attempt_(?P<handed_in>\d{4}(?:-\d{2}){5})_",
    # Moodle, "Download all submissions" (not in folders): <Full Name>_<participant id>_assignsubmission_file_
    # <file name>; the participant id is Moodle's for this assignment only, so the name says who it is
    "Moodle": r"(?P<moodle_name>.+)_(?P<moodle_id>\d+)_assignsubmission_file_",
}
STUDENT_GROUPS = {"Canvas": "canvas_id", "Blackboard": "blackboard_id", "Moodle": "moodle_id"}
COPY_PREFIX = r"(?:copy[ _]of[ _])*"  # Colab's and Google Drive's "Copy of ", once or more
COPY_SUFFIX = r"(?:[ _]?\(\d+\)|-\d+)?"  # a browser's second download " (1)"; Canvas's re-submission "-1"
RUBRIC_TAG = "grader-rubric"  # the cells of a graded notebook that hold a rubric, for the grader only


@dataclass(frozen=True)
class SubmissionName:
    """What a submitted file's name says: the notebook's name without ``.ipynb`` as released, and,
    for a platform's bulk download, the platform, the student's id on it (Canvas's user id,
    Blackboard's user name, Moodle's participant id, which is the assignment's own), the student's
    full name (Moodle's), when the file was handed in (Blackboard writes its server's time, taken
    as UTC; nbgrader's timestamp format) and whether the platform marked it late."""

    notebook: str
    platform: str | None = None
    student: str | None = None
    handed_in: str | None = None
    late: bool = False
    name: str | None = None


def submission_pattern(stems: Sequence[str]) -> re.Pattern[str]:
    """The regular expression of the file names :func:`parse_submission_name` takes for the
    notebooks named ``stems`` (``"03_training"``): group ``notebook`` is the notebook's name."""
    names = "|".join(re.escape(stem) for stem in stems)
    lms = "|".join(f"(?:{prefix})" for prefix in LMS_PREFIXES.values())
    return re.compile(rf"(?:{lms})?{COPY_PREFIX}(?P<notebook>{names}){COPY_SUFFIX}\.ipynb", re.IGNORECASE)


def parse_submission_name(name: str, stems: Sequence[str]) -> SubmissionName | None:
    """What the file name ``name`` says (see :class:`SubmissionName`), or None when it is no notebook
    of ``stems``: the name as released ("03_training.ipynb"), or as Colab, Google Drive or a browser
    save a copy ("Copy of 03_training.ipynb", "03_training (1).ipynb"), or as Canvas, Blackboard or
    Moodle name it in a bulk download ("smithjane_LATE_12345_67890_03_training.ipynb",
    "Week 3_jdoe_attempt_2026-10-02-10-11-12_03_training.ipynb",
    "Jane Smith_4242_assignsubmission_file_03_training.ipynb"), in any case. Only ``.ipynb`` files
    match; another notebook's number, or a name of no notebook, does not."""
    found = submission_pattern(stems).fullmatch(name)
    if found is None:
        return None
    notebook = next(stem for stem in stems if stem.lower() == found["notebook"].lower())
    groups = found.groupdict()
    platform = next((lms for lms, group in STUDENT_GROUPS.items() if groups.get(group)), None)
    handed_in = None
    if groups.get("handed_in"):
        when = datetime.strptime(groups["handed_in"], "%Y-%m-%d-%H-%M-%S").replace(tzinfo=UTC)
        handed_in = when.strftime("%Y-%m-%d %H:%M:%S.%f %Z")
    return SubmissionName(notebook, platform, groups.get(STUDENT_GROUPS[platform]) if platform else None,
                          handed_in, bool(groups.get("late")), groups.get("moodle_name"))
