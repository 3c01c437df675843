"""The model: shapes, loss math against NumPy, saving, and a short training run."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import vae_helpers as vh
from vae_machinery import runs
from vae_machinery.errors import ArtifactsError, ParameterError
from vae_machinery.fast_training import ConstantThenLinearDecay, EpochLogger, epoch_batches, epoch_order
from vae_machinery.files import atomic_write


def np_bce(x, logits):
    p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    return -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=-1)


def np_kl(mu, log_var):
    mu, log_var = mu.astype(np.float64), log_var.astype(np.float64)
    return 0.5 * np.sum(mu**2 + np.exp(log_var) - 1.0 - log_var, axis=-1)


@pytest.mark.parametrize("latent_dim", [2, 5])
def test_output_shapes(latent_dim):
    model = vh.VAE(latent_dim=latent_dim, hidden_dim=32, seed=0)
    x = np.random.default_rng(0).random((7, 784), dtype=np.float32)
    logits, z_mean, z_log_var = model(x)
    assert tuple(logits.shape) == (7, 784)
    assert tuple(z_mean.shape) == (7, latent_dim) == tuple(z_log_var.shape)
    assert model.decode(np.zeros((3, latent_dim), np.float32)).shape == (3, 784)
    assert vh.latent_means(model, x).shape == (7, latent_dim)


def test_parameter_count_matches_architecture():
    model = vh.VAE(latent_dim=2, hidden_dim=512)
    hidden = 512 * 512 + 512  # the second hidden layer, in encoder and decoder
    encoder = 784 * 512 + 512 + hidden + 2 * (512 * 2 + 2)
    decoder = 2 * 512 + 512 + hidden + 512 * 784 + 784
    assert model.count_params() == encoder + decoder == 1_333_012
    one_layer = vh.VAE(latent_dim=2, hidden_dim=512, hidden_layers=1)
    assert one_layer.count_params() == encoder + decoder - 2 * hidden


def test_bce_matches_numpy():
    rng = np.random.default_rng(1)
    x = rng.random((5, 784)).astype(np.float32)
    x[:, :300] = np.round(x[:, :300])  # binary and grey pixels
    logits = (rng.standard_normal((5, 784)) * 4).astype(np.float32)
    got = np.asarray(vh.reconstruction_bce(x, logits))
    np.testing.assert_allclose(got, np_bce(x, logits), rtol=1e-4)


def test_bce_of_half_probability_is_784_log_2():
    x = np.random.default_rng(2).random((3, 784)).astype(np.float32)
    got = np.asarray(vh.reconstruction_bce(x, np.zeros_like(x)))
    np.testing.assert_allclose(got, 784 * np.log(2), rtol=1e-5)


def test_kl_matches_numpy_and_is_zero_at_the_prior():
    rng = np.random.default_rng(3)
    mu = rng.standard_normal((6, 4)).astype(np.float32)
    log_var = rng.standard_normal((6, 4)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(vh.kl_divergence(mu, log_var)), np_kl(mu, log_var), rtol=1e-5)
    zeros = np.zeros((2, 4), np.float32)
    np.testing.assert_allclose(np.asarray(vh.kl_divergence(zeros, zeros)), 0.0, atol=1e-7)


@pytest.mark.parametrize("beta", [0.0, 1.0, 4.0])
def test_compute_loss_is_batch_mean_of_bce_plus_beta_kl(beta):
    model = vh.VAE(latent_dim=3, hidden_dim=16, beta=beta, seed=0)
    x = np.random.default_rng(4).random((8, 784), dtype=np.float32)
    logits, mu, log_var = (np.asarray(t) for t in model(x))
    loss = float(model.compute_loss(x=x, y_pred=(logits, mu, log_var)))
    expected = np.mean(np_bce(x, logits) + beta * np_kl(mu, log_var))
    assert loss == pytest.approx(expected, rel=1e-4)


def test_reparameterize_is_mu_plus_sigma_times_eps():
    rng = np.random.default_rng(6)
    mu, log_var, eps = (rng.standard_normal((5, 3)).astype(np.float32) for _ in range(3))
    z = np.asarray(vh.reparameterize(mu, log_var, eps))
    np.testing.assert_allclose(z, mu + np.exp(0.5 * log_var) * eps, rtol=1e-6, atol=1e-6)


def test_reparameterisation_has_the_right_moments():
    # eps drawn as VAE.call draws it: standard normal from the model's noise generator.
    model = vh.VAE(latent_dim=2, hidden_dim=8, seed=0)
    mu = np.tile(np.array([[1.0, -2.0]], np.float32), (20_000, 1))
    log_var = np.tile(np.log(np.array([[0.25, 4.0]], np.float32)), (20_000, 1))
    eps = vh.keras.random.normal(mu.shape, seed=model.noise)
    z = np.asarray(vh.reparameterize(mu, log_var, eps))
    np.testing.assert_allclose(z.mean(axis=0), [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(z.std(axis=0), [0.5, 2.0], rtol=0.03)


def test_vae_loss_is_bce_plus_beta_kl_per_image():
    rng = np.random.default_rng(7)
    x = rng.random((4, 784)).astype(np.float32)
    logits = rng.standard_normal((4, 784)).astype(np.float32)
    mu, log_var = (rng.standard_normal((4, 3)).astype(np.float32) for _ in range(2))
    for beta in (1.0, 0.25):
        got = np.asarray(vh.vae_loss(x, logits, mu, log_var, beta=beta))
        np.testing.assert_allclose(got, np_bce(x, logits) + beta * np_kl(mu, log_var), rtol=1e-4)


def _subset(data, n_train, n_val, n_test=None):
    """The first ``n_train`` training, ``n_val`` validation and ``n_test`` (default ``n_val``) test images."""
    n_test = n_val if n_test is None else n_test
    return dataclasses.replace(data, x_train=data.x_train[:n_train], y_train=data.y_train[:n_train],
                               x_val=data.x_val[:n_val], y_val=data.y_val[:n_val],
                               x_test=data.x_test[:n_test], y_test=data.y_test[:n_test])


def test_short_training_run_learns(mnist, capsys):
    vh.set_seed(0)
    small = _subset(mnist, 3000, 500)
    model = vh.VAE(latent_dim=2, hidden_dim=64, seed=0)
    before = vh.evaluate_vae(model, small.x_test)["neg_elbo"]
    history = vh.train_vae(model, small, epochs=3, batch_size=64, learning_rate=2e-3)
    after = vh.evaluate_vae(model, small.x_test)["neg_elbo"]
    assert before > 500 and after < 230, (before, after)  # untrained ~543 nats
    assert history["val_loss"][-1] < history["val_loss"][0]
    for key in ("reconstruction_loss", "kl_loss", "val_reconstruction_loss", "val_kl_loss"):
        assert len(history[key]) == 3
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[0].startswith("epoch 1/3") and "val: BCE" in out[0] and "test" not in out[0]
    # Running the training cell twice would train on with a spent learning-rate schedule: refused.
    weights = [w.copy() for w in model.get_weights()]
    with pytest.raises(ParameterError, match="trained already"):
        vh.train_vae(model, small, epochs=3, batch_size=64, learning_rate=2e-3)
    assert all((a == b).all() for a, b in zip(weights, model.get_weights()))


def test_training_validates_on_x_val_and_never_touches_the_test_images(mnist):
    """The history's val_* numbers are those of data.x_val; the test images
    (here NaN, which would poison any number computed from them) are not used."""
    vh.set_seed(0)
    small = _subset(mnist, 2000, 500)
    small = dataclasses.replace(small, x_test=np.full_like(small.x_test, np.nan))
    model = vh.VAE(latent_dim=2, hidden_dim=64, seed=0)
    seen = []
    original_fit = model.fit

    def recording_fit(batches, **kwargs):
        seen.append(np.concatenate([np.asarray(x) for (x,) in kwargs["validation_data"]]))
        return original_fit(batches, **kwargs)

    model.fit = recording_fit
    history = vh.train_vae(model, small, epochs=2, batch_size=100, learning_rate=2e-3, verbose=False)
    assert len(seen) == 2
    for x in seen:
        np.testing.assert_array_equal(x, small.x_val)  # all of x_val, in order, every epoch
    assert np.isfinite(history["val_loss"]).all() and np.isfinite(history["loss"]).all()
    # One z sample per image on both sides: equal up to sampling noise.
    val = vh.evaluate_vae(model, small.x_val)
    assert history["val_loss"][-1] == pytest.approx(val["neg_elbo"], abs=2.0)
    assert history["val_kl_loss"][-1] == pytest.approx(val["kl"], abs=0.5)


def test_artifacts_round_trip(tmp_path):
    model = vh.VAE(latent_dim=2, hidden_dim=16, seed=0)
    vh.compile_vae(model, 1e-3)
    model.optimizer.build(model.trainable_variables)  # as after training: its state is saved too
    x = np.random.default_rng(5).random((4, 784), dtype=np.float32)
    history = {"loss": [1.0, 0.5]}
    config = {"DATASET": "mnist", "LATENT_DIM": 2}
    vh.save_artifacts(tmp_path, model, history, config)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.json", "run.json", "vae.keras"]
    loaded, loaded_history, loaded_config = vh.load_artifacts(tmp_path, DATASET="mnist", LATENT_DIM=2)
    assert isinstance(loaded, vh.VAE) and loaded.latent_dim == 2 and loaded.hidden_dim == 16
    np.testing.assert_allclose(vh.latent_means(loaded, x), vh.latent_means(model, x), rtol=1e-6)
    assert loaded_history == history
    assert loaded_config == {**config, "matmul_precision": vh.matmul_precision(model)}


def test_learning_rate_is_constant_then_falls_linearly_to_zero():
    schedule = ConstantThenLinearDecay(4e-3, total_steps=100, decay_fraction=0.25)
    rates = [float(schedule(step)) for step in (0, 50, 75, 80, 90, 99, 100, 120)]
    np.testing.assert_allclose(rates, [4e-3, 4e-3, 4e-3, 3.2e-3, 1.6e-3, 0.16e-3, 0.0, 0.0],
                               rtol=1e-5, atol=1e-9)
    constant = ConstantThenLinearDecay(1e-3, total_steps=100, decay_fraction=0.0)
    assert [float(constant(step)) for step in (0, 99, 100)] == pytest.approx([1e-3] * 3)


def test_compile_vae_builds_the_schedule_only_with_a_step_count():
    model = vh.VAE(latent_dim=2, hidden_dim=8, seed=0)
    vh.compile_vae(model, 2e-3, total_steps=40, lr_decay=0.5)
    config = model.optimizer.get_config()
    assert config["learning_rate"]["class_name"] == "ConstantThenLinearDecay"
    assert config["learning_rate"]["config"] == {"learning_rate": 2e-3, "total_steps": 40,
                                                 "decay_fraction": 0.5}
    assert config["beta_2"] == vh.ADAM_BETA_2 == 0.99
    plain = vh.compile_vae(vh.VAE(latent_dim=2, hidden_dim=8, seed=0), 2e-3, lr_decay=0.5)
    assert float(plain.optimizer.learning_rate) == pytest.approx(2e-3)
    with pytest.raises(ParameterError, match="LR_DECAY = 2"):
        vh.compile_vae(model, 2e-3, total_steps=40, lr_decay=2)


def test_a_scheduled_model_saves_and_loads(tmp_path):
    model = vh.VAE(latent_dim=2, hidden_dim=16, seed=0)
    vh.compile_vae(model, 4e-3, total_steps=200, lr_decay=0.25)
    model.optimizer.build(model.trainable_variables)
    vh.save_artifacts(tmp_path, model, {"loss": [1.0]}, {"LATENT_DIM": 2})
    loaded, _, _ = vh.load_artifacts(tmp_path, LATENT_DIM=2)
    assert loaded.optimizer.get_config()["learning_rate"] == model.optimizer.get_config()["learning_rate"]
    assert float(loaded.optimizer.learning_rate) == pytest.approx(4e-3)


def test_missing_artifacts_say_which_notebook_to_run(tmp_path):
    with pytest.raises(ArtifactsError, match="No trained model.*Run 03_training.ipynb first"):
        vh.load_artifacts(tmp_path / "artifacts", LATENT_DIM=2)


def test_mismatched_artifacts_are_refused(tmp_path):
    (tmp_path / "vae.keras").write_bytes(b"")
    runs.write_run(tmp_path, {"DATASET": "mnist", "LATENT_DIM": 2}, {}, model_file="vae.keras",
                   matmul_precision="float32")
    with pytest.raises(ArtifactsError,
                       match="trained with LATENT_DIM = 2.*this notebook has LATENT_DIM = 10"):
        vh.load_artifacts(tmp_path, DATASET="mnist", LATENT_DIM=10)


def test_failed_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "history.json"
    target.write_text("old")

    def crash(path):
        path.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, crash)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["history.json"]


def test_manifold_grid_uses_normal_quantiles():
    model = vh.VAE(latent_dim=2, hidden_dim=8, seed=0)
    coords, canvas = vh.decode_manifold(model, n=5)
    assert canvas.shape == (140, 140)
    assert coords[0] == pytest.approx(-1.6449, abs=1e-3) and coords[2] == pytest.approx(0.0, abs=1e-6)


class _StopAt(vh.keras.callbacks.Callback):
    """Simulate Ctrl-C at the start of a given epoch."""

    def __init__(self, epoch):
        super().__init__()
        self.stop_epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.stop_epoch:
            raise KeyboardInterrupt


def _fresh_model():
    vh.set_seed(3)
    return vh.VAE(latent_dim=2, hidden_dim=32, seed=3)


def _epoch_arrays(batches):
    return [np.asarray(x) for (x,) in batches]


def test_epoch_batches_follow_the_order_and_binarize_reproducibly():
    import tensorflow as tf

    x = np.random.default_rng(0).random((10, 784), dtype=np.float32)
    order = epoch_order(7, 0, 10)
    grey = _epoch_arrays(epoch_batches(tf.constant(x), order, 4))
    assert [len(b) for b in grey] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate(grey), x[order])

    binary = np.concatenate(_epoch_arrays(epoch_batches(tf.constant(x), order, 4, binarize_seed=5)))
    again = np.concatenate(_epoch_arrays(epoch_batches(tf.constant(x), order, 4, binarize_seed=5)))
    other = np.concatenate(_epoch_arrays(epoch_batches(tf.constant(x), order, 4, binarize_seed=6)))
    assert set(np.unique(binary)) == {0.0, 1.0}
    np.testing.assert_array_equal(binary, again)  # what makes a resumed run exact
    assert not np.array_equal(binary, other)
    assert abs(binary.mean() - x.mean()) < 0.02


def test_same_seed_gives_identical_weights(mnist):
    small = _subset(mnist, 1000, 200)
    runs = []
    for _ in range(2):
        model = _fresh_model()
        vh.train_vae(model, small, epochs=2, batch_size=100, learning_rate=1e-3, seed=3, verbose=False)
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_the_seed_alone_fixes_the_initial_weights_as_keras_would_after_set_seed():
    """vh.VAE(seed=s) seeds each layer's initializer publicly: the same weights whatever was drawn from
    Python's global random state before (a Dask worker's threads draw from it), and the same weights
    as Keras' own unseeded draws right after vh.set_seed(s), so runs trained before keep their weights."""
    import random

    def weights(seed, *, draws_before=0, seeded=True):
        vh.set_seed(seed)
        for _ in range(draws_before):
            random.random()
        return vh.VAE(latent_dim=3, hidden_dim=16, seed=seed if seeded else None).get_weights()

    reference = weights(5)
    for other in (weights(5, draws_before=7), weights(5, seeded=False)):
        for a, b in zip(reference, other):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(weights(6)[0], reference[0])  # another seed, other weights
    # Unseeded, the draws before change the weights: what the seed now protects against.
    assert not np.array_equal(weights(5, draws_before=7, seeded=False)[0], reference[0])


def test_training_follows_the_learning_rate_schedule(mnist):
    small = _subset(mnist, 400, 100)
    history = vh.train_vae(_fresh_model(), small, epochs=4, batch_size=100, learning_rate=2e-3,
                           lr_decay=0.5, seed=3, verbose=False)
    # 4 steps per epoch, 16 in all; the rate falls over the last 8 steps.
    np.testing.assert_allclose(history["learning_rate"], [2e-3, 2e-3, 2e-3, 1e-3], rtol=1e-5)


@pytest.mark.slow
def test_interrupted_then_resumed_run_matches_a_straight_run(mnist, tmp_path, capsys):
    small = _subset(mnist, 1000, 200)
    # The learning rate decays over the last two epochs: the resumed run must
    # pick up the schedule where the interrupted one stopped.
    kwargs = dict(epochs=3, batch_size=100, learning_rate=1e-3, lr_decay=0.6, seed=3, verbose=True)

    straight = _fresh_model()
    straight_history = vh.train_vae(straight, small, **kwargs)

    interrupted = _fresh_model()
    with pytest.raises(KeyboardInterrupt):
        vh.train_vae(interrupted, small, checkpoint_dir=tmp_path, callbacks=[_StopAt(2)], **kwargs)
    assert (tmp_path / "checkpoint.npz").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.npz"], "no temporary file left behind"
    capsys.readouterr()

    resumed = _fresh_model()
    history = vh.train_vae(resumed, small, checkpoint_dir=tmp_path, resume=True, **kwargs)
    out = capsys.readouterr().out
    assert "Resuming after epoch 2" in out and "epoch 3/3" in out and "epoch 1/3" not in out
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert history["val_loss"] == straight_history["val_loss"]
    assert history["learning_rate"] == straight_history["learning_rate"]
    assert history["learning_rate"][1] == pytest.approx(1e-3) and history["learning_rate"][2] < 0.6e-3


def test_resume_refuses_a_checkpoint_of_other_settings(mnist, tmp_path):
    small = _subset(mnist, 300, 100)
    vh.train_vae(_fresh_model(), small, epochs=1, batch_size=100, learning_rate=1e-3, seed=3,
                 checkpoint_dir=tmp_path, verbose=False)
    with pytest.raises(ArtifactsError, match="other settings.*batch_size.*RESUME = False"):
        vh.train_vae(_fresh_model(), small, epochs=2, batch_size=50, learning_rate=1e-3, seed=3,
                     checkpoint_dir=tmp_path, resume=True, verbose=False)
    with pytest.raises(ArtifactsError, match=r"other settings.*'lr_decay': \(0.0, 0.25\)"):
        vh.train_vae(_fresh_model(), small, epochs=1, batch_size=100, learning_rate=1e-3, lr_decay=0.25,
                     seed=3, checkpoint_dir=tmp_path, resume=True, verbose=False)
    # EPOCHS too: the learning rate's schedule spans the run, so 2 epochs would continue another schedule
    with pytest.raises(ArtifactsError, match=r"other settings.*'epochs': \(1, 2\).*RESUME = False"):
        vh.train_vae(_fresh_model(), small, epochs=2, batch_size=100, learning_rate=1e-3, seed=3,
                     checkpoint_dir=tmp_path, resume=True, verbose=False)


def test_nan_loss_stops_with_advice(mnist):
    small = _subset(mnist, 300, 100)
    model = _fresh_model()
    poisoned = dataclasses.replace(small, x_train=np.full_like(small.x_train, np.nan))
    with pytest.raises(FloatingPointError, match="NaN or infinite in epoch 1.*Lower LEARNING_RATE"):
        vh.train_vae(model, poisoned, epochs=2, batch_size=100, learning_rate=1e-3, verbose=False)


def test_no_pickle_in_the_helpers():
    import vae_machinery

    files = [Path(vh.__file__), *Path(vae_machinery.__file__).parent.glob("*.py")]
    assert len(files) > 10  # vae_helpers.py and the package's modules
    for path in files:
        source = path.read_text()
        assert "allow_pickle=True" not in source and "import pickle" not in source, path.name


def test_the_helpers_never_run_notebooks():
    """Running notebooks (papermill) is the tools' job (tools/run_series.py behind `make run`), not the
    package's: no module of vae_helpers or vae_machinery imports papermill, and it is not a dependency
    of the installed package."""
    import tomllib

    import vae_machinery

    assert not hasattr(vh, "run_notebook") and not hasattr(vh, "run_sweep")
    for path in [Path(vh.__file__), *Path(vae_machinery.__file__).parent.rglob("*.py")]:
        assert "papermill as" not in path.read_text() and "import papermill" not in path.read_text(), path
    pyproject = tomllib.loads((Path(vh.__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert not [d for d in pyproject["project"]["dependencies"] if d.startswith("papermill")]


def test_loss_curves_shade_the_epochs_with_a_falling_learning_rate():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = ("reconstruction_loss", "kl_loss", "loss")
    history = {k: [3.0, 2.0, 1.5, 1.2] for k in parts} | {f"val_{k}": [3.1, 2.1, 1.6, 1.3] for k in parts}
    fig = vh.plot_loss_curves(history | {"learning_rate": [1e-3, 1e-3, 0.5e-3, 0.25e-3]}, title="t")
    for ax in fig.axes:
        (span,) = ax.patches
        assert span.get_x() == pytest.approx(1.5) and span.get_width() == pytest.approx(3.0)
    (legend,) = fig.legends  # one legend for the three panels, below them
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == ["learning rate falling", "train", "validation"]  # val_* is validation, not test
    plt.close(fig)
    constant = vh.plot_loss_curves(history | {"learning_rate": [1e-3] * 4}, title="t")
    assert not any(ax.patches for ax in constant.axes)
    plt.close(constant)


def test_reconstructions_figure_puts_ten_pairs_per_row_and_labels_every_image():
    import matplotlib.pyplot as plt

    images = np.random.default_rng(0).random((20, 784)).astype("float32")
    labels = np.repeat(np.arange(10), 2)
    fig = vh.plot_reconstructions(images, images, labels, [str(k) for k in range(10)], "t")
    grid = np.array(fig.axes).reshape(4, 10)  # originals, reconstructions, originals, reconstructions
    assert [ax.get_title() for ax in grid[0]] == [str(k) for k in labels[:10]]
    assert [ax.get_title() for ax in grid[2]] == [str(k) for k in labels[10:]]
    assert grid[0, 0].get_ylabel() == "original" and grid[3, 0].get_ylabel() == "reconstruction"
    plt.close(fig)
    single = vh.plot_reconstructions(images[:1], images[:1], labels[:1], [str(k) for k in range(10)], "t")
    assert len(single.axes) == 2
    plt.close(single)


@pytest.mark.parametrize("label, unit", [(None, None), ("-log N", None), ("MSE", "")])
def test_the_epoch_line_names_the_models_reconstruction_term(label, unit, capsys):
    """The training log says BCE and nats, unless the model names its reconstruction term (07's Gaussian
    decoder) or its loss's unit (07's Keras mean squared error: no unit)."""
    model = vh.VAE(latent_dim=2, hidden_dim=8)
    if label is not None:
        model.reconstruction_label = label
    if unit is not None:
        model.loss_unit = unit
    vh.compile_vae(model, 1e-3)
    logger = EpochLogger(epochs=3)
    logger.set_model(model)
    logger.on_epoch_begin(0)
    logs = {"reconstruction_loss": 1.0, "kl_loss": 2.0, "loss": 3.0, "val_reconstruction_loss": 4.0,
            "val_kl_loss": 5.0, "val_loss": 6.0}
    logger.on_epoch_end(0, logs)
    line = capsys.readouterr().out
    name = label or "BCE"
    assert f"train: {name}    1.00" in line and f"val: {name}    4.00" in line
    assert label is None or "BCE" not in line
    assert ("nats" in line) is (unit is None), line
