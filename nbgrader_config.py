"""nbgrader settings for the series' exercises (https://nbgrader.readthedocs.io).

The committed notebooks are the instructor's source: each exercise is an
answer cell with the worked solution between ``### BEGIN SOLUTION`` and
``### END SOLUTION``, a locked self-check cell worth one point whose hidden
test sits between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``,
and an explanation cell (a written answer worth one point, graded by a person
in nbgrader's formgrader with the short rubric the instructor edition holds). ``nbgrader generate_assignment``
replaces solutions and explanations with the stubs below and removes the
hidden tests; ``nbgrader autograde`` puts the hidden tests back to grade
(tools/editions.py releases and grades each notebook as an assignment of its own).
"""

c = get_config()  # noqa: F821 - provided by nbgrader when it reads this file

# The answer cell keeps its `name = None` line, so an untouched notebook still runs top to
# bottom: every self-check says "Not answered yet" instead of raising NotImplementedError.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE"}
c.ClearSolutions.text_stub = "*Your explanation (a sentence or two):*"

# Autograding re-executes every notebook on the instructor's finished runs (tools/editions.py
# injects where they are and RESUME = True), so no cell trains; the slowest cells left (notebook 03's
# importance-weighted estimate on the 10,000 test images, 06's evaluations) take well under a
# minute on 2 cores. A cell that runs longer than this is interrupted and fails; the cells after
# it still run.
c.Execute.timeout = 300

# The graded notebooks carry each written answer's rubric in a cell tagged "grader-rubric", below
# the answer, for the formgrader (tools/editions.py, add_rubrics); the feedback returned to the
# students leaves those cells out (and only the feedback: the formgrader shows them).
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import GetGrades  # noqa: E402

from vae_machinery.nbgrader_plugins import RemoveRubrics  # noqa: E402

c.GenerateFeedback.preprocessors = [GetGrades, RemoveRubrics, CSSHTMLHeaderPreprocessor]
