"""The notebooks' exercises are nbgrader assignments, one per notebook, and their checks give nothing away.

Every exercise is three cells (see nbgrader_config.py):

* an answer cell (tag ``exercise``, an nbgrader "autograded answer"):
  ``name = None`` for the student, then the worked solution between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION``, collapsed in JupyterLab;
* a self-check cell (tag ``exercise-check``, an nbgrader "autograder test"
  worth one point, locked): ``vh.check("NN.k", name, ...)``, which judges
  the answer's form and behaviour without knowing it, and, between
  ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``, the same call to
  ``vae_answers.grade``, which computes the expected answer from
  instructor-only material (instructor/vae_answers, not in the package);
* an explanation cell (tag ``exercise-explanation``, an nbgrader "manually
  graded answer" worth one point) with our explanation in ``<details>`` and
  a short rubric for the person who grades it.

The committed notebooks run the worked solutions, so every self-check's
stored output is "Passes the self-check: ..." and nbval re-checks it; the
hidden tests raised nothing. Whether the hidden tests accept right answers in
their usual forms and reject wrong ones: tests/test_exercise_answers.py; the
student edition: tests/test_editions.py.
"""

import re
from pathlib import Path

import nbformat
import pytest
import vae_answers

from vae_machinery.exercises import SELF_CHECKS
from vae_tools import series

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = series.notebooks()
PUBLIC_CHECK = re.compile(
    r'# Self-check: run this cell\.\nvh\.check\("(\d\d)\.(\d)", (\w+)((?:, \w+=[\w\[\].]+)*)\)')
HIDDEN = ("\n### BEGIN HIDDEN TESTS\nimport vae_answers  # instructor-only: instructor/ in the repository\n"
          "{}\n### END HIDDEN TESTS")
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
        hidden = HIDDEN.format(call.replace("vh.check(", "vae_answers.grade("))
        assert check.source == public[0] + hidden, exercise
        assert explanation.source.startswith("<details><summary><b>Our explanation</b>"), exercise
        assert "**Rubric (1 point):**" in explanation.source, f"{exercise}: a rubric for the written answer"
        assert "exercise-explanation" in explanation.metadata.get("tags", []), exercise
        gid = "ex" + exercise.replace(".", "-")
        assert answer.metadata["nbgrader"] == {"grade": False, "solution": True, "locked": False,
                                               "grade_id": f"{gid}-answer", "schema_version": 3}
        assert check.metadata["nbgrader"] == {"grade": True, "solution": False, "locked": True, "points": 1,
                                              "grade_id": f"{gid}-check", "schema_version": 3}
        why = {"grade": True, "solution": True, "locked": False, "points": 1, "grade_id": f"{gid}-why",
               "schema_version": 3}
        assert explanation.metadata["nbgrader"] == why, exercise


def test_every_exercise_has_a_self_check_and_a_hidden_test():
    ids = [e for path in NOTEBOOKS for e, *_ in exercises(nbformat.read(path, as_version=4))]
    assert sorted(ids) == sorted(SELF_CHECKS) == sorted(vae_answers.ANSWERS), \
        "every exercise has its cells, every cell its exercise"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_ends_with_two_or_three_questions_and_a_summary(path):
    nb = nbformat.read(path, as_version=4)
    values = [e for e, *_ in exercises(nb) if not SELF_CHECKS[e].code]
    assert 2 <= len(values) <= 3
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "**You will learn**" in nb.cells[0].source
    assert "## Summary" in text


def test_the_series_asks_for_at_least_four_pieces_of_vae_code():
    """Write-the-code exercises, each checked by behaviour (tests/test_code_exercises.py)."""
    code = [exercise for exercise, spec in SELF_CHECKS.items() if spec.code]
    assert len(code) >= 4, code


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_committed_worked_solutions_pass_their_checks(path):
    """The committed run executed every solution: each self-check passed (nbval re-checks
    this on every run) and the hidden test raised nothing."""
    for exercise, answer, check, *_ in exercises(nbformat.read(path, as_version=4)):
        assert check.get("execution_count"), f"{exercise}: check cell not executed"
        text = "".join(o.get("text", "") for o in check.outputs)
        assert text.startswith("Passes the self-check: ") and text.count("\n") == 1, f"{exercise}: {text!r}"
        assert not [o for o in answer.outputs + check.outputs if o.output_type == "error"], exercise
