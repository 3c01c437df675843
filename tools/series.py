"""The notebooks of the series, found in one place: every tool and test asks here.

A notebook belongs to the series by its name, ``notebooks/NN_<topic>.ipynb``, and its number says
how it runs: 01-06 are the series ``make run`` executes (01 and 02 together, 03 alone since it trains,
then the notebooks that read 03's model together); from 07 on each notebook trains models of its own
for minutes to hours and runs on request only, alone (``tools/run_series.py --only 07``, ``--from 08``),
and nbval leaves it out (its tests run it in a short version). A new notebook needs no list edited.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PATTERN = "[0-9][0-9]_*.ipynb"
TRAINING = "03"  # trains the model that the notebooks after it read
ON_REQUEST = "07"  # from this number on, notebooks train models of their own: run on request, alone


def notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """The notebooks of the series in ``folder``, in order: 01_data.ipynb, 02_model.ipynb, ..."""
    found = sorted(Path(folder).glob(PATTERN))
    if not found:
        raise SystemExit(f"No notebooks named like 01_data.ipynb ({PATTERN}) in {folder}.")
    return found


def number(path: Path) -> str:
    """A notebook's number: "03" for 03_training.ipynb."""
    return Path(path).name[:2]


def on_request(path: Path) -> bool:
    """Whether the notebook trains models of its own (07 onwards): run on request only, alone."""
    return number(path) >= ON_REQUEST
