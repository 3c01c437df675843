"""The student and instructor editions, and grading them with nbgrader (tools/editions.py).

The student edition must give nothing away; grading must be right at both
ends and in between: the worked solutions (the instructor edition) score full
marks, an untouched student notebook scores zero without crashing, and a
notebook with one wrong answer loses exactly that exercise's point. Grading
executes the notebooks, so this uses the two that need no trained model
(01 and 02: 9 exercises), three submissions, about a minute.
"""

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import editions  # noqa: E402

FAST = [ROOT / "notebooks" / "01_data.ipynb", ROOT / "notebooks" / "02_model.ipynb"]


def test_student_edition_gives_nothing_away_and_opens_the_answer_cells(tmp_path):
    written = editions.student_edition(tmp_path / "student", course=tmp_path / "course")
    assert [p.name for p in written] == [p.name for p in editions.series()]
    for path in written:
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(cell.source for cell in nb.cells)
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "vh.grade(" not in text
        assert "Our explanation" not in text
        answers = [c for c in nb.cells if "exercise" in c.metadata.get("tags", [])]
        assert answers and all("jupyter" not in c.metadata for c in answers), "answer cells open for typing"
        assert all(c.source.endswith("= None\n# YOUR CODE HERE") for c in answers)
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_instructor_edition_is_the_committed_series(tmp_path):
    written = editions.instructor_edition(tmp_path / "instructor")
    for path in written:
        committed = nbformat.read(ROOT / "notebooks" / path.name, as_version=4)
        assert nbformat.read(path, as_version=4) == committed


def test_student_notebook_for_the_site_keeps_the_lesson_outputs():
    committed = nbformat.read(FAST[0], as_version=4)
    student = editions.student_notebook(committed)
    text = "\n".join(cell.source for cell in student.cells)
    assert "float(np.mean(data.x_train == 0))" not in text and "Our explanation" not in text
    lesson = [c for c in student.cells if c.cell_type == "code" and not c.metadata.get("tags")]
    assert sum(bool(c.outputs) for c in lesson) >= 5, "the lesson's outputs stay"
    exercise_cells = [c for c in student.cells if c.cell_type == "code" and c.metadata.get("tags")]
    assert exercise_cells and not any(c.outputs for c in exercise_cells), "no 'Correct!' and no answers shown"


def _one_wrong_answer(folder: Path) -> None:
    """The instructor's 02 with exercise 5 (the parameter count) answered wrongly."""
    folder.mkdir()
    nb = nbformat.read(FAST[1], as_version=4)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex02-5-answer")
    answer.source = "# Exercise 5: your answer, an integer.\nn_params = 666_628  # forgot the decoder"
    nbformat.write(nb, folder / FAST[1].name)
    nbformat.write(nbformat.read(FAST[0], as_version=4), folder / FAST[0].name)


@pytest.mark.usefixtures("mnist_dir")
def test_grading_full_marks_zero_and_exactly_one_point_lost(tmp_path, monkeypatch, mnist_dir):
    monkeypatch.setenv("VAE_DATA_DIR", str(mnist_dir))
    submissions = tmp_path / "submissions"
    editions.instructor_edition(submissions / "teacher", FAST)
    editions.student_edition(submissions / "untouched", course=tmp_path / "scratch", notebooks=FAST)
    _one_wrong_answer(submissions / "one_wrong")
    scores = editions.grade([submissions / name for name in ("teacher", "untouched", "one_wrong")],
                            tmp_path / "course", FAST)
    assert scores["teacher"]["max_score"] == 9  # 3 exercises in 01, 6 in 02, one point each
    assert scores["teacher"]["score"] == 9
    assert scores["untouched"]["score"] == 0
    assert scores["one_wrong"]["score"] == 8
    assert scores["one_wrong"]["02_model"] == 5 and scores["one_wrong"]["01_data"] == 3
