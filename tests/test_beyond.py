"""Notebooks 08-10 (conditional VAE, convolutional VAE, posterior collapse) and what they add to
the helpers: conditional training and evaluation, active units, the run cache.

Their default runs train for minutes to hours (08: six trainings of 2 to 3 minutes, 09: 1.8 hours,
10: about 9 minutes), too long for nbval on every CI run (conftest.py leaves them out of it); here each real
notebook runs through papermill with a tiny configuration (its short version in tests/conftest.py, run
once per test session and graded on by tests/test_editions.py), and the test checks its figures, its
result files, and that its worked solutions pass their self-checks. The conditional VAE is also
checked to really condition: a code z decoded with the ten labels gives ten images that a
classifier-free check tells apart.
"""

import csv
import json
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

import vae_helpers as vh
from vae_machinery import fast_training, runs
from vae_machinery.bfloat16 import bfloat16_matmul_supported
from vae_machinery.errors import ParameterError
from vae_machinery.parameters import check_parameters

ROOT = Path(__file__).resolve().parent.parent


def _checks(cells):
    """What every exercise self-check cell printed."""
    return ["".join("".join(o.get("text", "")) for o in c["outputs"]) for c in cells
            if "exercise-check" in c["metadata"].get("tags", [])]


def _stdout(cells):
    return "".join("".join(o.get("text", "")) for c in cells if c["cell_type"] == "code"
                   for o in c["outputs"] if o.get("name") == "stdout")


def _figures(folder, names):
    for name in names:
        assert (folder / f"{name}.png").stat().st_size > 10_000, name


# --------------------------------------------------------------------------
# The notebooks, through papermill
# --------------------------------------------------------------------------
@pytest.mark.slow
def test_conditional_vae_notebook_draws_the_digit_it_is_asked_for(short_runs, mnist):
    """08 with 2 epochs (its short version, tests/conftest.py): figures, saved runs, self-checks; and
    the conditioning itself, checked without a classifier: the code z = 0 decoded as each digit is
    nearest to that digit's mean training image (in pixel space) for at least 9 of the 10 digits."""
    cells = short_runs("08")
    art, imgs = short_runs.folder, short_runs.folder / "imgs"
    _figures(imgs, ["cvae_digits", "cvae_style_transfer", "cvae_latent_space"])
    checks = _checks(cells)
    assert len(checks) == 3 and all(text.startswith("Passes the self-check") for text in checks), checks
    for run in ("cvae", "vae", "cvae_seed43", "vae_seed43", "cvae_seed44", "vae_seed44"):  # SEEDS 42, 43, 44
        record = json.loads((art / "conditional" / run / runs.RUN_FILE).read_text())
        assert record["settings"]["EPOCHS"] == 2 and 0 < record["results"]["neg_elbo"] < 300, record
        assert record["results"]["log_px"] >= -record["results"]["neg_elbo"] - 0.5
    grid = np.load(art / "conditional" / "digit_grid.npz")
    images, z, digits = grid["images"], grid["z"], grid["digits"]
    assert images.shape == (10, 10, 784) and z.shape == (10, 2) and digits.tolist() == list(range(10))
    assert np.all(z[0] == 0), "the first column is the prior's centre"
    means = np.stack([mnist.x_train[mnist.y_train == d].mean(axis=0) for d in range(10)])
    nearest = ((images[:, :, None] - means[None, None]) ** 2).sum(axis=-1).argmin(axis=-1)  # (label, code)
    agree = nearest == digits[:, None]
    assert agree[:, 0].sum() >= 9, f"z = 0 drawn as the asked digit only {agree[:, 0].sum()} times of 10"
    # The same z with two different labels gives different images: the label is not ignored.
    assert np.abs(images[0, 0] - images[1, 0]).mean() > 0.05
    assert "Claim of the text (about the default run)" in _stdout(cells), (
        "a tiny run reports the default run's claims, it does not assert them")
    assert "Checked:" not in _stdout(cells)


@pytest.mark.slow
def test_conv_vae_notebook_compares_the_two_architectures(short_runs):
    """09 with one epoch on 1,024 images at latent size 2, two learning rates, one seed (its short
    version): both architectures try both rates and keep the better on validation; the table (CSV) has
    the chosen runs, with the parameter counts of the two architectures; the figure is drawn; the
    self-checks pass."""
    cells = short_runs("09")
    art, imgs = short_runs.folder, short_runs.folder / "imgs"
    _figures(imgs, ["conv_vs_mlp_reconstructions"])
    checks = _checks(cells)
    assert len(checks) == 2 and all(text.startswith("Passes the self-check") for text in checks), checks
    tried = sorted(p.name for p in (art / "conv").iterdir() if p.is_dir())
    assert tried == [f"{arch}_latent2_lr{rate}_seed1" for arch in ("conv", "mlp")
                     for rate in ("0.001", "0.004")]
    rows = list(csv.DictReader((art / "conv" / "results.csv").open()))
    assert [r["model"] for r in rows] == ["MLP", "conv"] and {r["run"] for r in rows} <= set(tried)
    assert [int(r["parameters"]) for r in rows] == [1_333_012, 134_165]
    for r in rows:
        assert float(r["test_log_px"]) >= -float(r["test_neg_elbo"]) - 0.5 and float(r["s_per_epoch"]) > 0
    out = _stdout(cells)
    assert "XLA is" in out and "equal time" in out and "moved by 2 pixels" in out
    assert "(1 and 1 seeds: too few for a test, no verdict)" in out
    assert "Claim of the text (about the default run)" in out


@pytest.mark.slow
def test_posterior_collapse_notebook_counts_active_units(short_runs):
    """10 with one epoch on 1,024 images, latent size 8 (its short version): six runs, each with its
    active units and KL per dimension; the figure; the self-checks."""
    cells = short_runs("10")
    art, imgs = short_runs.folder, short_runs.folder / "imgs"
    _figures(imgs, ["kl_per_dimension"])
    checks = _checks(cells)
    assert len(checks) == 3 and all(text.startswith("Passes the self-check") for text in checks), checks
    rows = list(csv.DictReader((art / "collapse" / "results.csv").open()))
    assert [r["run"] for r in rows] == ["β = 1", "β = 1, warm-up", "β = 1, free bits", "β = 4",
                                       "β = 4, warm-up", "β = 4, free bits"]
    assert all(0 <= int(r["active"]) <= 8 for r in rows)
    record = json.loads((art / "collapse" / "beta1" / runs.RUN_FILE).read_text())
    assert len(record["results"]["kl_per_dim"]) == 8
    assert sum(record["results"]["kl_per_dim"]) == pytest.approx(record["results"]["test_kl"], rel=0.02)
    assert "Claim of the text (about the default run)" in _stdout(cells)


# --------------------------------------------------------------------------
# What the helpers gained for them
# --------------------------------------------------------------------------
def _conditional_model(latent_dim=2, classes=3, pixels=6):
    """The smallest conditional VAE in the shape vh expects: encoder([x, y]), decoder([z, y])."""
    x, y, z = keras.Input((pixels,)), keras.Input((classes,)), keras.Input((latent_dim,))
    h = keras.layers.Dense(8, activation="tanh")(ops.concatenate([x, y], axis=-1))
    encoder = keras.Model([x, y], [keras.layers.Dense(latent_dim)(h), keras.layers.Dense(latent_dim)(h)])
    decoder = keras.Model([z, y], keras.layers.Dense(pixels)(ops.concatenate([z, y], axis=-1)))

    class Conditional(keras.Model):
        def __init__(self):
            super().__init__()
            self.encoder, self.decoder, self.latent_dim, self.input_dim = encoder, decoder, latent_dim, pixels

        def call(self, inputs, training=False):
            xs, ys = inputs
            z_mean, z_log_var = self.encoder([xs, ys])
            return self.decoder([z_mean, ys]), z_mean, z_log_var

    return Conditional()


def _with_label(model, y):
    """The conditional model with its label fixed to the one-hot row y: an unconditional model."""
    def label_for(rows):
        return ops.convert_to_tensor(np.repeat(y, ops.shape(rows)[0], axis=0))

    class Fixed:
        latent_dim, input_dim = model.latent_dim, model.input_dim

        @staticmethod
        def encoder(xs, training=False):
            return model.encoder([xs, label_for(xs)])

        @staticmethod
        def decoder(zs, training=False):
            return model.decoder([zs, label_for(zs)])

    return Fixed


def test_importance_weights_of_a_conditional_model_are_those_of_its_label():
    """With labels=, log w uses q(z | x, y) and p(x | z, y): equal, image by image, to the
    unconditional formula applied to a model whose label is fixed to that image's."""
    vh.set_seed(0)
    model = _conditional_model()
    rng = np.random.default_rng(0)
    x = (rng.random((4, 6)) < 0.5).astype("float32")
    labels = np.eye(3, dtype="float32")[[0, 2, 1, 2]]
    eps = rng.standard_normal((4, 5, 2)).astype("float32")
    log_w = ops.convert_to_numpy(vh.log_importance_weights(model, x, eps, labels))
    assert log_w.shape == (4, 5)
    for i in range(4):
        fixed = _with_label(model, labels[i : i + 1])
        np.testing.assert_allclose(log_w[i], ops.convert_to_numpy(
            vh.log_importance_weights(fixed, x[i : i + 1], eps[i : i + 1]))[0], rtol=1e-5, atol=1e-4)
    result = vh.iwae_log_likelihood(model, x, k=50, labels=labels)
    assert result["log_px"] >= result["elbo"]
    elbo = vh.evaluate_vae(model, x, labels=labels)
    assert elbo["neg_elbo"] == pytest.approx(elbo["bce"] + elbo["kl"])


def test_training_batches_carry_the_labels_of_their_images():
    import tensorflow as tf

    images = tf.constant(np.arange(20, dtype="float32").reshape(10, 2) / 20)
    labels = tf.constant(np.arange(10, dtype="float32")[:, None])
    order = np.random.default_rng(0).permutation(10)
    for binarize in (None, 7):
        batches = list(fast_training.epoch_batches((images, labels), order, 4, binarize))
        assert [len(b) for b in batches] == [1, 1, 1] and [b[0][0].shape[0] for b in batches] == [4, 4, 2]
        got = np.concatenate([b[0][1].numpy()[:, 0] for b in batches])
        np.testing.assert_array_equal(got, order)  # the labels of the rows gathered, never binarized
        if binarize is None:
            pixels = np.concatenate([b[0][0].numpy() for b in batches])
            np.testing.assert_allclose(pixels, images.numpy()[order])


def test_active_units_and_kl_per_dimension():
    """A dimension whose encoder mean ignores the image is inactive and, at the prior, costs no KL;
    the KL of the dimensions adds up to the model's KL."""
    vh.set_seed(0)
    model = vh.VAE(latent_dim=3, hidden_dim=8, seed=0)
    for head in ("z_mean", "z_log_var"):  # dimension 1 at the prior: mu = 0, log sigma^2 = 0
        kernel, bias = model.encoder.get_layer(head).get_weights()
        kernel[:, 1], bias[1] = 0.0, 0.0
        kernel[:, 0] *= 40.0 if head == "z_mean" else 1.0  # dimension 0 clearly moves with the image
        model.encoder.get_layer(head).set_weights([kernel, bias])
    x = np.random.default_rng(0).random((200, 784), dtype=np.float32)
    active = vh.active_units(model, x)
    assert active.dtype == bool and active.tolist()[:2] == [True, False]
    kl = vh.kl_per_dimension(model, x)
    assert kl.shape == (3,) and kl[1] == pytest.approx(0.0, abs=1e-6)
    assert kl.sum() == pytest.approx(vh.evaluate_vae(model, x)["kl"], rel=1e-4)
    assert vh.active_units(model, x, threshold=1e9).sum() == 0


@pytest.mark.skipif(not bfloat16_matmul_supported(), reason="needs a CPU with bfloat16 products")
def test_a_run_compiled_without_xla_records_float32_and_is_reused(tmp_path, capsys):
    """Notebook 09's convolutional runs compile without XLA, so their products are float32 even where
    "auto" means bfloat16: the record says float32 (it said bfloat16), and XLA = False in the settings
    makes the reuse rule expect float32, so the run is reused."""
    calls = []

    def run_of(model):
        def run():
            calls.append(1)
            vh.compile_vae(model, 1e-3, jit_compile=False)
            return {"train_time_s": 1.0}
        return run

    settings = {"EPOCHS": 1, "XLA": False}
    for _ in range(2):
        model = vh.VAE(latent_dim=2, hidden_dim=8, seed=0)
        runs.reuse_or_train(tmp_path / "conv", settings, model, run_of(model))
    assert calls == [1] and runs.read_run(tmp_path / "conv")["matmul_precision"] == "float32"
    model = vh.VAE(latent_dim=2, hidden_dim=8, seed=0)  # an XLA-compiled run: bfloat16 here

    def xla_run():
        vh.compile_vae(model, 1e-3)
        return {"train_time_s": 1.0}

    runs.reuse_or_train(tmp_path / "mlp", {"EPOCHS": 1}, model, xla_run)
    assert runs.read_run(tmp_path / "mlp")["matmul_precision"] == "bfloat16"


def test_reuse_or_train_trains_once_and_reuses_with_the_same_settings(tmp_path, capsys):
    def fresh():
        vh.set_seed(0)
        return vh.VAE(latent_dim=2, hidden_dim=8, seed=0)

    calls = []

    def train(model):
        def run():
            calls.append(1)
            print("a first line\nepoch 1/1  a line of the training log")
            model.encoder.get_layer("z_mean").set_weights(
                [np.full_like(w, 0.5) for w in model.encoder.get_layer("z_mean").get_weights()])
            return {"test_neg_elbo": 150.0, "train_time_s": 3.0}
        return run

    first = fresh()
    result = runs.reuse_or_train(tmp_path / "run", {"EPOCHS": 2}, first, train(first), name="a run")
    assert calls == [1] and result == {"test_neg_elbo": 150.0, "train_time_s": 3.0, "reused": False}
    second = fresh()
    result = runs.reuse_or_train(tmp_path / "run", {"EPOCHS": 2}, second, train(second), name="a run")
    assert calls == [1] and result["reused"] and result["test_neg_elbo"] == 150.0
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    out = capsys.readouterr().out
    assert "a run" in out and "trained in 3 s" in out and "reused from" in out and "training took 3 s" in out
    # What the training printed is printed again, indented, when the run is reused.
    assert out.count("epoch 1/1  a line of the training log") == 2 and "    epoch 1/1  a line" in out
    assert out.count("a first line") == 2
    runs.reuse_or_train(tmp_path / "run", {"EPOCHS": 2}, fresh(), train(fresh()), log_lines=1)
    out = capsys.readouterr().out  # only the last line of the log
    assert "the last line of its log:" in out and "a first line" not in out and "    epoch 1/1" in out
    runs.reuse_or_train(tmp_path / "run", {"EPOCHS": 3}, fresh(), train(fresh()))  # other settings
    runs.reuse_or_train(tmp_path / "run", {"EPOCHS": 3}, fresh(), train(fresh()), rerun=True)
    assert calls == [1, 1, 1]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == sorted([runs.RUN_FILE, runs.WEIGHTS_FILE])


def test_compile_without_xla():
    model = vh.compile_vae(vh.VAE(latent_dim=2, hidden_dim=8), 1e-3, jit_compile=False)
    assert model.jit_compile is False and vh.matmul_precision(model) == "float32"


@pytest.mark.parametrize("bad, message", [
    ({"TRAIN_IMAGES": 0}, "TRAIN_IMAGES must be None"),
    ({"CONV_LATENT_DIMS": [2, 0]}, "its item 0 is not a valid LATENT_DIM"),
    ({"LEARNING_RATES": [1e-3, -1.0]}, "its item -1.0 is not a valid LEARNING_RATE"),
    ({"COLLAPSE_LATENT_DIM": 2.5}, "COLLAPSE_LATENT_DIM must be a positive integer"),
    ({"HIGH_BETA": -4.0}, "HIGH_BETA must be a finite number >= 0"),
    ({"WARMUP_EPOCHS": -1}, "WARMUP_EPOCHS must be an integer >= 0"),
    ({"FREE_BITS": float("nan")}, "FREE_BITS must be a finite number >= 0"),
])
def test_the_new_parameters_are_checked(bad, message):
    with pytest.raises(ParameterError, match=message):
        check_parameters(**bad)
    check_parameters(TRAIN_IMAGES=None, CONV_LATENT_DIMS=[2, 20], WARMUP_EPOCHS=0, FREE_BITS=0.0)
