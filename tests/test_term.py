"""A term with tools/editions.py: the exchange set up by one command, a roster, collection from the
exchange and from a platform's zip (nbgrader's zip_collect with the series' collector), grading in
parallel on Dask, feedback and the grades exported for Canvas and Moodle.

The fast tests check the parts without running a notebook; the slow one takes a synthetic class of
fourteen submissions of notebook 01 (the fastest to grade) through the whole term.
"""

import csv
import os
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import pytest

from vae_bench import grade_class
from vae_machinery.submissions import parse_submission_name
from vae_tools import editions

ROOT = Path(__file__).resolve().parent.parent

DATA = editions.series()[0]  # 01_data


@pytest.mark.parametrize(("name", "platform", "student", "handed_in", "late"), [
    ("01_data.ipynb", None, None, None, False),
    ("Copy of 01_data (1).ipynb", None, None, None, False),
    ("smithjane_12345_67890_01_data.ipynb", "Canvas", "12345", None, False),
    ("smithjane_LATE_12345_67890_Copy of 01_data-1.ipynb", "Canvas", "12345", None, True),
    ("Week 1_bwong_attempt_2026-10-02-10-11-12_01_data.ipynb", "Blackboard", "bwong",
     "2026-10-02 10:11:12.000000 UTC", False),
    ("Ana Lima_4242_assignsubmission_file_01_data (1).ipynb", "Moodle", "4242", None, False),
])
def test_a_files_name_says_whose_notebook_it_is(name, platform, student, handed_in, late):
    found = parse_submission_name(name, ["01_data", "02_model"])
    assert (found.notebook, found.platform, found.student, found.handed_in, found.late) == (
        "01_data", platform, student, handed_in, late)


def test_the_course_config_names_the_course_and_exchange_and_loads_the_projects(tmp_path):
    config = editions.setup_course(tmp_path / "course", "vae101", tmp_path / "exchange")
    text = config.read_text()
    assert "c.CourseDirectory.course_id = 'vae101'" in text
    assert f"c.Exchange.root = {str((tmp_path / 'exchange').resolve())!r}" in text
    assert f"load_subconfig({str(ROOT / 'nbgrader_config.py')!r})" in text
    assert oct((tmp_path / "exchange").stat().st_mode & 0o777) == oct(0o777)
    editions.write_course_config(tmp_path / "course")  # without a course id: kept as it is
    assert config.read_text() == text
    with pytest.raises(SystemExit, match="course id 'vae 101'"):
        editions.setup_course(tmp_path / "course", "vae 101", tmp_path / "exchange")


def test_a_roster_without_its_columns_is_refused_with_what_it_has(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("Student,Email\nJane Smith,jane@example.org\n")
    with pytest.raises(SystemExit,
                       match=r"no column id, first_name, last_name, email \(it has Student, Email\)"):
        editions.import_roster(tmp_path / "course", roster)
    roster.write_text("id,first_name,last_name,email\n,Jane,Smith,jane@example.org\n")
    with pytest.raises(SystemExit, match="line 2 has no id"):
        editions.import_roster(tmp_path / "course", roster)


def test_the_extractor_keeps_the_archives_times(tmp_path):
    from vae_machinery.nbgrader_plugins import TimeKeepingExtractor

    archive = tmp_path / "archive"
    archive.mkdir()
    with zipfile.ZipFile(archive / "download.zip", "w") as handle:
        info = zipfile.ZipInfo("smithjane_12345_67890_01_data.ipynb", (2026, 10, 2, 10, 11, 12))
        handle.writestr(info, "{}")
    TimeKeepingExtractor().extract(str(archive), str(tmp_path / "out"))
    written = tmp_path / "out" / "download" / "smithjane_12345_67890_01_data.ipynb"
    assert written.stat().st_mtime == datetime(2026, 10, 2, 10, 11, 12, tzinfo=UTC).timestamp()


def _nbgrader_as_student(home: Path, *args: str, exchange: Path) -> None:
    """A student's nbgrader command, run from their home folder (not the course's), with the two
    settings the students' side needs given on the command line."""
    subprocess.run([editions._nbgrader(), *args, "--course=vae101", f"--Exchange.root={exchange}"],
                   cwd=home, check=True, capture_output=True, text=True,
                   env={**os.environ, "HOME": str(home)})


@pytest.mark.slow
def test_a_term_release_collect_grade_in_parallel_feedback_and_export(tmp_path, monkeypatch, mnist_dir):
    """Notebook 01 through a term: released through the exchange, handed in by six students there
    and by seven in a Canvas, Moodle and Blackboard download (perfect, partial, wrong, empty, broken
    JSON, a cell that never ends; renamed by Colab and the platforms; one late, one handed in
    twice; files of no one and no notebook beside them), collected both ways, graded in parallel,
    fed back (through the exchange too) and exported. Every submission is graded or reported with
    its reason, nothing collected is deleted, every roster student has one row in each export and
    every graded submission its feedback."""
    monkeypatch.setenv("VAE_DATA_DIR", str(mnist_dir))
    course, exchange = tmp_path / "course", tmp_path / "exchange"
    editions.setup_course(course, "vae101", exchange)
    editions.release(course, DATA)
    due = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=30)  # zip times: 2 s steps
    editions.set_due_date(course, DATA, due.strftime("%Y-%m-%d %H:%M:%S UTC"))

    # Six students through the exchange: fetch, answer, submit (nbgrader's own commands)
    by_exchange = {"alice": "perfect", "bob": "partial", "carol": "wrong", "dan": "empty",
                   "erin": "never_ends", "frank": "broken"}
    for student, kind in by_exchange.items():
        home = tmp_path / "home" / student
        home.mkdir(parents=True)
        _nbgrader_as_student(home, "fetch_assignment", "01_data", exchange=exchange)
        (home / "01_data" / "01_data.ipynb").write_text(grade_class.submission(kind, DATA))
        _nbgrader_as_student(home, "submit", "01_data", f"--student={student}", exchange=exchange)
    submitted = editions.collect_exchange(course, DATA)
    collected_before = {p: p.read_bytes() for p in submitted.rglob("*") if p.is_file()}
    handed_in = sorted(p.parent.parent.name for p in collected_before if p.name == "01_data.ipynb")
    assert handed_in == sorted(by_exchange)

    # The roster first: a Moodle file is its student by name
    platform_ids = {"12345": ("Jane", "Smith"), "23456": ("John", "Doe"), "alima": ("Ana", "Lima"),
                    "bwong": ("Bo", "Wong"), "34567": ("Kim", "Lee"), "45678": ("Min", "Park"),
                    "rcosta": ("Rui", "Costa")}
    names = {**{s: (f"First{s}", f"Last{s}") for s in [*by_exchange, "gina"]}, **platform_ids}
    ids = sorted(names)  # gina hands nothing in
    roster = tmp_path / "roster.csv"
    roster.write_text("\ufeffid,first_name,last_name,email\n" + "".join(  # a spreadsheet's byte-order mark
        f"{i},{first},{last},{i}@example.org\n" for i, (first, last) in names.items()))
    assert editions.import_roster(course, roster) == len(ids)

    # Eight files in a platform's download (one zip: Canvas, Moodle, Blackboard), and four that are not
    on_time, late = ((due + hours).timetuple()[:6] for hours in (timedelta(hours=-12), timedelta(hours=9.5)))
    earlier = (due - timedelta(days=2)).timetuple()[:6]
    download = {"smithjane_12345_67890_01_data.ipynb": ("perfect", on_time),
                "smithjane_12345_67000_01_data.ipynb": ("wrong", earlier),  # her first try: not kept
                "doejohn_LATE_23456_78901_Copy of 01_data.ipynb": ("partial", late),
                "Ana Lima_4242_assignsubmission_file_01_data (1).ipynb": ("wrong", on_time),
                "Week 1_bwong_attempt_2026-10-02-10-11-12_01_data.ipynb": ("perfect", on_time),
                "leekim_34567_89012_COPY_OF_01_data.ipynb": ("empty", on_time),
                "parkmin_45678_90123_01_data (2).ipynb": ("broken", on_time),
                "Rui Costa_5151_assignsubmission_file_01_data.ipynb": ("perfect", on_time),
                "01_data.ipynb": ("perfect", on_time),  # no student's id in the name
                "smithjane_12345_67891_notes.ipynb": ("perfect", on_time),  # no notebook of 01
                # not on the roster
                "Ana Nobody_4243_assignsubmission_file_01_data.ipynb": ("perfect", on_time),
                "Week 1_bwong_attempt_2026-10-02-10-11-12.txt": ("perfect", on_time)}  # Blackboard's receipt
    with zipfile.ZipFile(tmp_path / "submissions.zip", "w") as handle:
        for name, (kind, when) in download.items():
            handle.writestr(zipfile.ZipInfo(name, when), grade_class.submission(kind, DATA))
        handle.writestr("__MACOSX/._01_data.ipynb", "macOS's")  # left out without a word
    collected = editions.collect_download(course, DATA, [tmp_path / "submissions.zip"])
    by_platform = {"12345": "perfect", "23456": "partial", "alima": "wrong", "bwong": "perfect",
                   "34567": "empty", "45678": "broken", "rcosta": "perfect"}
    assert collected.students == sorted(by_platform)
    assert sorted(collected.skipped) == [
        "01_data.ipynb: no student's id in its name",
        "Ana Nobody_4243_assignsubmission_file_01_data.ipynb: Moodle's name 'Ana Nobody' is no student "
        "of the roster",
        "Week 1_bwong_attempt_2026-10-02-10-11-12.txt: not a notebook of this assignment",
        "smithjane_12345_67000_01_data.ipynb: another file of 12345 is later (kept that one)",
        "smithjane_12345_67891_notes.ipynb: not a notebook of this assignment"]
    zipped_before = {p: p.read_bytes() for p in collected.folder.rglob("*") if p.is_file()}
    assert (collected.folder / "23456" / "01_data" / "timestamp.txt").read_text().startswith(
        datetime(*late).strftime("%Y-%m-%d %H:%M:%S"))
    blackboard = collected.folder / "bwong" / "01_data" / "timestamp.txt"  # the time in its name
    assert blackboard.read_text().startswith("2026-10-02 10:11:12")

    folders = sorted(submitted.iterdir()) + sorted(collected.folder.iterdir())
    report = editions.grade(folders, course, [DATA], runs=tmp_path / "no-runs", workers=2, timeout=20)

    points = {student: rows["01_data"].auto for student, rows in report.items()}
    kinds = {**by_exchange, **by_platform}
    expected = {"perfect": 3, "partial": 2, "wrong": 0, "empty": 0, "never_ends": 0}
    assert points == {s: expected[k] for s, k in kinds.items() if k != "broken"}
    assert sorted(f.student for f in report.failures) == ["45678", "frank"]
    assert all("NotJSONError" in f.reason for f in report.failures)
    assert report.tasks == 13
    assert report["23456"]["01_data"].late == pytest.approx(9.5 * 3600, abs=1)
    assert all(rows["01_data"].late == 0 for s, rows in report.items() if s != "23456")

    # nothing collected is deleted: what grading replaced in submitted/ is kept whole in superseded/
    def kept(folder: Path, depth: int) -> set[tuple[str, str, bytes]]:  # (student, file name, bytes)
        return {(p.parents[depth].name, p.name, p.read_bytes()) for p in folder.rglob("*") if p.is_file()}

    assert {(p.parents[1].name, p.name, data) for p, data in collected_before.items()} <= (
        kept(course / "superseded", 2) | kept(submitted, 1))
    assert {p: p.read_bytes() for p in collected.folder.rglob("*") if p.is_file()} == zipped_before
    assert not (course / "grading").exists() or not any((course / "grading").rglob("*.db"))

    graded = nbformat.read(course / "autograded" / "alice" / "01_data" / "01_data.ipynb", as_version=4)
    rubrics = [i for i, cell in enumerate(graded.cells)
               if editions.RUBRIC_TAG in cell.metadata.get("tags", [])]
    assert len(rubrics) == 3, "each written answer's rubric, for the formgrader"
    assert all(graded.cells[i - 1].metadata["nbgrader"]["grade_id"].endswith("-why") for i in rubrics)

    # the formgrader renders with the course's settings: the rubrics stay; the feedback leaves them out
    from nbconvert import HTMLExporter
    from traitlets.config.loader import PyFileConfigLoader

    settings = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    assert "for the grader" in HTMLExporter(config=settings).from_notebook_node(graded)[0]
    feedback = editions.generate_feedback(course, [DATA], release_to_exchange=True)
    assert sorted(p.parent.parent.name for p in feedback) == sorted(points)
    alice = (course / "feedback" / "alice" / "01_data" / "01_data.html").read_text()
    assert "for the grader" not in alice and "Rubric" not in alice
    _nbgrader_as_student(tmp_path / "home" / "alice", "fetch_feedback", "01_data", "--student=alice",
                         exchange=exchange)
    fetched = list((tmp_path / "home" / "alice" / "01_data" / "feedback").rglob("01_data.html"))
    assert len(fetched) == 1 and fetched[0].read_text() == alice, "alice fetches her feedback"

    files = editions.export_grades(course, tmp_path / "grades")
    for name, id_columns in (("canvas", ("ID", "SIS User ID")), ("moodle", ("ID number",))):
        rows = list(csv.DictReader(files[name].open()))
        row_ids = ["".join(row[column] for column in id_columns) for row in rows]
        assert sorted(row_ids) == sorted(ids), name
        scores = {i: float(row["01_data"]) for i, row in zip(row_ids, rows, strict=True)}
        assert scores["alice"] == 3 and scores["gina"] == 0 and scores["frank"] == 0, scores
    nbgrader_rows = list(csv.DictReader(files["grades"].open()))
    assert sorted(row["student_id"] for row in nbgrader_rows) == sorted(ids)
    assert {row["email"] for row in nbgrader_rows if row["student_id"] == "alice"} == {"alice@example.org"}


def test_each_written_answer_gets_its_rubric_below_it_once(tmp_path):
    graded = tmp_path / "01_data.ipynb"
    graded.write_bytes((editions.STUDENT_EDITION / "01_data.ipynb").read_bytes())
    assert editions.add_rubrics(graded, DATA) == 3
    assert editions.add_rubrics(graded, DATA) == 3, "grading again replaces them"
    cells = nbformat.read(graded, as_version=4).cells
    for i, cell in enumerate(cells):
        if editions.RUBRIC_TAG in cell.metadata.get("tags", []):
            answer = cells[i - 1].metadata["nbgrader"]["grade_id"]
            source = next(c for c in nbformat.read(DATA, as_version=4).cells
                          if c.metadata.get("nbgrader", {}).get("grade_id") == answer)
            rubric = cell.source.removeprefix("> **Rubric, for the grader (1 point):** ")
            assert rubric != cell.source and f"**Rubric (1 point):** {rubric}" in source.source
    assert editions.add_rubrics(graded, tmp_path / "no-source.ipynb") == 0
