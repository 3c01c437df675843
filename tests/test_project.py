"""Project files: environment specs agree, notebooks are well-formed, the runner checks its input."""

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from vae_machinery.parameters import SERIES_DEFAULTS, figures_dir, is_default_run
from vae_tools import series

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = series.notebooks()


def requirement_lines(text):
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def test_environment_yml_matches_requirements():
    pip_reqs = requirement_lines((ROOT / "requirements.txt").read_text())
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert [r.replace(" ", "") for r in pip_section] == [r.replace(" ", "") for r in pip_reqs]
    assert all("==" in r for r in pip_reqs), "every requirement is pinned"


def test_code_imports_the_installed_project_without_editing_sys_path():
    """One import path, the installed project (make venv: pip install -e .): tools/, bench/ and tests/
    import one another as vae_tools and vae_bench, never through sys.path edits."""
    import ast

    edits = []
    for path in sorted([*ROOT.glob("tools/*.py"), *ROOT.glob("bench/*.py"), *ROOT.glob("tests/*.py"),
                        ROOT / "conftest.py"]):
        for node in ast.walk(ast.parse(path.read_text())):
            call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            target = node.func.value if call else None
            if isinstance(target, ast.Attribute) and ast.unparse(target) == "sys.path":
                edits.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert not edits, "sys.path edited (import from vae_tools / vae_bench instead):\n" + "\n".join(edits)


def test_the_tools_installed_without_their_checkout_say_so(tmp_path, monkeypatch):
    """pip install . (not -e) copies vae_tools into site-packages, away from notebooks/: one clear line."""
    monkeypatch.setattr(series, "NOTEBOOKS", tmp_path / "site-packages" / "notebooks")
    monkeypatch.setattr(series, "ROOT", tmp_path / "site-packages")
    with pytest.raises(SystemExit, match=r"installed editable \(make venv, or pip install -e \.\)"):
        series.notebooks()
    with pytest.raises(SystemExit, match="No notebooks named like 01_data.ipynb"):
        series.notebooks(tmp_path)  # any other folder without notebooks


def test_the_notebooks_are_numbered_from_01_without_gaps():
    numbers = [p.name[:3] for p in NOTEBOOKS]
    assert numbers == [f"{i:02d}_" for i in range(1, len(NOTEBOOKS) + 1)] and len(numbers) >= 10, numbers


def test_make_run_is_the_six_notebook_series_and_the_rest_run_on_request():
    from vae_tools.run_series import series

    assert [p.name[:2] for p in series()] == ["01", "02", "03", "04", "05", "06"]
    assert series(include_experiments=True)[6:] == NOTEBOOKS[6:]


def _make_pytest_command(target: str) -> list[str]:
    """The pytest command line `make <target>` runs (from `make -n`, which runs nothing)."""
    out = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    lines = [line for line in out.splitlines() if " -m pytest " in line]
    assert len(lines) == 1, out
    return shlex.split(lines[0].split(" -m pytest ", 1)[1])


def test_make_check_deselects_nothing_and_make_test_leaves_out_only_the_slow_tests():
    """CI (.ci/run) runs `make check`: every test, nbval of the committed notebooks included;
    `make test`, the everyday check, runs the tests not marked slow. The README names both."""
    check, test = _make_pytest_command("check"), _make_pytest_command("test")
    selecting = ("-m", "-k", "--deselect", "--ignore", "--ignore-glob", "-x", "--exitfirst", "--lf", "--sw")
    assert not [a for a in check if a.split("=")[0] in selecting], check
    assert check[-2:] == ["notebooks", "tests"] and "--nbval" in check
    assert test[test.index("-m") + 1] == "not slow" and test[-1] == "tests" and "notebooks" not in test
    assert not [a for a in test if a.split("=")[0] in selecting and a != "-m"], test
    assert "\nmake check\n" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test " in readme and "make check " in readme


def test_runner_stages_respect_what_each_notebook_needs():
    from vae_tools.run_series import series, stages

    names = [[p.name[:2] for p in stage] for stage in stages(series(include_experiments=True))]
    # 04-06 read the model 03 saves; 03 trains on every core, so it runs alone; 07 on train their own.
    assert names == [["01", "02"], ["03"], ["04", "05", "06"], *[[p.name[:2]] for p in NOTEBOOKS[6:]]]
    assert [[p.name[:2] for p in s] for s in stages(series()[3:5])] == [["04", "05"]]


@pytest.mark.slow
def test_runner_names_the_failing_notebook_cell_and_error(tmp_path):
    """04 and 05 with a model of another latent size in ARTIFACTS_DIR: both fail, named with the cell
    and the error, and the failed notebooks are kept."""
    import vae_helpers as vh

    vh.save_artifacts(tmp_path / "art", vh.VAE(latent_dim=2, hidden_dim=8), {"loss": [1.0]},
                      {"DATASET": "mnist", "LATENT_DIM": 2})
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "run_series.py"), "--only", "04", "05",
                             "--output-dir", str(tmp_path / "nb"), "-p", "LATENT_DIM", "10",
                             "-p", "ARTIFACTS_DIR", str(tmp_path / "art"),
                             "-p", "IMGS_DIR", str(tmp_path / "imgs")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    for name in ("04_reconstructions.ipynb", "05_sampling.ipynb"):
        assert f"{name:<28}FAILED" in result.stdout
        assert f"{name} failed in cell " in result.stderr
    assert "ArtifactsError: The model in" in result.stderr
    assert "Re-run 03_training.ipynb with" in result.stderr
    assert (tmp_path / "nb" / "04_reconstructions.ipynb").is_file(), "the failed notebook is kept to inspect"
    assert not (tmp_path / "imgs").exists()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_structure(path):
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    assert cells[0]["cell_type"] == "markdown"
    intro = "".join(cells[0]["source"])
    for word in ("Goal", "Prerequisites", "Run time"):
        assert f"**{word}" in intro, f"first cell should state the {word.lower()}"
    code = [c for c in cells if c["cell_type"] == "code"]
    tagged = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert all(c["execution_count"] is not None for c in code), "committed executed"
    assert not any(o["output_type"] == "error" for c in code for o in c["outputs"])
    assert any("import vae_helpers" in "".join(c["source"]) for c in code)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_runner_rejects_unknown_parameter():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "run_series.py"), "-p", "EPOCH", "5"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "unknown parameter(s) EPOCH" in result.stderr and "EPOCHS" in result.stderr


def test_the_tools_parse_command_line_values_one_way():
    """tools/run_series.py and tools/editions.py grade read ``-p NAME VALUE`` with one parser: the
    values papermill's ``-p`` reads alike, and lists (07's SEEDS, BETAS) as lists."""
    from vae_machinery.parameters import parse_value
    from vae_tools import editions, run_series

    assert run_series.parse_value is parse_value and editions.parse_value is parse_value
    assert parse_value("5") == 5 and parse_value("1e-3") == 1e-3
    assert parse_value("None") is None and parse_value("True") is True
    assert parse_value("fashion_mnist") == "fashion_mnist" and parse_value("a b") == "a b"
    assert parse_value("[42, 43]") == [42, 43] and parse_value("[0.5, 1.0]") == [0.5, 1.0]


@pytest.mark.slow
def test_papermill_bad_parameter_fails_fast_with_message(tmp_path):
    import papermill as pm

    with pytest.raises(pm.PapermillExecutionError) as info:
        pm.execute_notebook(str(ROOT / "notebooks" / "02_model.ipynb"), str(tmp_path / "out.ipynb"),
                            parameters={"LATENT_DIM": 0}, kernel_name="python3",
                            cwd=str(ROOT / "notebooks"), progress_bar=False)
    assert info.value.ename == "ParameterError"
    assert ("Parameter LATENT_DIM = 0 (int) is not allowed: "
            "LATENT_DIM must be a positive integer") in info.value.evalue


def _run_notebook(name, tmp_path, **parameters):
    import papermill as pm

    with pytest.raises(pm.PapermillExecutionError) as info:
        pm.execute_notebook(str(ROOT / "notebooks" / name), str(tmp_path / name),
                            parameters=parameters, kernel_name="python3",
                            cwd=str(ROOT / "notebooks"), progress_bar=False)
    return info.value


@pytest.mark.slow
def test_a_notebook_without_03s_model_trains_one_with_03s_defaults(tmp_path, mnist_dir, capsys):
    """vh.load_or_train (04-06 opened alone, e.g. on Colab): no model in ARTIFACTS_DIR, so one is
    trained as 03 does, with 03's defaults and the notebook's settings, saved there and loaded;
    the next call loads it without training. (Here with one epoch and small layers, passed as
    settings, to stay quick.)"""
    import vae_helpers as vh

    quick = dict(EPOCHS=1, HIDDEN_DIM=16, IWAE_K=2)
    model, history, config = vh.load_or_train(tmp_path / "art", str(mnist_dir), DATASET="mnist",
                                              LATENT_DIM=2, **quick)
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1 and "No trained model in" in printed and "training one as 03" in printed
    assert {k: config[k] for k in vh.TRAINING_DEFAULTS} == {**vh.TRAINING_DEFAULTS, **quick}
    assert len(history["val_loss"]) == 1 and model.latent_dim == 2
    assert config["test_log_px"] >= -config["test_neg_elbo"] - 0.5
    vh.load_or_train(tmp_path / "art", str(mnist_dir), DATASET="mnist", LATENT_DIM=2, **quick)
    assert capsys.readouterr().out == "", "a saved model is loaded, not trained again"


def test_papermill_artifacts_of_other_latent_size_are_refused(tmp_path):
    import vae_helpers as vh

    model = vh.VAE(latent_dim=2, hidden_dim=8)
    vh.save_artifacts(tmp_path / "art", model, {"loss": [1.0]}, {"DATASET": "mnist", "LATENT_DIM": 2})
    err = _run_notebook("05_sampling.ipynb", tmp_path, ARTIFACTS_DIR=str(tmp_path / "art"), LATENT_DIM=10)
    assert err.ename == "ArtifactsError"
    assert "trained with LATENT_DIM = 2, but this notebook has LATENT_DIM = 10" in err.evalue
    assert "Re-run 03_training.ipynb with LATENT_DIM = 10" in err.evalue


def test_the_student_module_is_small_and_reads_in_teaching_order():
    """vae_helpers.py is what a student reads: at most about 700 lines, the VAE's
    own code in the order the notebooks teach it, and nothing that runs notebooks."""
    text = (ROOT / "src" / "vae_helpers.py").read_text()
    assert len(text.splitlines()) <= 700
    order = ["# 1. Data", "def load_dataset", "# 2. The two loss terms", "def reconstruction_bce",
             "def kl_divergence", "# 3. The model", "def build_encoder", "def reparameterize", "class VAE",
             "# 4. Training", "def train_vae", "# 5. Evaluation", "def evaluate_vae",
             "def iwae_log_likelihood", "# 7. Saving and loading", "def save_artifacts"]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert "import papermill" not in text and "execute_notebook" not in text


def _tracked_state() -> tuple[str, dict[str, bytes]]:
    """git's view of the tracked files, and the bytes of every committed figure."""
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    return status, {p.name: p.read_bytes() for p in sorted((ROOT / "imgs").rglob("*.png"))}


def test_every_parameter_of_the_notebooks_is_known_and_the_training_defaults_are_03s():
    import papermill as pm

    import vae_helpers as vh
    from vae_machinery.parameters import KNOWN_PARAMETERS, PLACES

    names = {name for path in NOTEBOOKS for name in pm.inspect_notebook(str(path))}
    assert names <= KNOWN_PARAMETERS, names - KNOWN_PARAMETERS
    training = set(pm.inspect_notebook(str(NOTEBOOKS[2]))) - set(PLACES)  # what is trained
    assert set(vh.TRAINING_DEFAULTS) == training


def test_series_defaults_are_the_parameters_cells_defaults():
    import ast

    import papermill as pm


    for path in NOTEBOOKS:
        for name, spec in pm.inspect_notebook(str(path)).items():
            if name in SERIES_DEFAULTS:
                assert ast.literal_eval(spec["default"]) == SERIES_DEFAULTS[name], (
                    f"{path.name}: {name}'s default is not SERIES_DEFAULTS' (make notebooks writes it in)")


def test_a_default_changed_in_its_one_home_reaches_every_parameters_cell(tmp_path):
    """Changing a default is one edit (SERIES_DEFAULTS): run_series --inplace writes it into the cells."""
    import shutil

    import nbformat
    import papermill as pm

    from vae_machinery.parameters import SERIES_DEFAULTS

    defaults = {**SERIES_DEFAULTS, "EPOCHS": 30, "SWEEP_DIR": "../runs/grid"}
    copies = [shutil.copy(path, tmp_path / path.name) for path in NOTEBOOKS]
    declared = {path.name: set(pm.inspect_notebook(str(path))) for path in NOTEBOOKS}
    changed = {Path(path).name: sorted(series.sync_defaults(Path(path), defaults)) for path in copies}
    assert changed == {name: sorted({"EPOCHS", "SWEEP_DIR"} & names) for name, names in declared.items()}
    assert changed["03_training.ipynb"] == ["EPOCHS"]
    assert changed["07_experiments.ipynb"] == ["EPOCHS", "SWEEP_DIR"]
    cell = next(c for c in nbformat.read(tmp_path / NOTEBOOKS[6].name, as_version=4).cells
                if "parameters" in c.metadata.get("tags", []))
    assert "\nEPOCHS = 30\n" in cell.source and '\nSWEEP_DIR = "../runs/grid"\n' in cell.source
    assert "IWAE_K = 100\nTRAIN_IMAGES = None  # None: all 55,000 training images" in cell.source  # kept
    assert [series.sync_defaults(Path(path), defaults) for path in copies] == [[]] * len(copies)


def test_only_the_default_run_writes_the_committed_figures():

    assert figures_dir(None, "../artifacts", is_default_run(**SERIES_DEFAULTS)) == Path("../imgs")
    assert is_default_run(EPOCHS=20, DATA_DIR="/data", RESUME=True)  # these do not change the figures
    for changed in ({"LATENT_DIM": 10}, {"EPOCHS": 5}, {"ARTIFACTS_DIR": "/tmp/run"}, {"BETAS": [1.0]}):
        assert not is_default_run(**{**SERIES_DEFAULTS, **changed}), changed
    assert figures_dir(None, "/tmp/run", False) == Path("/tmp/run/imgs")
    assert figures_dir("/elsewhere", "/tmp/run", True) == Path("/elsewhere")


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs a git checkout")
def test_a_non_default_run_leaves_the_committed_files_alone(tmp_path, mnist_dir):
    """papermill with ARTIFACTS_DIR set and IMGS_DIR left alone (and 3 epochs):
    figures go to ARTIFACTS_DIR/imgs, and no tracked file changes."""
    before = _tracked_state()
    run = tmp_path / "run"
    subprocess.run([sys.executable, str(ROOT / "tools" / "run_series.py"), "--only", "03", "04", "05", "06",
                    "--output-dir", str(tmp_path / "notebooks"), "-p", "EPOCHS", "3", "-p", "IWAE_K", "2",
                    "-p", "ARTIFACTS_DIR", str(run), "-p", "DATA_DIR", str(mnist_dir)],
                   check=True, capture_output=True, text=True)
    assert _tracked_state() == before
    written = {p.name for p in (run / "imgs").glob("*.png")}
    assert {"loss_curves.png", "reconstructions.png", "samples.png", "manifold.png", "latent_space.png",
            "interpolation.png"} <= written


def test_licence_and_citation_say_what_a_teacher_may_do():
    """Code under MIT, prose and figures under CC BY 4.0, each stated per file type; a valid
    CITATION.cff (cffconvert validated it against schema 1.2.0 when it was written)."""
    licence = (ROOT / "LICENSE").read_text()
    for words in ("MIT License", "Permission is hereby granted", "CC BY 4.0",
                  "creativecommons.org/licenses/by/4.0/legalcode", "src/", "code cells of the notebooks",
                  "markdown cells of the notebooks", "imgs/"):
        assert words in licence, words
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0"
    assert {"message", "title", "authors", "license", "version"} <= set(citation)
    assert citation["license"] == ["MIT", "CC-BY-4.0"]
    readme = (ROOT / "README.md").read_text()
    assert "(LICENSE)" in readme and "(CITATION.cff)" in readme


# Runs a student is invited to try (few epochs, a large beta, a small and a large latent size,
# Fashion-MNIST), two settings per run to keep it short; `make run` as a student types it.
TRIED_RUNS = {
    "1 epoch, beta 8, latent size 1": {"EPOCHS": "1", "BETA": "8.0", "LATENT_DIM": "1"},
    "1 epoch, latent size 20, Fashion-MNIST": {"EPOCHS": "1", "LATENT_DIM": "20", "DATASET": "fashion_mnist"},
}


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs a git checkout")
@pytest.mark.parametrize("name", list(TRIED_RUNS))
def test_every_run_a_student_tries_finishes_and_reports_the_claims(name, tmp_path, mnist_dir):
    """`make run` with other parameters: every notebook finishes; each claim the text makes about
    the default run is printed with whether it holds in this run, none is asserted; no tracked
    file changes (the figures go beside the run's model)."""
    if not (mnist_dir.parent / "fashion_mnist").is_dir():
        pytest.skip("no fashion_mnist folder beside the MNIST one")
    before = _tracked_state()
    settings = [f"{k}={v}" for k, v in TRIED_RUNS[name].items()]
    run = subprocess.run(["make", "run", *settings, f"ARTIFACTS_DIR={tmp_path / 'art'}",
                          f"DATA_DIR={mnist_dir.parent}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert _tracked_state() == before
    import nbformat

    printed = ""
    for path in sorted((ROOT / "build" / "notebooks").glob("0[3-6]_*.ipynb")):
        printed += "".join(o.get("text", "") for c in nbformat.read(path, as_version=4).cells
                           if c.cell_type == "code" for o in c.outputs)
    claims = [line for line in printed.splitlines() if line.startswith("Claim of the text")]
    assert len(claims) >= 5 and all(" holds in this run: " in line or " does NOT hold in this run: " in line
                                    for line in claims), claims
    assert "Checked:" not in printed
    assert {"reconstructions.png", "samples.png", "latent_space.png"} <= {
        p.name for p in (tmp_path / "art" / "imgs").glob("*.png")}
