"""pytest configuration shared by the unit tests and nbval."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))


def pytest_collectstart(collector):
    """nbval: do not compare stderr. It can carry library log lines and
    warnings that differ between machines; an error still fails the cell."""
    if hasattr(collector, "skip_compare"):
        collector.skip_compare += ("stderr",)
