"""The series' one run record (vae_machinery.runs): what it holds, when a run
is reused, and the conversion of runs saved by earlier versions
(tools/convert_runs.py)."""

import importlib.util
import json
from pathlib import Path

import pytest

import vae_helpers as vh
from vae_machinery import runs
from vae_machinery.bfloat16 import resolve_matmul_precision

ROOT = Path(__file__).resolve().parent.parent
HERE = resolve_matmul_precision("auto")
OTHER = "float32" if HERE == "bfloat16" else "bfloat16"
SETTINGS = {"BETA": 1.0, "LATENT_DIM": 2, "BINARIZE": None, "SEEDS": (42, 43)}


def _convert_runs():
    spec = importlib.util.spec_from_file_location("convert_runs", ROOT / "tools" / "convert_runs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _saved(folder, settings=SETTINGS, precision=HERE, model_file=vh.MODEL_FILE):
    runs.start_run(folder)
    (folder / model_file).write_bytes(b"model")
    results = {"test_neg_elbo": 140.0, "val_loss": 141.0}
    return runs.write_run(folder, settings, results, model_file=model_file, matmul_precision=precision)


def test_a_run_is_reused_only_with_the_same_settings_and_this_machines_precision(tmp_path):
    assert runs.finished_run(tmp_path, SETTINGS) is None  # nothing saved yet
    record = _saved(tmp_path)
    assert runs.finished_run(tmp_path, SETTINGS) == record  # tuples read back as lists: the same settings
    assert record["settings"]["SEEDS"] == [42, 43] and record["model"] == vh.MODEL_FILE
    assert runs.finished_run(tmp_path, {**SETTINGS, "BETA": 2.0}) is None
    assert runs.finished_run(tmp_path, {**SETTINGS, "EPOCHS": 20}) is None  # a setting more is another run
    assert runs.finished_run(tmp_path, {k: v for k, v in SETTINGS.items() if k != "BETA"}) is None
    _saved(tmp_path, precision=OTHER)  # a run from a machine whose "auto" means the other precision
    assert runs.finished_run(tmp_path, SETTINGS) is None
    # A run that asked for float32 is reused on any machine.
    float32 = {**SETTINGS, "MATMUL_PRECISION": "float32"}
    _saved(tmp_path, float32, precision="float32")
    assert runs.finished_run(tmp_path, float32) is not None


def test_a_folder_without_its_record_or_its_model_is_not_finished(tmp_path):
    _saved(tmp_path)
    (tmp_path / vh.MODEL_FILE).unlink()
    assert runs.read_run(tmp_path) is None and runs.finished_run(tmp_path, SETTINGS) is None
    _saved(tmp_path)
    runs.start_run(tmp_path)  # a run starts training again: its old record goes first
    assert not (tmp_path / runs.RUN_FILE).exists() and runs.finished_run(tmp_path, SETTINGS) is None


def test_load_artifacts_returns_the_records_settings_and_results_in_one_dict(tmp_path):
    model = vh.VAE(latent_dim=2, hidden_dim=8)
    folder = vh.save_artifacts(tmp_path, model, {"loss": [1.0]}, {"LATENT_DIM": 2}, {"test_neg_elbo": 150.0})
    assert sorted(p.name for p in folder.iterdir()) == sorted([vh.MODEL_FILE, vh.HISTORY_FILE, vh.RUN_FILE])
    _, _, config = vh.load_artifacts(tmp_path, LATENT_DIM=2)
    assert config == {"LATENT_DIM": 2, "test_neg_elbo": 150.0, "matmul_precision": "float32"}
    record = json.loads((tmp_path / vh.RUN_FILE).read_text())
    assert record["settings"] == {"LATENT_DIM": 2} and record["results"] == {"test_neg_elbo": 150.0}


def test_old_runs_are_converted_to_the_record_and_then_reused(tmp_path, capsys):
    convert = _convert_runs()
    settings = {"BETA": 1.0, "LATENT_DIM": 2, "MATMUL_PRECISION": "auto"}
    results = {"test_neg_elbo": 140.0, "test_bce": 130.0, "test_kl": 10.0, "test_log_px": -138.0,
               "val_loss": 141.0, "train_time_s": 50.0}
    # 03 / 07 before the record: one flat config.json beside vae.keras.
    grid_run = tmp_path / "experiments" / "beta1_latent2" / "seed42"
    grid_run.mkdir(parents=True)
    (grid_run / vh.MODEL_FILE).write_bytes(b"model")
    (grid_run / "config.json").write_text(json.dumps({**settings, **results, "ARTIFACTS_DIR": "../artifacts",
                                                      "matmul_precision": HERE}))
    # From before the precision was recorded (float32 then), and from before the validation split.
    old = tmp_path / "old"
    old.mkdir()
    (old / vh.MODEL_FILE).write_bytes(b"model")
    (old / "config.json").write_text(json.dumps({**settings, **results}))
    ancient = tmp_path / "ancient"
    ancient.mkdir()
    (ancient / vh.MODEL_FILE).write_bytes(b"model")
    (ancient / "config.json").write_text(json.dumps({**settings, "test_neg_elbo": 150.0}))
    # 08-10 before the record: run.json with auto_precision.
    own = tmp_path / "collapse" / "beta1"
    own.mkdir(parents=True)
    (own / runs.WEIGHTS_FILE).write_bytes(b"weights")
    (own / runs.RUN_FILE).write_text(json.dumps({"settings": {"EPOCHS": 20}, "results": {"train_time_s": 9.0},
                                                 "log": "epoch 1/20\n", "auto_precision": HERE}))
    assert runs.finished_run(grid_run, settings) is None and runs.finished_run(own, {"EPOCHS": 20}) is None

    assert convert.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "3 runs converted" in out and "trained before the validation split" in out
    record = runs.finished_run(grid_run, settings)
    assert record is not None and record["results"] == results and not (grid_run / "config.json").exists()
    assert runs.flat(record)["test_neg_elbo"] == 140.0 and "ARTIFACTS_DIR" not in record["settings"]
    assert runs.read_run(old)["matmul_precision"] == "float32"
    assert runs.read_run(ancient) is None and (ancient / "config.json").is_file()  # left to train again
    record = runs.finished_run(own, {"EPOCHS": 20})
    assert record is not None and record["log"] == "epoch 1/20\n" and record["model"] == runs.WEIGHTS_FILE
    # Converted runs are records: a second pass finds nothing to do.
    assert convert.convert_tree(tmp_path) == [(ancient, "skipped: trained before the validation split, "
                                                        "train it again")]


def test_convert_runs_names_a_missing_folder(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _convert_runs().main([str(tmp_path / "nowhere")])
    assert "is not a folder" in capsys.readouterr().err
