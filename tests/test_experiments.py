"""Notebook 07 (the experiments sweep) and its helpers."""

import csv
from pathlib import Path

import numpy as np
import pytest

import vae_helpers as vh
from vae_machinery.errors import ParameterError
from vae_machinery.parameters import check_parameters

ROOT = Path(__file__).resolve().parent.parent


def test_plan_sweep_trains_the_shared_run_once():
    runs = vh.plan_sweep([0.5, 1.0], [2, 5], [2])
    assert [r["run"] for r in runs] == ["beta0.5_latent2", "beta1_latent2", "beta1_latent5",
                                       "beta1_latent2_binarized"]
    assert runs[-1]["BINARIZE"] == "dynamic" and runs[0]["BINARIZE"] is None
    assert len({r["run"] for r in runs}) == len(runs)


@pytest.mark.parametrize("bad, message", [
    ({"BETAS": 1.0}, "BETAS must be a list of BETA values"),
    ({"BETAS": [1.0, -2.0]}, "its item -2.0 is not a valid BETA"),
    ({"LATENT_DIMS": [2, 0]}, "its item 0 is not a valid LATENT_DIM"),
    ({"BINARIZED_LATENT_DIMS": ["2"]}, "its item '2' is not a valid LATENT_DIM"),
    ({"IWAE_K": 0}, "IWAE_K must be a positive integer"),
    ({"RERUN": "yes"}, "RERUN must be True or False"),
])
def test_sweep_parameters_are_checked(bad, message):
    with pytest.raises(ParameterError, match=message):
        check_parameters(**bad)


def test_write_csv_round_trips(tmp_path):
    rows = [{"run": "a", "BETA": 0.5, "BINARIZE": None, "LATENT_DIM": 2, "test_neg_elbo": 150.123456},
            {"run": "b", "BETA": 1.0, "BINARIZE": "dynamic", "LATENT_DIM": 5, "test_neg_elbo": 99.5}]
    path = vh.write_csv(tmp_path / "r.csv", rows, ["run", "BETA", "BINARIZE", "LATENT_DIM", "test_neg_elbo"])
    got = list(csv.DictReader(path.open()))
    assert got[0] == {"run": "a", "BETA": "0.5000", "BINARIZE": "", "LATENT_DIM": "2",
                      "test_neg_elbo": "150.1235"}
    assert got[1]["BINARIZE"] == "dynamic"
    assert list(tmp_path.iterdir()) == [path], "no temporary file left behind"
    table = vh.format_table(rows, ["run", "test_neg_elbo"]).splitlines()
    assert table[0].split() == ["run", "test_neg_elbo"] and table[2].split() == ["a", "150.12"]


def test_interpolation_starts_and_ends_at_the_reconstructions():
    model = vh.VAE(latent_dim=3, hidden_dim=16, seed=0)
    rng = np.random.default_rng(0)
    a, b = rng.random((4, 784), dtype=np.float32), rng.random((4, 784), dtype=np.float32)
    paths = vh.interpolate(model, a, b, steps=5)
    assert paths.shape == (4, 5, 784)
    np.testing.assert_allclose(paths[:, 0], vh.reconstruct(model, a), atol=1e-6)
    np.testing.assert_allclose(paths[:, -1], vh.reconstruct(model, b), atol=1e-6)
    with pytest.raises(ParameterError, match="steps"):
        vh.interpolate(model, a, b, steps=1)
    with pytest.raises(ValueError, match="pass pairs"):
        vh.interpolate(model, a, b[:3])


@pytest.mark.slow
def test_experiments_notebook_runs_a_tiny_sweep_and_reuses_it(short_runs):
    """The real notebook 07 through papermill: 4 settings x 2 seeds of one
    epoch on its default local Dask cluster (its short version, tests/conftest.py),
    then again (every run reused), checking the tables, the figures, and that the
    worked solutions pass their self-checks and hidden tests on this run's numbers."""
    outputs = []
    checks = []
    sweep, imgs = short_runs.folder / "experiments", short_runs.folder / "imgs"
    for cells in (short_runs("07"), short_runs.execute("07", "07-again.ipynb")):
        streams = [o["text"] for c in cells if c["cell_type"] == "code" for o in c["outputs"]
                   if o["output_type"] == "stream"]
        outputs.append("".join(t if isinstance(t, str) else "".join(t) for t in streams))
        checks += ["".join("".join(o.get("text", "")) for o in c["outputs"]) for c in cells
                   if "exercise-check" in c["metadata"].get("tags", [])]
    # 8 runs of the grid, then the decoder section's: a Gaussian decoder per seed and Keras' MSE once
    assert outputs[0].count("trained in") == 8 + 3 and "reused (training took" not in outputs[0]
    assert outputs[1].count("reused (training took") == 8 and "trained in" not in outputs[1]
    assert outputs[1].count("reused from") == 3
    assert "(1 and 1 seeds: too few for a test, no verdict)" not in outputs[0]  # two seeds a side here
    assert "(2 and 2 seeds: too few for a test, no verdict)" in outputs[0]
    assert "Dask scheduler at tcp://127.0.0.1:" in outputs[0]
    assert "Kernel is running over TCP" not in outputs[0], "nested kernels' stderr leaks into the notebook"
    assert len(checks) >= 4 and all(text.startswith("Passes the self-check") for text in checks), checks
    rows = list(csv.DictReader((sweep / "results.csv").open()))
    settings = ["beta0.5_latent2", "beta1_latent2", "beta1_latent5", "beta1_latent2_binarized"]
    assert [r["run"] for r in rows] == [f"{s}/seed{seed}" for s in settings for seed in (1, 2)]
    for r in rows:
        elbo, log_px = float(r["test_neg_elbo"]), float(r["test_log_px"])
        assert 0 < elbo < 400 and -elbo - 0.5 <= log_px < 0
    summary = list(csv.DictReader((sweep / "summary.csv").open()))
    assert [r["setting"] for r in summary] == settings and {r["seeds"] for r in summary} == {"2"}
    assert [r["BINARIZE"] for r in summary] == ["", "", "", "dynamic"]
    assert [r["LATENT_DIM"] for r in summary] == ["2", "2", "5", "2"]
    for s in summary:
        elbos = [float(r["test_neg_elbo"]) for r in rows if r["setting"] == s["setting"]]
        assert float(s["test_neg_elbo"]) == pytest.approx(np.mean(elbos), abs=1e-3)
        assert float(s["test_neg_elbo_std"]) == pytest.approx(np.std(elbos, ddof=1), abs=1e-3)
    for name in ("beta_sweep", "beta_sweep_gallery", "latent_sweep", "latent_sweep_samples",
                 "decoder_reconstructions", "decoder_samples"):
        assert (imgs / f"{name}.png").stat().st_size > 10_000
