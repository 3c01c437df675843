"""The floors of pyproject.toml and their check (tools/check_lowest.py, which make check runs).

The check itself installs the floors from PyPI and runs the package on them; these fast tests,
offline, keep it honest: every floor is one version (what the check compares with what uv
installed), the comparison catches a version that is not its floor, the floors keep what
tools/check_environment.py demands, the table of floors in docs/running.md is pyproject's, and
make check runs the check.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from packaging.version import Version

from vae_tools import check_lowest
from vae_tools.check_environment import environment_problems

ROOT = Path(__file__).resolve().parent.parent


def test_every_runtime_dependency_has_a_floor_that_is_a_released_version():
    floors = check_lowest.floors()
    assert set(floors) == {"tensorflow", "keras", "numpy", "scipy", "matplotlib", "ipywidgets", "ipyevents",
                           "ipykernel", "dask", "distributed"}
    for name, floor in floors.items():
        # Written out in full (3.7.0, not 3.7): the version uv installs, so the check can compare them.
        assert re.fullmatch(r"\d+\.\d+\.\d+", floor), f"{name}>={floor}: write the floor as X.Y.Z"


def test_a_version_that_is_not_its_floor_is_reported():
    floors = {"keras": "3.7.0", "scipy": "1.10.0"}
    assert check_lowest.off_floor(floors, {"keras": "3.7", "scipy": "1.10.0"}) == []
    assert check_lowest.off_floor(floors, {"keras": "3.8.0", "scipy": "1.10.0"}) == [
        "keras 3.8.0 installed, but its floor is 3.7.0"]
    assert check_lowest.off_floor(floors, {"keras": "3.7.0"}) == ["scipy is not installed"]


def test_the_floors_are_versions_that_check_environment_accepts():
    floors = check_lowest.floors()

    def minor(name: str) -> tuple[int, int]:
        return Version(floors[name]).release[:2]

    assert environment_problems((3, 11), minor("keras"), minor("tensorflow"), minor("numpy")) == []
    assert Version(floors["keras"]) >= Version("3.3")  # compute_loss(..., training=) is there from 3.3


def test_the_check_installs_its_tools_at_their_pins_and_runs_tests_that_exist():
    assert [line.split("==")[0] for line in check_lowest.pins(check_lowest.TOOLS)] == list(check_lowest.TOOLS)
    assert all("==" in line for line in check_lowest.pins(check_lowest.TOOLS))
    for name in check_lowest.TESTS:
        assert (ROOT / "tests" / name).is_file(), name


def test_the_table_of_floors_in_the_docs_is_pyprojects():
    text = (ROOT / "docs" / "running.md").read_text()
    table = text[text.index("| package | floor |"):]
    rows = re.findall(r"^\| ([\w, -]+?) \| ([\d.]+) \|", table[:table.index("\n\n")], re.M)
    documented = {name.strip().lower(): floor for names, floor in rows for name in names.split(",")}
    assert documented == check_lowest.floors()


def test_make_check_runs_the_check_of_the_floors():
    out = subprocess.run(["make", "-n", "check"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert any(line.endswith("tools/check_lowest.py") for line in out.splitlines()), out
    assert ".venv-lowest/" in (ROOT / ".gitignore").read_text().splitlines()
