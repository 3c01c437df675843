"""The helpers install, and the notebooks run anywhere.

* ``pip install .`` / ``pip install -e .`` make ``vae_helpers`` and ``vae_machinery``
  importable (pyproject.toml: setuptools, src layout), and the wheel holds every
  file of the package;
* the notebooks' setup cell imports the installed helpers (``make venv`` installs
  them editable), else (Colab, a JupyterHub) installs them with pip from
  ``git+<[project.urls] Repository>`` or from ``$VAE_HELPERS_SOURCE``, and says
  clearly when pip cannot; the data then come through the Keras download;
  ``vh.start_notebook`` moves a notebook started in a checkout's root to
  ``notebooks/``, where the parameters' relative paths start, and leaves one started anywhere
  else (the student edition in ``editions/student/notebooks/``) where it is;
* end to end: a wheel installed into a fresh virtual environment runs notebook 02
  copied alone into an empty folder; a kernel with neither checkout nor package
  installs the helpers from its setup cell (``VAE_HELPERS_SOURCE``: a local
  archive) and runs notebook 02, and notebook 04, which trains the model notebook
  03 would have saved (slow); papermill runs a notebook from the repository root
  without ``--cwd``.

The fresh environments reuse this environment's TensorFlow and the other
dependencies through a ``.pth`` file instead of downloading them again (about
600 MB; and CI is offline): the wheel itself is installed with ``--no-deps
--no-index``, and its dependency ranges are checked against the pinned
requirements.txt separately. Wheels are built with ``--no-build-isolation``
(setuptools from this environment) for the same reason. No test touches the
network: the hosted install reads a local archive, the Keras download is replaced.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import site
import subprocess
import sys
import tomllib
import types
import zipfile
from pathlib import Path

import nbformat
import pytest

from vae_machinery.errors import DataError
from vae_tools import editions, series

ROOT = Path(__file__).resolve().parent.parent

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
NOTEBOOKS = series.notebooks()
# The release the setup cell installs: the repository at the tag of pyproject.toml's version.
HELPERS = f"git+{PYPROJECT['project']['urls']['Repository']}@v{PYPROJECT['project']['version']}"
PIP = [sys.executable, "-m", "pip", "install", "--quiet", "--report", "-"]  # what the setup cell runs
# What pip prints with --report - when it installs the helpers alone (pip 22.2+, report version 1).
REPORT = json.dumps({"version": "1", "install": [
    {"metadata": {"name": "vae-mnist-notebooks", "version": PYPROJECT["project"]["version"]},
     "requested": True}]})


def setup_bootstrap(path: Path) -> str:
    """The part of a notebook's setup cell that installs the helpers where they are missing: from
    the ``helpers = ...`` line to the blank line after its ``if`` block."""
    cell = next(c for c in nbformat.read(path, as_version=4).cells
                if c.cell_type == "code" and c.source.startswith("# Setup:"))
    start = cell.source.index("\nhelpers = ") + 1
    return cell.source[start:cell.source.index("\n\n", start) + 1]


def test_every_notebook_installs_the_helpers_the_same_way_from_the_projects_repository():
    bootstraps = {path.name: setup_bootstrap(path) for path in NOTEBOOKS}
    assert len(set(bootstraps.values())) == 1, "the setup cells' bootstraps differ"
    bootstrap = bootstraps[NOTEBOOKS[0].name]
    assert bootstrap.startswith(f'helpers = "{HELPERS}"'), (
        f"the setup cells must install pyproject.toml's release from its Repository: {HELPERS}")
    assert "sys.path" not in bootstrap and "chdir" not in bootstrap and "--cwd" not in bootstrap


def test_the_setup_cell_is_short_and_the_same_in_every_notebook():
    """The setup cell: the bootstrap, the imports and one call of vh.start_notebook; nothing of
    the parameters, figure folders or seeds (start_notebook does them)."""
    for path in NOTEBOOKS:
        cell = next(c for c in nbformat.read(path, as_version=4).cells
                    if c.cell_type == "code" and c.source.startswith("# Setup:"))
        code = [line for line in cell.source.splitlines() if line.strip() and not line.startswith("#")]
        assert len(code) <= 32, (path.name, len(code))  # the bootstrap (16 lines), imports, 07-10: RUNS_URL
        assert "vh.start_notebook(globals())" in cell.source, path.name
        for gone in ("check_parameters", "figures_dir", "set_seed", "is_default_run", "isupper()"):
            assert gone not in cell.source, (path.name, gone)


def test_dependencies_hold_the_pinned_versions():
    """pyproject.toml's ranges (pip install .) contain the exact pins of
    requirements.txt (what CI tests), and Python 3.11-3.13 as
    tools/check_environment.py accepts."""
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    dependencies = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    assert {"tensorflow", "keras", "numpy", "matplotlib"} <= {r.name for r in dependencies}
    for requirement in dependencies:
        assert requirement.name in pins, f"{requirement.name} is not pinned in requirements.txt"
        assert requirement.specifier.contains(pins[requirement.name]), (requirement, pins[requirement.name])
        assert "<" in str(requirement.specifier), f"{requirement} needs an upper bound"
    python = SpecifierSet(PYPROJECT["project"]["requires-python"])
    supported = [v for v in ("3.10", "3.11", "3.12", "3.13", "3.14") if python.contains(v)]
    assert supported == ["3.11", "3.12", "3.13"]


# --- the setup cell, executed here with the world around it simulated --------------------------

@pytest.fixture
def run_setup(monkeypatch):
    """Run notebook 02's bootstrap in a folder; pip is replaced by a recorder,
    and the working folder is restored afterwards."""
    calls = []
    real_run = subprocess.run

    def fake_run(args, *rest, **kwargs):
        if list(args[1:3]) != ["-m", "pip"]:  # other tools (platform runs uname) still run
            return real_run(args, *rest, **kwargs)
        calls.append(list(args))
        return subprocess.CompletedProcess(args, pip_fails.returncode, REPORT, pip_fails.stderr)

    pip_fails = types.SimpleNamespace(returncode=0, stderr="")

    monkeypatch.setattr(subprocess, "run", fake_run)
    bootstrap = setup_bootstrap(ROOT / "notebooks" / "02_model.ipynb")

    def run(cwd: Path, installed: bool = True) -> list[list[str]]:
        monkeypatch.chdir(cwd)
        if not installed:  # vae_helpers is found only after pip has run (unless pip fails)
            from importlib import metadata

            real_distributions = metadata.distributions
            monkeypatch.setattr(metadata, "distributions", lambda: [  # what the setup cell sees before pip
                d for d in real_distributions() if d.name != "vae-mnist-notebooks"])
            real_find_spec = importlib.util.find_spec
            monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: (
                None if name == "vae_helpers" and (not calls or pip_fails.returncode)
                else real_find_spec(name, *a)))
        imported = {"importlib": importlib, "os": os, "subprocess": subprocess, "sys": sys}  # its imports
        importlib.import_module("importlib.metadata")
        exec(compile(bootstrap, "setup cell", "exec"), imported)
        return calls

    run.pip_fails = pip_fails
    return run


def test_setup_with_the_helpers_installed_installs_nothing(run_setup, tmp_path):
    calls = run_setup(tmp_path, installed=True)
    assert calls == [] and Path.cwd() == tmp_path


@pytest.mark.parametrize("start", ["notebooks", "."], ids=["in notebooks/", "in the repository root"])
def test_start_notebook_works_in_notebooks_of_a_checkout(start, monkeypatch, capsys):
    """papermill without --cwd, started in the root: the parameters' relative paths
    ('../artifacts') start in notebooks/, so start_notebook moves there."""
    import vae_helpers as vh

    monkeypatch.chdir(ROOT / start)
    imgs_dir, default_run = vh.start_notebook({"DATASET": "mnist", "DATA_DIR": None, "LATENT_DIM": 2,
                                               "ARTIFACTS_DIR": "../artifacts", "IMGS_DIR": None})
    assert Path.cwd() == ROOT / "notebooks"
    assert (imgs_dir, default_run) == (Path("../imgs"), True)
    assert capsys.readouterr().out.startswith("Versions: Python ")


def test_the_student_edition_in_a_checkout_stays_in_its_own_folder(monkeypatch, capsys):
    """Started in editions/student/notebooks/ of a clone (Binder, nbgitpuller, a student's clone), a
    notebook stays there: its relative paths ('../artifacts', 02_model.ipynb for 03) are the student
    edition's, not the instructor's notebooks/ (it moved there before, and 03 trained with the worked
    solutions of notebooks/02_model.ipynb)."""
    import vae_helpers as vh

    student = ROOT / "editions" / "student" / "notebooks"
    monkeypatch.chdir(student)
    imgs_dir, default_run = vh.start_notebook({"DATASET": "mnist", "DATA_DIR": None, "LATENT_DIM": 2,
                                               "ARTIFACTS_DIR": "../artifacts", "IMGS_DIR": None})
    assert Path.cwd() == student
    assert (Path.cwd() / imgs_dir).resolve() == ROOT / "editions" / "student" / "imgs"
    assert capsys.readouterr().out.startswith("Versions: Python ")


@pytest.mark.slow
@pytest.mark.parametrize("service", ["colab", "jupyterhub"])
def test_setup_on_a_hosted_service_installs_the_helpers_and_loads_mnist_with_keras(run_setup, tmp_path,
                                                                                  monkeypatch, service,
                                                                                  capsys):
    """No checkout and no installed package (Colab, a JupyterHub with only the
    notebook): pip installs the helpers from the project's repository into the
    kernel's own Python; then, with DATA_DIR = None and no VAE_DATA_DIR, the data
    come through the Keras download. No network: pip and the download are replaced."""
    if service == "colab":
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.delenv("VAE_HELPERS_SOURCE", raising=False)
    calls = run_setup(tmp_path, installed=False)
    assert calls == [[*PIP, HELPERS]]
    assert Path.cwd() == tmp_path
    assert "pip installed vae-mnist-notebooks 0.1.0." in capsys.readouterr().out

    import keras

    import vae_helpers as vh

    downloads = []

    def fake_load_data(*args, **kwargs):
        downloads.append("mnist")
        raise ConnectionError("no network in this test")

    monkeypatch.delenv("VAE_DATA_DIR", raising=False)
    monkeypatch.setattr(keras.datasets.mnist, "load_data", fake_load_data)
    data_dir = None  # DATA_DIR's default in the parameters cells
    with pytest.raises(DataError, match="Could not download MNIST with Keras"):
        vh.load_dataset("mnist", data_dir)
    assert downloads == ["mnist"]


def test_setup_installs_from_vae_helpers_source_when_it_is_set(run_setup, tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_HELPERS_SOURCE", "/courses/vae/vae-mnist-notebooks")
    calls = run_setup(tmp_path, installed=False)
    assert calls == [[*PIP, "/courses/vae/vae-mnist-notebooks"]]


def test_setup_says_why_when_pip_cannot_install_the_helpers(run_setup, tmp_path, monkeypatch):
    monkeypatch.delenv("VAE_HELPERS_SOURCE", raising=False)
    run_setup.pip_fails.returncode = 1
    run_setup.pip_fails.stderr = "ERROR: Could not install: no internet"
    expected = (f"pip could not install the helpers from {re.escape(HELPERS)} "
                r"\(set VAE_HELPERS_SOURCE .*\n.*no internet")
    with pytest.raises(ModuleNotFoundError, match=expected):
        run_setup(tmp_path, installed=False)


def _report(*installed: tuple[str, str]) -> str:
    items = [{"metadata": {"name": name, "version": version}} for name, version in installed]
    return json.dumps({"version": "1", "install": items})


def test_the_setup_cell_says_in_one_line_what_pip_installed_and_changed():
    """Colab ships its own versions: the line names what pip added and what it changed, and asks for a
    restart only when a changed package was already imported (matplotlib here, dask not)."""
    from vae_machinery.pip_report import describe_install

    before = {"matplotlib": "3.10.0", "Dask": "2025.1.0", "numpy": "2.4.6", "ipy_events": "2.0.4"}
    report = _report(("vae-mnist-notebooks", "0.1.0"), ("matplotlib", "3.11.2"), ("dask", "2026.8.0"),
                     ("ipy-events", "2.0.4"))
    line = describe_install(report, before, {"matplotlib.pyplot", "numpy", "sys"})
    assert line == ("pip installed vae-mnist-notebooks 0.1.0, ipy-events 2.0.4 (reinstalled); changed "
                    "matplotlib 3.10.0 -> 3.11.2, dask 2025.1.0 -> 2026.8.0. Restart the kernel (on Colab: "
                    "Runtime > Restart session), then run the notebook again: matplotlib was already "
                    "imported at its old version.")
    assert "Restart" not in describe_install(report, before, {"numpy"})  # nothing changed was imported
    both = describe_install(report, before, {"matplotlib", "dask.array"})
    assert both.endswith("dask, matplotlib were already imported at their old versions.")
    coloured = report.replace("{", "\x1b[1m{\x1b[0m").replace('"dask"', '\x1b[32m"dask"\x1b[0m')  # kernel
    assert describe_install(coloured, before, {"matplotlib.pyplot"}) == line
    assert describe_install(_report(), before, set()) == (
        "pip changed nothing: every package was already installed.")
    assert describe_install("", before, set()).startswith("pip installed the helpers (it gave no report")


# --- end to end: a wheel in a fresh environment, an editable install, papermill from the root --

def _checked_build_tools():
    """--no-build-isolation builds with this environment's setuptools (offline);
    pip --python installs into an environment without pip of its own."""
    from importlib import metadata

    from packaging.version import Version

    try:
        setuptools = Version(metadata.version("setuptools"))
    except metadata.PackageNotFoundError:
        setuptools = None
    if setuptools is None or setuptools < Version("64"):
        pytest.skip(f"building the wheel offline needs setuptools >= 64 in this environment "
                    f"(found {setuptools}): pip install 'setuptools>=64'")
    if Version(metadata.version("pip")) < Version("22.3"):
        pytest.skip("installing into a fresh environment needs pip >= 22.3 (pip --python)")


def _pip(*args: str, python: Path | None = None) -> None:
    target = ["--python", str(python)] if python else []
    subprocess.run([sys.executable, "-m", "pip", *target, "--disable-pip-version-check", "--no-input",
                    *args], check=True, capture_output=True, text=True, timeout=300)


def _fresh_env(folder: Path) -> Path:
    """A virtual environment without pip whose site-packages also sees this
    environment's (TensorFlow, Keras, ...) after its own; returns its Python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    python = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    own = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         check=True, capture_output=True, text=True).stdout.strip()
    (Path(own) / "_reuse_test_environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return python


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A copy of what pip builds from, so that building leaves the checkout alone."""
    folder = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, folder / name)
    ignored = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("src", "tools", "bench"):  # the package; the commands, installed as vae_tools and vae_bench
        shutil.copytree(ROOT / name, folder / name, ignore=ignored)
    return folder


@pytest.fixture(scope="module")
def wheel(source, tmp_path_factory) -> Path:
    _checked_build_tools()
    dist = tmp_path_factory.mktemp("dist")
    _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "--wheel-dir", str(dist), str(source))
    (path,) = dist.glob("vae_mnist_notebooks-*.whl")
    return path


@pytest.mark.slow
def test_the_wheel_holds_the_helpers_every_file_of_the_package_and_the_dependencies(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    package = {f"vae_machinery/{p.relative_to(ROOT / 'src' / 'vae_machinery').as_posix()}"
               for p in (ROOT / "src" / "vae_machinery").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert "vae_helpers.py" in names and "vae_machinery/__init__.py" in package
    assert package <= names, f"files of vae_machinery missing from the wheel: {sorted(package - names)}"
    assert {"vae_tools/editions.py", "vae_tools/series.py", "vae_bench/grade_class.py"} <= names
    assert not any(name.startswith(("vae_answers", "instructor", "tests/")) for name in names), "no answers"
    (info,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    metadata = zipfile.ZipFile(wheel).read(info).decode().splitlines()
    requires = [line.split(": ", 1)[1] for line in metadata if line.startswith("Requires-Dist: ")]
    runtime = [r for r in requires if "extra ==" not in r]
    extras = [r for r in requires if "extra ==" in r]
    assert len(runtime) == len(PYPROJECT["project"]["dependencies"])
    assert len(extras) == sum(map(len, PYPROJECT["project"].get("optional-dependencies", {}).values()))
    assert {"Requires-Python: <3.14,>=3.11", "Requires-Python: >=3.11,<3.14"} & set(metadata)


PROBE = ("import os, sys, vae_helpers, vae_machinery.sweeps as sweeps\n"
         "print('PROBE', sys.prefix, vae_helpers.__file__, sweeps.__file__, os.getcwd(), sep='|')")


def _probe(out: Path) -> list[str]:
    cells = nbformat.read(out, as_version=4).cells
    errors = [o for c in cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    text = "".join(o.get("text", "") for o in cells[-1].outputs)
    assert text.startswith("PROBE|"), text
    return text.strip().split("|")[1:]


def _run_alone(python: Path, tmp_path: Path, mnist_dir: Path, edit=lambda nb: None, *,
               notebook: str = "02_model.ipynb", timeout: int = 300, **env: str):
    """A notebook (02 unless said) of the student edition (what a student runs: no hidden tests, which
    need the instructor's vae_answers) copied alone into an empty folder (``edit`` may change it first),
    a probe cell appended, run with papermill on a kernel of ``python``: (the folder, the notebook as run)."""
    kernels = tmp_path / "jupyter" / "kernels" / "alone"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "a notebook alone", "language": "python"}))
    alone = tmp_path / "alone"
    alone.mkdir()
    nb = editions.student_notebook(nbformat.read(ROOT / "notebooks" / notebook, as_version=4))
    edit(nb)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    nbformat.write(nb, alone / notebook)
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environ.update(JUPYTER_PATH=str(tmp_path / "jupyter"), VAE_DATA_DIR=str(mnist_dir), **env)
    result = subprocess.run([sys.executable, "-m", "papermill", notebook, "out.ipynb",
                             "-k", "alone", "--no-progress-bar"],
                            cwd=alone, env=environ, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return alone, nb


@pytest.mark.slow
def test_an_installed_wheel_runs_a_notebook_copied_alone_into_an_empty_folder(wheel, tmp_path, mnist_dir):
    """pip install <wheel> into a fresh environment; notebook 02, alone in an
    empty folder, runs with papermill on a kernel of that environment and uses
    the helpers from the wheel (a probe cell appended to the copy says so)."""
    env = tmp_path / "env"
    python = _fresh_env(env)
    _pip("install", "--no-deps", "--no-index", str(wheel), python=python)
    alone, _ = _run_alone(python, tmp_path, mnist_dir)
    prefix, helpers, sweeps, cwd = _probe(alone / "out.ipynb")
    site_packages = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip())
    assert Path(prefix) == env
    assert Path(helpers) == site_packages / "vae_helpers.py", "the helpers must come from the wheel"
    assert Path(sweeps) == site_packages / "vae_machinery" / "sweeps.py"
    assert Path(cwd) == alone
    assert sorted(p.name for p in alone.iterdir()) == ["02_model.ipynb", "out.ipynb"]


@pytest.fixture(scope="module")
def hosted(source, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A fresh environment with neither a checkout nor the helpers (Colab, a JupyterHub), and the
    environment variables that make its setup cell pip-install a GitHub-style archive of the
    project (a local copy, built offline: PIP_NO_INDEX, and no build isolation)."""
    _checked_build_tools()
    folder = tmp_path_factory.mktemp("hosted")
    archive = shutil.make_archive(str(folder / "main"), "zip", root_dir=source.parent, base_dir=source.name)
    return _fresh_env(folder / "env"), dict(VAE_HELPERS_SOURCE=Path(archive).as_uri(), PIP_NO_INDEX="1",
                                            PIP_NO_BUILD_ISOLATION="0", PIP_DISABLE_PIP_VERSION_CHECK="1")


@pytest.mark.slow
def test_a_hosted_kernel_installs_the_helpers_itself_and_runs_the_notebook(hosted, tmp_path, mnist_dir):
    """Colab or a JupyterHub, for real: notebook 02 alone, in a kernel whose Python has neither a
    checkout nor the helpers; its setup cell pip-installs them from VAE_HELPERS_SOURCE, and the same
    kernel imports them. The data come from VAE_DATA_DIR: the Keras download is tested above, offline."""
    python, env = hosted
    alone, nb = _run_alone(python, tmp_path, mnist_dir, **env)
    setup = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("# Setup:"))
    prefix, helpers, _, _ = _probe(alone / "out.ipynb")
    assert Path(prefix).parent == python.parent.parent.parent and Path(helpers).parent.name == "site-packages"
    setup_output = nbformat.read(alone / "out.ipynb", as_version=4).cells[nb.cells.index(setup)].outputs
    printed = "".join(o.get("text", "") for o in setup_output)
    assert printed.startswith(f"Installing the helpers from {env['VAE_HELPERS_SOURCE']}")
    # pip's own report, read back: the package came from the archive, its dependencies were there (this
    # test's environment sees this one's packages, the helpers' metadata too: "reinstalled")
    assert f"pip installed vae-mnist-notebooks {PYPROJECT['project']['version']}" in printed
    assert "changed" not in printed


@pytest.mark.slow
def test_a_hosted_kernel_runs_notebook_04_alone_training_the_model_of_03(hosted, tmp_path, mnist_dir):
    """Colab opens one notebook at a time: notebook 04 alone, with no model from 03, trains one with
    03's defaults (saying so in one line) and runs to the end."""
    python, env = hosted
    alone, _ = _run_alone(python, tmp_path, mnist_dir, notebook="04_reconstructions.ipynb", timeout=900,
                          **env)
    printed = "".join(o.get("text", "") for c in nbformat.read(alone / "out.ipynb", as_version=4).cells
                      if c.cell_type == "code" for o in c.outputs)
    assert "its runs stay in this folder (ARTIFACTS_DIR = 'artifacts')" in printed
    assert "No trained model in 'artifacts' yet: training one as 03_training.ipynb does" in printed
    # Colab's /content: the model and the figures stay in the notebook's folder, nothing lands above it
    assert (alone / "artifacts" / "run.json").is_file() and (alone / "imgs" / "reconstructions.png").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alone", "jupyter"]
    # 03's defaults make this the default run: the text's claims are checked as in the committed run.
    assert "Checked: the VAE reconstructs far better than the mean image" in printed


@pytest.mark.slow
def test_an_editable_install_imports_the_source_folder(source, tmp_path):
    """pip install -e . : the environment imports the helpers from the source's src/."""
    _checked_build_tools()
    python = _fresh_env(tmp_path / "env")
    _pip("install", "--no-deps", "--no-build-isolation", "--no-index", "--editable", str(source),
         python=python)
    found = subprocess.run([str(python), "-c", "import vae_helpers, vae_machinery.sweeps as s; "
                            "print(vae_helpers.__file__); print(s.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300,
                           env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert found.returncode == 0, found.stderr[-3000:]
    assert [Path(line) for line in found.stdout.split()] == [source / "src" / "vae_helpers.py",
                                                            source / "src" / "vae_machinery" / "sweeps.py"]


@pytest.mark.slow
def test_papermill_runs_a_notebook_from_the_repository_root_without_cwd(tmp_path, mnist_dir):
    """papermill notebooks/02_model.ipynb out.ipynb -k python3, started in the
    repository root: the setup cell finds src/ from there."""
    environ = {**os.environ, "VAE_DATA_DIR": str(mnist_dir)}
    result = subprocess.run([sys.executable, "-m", "papermill", "notebooks/02_model.ipynb",
                             str(tmp_path / "out.ipynb"), "-k", "python3", "--no-progress-bar"],
                            cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    cells = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells
    assert not [o for c in cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
