"""nbgrader settings for the series' exercises (https://nbgrader.readthedocs.io).

The committed notebooks are the instructor's source: each exercise is an
answer cell with the worked solution between ``### BEGIN SOLUTION`` and
``### END SOLUTION``, a locked self-check cell worth one point whose hidden
test sits between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``,
and an explanation cell (a written answer worth no points: the teacher reads
it, the score does not depend on it). ``nbgrader generate_assignment``
replaces solutions and explanations with the stubs below and removes the
hidden tests; ``nbgrader autograde`` puts the hidden tests back to grade.
"""

c = get_config()  # noqa: F821 - provided by nbgrader when it reads this file

# The answer cell keeps its `name = None` line, so an untouched notebook still runs top to
# bottom: every self-check says "Not answered yet" instead of raising NotImplementedError.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE"}
c.ClearSolutions.text_stub = "*Your explanation (a sentence or two):*"
