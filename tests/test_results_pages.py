"""The results README.md and docs/results.md quote are written by tools/results_pages.py from the
committed notebooks' outputs: the committed pages must be what it writes, and it must notice a drift."""

import shutil
from pathlib import Path

import pytest

from vae_tools import results_pages as rp

ROOT = Path(__file__).resolve().parent.parent


def test_the_committed_pages_are_what_the_tool_writes_from_the_committed_outputs():
    stale = rp.stale_pages()
    assert not stale, (f"{', '.join(str(p.relative_to(ROOT)) for p in stale)} disagree with the committed "
                       "notebooks: run .venv/bin/python tools/results_pages.py")


@pytest.fixture
def checkout(tmp_path):
    """The two pages and the two notebooks they quote, in a folder laid out like the repository."""
    for name in ("README.md", "docs/results.md", "notebooks/03_training.ipynb",
                 "notebooks/07_experiments.ipynb"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_a_hand_edited_cell_a_changed_output_and_a_lost_part_are_caught(checkout):
    results = checkout / "docs" / "results.md"
    text = results.read_text()
    # A sweep cell that took a neighbour's value (seed 43's own 142.53 for the mean 142.74).
    results.write_text(text.replace("| 2 | 142.74 (136.37", "| 2 | 142.53 (136.37"))
    assert list(rp.stale_pages(checkout)) == [results]
    assert "| 2 | 142.74 (136.37" in rp.stale_pages(checkout)[results]  # the tool writes it back
    results.write_text(text)
    assert rp.stale_pages(checkout) == {}
    # A re-run notebook 03 that printed another test result: both pages that quote it are stale.
    notebook = checkout / "notebooks" / "03_training.ipynb"
    printed = "Test negative ELBO: 143.34 nats"
    notebook.write_text(notebook.read_text().replace(printed, printed.replace("143.34", "143.43")))
    stale = rp.stale_pages(checkout)
    assert sorted(stale) == [checkout / "README.md", results]
    assert "Test negative ELBO **143.43 nats**" in stale[checkout / "README.md"]
    # A part whose markers are gone is an error, not a silently unchecked table.
    results.write_text(text.replace("<!-- results: beta-sweep -->\n", ""))
    with pytest.raises(rp.ResultsError, match="docs/results.md has no part beta-sweep"):
        rp.stale_pages(checkout)


def test_a_notebook_that_no_longer_prints_a_result_is_a_clear_error(checkout):
    notebook = checkout / "notebooks" / "03_training.ipynb"
    notebook.write_text(notebook.read_text().replace("Importance-weighted log p(x), K = 100", "log p(x)"))
    with pytest.raises(rp.ResultsError, match=r"prints no log p\(x\)"):
        rp.stale_pages(checkout)


def test_the_command_checks_and_rewrites(capsys):
    assert rp.main(["--check"]) == 0
    assert "agree with the committed notebooks" in capsys.readouterr().out
