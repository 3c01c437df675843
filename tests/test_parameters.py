"""Parameter checks: the error names the parameter, the value and the rule."""

from pathlib import Path

import pytest

import vae_helpers as vh
from vae_machinery.errors import ParameterError
from vae_machinery.parameters import check_parameters


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LATENT_DIM", 0, r"LATENT_DIM = 0 \(int\).*positive integer"),
        ("HIDDEN_DIM", 2.5, r"HIDDEN_DIM = 2.5 \(float\).*positive integer"),
        ("EPOCHS", "20", r"EPOCHS = '20' \(str\).*positive integer"),
        ("BATCH_SIZE", True, r"BATCH_SIZE = True \(bool\).*positive integer"),
        ("LEARNING_RATE", 0.0, r"LEARNING_RATE = 0.0.*finite number > 0"),
        ("LEARNING_RATE", float("nan"), r"LEARNING_RATE = nan.*finite"),
        ("LR_DECAY", 1.5, r"LR_DECAY = 1.5 \(float\).*from 0 to 1"),
        ("LR_DECAY", "0.25", r"LR_DECAY = '0.25' \(str\).*from 0 to 1"),
        ("LR_DECAY", float("nan"), r"LR_DECAY = nan.*from 0 to 1"),
        ("BETA", -1.0, r"BETA = -1.0.*>= 0"),
        ("BETA", float("inf"), r"BETA = inf.*finite"),
        ("DATASET", "MNIST", r"DATASET = 'MNIST'.*one of 'mnist', 'fashion_mnist'"),
        ("SEED", "42", r"SEED = '42' \(str\).*integer.*-p, not -r"),
    ],
)
def test_bad_parameter_is_named(name, value, message):
    with pytest.raises(ParameterError, match=message):
        check_parameters(**{name: value})


def test_data_dir_must_exist(tmp_path):
    check_parameters(DATA_DIR=None)
    check_parameters(DATA_DIR=str(tmp_path))
    with pytest.raises(ParameterError, match="DATA_DIR = .*nowhere.*existing folder"):
        check_parameters(DATA_DIR=str(tmp_path / "nowhere"))


def test_good_defaults_pass():
    check_parameters(SEED=42, DATASET="mnist", LATENT_DIM=2, HIDDEN_DIM=512, EPOCHS=20,
                        BATCH_SIZE=128, LEARNING_RATE=1e-3, LR_DECAY=0.0, BETA=0.0,
                        ARTIFACTS_DIR="../artifacts")
    check_parameters(LR_DECAY=1)


def test_unknown_name_is_a_programming_error():
    with pytest.raises(TypeError, match="LATENTDIM"):
        check_parameters(LATENTDIM=2)


def test_set_seed_rejects_strings():
    with pytest.raises(ParameterError, match="SEED must be an integer"):
        vh.set_seed("1")


@pytest.mark.parametrize(("params", "message"), [
    ({"BETAS": []}, "BETAS needs at least one value"),
    ({"SEEDS": []}, "SEEDS needs at least one value"),
    ({"CONV_LATENT_DIMS": []}, "CONV_LATENT_DIMS needs at least one value"),
    ({"SEEDS": [1, 1]}, "the seeds must be distinct"),
    ({"WARMUP_EPOCHS": 30, "EPOCHS": 20}, "WARMUP_EPOCHS = 30 is more than EPOCHS = 20"),
])
def test_parameters_that_go_together_are_checked_together(params, message):
    with pytest.raises(ParameterError, match=message):
        check_parameters(**params)
    check_parameters(WARMUP_EPOCHS=20, EPOCHS=20, SEEDS=[1, 2], BETAS=[0.0])  # the limits pass


def test_a_claim_is_an_assert_in_the_default_run_and_a_report_in_any_other(capsys):
    vh.claim(True, "the VAE beats the mean image", "BCE 137 vs 206", default_run=True)
    assert capsys.readouterr().out == "Checked: the VAE beats the mean image: BCE 137 vs 206.\n"
    with pytest.raises(AssertionError, match="The text says: the VAE beats the mean image. In this "
                                             "default run it does not hold: BCE 210 vs 206"):
        vh.claim(False, "the VAE beats the mean image", "BCE 210 vs 206", default_run=True)
    vh.claim(False, "the VAE beats the mean image", "BCE 210 vs 206", default_run=False)
    vh.claim(True, "the VAE beats the mean image", "BCE 180 vs 206", default_run=False)
    assert capsys.readouterr().out.splitlines() == [
        "Claim of the text (about the default run): the VAE beats the mean image: does NOT hold in this run: "
        "BCE 210 vs 206.",
        "Claim of the text (about the default run): the VAE beats the mean image: holds in this run: "
        "BCE 180 vs 206."]


def test_start_notebook_checks_seeds_and_chooses_the_figure_folder(tmp_path, monkeypatch, capsys):
    import numpy as np

    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")  # a notebooks/ folder of the series (a copy of it)
    defaults = {"SEED": 42, "DATASET": "mnist", "LATENT_DIM": 2, "ARTIFACTS_DIR": "../artifacts",
                "IMGS_DIR": None, "QUALITY_BAR": 153.0, "vh": vh}  # other names are not parameters
    assert vh.start_notebook(defaults) == (Path("../imgs"), True)
    first = np.random.random()
    assert vh.start_notebook({**defaults, "LATENT_DIM": 5}) == (Path("../artifacts/imgs"), False)
    assert np.random.random() == first, "seeded with SEED"
    assert vh.start_notebook({**defaults, "IMGS_DIR": "/figures"}) == (Path("/figures"), True)
    assert vh.start_notebook({"SEED": 1, "DATASET": "mnist"}) is None  # a notebook without figures
    with pytest.raises(ParameterError, match="LATENT_DIM = 0"):
        vh.start_notebook({**defaults, "LATENT_DIM": 0})
    assert "Figures go to ../artifacts/imgs" in capsys.readouterr().out


@pytest.mark.parametrize("folder", ["content", "notebooks_of_mine"])
def test_a_notebook_alone_in_a_folder_keeps_its_runs_and_figures_in_it(folder, tmp_path, monkeypatch, capsys):
    """Colab runs a notebook in /content, alone: '../artifacts' would be /artifacts, outside the folder
    the student sees. Outside a notebooks/ folder the folder parameters that leave it stay inside it,
    the notebook's own globals say so, and the default run is still the default run."""
    (tmp_path / folder).mkdir()
    monkeypatch.chdir(tmp_path / folder)
    namespace = {"SEED": 42, "DATASET": "mnist", "DATA_DIR": None, "LATENT_DIM": 2,
                 "ARTIFACTS_DIR": "../artifacts", "IMGS_DIR": None}
    assert vh.start_notebook(namespace) == (Path("imgs"), True)
    assert namespace["ARTIFACTS_DIR"] == "artifacts" and namespace["DATA_DIR"] is None
    assert "its runs stay in this folder (ARTIFACTS_DIR = 'artifacts')" in capsys.readouterr().out
    other = {**namespace, "ARTIFACTS_DIR": "../artifacts", "LATENT_DIM": 5, "IMGS_DIR": "/figures"}
    assert vh.start_notebook(other) == (Path("/figures"), False)
    sweep = {"SEED": 42, "SWEEP_DIR": "../artifacts/experiments", "IMGS_DIR": "../my_figures"}
    assert vh.start_notebook(sweep) == (Path("my_figures"), True)
    assert sweep["SWEEP_DIR"] == "artifacts/experiments"
    assert vh.start_notebook({**sweep, "IMGS_DIR": None}) == (Path("imgs"), True)  # the setup cell run twice
    assert vh.start_notebook({**sweep, "SWEEP_DIR": "/runs", "IMGS_DIR": None}) == (Path("/runs/imgs"), False)
    # a model trained with other settings than the committed run's: its figures beside its run
    assert vh.figures_for_model({"EPOCHS": 5}, Path("imgs"), "artifacts", True) == (
        Path("artifacts/imgs"), False)


def test_a_model_of_another_run_sends_the_figures_beside_it(capsys):
    default = dict(vh.TRAINING_DEFAULTS)
    assert vh.figures_for_model(default, Path("../imgs"), "../artifacts", True) == (Path("../imgs"), True)
    assert vh.figures_for_model({**default, "EPOCHS": 5}, Path("../imgs"), "../artifacts", True) == (
        Path("../artifacts/imgs"), False)
    assert "is not the committed run's: figures go to ../artifacts/imgs" in capsys.readouterr().out
    assert vh.figures_for_model({**default, "EPOCHS": 5}, Path("/mine"), "../artifacts", True) == (
        Path("/mine"), False)
    assert vh.figures_for_model({**default, "EPOCHS": 5}, Path("/x"), "a", False) == (Path("/x"), False)
