"""bfloat16 matrix products of training steps (MATMUL_PRECISION): the maths
against NumPy, the choice of precision, and its errors."""

import dataclasses

import numpy as np
import pytest

import vae_helpers as vh
from vae_machinery.bfloat16 import (
    bfloat16_matmul,
    bfloat16_matmul_supported,
    resolve_matmul_precision,
    set_matmul_precision,
)
from vae_machinery.errors import ArtifactsError, ParameterError
from vae_machinery.parameters import check_parameters

needs_bf16 = pytest.mark.skipif(not bfloat16_matmul_supported(),
                                reason="this CPU has no native bfloat16 products (AVX512-BF16/AMX)")


def _product_and_gradients(x, w, c):
    """y = x @ w with bfloat16_matmul under XLA, and the gradients of
    sum(y * c) with respect to x and w."""
    import tensorflow as tf

    @tf.function(jit_compile=True)
    def run(x, w):
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            y = bfloat16_matmul(x, w)
            loss = tf.reduce_sum(y * c)
        return (y, *tape.gradient(loss, [x, w]))

    return [np.asarray(t) for t in run(tf.constant(x), tf.constant(w))]


def test_bfloat16_matmul_and_its_gradients_match_numpy_to_bfloat16_precision():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 80)).astype(np.float32)
    w = rng.standard_normal((80, 48)).astype(np.float32)
    c = rng.standard_normal((96, 48)).astype(np.float32)
    y, dx, dw = _product_and_gradients(x, w, c)
    x64, w64, c64 = x.astype(np.float64), w.astype(np.float64), c.astype(np.float64)
    for got, want in ((y, x64 @ w64), (dx, c64 @ w64.T), (dw, x64.T @ c64)):
        assert got.dtype == np.float32 and got.shape == want.shape
        error = np.abs(got - want).max() / np.abs(want).max()
        # bfloat16 keeps 8 significant bits: a relative rounding of up to 2^-9
        # per input, partly averaging out over the sums. float32 would be ~1e-7.
        assert 1e-5 < error < 1e-2, error


def test_bfloat16_matmul_is_exact_on_bfloat16_numbers():
    # Small integers are exact in bfloat16 and their products sum exactly in
    # float32: any error would be a wrong product, not rounding.
    rng = np.random.default_rng(1)
    x = rng.integers(-8, 9, (64, 40)).astype(np.float32)
    w = rng.integers(-8, 9, (40, 24)).astype(np.float32)
    c = rng.integers(-8, 9, (64, 24)).astype(np.float32)
    y, dx, dw = _product_and_gradients(x, w, c)
    np.testing.assert_array_equal(y, x @ w)
    np.testing.assert_array_equal(dx, c @ w.T)
    np.testing.assert_array_equal(dw, x.T @ c)


def test_matmul_precision_parameter_is_checked():
    with pytest.raises(ParameterError,
                       match=r"MATMUL_PRECISION = 'bf16' \(str\).*'auto'.*'float32'.*'bfloat16'"):
        check_parameters(MATMUL_PRECISION="bf16")
    with pytest.raises(ParameterError, match="MATMUL_PRECISION"):
        vh.compile_vae(vh.VAE(hidden_dim=16), 1e-3, matmul_precision="half")


def test_resolve_matmul_precision():
    assert resolve_matmul_precision("float32") == "float32"
    expected = "bfloat16" if bfloat16_matmul_supported() else "float32"
    assert resolve_matmul_precision("auto") == expected
    assert resolve_matmul_precision("auto", jit_compile=False) == "float32"
    with pytest.raises(ParameterError, match=r"needs the TensorFlow or JAX backend with XLA.*"
                                                r"MATMUL_PRECISION = 'float32'"):
        resolve_matmul_precision("bfloat16", jit_compile=False)


def test_compile_sets_the_precision_of_every_dense_layer_and_inference_stays_float32():
    x = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    model = vh.VAE(latent_dim=2, hidden_dim=32, seed=0)
    assert vh.matmul_precision(model) == "float32"  # before compile: plain float32 layers
    before = [np.asarray(t) for t in model.encoder(x)]
    vh.compile_vae(model, 1e-3, matmul_precision="float32")
    assert vh.matmul_precision(model) == "float32"
    dense = [layer for layer in model._flatten_layers() if isinstance(layer, vh.keras.layers.Dense)]
    assert len(dense) == 7 and not any(layer.bfloat16_training for layer in dense)
    if bfloat16_matmul_supported():
        vh.compile_vae(model, 1e-3, matmul_precision="bfloat16")
        assert vh.matmul_precision(model) == "bfloat16"
        assert all(layer.bfloat16_training for layer in dense)
    # Evaluation and the later notebooks (training=False) multiply in float32 either way.
    for a, b in zip(before, model.encoder(x)):
        np.testing.assert_array_equal(a, np.asarray(b))
    with pytest.raises(ParameterError, match="'float32' or 'bfloat16'"):
        set_matmul_precision(model, "auto")


def test_set_matmul_precision_switches_every_dense_layer_and_nothing_else():
    model = vh.VAE(latent_dim=2, hidden_dim=8, seed=0)
    other = vh.VAE(latent_dim=2, hidden_dim=8, seed=0)
    dense = [layer for layer in model._flatten_layers() if isinstance(layer, vh.keras.layers.Dense)]
    set_matmul_precision(model, "bfloat16")  # only sets the flag; the product needs XLA at training
    assert vh.matmul_precision(model) == "bfloat16" and all(layer.bfloat16_training for layer in dense)
    assert vh.matmul_precision(other) == "float32", "a flag of the model's layers, not of the class"
    dense[0].bfloat16_training = False  # mixed layers are not a bfloat16 model
    assert vh.matmul_precision(model) == "float32"
    set_matmul_precision(model, "float32")
    assert not any(layer.bfloat16_training for layer in dense)
    assert not hasattr(vh.VAE, "matmul_precision"), "the precision is vh.matmul_precision(model)"


@needs_bf16
def test_bfloat16_training_learns_as_well_as_float32(mnist):
    small = dataclasses.replace(mnist, x_train=mnist.x_train[:6000], y_train=mnist.y_train[:6000],
                                x_val=mnist.x_val[:1000], y_val=mnist.y_val[:1000],
                                x_test=mnist.x_test[:1000], y_test=mnist.y_test[:1000])
    results = {}
    for precision in ("float32", "bfloat16"):
        vh.set_seed(0)
        model = vh.VAE(latent_dim=2, hidden_dim=128, seed=0)
        vh.train_vae(model, small, epochs=3, batch_size=100, learning_rate=2e-3, matmul_precision=precision,
                     seed=0, verbose=False)
        assert vh.matmul_precision(model) == precision
        results[precision] = vh.evaluate_vae(model, small.x_test)["neg_elbo"]
    assert results["bfloat16"] < 200 and abs(results["bfloat16"] - results["float32"]) < 3, results


@needs_bf16
def test_a_bfloat16_training_step_really_multiplies_in_bfloat16_and_the_layers_stay_keras_own():
    """The switch set on each layer object is the one XLA compiles: one training step from the same
    weights lands on other weights in bfloat16 than in float32, by a small fraction of the step."""
    def flat(model):
        return np.concatenate([np.ravel(w) for w in model.get_weights()])

    x = np.random.default_rng(1).random((64, 784), dtype=np.float32)
    vh.set_seed(0)
    initial = flat(vh.VAE(latent_dim=2, hidden_dim=32, seed=0))
    after = {}
    for precision in ("float32", "bfloat16"):
        vh.set_seed(0)  # the same initial weights for both
        model = vh.VAE(latent_dim=2, hidden_dim=32, seed=0)
        vh.compile_vae(model, 1e-3, matmul_precision=precision, steps_per_execution=1)
        model.train_on_batch(x)
        after[precision] = flat(model)
        assert {type(layer) for layer in model._flatten_layers()
                if isinstance(layer, vh.keras.layers.Dense)} == {vh.keras.layers.Dense}
    step = np.abs(after["float32"] - initial).mean()
    difference = np.abs(after["bfloat16"] - after["float32"]).mean()
    assert 0 < difference < 0.05 * step, (difference, step)


@needs_bf16
def test_resume_refuses_a_checkpoint_of_the_other_precision(mnist, tmp_path):
    small = dataclasses.replace(mnist, x_train=mnist.x_train[:300], y_train=mnist.y_train[:300],
                                x_val=mnist.x_val[:100], y_val=mnist.y_val[:100],
                                x_test=mnist.x_test[:100], y_test=mnist.y_test[:100])
    kwargs = dict(batch_size=100, learning_rate=1e-3, seed=3, checkpoint_dir=tmp_path, verbose=False)
    vh.train_vae(vh.VAE(hidden_dim=16, seed=3), small, epochs=1, matmul_precision="bfloat16", **kwargs)
    with pytest.raises(ArtifactsError, match=r"'matmul_precision': \('bfloat16', 'float32'\)"):
        vh.train_vae(vh.VAE(hidden_dim=16, seed=3), small, epochs=2, matmul_precision="float32", resume=True,
                     **kwargs)


@needs_bf16
def test_an_eager_training_call_of_a_bfloat16_model_runs_in_float32():
    x = np.random.default_rng(0).random((4, 784), dtype=np.float32)
    model = vh.compile_vae(vh.VAE(latent_dim=2, hidden_dim=32, seed=0), 1e-3, matmul_precision="bfloat16")
    assert vh.matmul_precision(model) == "bfloat16"
    # TensorFlow has no kernel for the float32-result bfloat16 product outside
    # XLA; the layer falls back to float32 instead of failing.
    z_mean, z_log_var = model.encoder(x, training=True)
    expected = model.encoder(x, training=False)
    np.testing.assert_array_equal(np.asarray(z_mean), np.asarray(expected[0]))
