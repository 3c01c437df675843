"""The notebooks' exercises: every worked solution passes its own self-check.

Each exercise is an answer cell (tagged ``exercise``), a self-check cell
(tagged ``exercise-check``) and a markdown cell holding the solution in a
``<details>`` block. Here every answer cell is replaced by its solution and
the whole series is executed with papermill (three quick training epochs); every
self-check must then print "Correct!".
"""

import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
ALL_NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NOTEBOOKS = [p for p in ALL_NOTEBOOKS if p.name != "07_experiments.ipynb"]  # 07: test_experiments.py
SOLUTION = re.compile(r"<details><summary><b>Solution</b>.*?```python\n(.*?)\n```", re.S)


def solve(nb):
    """Put every exercise's worked solution into its answer cell."""
    for answer, _, solution in exercises(nb):
        answer.source = solution
    return nb


def check_outputs(path):
    """The text printed by every self-check cell of an executed notebook."""
    cells = json.loads(Path(path).read_text())["cells"]
    return ["".join("".join(o.get("text", "")) for o in c["outputs"])
            for c in cells if "exercise-check" in c["metadata"].get("tags", [])]


def exercises(nb):
    """(answer cell, check cell, solution code) for every exercise."""
    found = []
    for i, cell in enumerate(nb.cells):
        if "exercise" in cell.metadata.get("tags", []):
            check, details = nb.cells[i + 1], nb.cells[i + 2]
            assert "exercise-check" in check.metadata.get("tags", []), f"cell {i}: no self-check follows"
            assert check.metadata.get("jupyter", {}).get("source_hidden"), f"cell {i}: check not collapsed"
            match = SOLUTION.search(details.source)
            assert match, f"cell {i}: no hidden <details> solution after the self-check"
            found.append((cell, check, match.group(1)))
    return found


CODE_CHECKS = re.compile(r"vh\.check_(reparameterize|kl_divergence|vae_loss|log_mean_exp|interpolation)\(")


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_has_exercises_and_a_summary(path):
    nb = nbformat.read(path, as_version=4)
    found = exercises(nb)
    numeric = [check for _, check, _ in found if not CODE_CHECKS.search(check.source)]
    assert 2 <= len(numeric) <= 3, "two or three exercises at the end of every notebook"
    for answer, _, _ in found:
        assert "= None" in answer.source, "the answer cell starts unanswered"
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "**You will learn**" in nb.cells[0].source
    assert "## Summary" in text


def test_the_series_asks_for_at_least_four_pieces_of_vae_code():
    """Write-the-code exercises, each checked by behaviour (tests/test_code_exercises.py)."""
    kinds = set()
    for path in ALL_NOTEBOOKS:
        for _, check, _ in exercises(nbformat.read(path, as_version=4)):
            kinds.update(CODE_CHECKS.findall(check.source))
    assert len(kinds) >= 4, sorted(kinds)


def test_committed_notebooks_show_unanswered_checks():
    for path in ALL_NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for _, check, _ in exercises(nb):
            text = "".join(o.get("text", "") for o in check.outputs)
            assert text.startswith("Not answered yet"), f"{path.name}: {text!r}"


def test_solutions_pass_their_self_checks(tmp_path, mnist_dir):
    import papermill as pm

    common = {"DATA_DIR": str(mnist_dir), "ARTIFACTS_DIR": str(tmp_path / "artifacts"),
              "IMGS_DIR": str(tmp_path / "imgs")}
    extra = {"03_training.ipynb": {"EPOCHS": 3, "IWAE_K": 2}}  # 06 asserts a usable latent space
    for path in NOTEBOOKS:
        solved = tmp_path / path.name
        nbformat.write(solve(nbformat.read(path, as_version=4)), solved)
        declared = pm.inspect_notebook(str(solved))
        params = {k: v for k, v in {**common, **extra.get(path.name, {})}.items() if k in declared}
        pm.execute_notebook(str(solved), str(solved), parameters=params, kernel_name="python3",
                            cwd=str(ROOT / "notebooks"), progress_bar=False)
        for text in check_outputs(solved):
            assert "Correct!" in text, f"{path.name}: solution fails its check: {text!r}"
