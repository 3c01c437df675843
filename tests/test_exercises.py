"""The notebooks' exercises are nbgrader assignments, and their checks give nothing away.

Every exercise is three cells (see nbgrader_config.py):

* an answer cell (tag ``exercise``, an nbgrader "autograded answer"):
  ``name = None`` for the student, then the worked solution between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION``, collapsed in JupyterLab;
* a self-check cell (tag ``exercise-check``, an nbgrader "autograder test"
  worth one point, locked): ``vh.check("NN.k", name, ...)`` and, between
  ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``, the same call to
  ``vh.grade``. The expected answer is computed in vae_machinery/exercises.py,
  never written in the cell;
* an explanation cell (tag ``exercise-explanation``, an nbgrader "manually
  graded answer" worth no points) with our explanation in ``<details>``.

The committed notebooks run the worked solutions, so every self-check's
stored output is "Correct!" and nbval re-checks it; 07's solutions run in
test_experiments.py. Whether each check accepts right answers in their usual
forms and rejects wrong ones: tests/test_exercise_answers.py.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import vae_helpers as vh

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PUBLIC_CHECK = re.compile(
    r'# Self-check: run this cell\.\nvh\.check\("(\d\d)\.(\d)", (\w+)((?:, \w+=\w+)*)\)')
HIDDEN = "\n### BEGIN HIDDEN TESTS\n{}\n### END HIDDEN TESTS"
ANSWER = re.compile(r"\A(?:#[^\n]*\n)+(\w+) = None\n### BEGIN SOLUTION\n.+\n### END SOLUTION\Z", re.S)


def exercises(nb):
    """(exercise id, answer cell, check cell, explanation cell, prompt cell) for every exercise."""
    found = []
    for i, cell in enumerate(nb.cells):
        if "exercise" in cell.metadata.get("tags", []):
            check, explanation = nb.cells[i + 1], nb.cells[i + 2]
            match = PUBLIC_CHECK.match(check.source)
            assert match, f"cell {i + 1} is not a self-check: {check.source!r}"
            found.append((f"{match[1]}.{match[2]}", cell, check, explanation, nb.cells[i - 1]))
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_is_an_answer_a_check_and_an_explanation(path):
    nb = nbformat.read(path, as_version=4)
    found = exercises(nb)
    assert [e for e, *_ in found] == [f"{path.name[:2]}.{k}" for k in range(1, len(found) + 1)], \
        "exercises are numbered 1, 2, ... within the notebook, in order"
    for exercise, answer, check, explanation, prompt in found:
        number = exercise.split(".")[1]
        variable = ANSWER.match(answer.source)
        assert variable, f"{exercise}: answer cell is not 'name = None' + solution: {answer.source!r}"
        assert answer.source.startswith(f"# Exercise {number}:"), exercise
        assert f"Exercise {number}" in prompt.source, f"{exercise}: the prompt above says which exercise"
        assert f"`{variable[1]}`" in prompt.source or variable[1].startswith("my_"), \
            f"{exercise}: the prompt names the variable {variable[1]}"
        assert answer.metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True}, exercise
        public = PUBLIC_CHECK.match(check.source)
        assert public[3] == variable[1], f"{exercise}: the check grades {public[3]}, not {variable[1]}"
        call = public[0].split("\n")[1]
        assert check.source == public[0] + HIDDEN.format(call.replace("vh.check(", "vh.grade(")), exercise
        assert explanation.source.startswith("<details><summary><b>Our explanation</b>"), exercise
        assert "exercise-explanation" in explanation.metadata.get("tags", []), exercise
        gid = "ex" + exercise.replace(".", "-")
        assert answer.metadata["nbgrader"] == {"grade": False, "solution": True, "locked": False,
                                               "grade_id": f"{gid}-answer", "schema_version": 3}
        assert check.metadata["nbgrader"] == {"grade": True, "solution": False, "locked": True, "points": 1,
                                              "grade_id": f"{gid}-check", "schema_version": 3}
        why = {"grade": True, "solution": True, "locked": False, "points": 0, "grade_id": f"{gid}-why",
               "schema_version": 3}
        assert explanation.metadata["nbgrader"] == why, exercise


def test_the_checks_are_the_exercises_of_vae_helpers():
    ids = [e for path in NOTEBOOKS for e, *_ in exercises(nbformat.read(path, as_version=4))]
    assert sorted(ids) == sorted(vh.EXERCISES), "every exercise has its cells, every cell its exercise"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_ends_with_two_or_three_questions_and_a_summary(path):
    nb = nbformat.read(path, as_version=4)
    values = [e for e, *_ in exercises(nb) if vh.EXERCISES[e].code_check is None]
    assert 2 <= len(values) <= 3
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "**You will learn**" in nb.cells[0].source
    assert "## Summary" in text


def test_the_series_asks_for_at_least_four_pieces_of_vae_code():
    """Write-the-code exercises, each checked by behaviour (tests/test_code_exercises.py)."""
    kinds = {spec.code_check.__name__ for spec in vh.EXERCISES.values() if spec.code_check is not None}
    assert len(kinds) >= 4, sorted(kinds)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_committed_worked_solutions_pass_their_checks(path):
    """The committed run executed every solution: each check printed "Correct!" (nbval
    re-checks this on every run) and the hidden test raised nothing."""
    for exercise, answer, check, *_ in exercises(nbformat.read(path, as_version=4)):
        assert check.get("execution_count"), f"{exercise}: check cell not executed"
        text = "".join(o.get("text", "") for o in check.outputs)
        assert text == "Correct!\n", f"{exercise}: {text!r}"
        assert not [o for o in answer.outputs + check.outputs if o.output_type == "error"], exercise


def test_the_student_edition_has_no_solutions_and_no_hidden_tests(tmp_path):
    """nbgrader's generate_assignment, with the project's nbgrader_config.py, turns the
    committed notebooks into a student edition that gives nothing away."""
    nbgrader = shutil.which("nbgrader", path=str(Path(sys.executable).parent))
    assert nbgrader, "nbgrader is installed with requirements.txt"
    source = tmp_path / "source" / "vae"
    source.mkdir(parents=True)
    for path in NOTEBOOKS:
        shutil.copy(path, source)
    subprocess.run([nbgrader, "generate_assignment", "vae", f"--CourseDirectory.root={tmp_path}", "--no-db",
                    "--force"], cwd=ROOT, check=True, capture_output=True, text=True)
    for path in NOTEBOOKS:
        committed = nbformat.read(path, as_version=4)
        student = nbformat.read(tmp_path / "release" / "vae" / path.name, as_version=4)
        text = "\n".join(c.source for c in student.cells)
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "vh.grade(", "Our explanation"):
            assert marker not in text, f"{path.name}: {marker!r} in the student edition"
        assert not any(c.get("outputs") for c in student.cells if c.cell_type == "code"), "outputs cleared"
        for (exercise, answer, check, *_), (_, s_answer, s_check, s_expl, _) in zip(exercises(committed),
                                                                                   exercises(student)):
            solution = answer.source.split("### BEGIN SOLUTION\n")[1].split("\n### END SOLUTION")[0]
            assert solution not in text, f"{exercise}: solution in the student edition"
            assert s_answer.source == answer.source.split("### BEGIN SOLUTION")[0] + "# YOUR CODE HERE"
            assert s_check.source == check.source.split("\n### BEGIN HIDDEN TESTS")[0]
            assert s_expl.source == "*Your explanation (a sentence or two):*"
