"""pytest configuration shared by the unit tests and nbval.

Before anything runs, check that the installed Python, TensorFlow, Keras and
NumPy are versions the series supports, and stop with one clear message if
not (instead of a long traceback from deep inside TensorFlow).
"""

import importlib.util
import sys
from pathlib import Path

import pytest

# The project is imported as installed (`make venv`: pip install -e ., and the instructor's answers through
# a .pth file), never through sys.path edits; without it, one line instead of an ImportError per test file.
if importlib.util.find_spec("vae_tools") is None or importlib.util.find_spec("vae_answers") is None:
    raise SystemExit("This Python environment does not have the project installed: run `make venv` and "
                     "use .venv/bin/pytest (or `make test`).")

from vae_tools import series  # noqa: E402
from vae_tools.check_environment import FIX, environment_problems, installed_version  # noqa: E402

ROOT = Path(__file__).resolve().parent


def pytest_configure(config):
    problems = environment_problems(sys.version_info[:2], installed_version("keras"),
                                    installed_version("tensorflow"), installed_version("numpy"))
    if problems:
        pytest.exit("Unsupported environment: " + "; ".join(problems) + ". " + FIX, returncode=4)


def pytest_collectstart(collector):
    """nbval: do not compare stderr. It can carry library log lines and
    warnings that differ between machines; an error still fails the cell."""
    if hasattr(collector, "skip_compare"):
        collector.skip_compare += ("stderr",)


# The notebooks from 07 on train models of their own, for minutes to hours (each one's first cell gives
# its run time): too long to re-execute under nbval on every CI run. tests/test_experiments.py and
# tests/test_beyond.py run each through papermill in a short version and check its figures, results and
# self-checks instead.
collect_ignore = [str(path.relative_to(ROOT)) for path in series.notebooks() if series.on_request(path)]
