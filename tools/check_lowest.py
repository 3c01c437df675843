"""Check the floors of pyproject.toml: install the lowest versions it allows and run the series on them.

``make check`` runs this beside its tests on the pinned newest versions (``.venv``). It

1. makes ``.venv-lowest`` with uv: ``uv pip install --resolution lowest-direct -e .``, which installs
   the lowest version of every runtime dependency that pyproject.toml allows (the newest of what
   those need in turn), and the test tools at their pins in requirements.txt;
2. prints the version of each runtime dependency it installed, one a line, and fails when one is
   not its floor (a floor that cannot be installed is no floor);
3. runs the fast tests that exercise the package (pytest -m "not slow" on :data:`TESTS`), and
   starts a local Dask cluster the way notebook 07 does and runs a task on it (the fast tests start
   none);
4. runs notebooks 01-03 with ``EPOCHS=1`` and ``IWAE_K=2`` (tools/run_series.py), their runs and
   figures in a temporary folder, and checks that their kernel ran the lowest TensorFlow.

Usage, from anywhere (``make check`` calls the first)::

    python tools/check_lowest.py
    python tools/check_lowest.py --with keras==3.9.0   # try another floor (what finding floors does)

Needs uv (pinned in requirements.txt) and a package index (PyPI); uv's cache makes a second run
quick. Where the Keras download of MNIST is out of reach (CI), ``VAE_DATA_DIR`` names the files.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-lowest"
TOOLS = ("pytest", "papermill", "nbformat")  # what this check runs, at their pins in requirements.txt
# The fast tests that exercise the package with each dependency: TensorFlow and Keras (model,
# training, saving, bfloat16), NumPy (data), SciPy (statistics), Matplotlib, ipywidgets and ipyevents
# (explorer), Dask and distributed (the grid's local cluster), papermill (parameters).
TESTS = ("test_data.py", "test_model.py", "test_likelihood.py", "test_parameters.py",
         "test_saved_models.py", "test_statistics.py", "test_explorer.py", "test_dask_grid.py",
         "test_precision.py", "test_runs.py", "test_environment.py")
NOTEBOOKS = ("01", "02", "03")
# One worker process, as vae_machinery.grid starts them for notebook 07 (distributed 2022.12.0 fails here
# on Python 3.11). The guard: the worker processes start by importing the main module.
DASK = """if __name__ == "__main__":
    from vae_machinery import grid
    client = grid.start_client(layout=(1, 1))
    assert client.submit(sum, [1, 2]).result() == 3
    grid.stop_client(client)
    print("A local Dask cluster ran a task")
"""


def floors(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, str]:
    """Each runtime dependency of ``pyproject`` and its floor (the version after ``>=``)."""
    found = {}
    for text in tomllib.loads(pyproject.read_text())["project"]["dependencies"]:
        requirement = Requirement(text)
        lower = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        if len(lower) != 1:
            raise ValueError(f"{text}: a runtime dependency needs exactly one floor (>=)")
        found[requirement.name] = lower[0]
    return found


def pins(names: tuple[str, ...], requirements: Path = ROOT / "requirements.txt") -> list[str]:
    """The lines ``name==version`` of requirements.txt for ``names``."""
    pinned = {}
    for line in requirements.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            pinned[Requirement(line).name] = line
    return [pinned[name] for name in names]


def off_floor(wanted: dict[str, str], installed: dict[str, str]) -> list[str]:
    """The dependencies whose installed version is not their floor, each as a line saying so."""
    return [f"{name} is not installed" if name not in installed
            else f"{name} {installed[name]} installed, but its floor is {floor}"
            for name, floor in wanted.items()
            if name not in installed or Version(installed[name]) != Version(floor)]


def run(cmd: list[str], cwd: Path | None = None) -> None:
    print("$ " + " ".join(part if "\n" not in part else "'...'" for part in cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=cwd)


def install(venv: Path, overrides: list[str]) -> Path:
    """Make ``venv`` afresh with the lowest allowed versions; returns its Python."""
    uv = [sys.executable, "-m", "uv"]
    run([*uv, "venv", "--quiet", "--clear", "--python", sys.executable, str(venv)])
    python = venv / "bin" / "python"
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as override:
        override.write("\n".join(overrides) + "\n")
        override.flush()
        run([*uv, "pip", "install", "--quiet", "--python", str(python), "--resolution", "lowest-direct",
             "-e", str(ROOT), *pins(TOOLS), *(["--overrides", override.name] if overrides else [])])
    # As make venv does: the hidden tests' answers (instructor/), which the package leaves out.
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "vae_instructor.pth").write_text(str(ROOT / "instructor") + "\n")
    return python


def installed_versions(python: Path, names: list[str]) -> dict[str, str]:
    code = ("import json, sys; from importlib import metadata\n"
            "print(json.dumps({n: metadata.version(n) for n in sys.argv[1:]}))")
    out = subprocess.run([str(python), "-c", code, *names], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=VENV,
                        help="the environment to make (default: .venv-lowest)")
    parser.add_argument("--with", dest="overrides", action="append", default=[], metavar="REQUIREMENT",
                        help="install this instead of a floor, e.g. keras==3.9.0 (finding a floor)")
    parser.add_argument("--no-notebooks", action="store_true", help="run the tests only")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    python = install(args.venv, args.overrides)
    wanted = floors()
    versions = installed_versions(python, list(wanted))
    print("Installed (the lowest versions pyproject.toml allows):")
    for name, version in versions.items():
        print(f"  {name}=={version}")
    problems = off_floor(wanted, versions)
    if problems and not args.overrides:
        print("error: " + "; ".join(problems) + ". Make each floor in pyproject.toml a version that "
              "installs, so that it is the one tested.", file=sys.stderr)
        return 1
    print(f"Installed in {time.perf_counter() - start:.0f} s", flush=True)

    run([str(python), "-m", "pytest", "-q", "-m", "not slow", "-p", "no:cacheprovider", "--disable-warnings",
         *(f"tests/{name}" for name in TESTS)], cwd=ROOT)
    run([str(python), "-c", DASK], cwd=ROOT)
    print(f"Tests done at {time.perf_counter() - start:.0f} s", flush=True)
    if not args.no_notebooks:
        with tempfile.TemporaryDirectory(prefix="vae-lowest-") as tmp:
            # Not the default run (EPOCHS=1, ARTIFACTS_DIR elsewhere): nothing committed is written.
            run([str(python), str(ROOT / "tools" / "run_series.py"), "--only", *NOTEBOOKS,
                 "--output-dir", f"{tmp}/notebooks", "-p", "EPOCHS", "1", "-p", "IWAE_K", "2",
                 "-p", "ARTIFACTS_DIR", f"{tmp}/run"])
            printed = (Path(tmp) / "notebooks" / "03_training.ipynb").read_text()
            if f"TensorFlow {versions['tensorflow']}" not in printed:
                print(f"error: notebook 03 did not run with TensorFlow {versions['tensorflow']}: its kernel "
                      "is not this environment's Python", file=sys.stderr)
                return 1
    print(f"Lowest versions checked in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
