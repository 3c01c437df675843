"""The notebooks of the series, found in one place: every tool and test asks here.

A notebook belongs to the series by its name, ``notebooks/NN_<topic>.ipynb``, and its number says
how it runs: 01-06 are the series ``make run`` executes (01 and 02 together, 03 alone since it trains,
then the notebooks that read 03's model together); from 07 on each notebook trains models of its own
for minutes to hours and runs on request only, alone (``tools/run_series.py --only 07``, ``--from 08``),
and nbval leaves it out (its tests run it in a short version). A new notebook needs no list edited.

The defaults of the notebooks' parameters cells have one home, ``SERIES_DEFAULTS`` of
``vae_machinery.parameters``: ``tools/run_series.py --inplace`` (``make notebooks``) writes them into
the cells (:func:`sync_defaults`) before it runs the notebooks, so changing a default is one edit.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat

from vae_machinery.files import atomic_write

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PATTERN = "[0-9][0-9]_*.ipynb"
TRAINING = "03"  # trains the model that the notebooks after it read
ON_REQUEST = "07"  # from this number on, notebooks train models of their own: run on request, alone
ASSIGNMENT = re.compile(r"^(?P<name>[A-Z][A-Z0-9_]*) = (?P<value>.*?)(?P<rest>\s*(?:#.*)?\n?)$")


def notebooks(folder: Path | None = None) -> list[Path]:
    """The notebooks of the series in ``folder`` (default: the checkout's notebooks/), in order:
    01_data.ipynb, 02_model.ipynb, ..."""
    folder = NOTEBOOKS if folder is None else Path(folder)
    if folder == NOTEBOOKS and not NOTEBOOKS.is_dir():
        raise SystemExit(f"vae_tools works on a checkout of the repository, installed editable (make venv, "
                         f"or pip install -e .); this one is installed in {ROOT}, which has no notebooks/.")
    found = sorted(folder.glob(PATTERN))
    if not found:
        raise SystemExit(f"No notebooks named like 01_data.ipynb ({PATTERN}) in {folder}.")
    return found


def number(path: Path) -> str:
    """A notebook's number: "03" for 03_training.ipynb."""
    return Path(path).name[:2]


def on_request(path: Path) -> bool:
    """Whether the notebook trains models of its own (07 onwards): run on request only, alone."""
    return number(path) >= ON_REQUEST


def with_defaults(source: str, defaults: Mapping[str, Any]) -> str:
    """A parameters cell's ``source`` with every ``NAME = value`` line of a name in ``defaults`` set to
    its default (its comment kept); lines already at their default are left as written (``4e-3``)."""
    lines = []
    for line in source.splitlines(keepends=True):
        match = ASSIGNMENT.match(line)
        if match and match["name"] in defaults:
            value = defaults[match["name"]]
            try:
                same = ast.literal_eval(match["value"]) == value
            except (ValueError, SyntaxError):
                same = False
            if not same:
                literal = json.dumps(value) if isinstance(value, str) else repr(value)
                line = f"{match['name']} = {literal}{match['rest']}"
        lines.append(line)
    return "".join(lines)


def sync_defaults(path: Path, defaults: Mapping[str, Any]) -> list[str]:
    """Write ``defaults`` (``vae_machinery.parameters.SERIES_DEFAULTS``, the one home of the series'
    defaults) into the parameters cell of the notebook ``path``; the names changed."""
    nb = nbformat.read(path, as_version=4)
    cells = [cell for cell in nb.cells if "parameters" in cell.metadata.get("tags", [])]
    if len(cells) != 1:
        raise SystemExit(f"{path.name} has {len(cells)} cells tagged 'parameters', not one.")
    new = with_defaults(cells[0].source, defaults)
    if new == cells[0].source:
        return []
    changed = [m["name"] for old, line in zip(cells[0].source.splitlines(), new.splitlines())
               if old != line and (m := ASSIGNMENT.match(line))]
    cells[0].source = new
    atomic_write(path, lambda p: nbformat.write(nb, p))
    return changed
