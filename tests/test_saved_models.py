"""Saved models keep loading: a model file written by the code before
vae_helpers was split into vae_helpers + vae_machinery (commit fe8e490)
loads with today's code, in Keras' safe mode, and decodes the same pixels.

The fixture ``vae_saved_at_fe8e490.keras.b64`` is the base64 of the
``.keras`` file of ``VAE(latent_dim=2, hidden_dim=4, seed=7)`` saved by that
commit; ``vae_saved_at_fe8e490.json`` holds latent points ``z`` and the first
16 pixel probabilities the saved model decoded them to.
"""

import base64
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import vae_helpers as vh
from vae_machinery import runs

keras = vh.keras

FIXTURES = Path(__file__).resolve().parent / "fixtures"
OLD_MODEL = FIXTURES / "vae_saved_at_fe8e490.keras.b64"
OLD_OUTPUTS = FIXTURES / "vae_saved_at_fe8e490.json"


@pytest.fixture(scope="module")
def expected():
    return json.loads(OLD_OUTPUTS.read_text())


@pytest.fixture
def old_model_file(tmp_path) -> Path:
    path = tmp_path / "vae.keras"
    path.write_bytes(base64.b64decode(OLD_MODEL.read_text()))
    return path


def test_the_fixture_is_a_keras_file_of_the_old_code(old_model_file, expected):
    with zipfile.ZipFile(old_model_file) as archive:
        config = json.loads(archive.read("config.json"))
    # Saved under the names the model is registered with: they must not change.
    assert config["registered_name"] == "vae_helpers>VAE" and config["module"] == "vae_helpers"
    assert config["config"]["latent_dim"] == expected["latent_dim"] == 2
    assert config["config"]["hidden_dim"] == expected["hidden_dim"] == 4


def test_a_model_saved_before_the_split_loads_and_decodes_the_same(old_model_file, expected):
    model = keras.saving.load_model(old_model_file, safe_mode=True)
    assert isinstance(model, vh.VAE)
    assert (model.latent_dim, model.hidden_dim, model.input_dim) == (2, 4, vh.IMAGE_PIXELS)
    assert (model.hidden_layers, model.activation, model.beta, model.seed) == (2, "silu", 1.0, 7)
    dense = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.Dense)]
    assert len(dense) == 7, "its layers (vae_helpers>Dense, a keras.layers.Dense) load"
    z = np.array(expected["z"], dtype=np.float32)
    decoded = model.decode(z)
    assert decoded.shape == (len(z), vh.IMAGE_PIXELS)
    np.testing.assert_allclose(decoded[:, :16], np.array(expected["decoded_first_pixels"]), rtol=0, atol=1e-6)
    # Not a trivially untrained decoder: away from z = 0 the pixels differ from 0.5.
    assert np.abs(decoded[1:, :16] - 0.5).max() > 1e-3


def test_an_old_model_loads_through_load_artifacts_and_saves_again(old_model_file, expected, tmp_path):
    folder = tmp_path / "artifacts"
    folder.mkdir()
    old_model_file.rename(folder / vh.MODEL_FILE)
    (folder / vh.HISTORY_FILE).write_text(json.dumps({"loss": [1.0]}))
    settings = {"DATASET": "mnist", "LATENT_DIM": 2}
    runs.write_run(folder, settings, {}, model_file=vh.MODEL_FILE, matmul_precision="float32")
    model, history, _ = vh.load_artifacts(folder, DATASET="mnist", LATENT_DIM=2)
    assert isinstance(model, vh.VAE) and history == {"loss": [1.0]}
    z = np.array(expected["z"], dtype=np.float32)
    # Saved again by today's code and loaded once more: still the same model.
    vh.save_artifacts(tmp_path / "again", model, history, settings)
    again, _, _ = vh.load_artifacts(tmp_path / "again", LATENT_DIM=2)
    np.testing.assert_allclose(again.decode(z)[:, :16], np.array(expected["decoded_first_pixels"]),
                               rtol=0, atol=1e-6)
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_trained_model_round_trips_through_save_and_load_artifacts(mnist, tmp_path):
    vh.set_seed(1)
    data = vh.Dataset(mnist.name, mnist.x_train[:500], mnist.y_train[:500], mnist.x_val[:100],
                      mnist.y_val[:100], mnist.x_test[:100], mnist.y_test[:100], mnist.class_names,
                      mnist.source)
    model = vh.VAE(latent_dim=2, hidden_dim=16, seed=1)
    history = vh.train_vae(model, data, epochs=1, batch_size=100, learning_rate=1e-3, lr_decay=0.5,
                           verbose=False)
    config = {"DATASET": "mnist", "LATENT_DIM": 2, "HIDDEN_DIM": 16}
    vh.save_artifacts(tmp_path, model, history, config)
    loaded, loaded_history, loaded_config = vh.load_artifacts(tmp_path, LATENT_DIM=2, HIDDEN_DIM=16)
    assert isinstance(loaded, vh.VAE) and loaded_history == history
    assert loaded_config == {**config, "matmul_precision": vh.matmul_precision(model)}
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    z = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
    np.testing.assert_array_equal(loaded.decode(z), model.decode(z))
    np.testing.assert_array_equal(vh.latent_means(loaded, data.x_test), vh.latent_means(model, data.x_test))
    # The optimizer comes back with its schedule and state, ready to train on.
    assert loaded.optimizer.get_config()["learning_rate"] == model.optimizer.get_config()["learning_rate"]
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 5


def _classes(config: dict) -> set[str]:
    """Every ``module.class_name`` (or registered name) in a saved model's config.json."""
    found = set()
    if isinstance(config, dict):
        if "class_name" in config and config["class_name"] != "__keras_tensor__":
            registered = config.get("registered_name") or ""
            found.add(registered if ">" in registered else f"{config.get('module')}.{config['class_name']}")
        for value in config.values():
            found |= _classes(value)
    elif isinstance(config, list):
        for value in config:
            found |= _classes(value)
    return found


LOAD_WITH_KERAS_ALONE = """
import sys
import numpy as np
import keras
network = keras.saving.load_model(sys.argv[1], safe_mode=True)
outputs = network.predict(np.load(sys.argv[2]), verbose=0)
np.save(sys.argv[3], np.concatenate([np.ravel(o) for o in keras.tree.flatten(outputs)]))
project = [name for name in sys.modules if name.startswith(("vae_helpers", "vae_machinery"))]
assert not project, project
"""


def test_a_model_saved_now_names_only_keras_layers_and_loads_with_keras_alone(tmp_path):
    """The speed layer stays out of what a student saves: the VAE's file names vae_helpers' VAE and
    nothing of vae_machinery; its encoder and decoder, saved alone, name Keras' own classes only
    and load in a Python that imports Keras and neither vae_helpers nor vae_machinery."""
    import subprocess
    import sys

    model = vh.VAE(latent_dim=2, hidden_dim=4, seed=7)
    vh.compile_vae(model, 1e-3)  # bfloat16 training switched on where the CPU has it: not saved
    model.save(tmp_path / "vae.keras")
    with zipfile.ZipFile(tmp_path / "vae.keras") as archive:
        classes = _classes(json.loads(archive.read("config.json")))
    assert {name for name in classes if not name.startswith("keras.")} == {"vae_helpers>VAE"}, classes
    rng = np.random.default_rng(0)
    for network, inputs in ((model.encoder, rng.random((3, vh.IMAGE_PIXELS), dtype=np.float32)),
                            (model.decoder, rng.standard_normal((3, 2)).astype(np.float32))):
        path = tmp_path / f"{network.name}.keras"
        network.save(path)
        with zipfile.ZipFile(path) as archive:
            classes = _classes(json.loads(archive.read("config.json")))
        assert all(name.startswith("keras.") for name in classes), classes
        np.save(tmp_path / "inputs.npy", inputs)
        loaded = subprocess.run([sys.executable, "-c", LOAD_WITH_KERAS_ALONE, str(path),
                                 str(tmp_path / "inputs.npy"), str(tmp_path / "outputs.npy")],
                                cwd=tmp_path, capture_output=True, text=True)
        assert loaded.returncode == 0, loaded.stderr[-2000:]
        outputs = network.predict(inputs, verbose=0)
        expected = np.concatenate([np.ravel(o) for o in keras.tree.flatten(outputs)])
        np.testing.assert_allclose(np.load(tmp_path / "outputs.npy"), expected, rtol=1e-6)
