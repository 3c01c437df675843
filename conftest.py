"""pytest configuration shared by the unit tests and nbval."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))


def pytest_collectstart(collector):
    """nbval: do not compare stderr. It carries TensorFlow's start-up log
    lines, which differ between machines; a real error still fails the cell."""
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)
