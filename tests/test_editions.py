"""The student and instructor editions, and grading them with nbgrader (tools/editions.py).

The student edition must give nothing away, and neither may the package a
student installs; grading must be right at both ends and in between: the
worked solutions (the instructor edition) get every autograded point, an
untouched student notebook gets none without crashing, a notebook with one
wrong answer loses exactly that exercise's point, and answers taken from the
package (the series' own functions, a look-up of an answer) score nothing.

The student edition is built once for the module. Grading notebooks 01 and 02
(no trained model needed) runs in a minute; grading all ten notebooks is in
``test_grading_every_notebook_of_the_series`` (slow: the full check only).
"""

import re
import tempfile
from pathlib import Path

import nbformat
import pytest

from vae_tools import editions

ROOT = Path(__file__).resolve().parent.parent

NOTEBOOKS = editions.series()
FAST = NOTEBOOKS[:2]  # 01_data, 02_model: 9 exercises, no trained model needed
SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)\n### END SOLUTION", re.S)


def _exercise_cells(nb):
    return [c for c in nb.cells if "exercise" in c.metadata.get("tags", [])]


@pytest.fixture
def student(student_edition):
    """The student edition of the whole series, and its nbgrader course folder (once per session)."""
    return student_edition


@pytest.mark.slow
def test_each_notebook_is_released_as_an_assignment_of_its_own(student):
    root, written = student
    assert [p.name for p in written] == [p.name for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        released = root / "course" / "release" / path.stem
        assert sorted(p.name for p in released.iterdir()) == [path.name], path.stem


@pytest.mark.slow
def test_the_committed_student_edition_is_up_to_date(student):
    """editions/student/notebooks/ (what the Colab badges and the student site's launch buttons open)
    is what `python tools/editions.py student` makes of the committed notebooks now."""
    _, written = student
    committed = sorted(editions.STUDENT_EDITION.glob("*.ipynb"))
    assert [p.name for p in committed] == [p.name for p in written]
    stale = [p.name for p, new in zip(committed, written) if p.read_bytes() != new.read_bytes()]
    assert not stale, f"run `python tools/editions.py student`: {stale} are out of date"


def test_the_colab_badges_open_the_student_edition_and_are_up_to_date(tmp_path):
    """One badge per notebook and one in the README, from pyproject.toml's Repository, opening the
    committed student edition; none when the repository is not on GitHub or not set."""
    import shutil

    from vae_tools import badges

    assert badges.updated() == {}, "run `python tools/badges.py`"
    url = badges.repository_url()
    for path in NOTEBOOKS:
        first = nbformat.read(path, as_version=4).cells[0].source
        assert badges.badge(badges.colab_url(url, path.name, badges.release_tag())) in first
        assert f"/blob/{badges.release_tag()}/editions/student/notebooks/{path.name})" in first
        assert (editions.STUDENT_EDITION / path.name).is_file()
    copy = tmp_path / "copy"
    (copy / "notebooks").mkdir(parents=True)
    shutil.copy(ROOT / "README.md", copy / "README.md")
    shutil.copy(NOTEBOOKS[3], copy / "notebooks" / NOTEBOOKS[3].name)
    (copy / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "2.0"\n')  # no Repository
    changes = badges.updated(copy)
    assert set(changes) == {copy / "README.md", copy / "notebooks" / NOTEBOOKS[3].name}
    readme = changes[copy / "README.md"]
    assert "colab" not in readme[readme.index(badges.README_START):readme.index(badges.README_END)].lower()
    first = nbformat.reads(changes[copy / "notebooks" / NOTEBOOKS[3].name], as_version=4).cells[0].source
    assert "colab" not in first.lower() and first.startswith("# 4 · Reconstructions\n\n**Goal.**")
    moved = badges.updated(copy, "https://github.com/a-teacher/vae-course")
    moved_nb = moved[copy / "notebooks" / NOTEBOOKS[3].name]
    assert "github/a-teacher/vae-course/blob/v2.0/editions/student/notebooks/04_" in moved_nb
    assert 'helpers = \\"git+https://github.com/a-teacher/vae-course@v2.0\\"' in moved_nb  # the setup cell


@pytest.mark.slow
def test_the_student_edition_gives_nothing_away_and_opens_the_answer_cells(student):
    _, written = student
    for committed_path, path in zip(NOTEBOOKS, written):
        nb = nbformat.read(path, as_version=4)
        committed = nbformat.read(committed_path, as_version=4)
        text = "\n".join(cell.source for cell in nb.cells)
        for marker in ("BEGIN SOLUTION", "HIDDEN TESTS", "vae_answers", "Our explanation", "Rubric"):
            assert marker not in text, f"{path.name}: {marker!r} in the student edition"
        assert not any(editions.INSTRUCTOR_ONLY in c.metadata.get("tags", []) for c in nb.cells)
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "outputs cleared"
        answers = _exercise_cells(nb)
        assert len(answers) == len(_exercise_cells(committed)), path.name
        for answer, original in zip(answers, _exercise_cells(committed)):
            assert "jupyter" not in answer.metadata, "answer cells open for typing"
            assert answer.source == original.source.split("### BEGIN SOLUTION")[0] + "# YOUR CODE HERE"
            assert SOLUTION.search(original.source)[1] not in text, f"{path.name}: a solution is there"
        checks = [c for c in nb.cells if "exercise-check" in c.metadata.get("tags", [])]
        assert all(c.source.startswith("# Self-check: run this cell.\nvh.check(") for c in checks)
        assert all(len(c.source.splitlines()) == 2 for c in checks), "the public line only"
        explanations = [c for c in nb.cells if "exercise-explanation" in c.metadata.get("tags", [])]
        assert all(c.source == "*Your explanation (a sentence or two):*" for c in explanations)


def _value_solution_lines():
    """The lines of the worked solutions of value exercises that compute something (long
    enough to be distinctive, and not a line the lessons show anyway, such as drawing z with
    vh.reparameterize): none may be found where a student looks."""
    notebooks = [nbformat.read(path, as_version=4) for path in NOTEBOOKS]
    lesson = "\n".join(c.source for nb in notebooks for c in nb.cells if not c.metadata.get("tags"))
    lines = set()
    for nb in notebooks:
        for cell in _exercise_cells(nb):
            code = SOLUTION.search(cell.source)[1]
            if "def my_" in code:  # a write-the-code exercise: see the test below
                continue
            for line in code.splitlines():
                line = line.split("#")[0].strip()
                if (len(line) >= 24 and "=" in line and not line.startswith(("print(", "plt.", "fig"))
                        and line not in lesson):
                    lines.add(line)
    return lines


@pytest.mark.slow
def test_no_expected_answer_code_in_the_student_edition_or_the_package(student):
    """What a student receives and imports: the student edition and the package (src/). Neither
    holds the hidden tests' module, an answer table, or a line of a value exercise's solution.
    (The VAE's own functions, which 02 and 03 ask the students to write, are the model's code in
    vae_helpers.py; the checks reject them as answers: tests/test_code_exercises.py.)"""
    _, written = student
    files = list(written) + sorted((ROOT / "src").rglob("*.py"))
    texts = {path: path.read_text() for path in files}
    solutions = _value_solution_lines()
    assert len(solutions) >= 15, sorted(solutions)
    for path, text in texts.items():
        markers = ("vae_answers", "BEGIN SOLUTION") if path.suffix == ".ipynb" else (
            "import vae_answers", "from vae_answers", "ANSWERS", "same_answer")  # the docs may name it
        for marker in markers:
            assert marker not in text, f"{path}: {marker}"
        found = [line for line in solutions if line in text]
        assert not found, f"{path} holds solution code: {found}"


def test_instructor_edition_is_the_committed_series(tmp_path):
    written = editions.instructor_edition(tmp_path / "instructor", FAST)
    for path in written:
        committed = nbformat.read(ROOT / "notebooks" / path.name, as_version=4)
        assert nbformat.read(path, as_version=4) == committed


def test_student_notebook_for_the_site_keeps_the_lesson_outputs():
    committed = nbformat.read(FAST[0], as_version=4)
    student = editions.student_notebook(committed)
    text = "\n".join(cell.source for cell in student.cells)
    assert "BEGIN SOLUTION" not in text and "Our explanation" not in text and "vae_answers" not in text
    lesson = [c for c in student.cells if c.cell_type == "code" and not c.metadata.get("tags")]
    assert sum(bool(c.outputs) for c in lesson) >= 5, "the lesson's outputs stay"
    exercise_cells = [c for c in student.cells if c.cell_type == "code" and c.metadata.get("tags")
                      and editions.EXERCISE_TAGS & set(c.metadata["tags"])]
    assert exercise_cells and not any(c.outputs for c in exercise_cells), "no answers shown"


def _answer_cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _edited(folder: Path, path: Path, answers: dict[str, str]) -> None:
    """The instructor's ``path`` with the answer cells ``answers`` (grade id -> source) replaced."""
    folder.mkdir(exist_ok=True)
    nb = nbformat.read(path, as_version=4)
    for grade_id, source in answers.items():
        _answer_cell(nb, grade_id).source = source
    nbformat.write(nb, folder / path.name)


def _one_wrong_answer(folder: Path) -> None:
    """The instructor's 01 and 02, with 01's exercise 1 answered wrongly (a count, not a fraction)."""
    _edited(folder, FAST[0], {"ex01-1-answer": "fraction_zero = int((data.x_train == 0).sum())"})
    _edited(folder, FAST[1], {})


def _answers_from_the_package(folder: Path) -> None:
    """The instructor's 01 and 02, with four answers taken from the package instead of written:
    the series' own functions (as they are, and wrapped) and a look-up of an answer table."""
    _edited(folder, FAST[0], {"ex01-1-answer": 'fraction_zero = vh.EXERCISES["01.1"].answer(data=data)'})
    _edited(folder, FAST[1], {
        "ex02-1-answer": "my_reparameterize = vh.reparameterize",
        "ex02-2-answer": "def my_kl_divergence(z_mean, z_log_var):\n"
                         "    return vh.kl_divergence(z_mean, z_log_var)",
        "ex02-3-answer": "from vae_helpers import vae_loss as my_vae_loss",
    })


def _points(scores, student):
    return {name: score.auto for name, score in scores[student].items()}


@pytest.mark.slow
@pytest.mark.usefixtures("mnist_dir")
def test_grading_01_and_02(tmp_path, monkeypatch, mnist_dir):
    """Full marks, zero, one point lost, and four answers from the package worth nothing."""
    monkeypatch.setenv("VAE_DATA_DIR", str(mnist_dir))
    submissions = tmp_path / "submissions"
    editions.instructor_edition(submissions / "teacher", FAST)
    editions.student_edition(submissions / "untouched", course=tmp_path / "scratch", notebooks=FAST)
    _one_wrong_answer(submissions / "one_wrong")
    _answers_from_the_package(submissions / "from_the_package")
    scores = editions.grade([submissions / name for name in ("teacher", "untouched", "one_wrong",
                                                              "from_the_package")],
                            tmp_path / "course", FAST, runs=tmp_path / "no-runs")
    assert not scores.failures and not scores.skipped, (scores.failures, scores.skipped)
    full = {name: score.auto_max for name, score in scores["teacher"].items()}
    assert full == {"01_data": 3, "02_model": 6}, full
    assert _points(scores, "teacher") == full
    assert all(score.written_max == score.auto_max for score in scores["teacher"].values()), \
        "every exercise has a written answer worth a point"
    assert _points(scores, "untouched") == {"01_data": 0, "02_model": 0}
    assert _points(scores, "one_wrong") == {"01_data": 2, "02_model": 6}
    assert _points(scores, "from_the_package") == {"01_data": 2, "02_model": 3}


def test_grading_parameters_are_injected_after_the_parameters_cell(tmp_path):
    nb = nbformat.read(NOTEBOOKS[2], as_version=4)
    parameters = editions.grading_parameters(NOTEBOOKS[2], tmp_path, {"EPOCHS": 2, "BETAS": [1.0]})
    assert parameters == {"ARTIFACTS_DIR": str(tmp_path), "RESUME": True, "EPOCHS": 2}
    injected = editions.inject_parameters(nb, parameters)
    index = next(i for i, c in enumerate(injected.cells) if "parameters" in c.metadata.get("tags", []))
    cell = injected.cells[index + 1]
    assert "injected-parameters" in cell.metadata["tags"]
    assert "RESUME = True" in cell.source and "EPOCHS = 2" in cell.source


def test_a_linked_copy_of_the_runs_never_changes_the_instructors_files(tmp_path):
    """Graded notebooks save into their copy of the runs: the instructor's files stay as they were."""
    from vae_machinery.files import write_json

    runs = tmp_path / "runs"
    write_json(runs / "experiments" / "run.json", {"loss": 1.0})
    copy = tmp_path / "copy"
    editions.linked_copy(runs, copy)
    original, linked = runs / "experiments" / "run.json", copy / "experiments" / "run.json"
    assert linked.stat().st_ino == original.stat().st_ino
    write_json(linked, {"loss": 2.0})
    assert original.read_text() == '{\n  "loss": 1.0\n}\n'


def test_grade_says_which_notebooks_exist():
    with pytest.raises(SystemExit, match="No notebook starts with 99"):
        editions.select(["99"])
    assert [p.stem for p in editions.select(["03", "07"])] == ["03_training", "07_experiments"]


# --------------------------------------------------------------------------
# All ten notebooks (the full check: `make check`)
# --------------------------------------------------------------------------
def _instructor_runs(runs: Path, short_runs) -> None:
    """What the instructor has before grading, in ``runs``: 03's default run (the repository's artifacts/
    after `make run` or nbval, else trained now) and 07-10's short version (tests/conftest.py: run once
    per test session, here linked in)."""
    import papermill as pm

    from vae_machinery.parameters import SERIES_DEFAULTS
    from vae_machinery.runs import read_run

    record = read_run(ROOT / "artifacts")
    trained = record is not None and all(record["settings"].get(k) == SERIES_DEFAULTS[k]
                                         for k in ("EPOCHS", "LATENT_DIM", "HIDDEN_DIM", "BETA", "SEED"))
    editions.linked_copy(ROOT / "artifacts" if trained else runs / "missing", runs)
    if not trained:
        pm.execute_notebook(str(NOTEBOOKS[2]), str(runs / f"instructor-{NOTEBOOKS[2].name}"),
                            parameters={"ARTIFACTS_DIR": str(runs), "DATA_DIR": str(short_runs.mnist_dir),
                                        "IMGS_DIR": str(runs / "imgs")},
                            kernel_name="python3", cwd=str(ROOT / "notebooks"), progress_bar=False)
    for number in short_runs.parameters:
        short_runs(number)
    for folder in short_runs.folder.iterdir():  # experiments/, conditional/, conv/, collapse/
        if folder.is_dir() and folder.name != "imgs":
            editions.linked_copy(folder, runs / folder.name)


@pytest.mark.slow
def test_grading_every_notebook_of_the_series(tmp_path, monkeypatch, mnist_dir, short_runs, capsys):
    """The worked solutions of all ten notebooks get every autograded point on the instructor's
    finished runs (nothing retrains while grading); the time to grade each notebook is printed.

    That an untouched answer scores nothing is checked for every exercise without executing the
    notebooks (tests/test_exercise_answers.py), and through nbgrader for 01 and 02
    (test_grading_01_and_02): grading the untouched edition of all ten again here would double the
    longest test of `make check` and check nothing more."""
    monkeypatch.setenv("VAE_DATA_DIR", str(mnist_dir))
    runs = tmp_path / "runs"
    _instructor_runs(runs, short_runs)
    submissions = tmp_path / "submissions"
    editions.instructor_edition(submissions / "teacher")
    scores = {}
    # The course inside the checkout, as tools/editions.py's default build/editions/course is: notebook 07
    # still reads 03_training.ipynb's defaults from notebooks/ (issue 22 removes that need).
    (ROOT / "build").mkdir(exist_ok=True)
    course = Path(tempfile.mkdtemp(prefix="grading-course-", dir=ROOT / "build"))
    for path in NOTEBOOKS:  # one notebook at a time: 07-10 with their short version
        parameters = short_runs.parameters.get(path.name[:2], {})
        graded = editions.grade([submissions / "teacher"], course, [path], runs=runs, parameters=parameters)
        assert not graded.failures and not graded.skipped, (graded.failures, graded.skipped)
        for student, rows in graded.items():
            scores.setdefault(student, {}).update(rows)
    with capsys.disabled():
        print("\nGrading one submission of each notebook:")
        for name, score in scores["teacher"].items():
            print(f"  {name:<24}{score.line()}")
    assert len(scores["teacher"]) == len(NOTEBOOKS)
    points = {name: (score.auto, score.auto_max) for name, score in scores["teacher"].items()}
    assert all(got == full for got, full in points.values()), points
    for graded in (course / "autograded").rglob("*.ipynb"):
        printed = "".join(o.get("text", "") for c in nbformat.read(graded, as_version=4).cells
                          if c.cell_type == "code" for o in c.outputs)
        assert " trained in " not in printed and "epoch  1/" not in printed, f"{graded} trained a model"
