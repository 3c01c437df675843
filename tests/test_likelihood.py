"""The importance-weighted log-likelihood estimator and binarized MNIST."""

import numpy as np
import pytest

import vae_helpers as vh
from vae_machinery.errors import ParameterError
from vae_machinery.fast_training import epoch_order
from vae_machinery.parameters import check_parameters


def np_log_weights(model, x, eps):
    x = x.astype(np.float64)
    params = {}
    for part in (model.encoder, model.decoder):
        for layer in part.layers:
            if layer.weights:
                kernel, bias = (np.asarray(v, dtype=np.float64) for v in layer.weights)
                params[(part.name, layer.name)] = (kernel, bias)

    activations = {"relu": lambda a: np.maximum(a, 0), "silu": lambda a: a / (1 + np.exp(-a))}
    act = activations[model.activation]

    def mlp(part, h, last):
        """The part's hidden layers, then its output layer ``last``."""
        hidden = [name for p, name in params if p == part and name.startswith("hidden")]
        for name in hidden:
            kernel, bias = params[(part, name)]
            h = act(h @ kernel + bias)
        kernel, bias = params[(part, last)]
        return h @ kernel + bias

    mu, log_var = mlp("encoder", x, "z_mean"), mlp("encoder", x, "z_log_var")
    z = mu[:, None, :] + np.exp(0.5 * log_var)[:, None, :] * eps
    logits = mlp("decoder", z, "logits")
    log_px_z = np.sum(x[:, None, :] * logits - np.logaddexp(0, logits), axis=-1)
    log_pz = -0.5 * np.sum(z**2, axis=-1)
    log_qz = -0.5 * np.sum(eps**2 + log_var[:, None, :], axis=-1)
    return log_px_z + log_pz - log_qz


def binary_images(n, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, 784)) < 0.2).astype(np.float32)


@pytest.mark.parametrize("activation", ["silu", "relu"])
def test_log_weights_match_numpy(activation):
    model = vh.VAE(latent_dim=3, hidden_dim=16, activation=activation, seed=1)
    x = binary_images(4)
    eps = np.random.default_rng(2).standard_normal((4, 6, 3)).astype(np.float32)
    got = np.asarray(vh.log_importance_weights(model, x, eps))
    assert got.shape == (4, 6)
    np.testing.assert_allclose(got, np_log_weights(model, x, eps), rtol=1e-5, atol=1e-3)


QUADRATURE_GRID = np.linspace(-8, 8, 4001)


def exact_log_px_1d(model, x, grid=QUADRATURE_GRID):
    """log p(x) = log of the integral of p(x|z) N(z; 0, 1) dz, by quadrature
    on a fine grid (exact to many digits for a 1-D latent space)."""
    logits = np.asarray(model.decoder(grid[:, None].astype(np.float32)), dtype=np.float64)
    log_px_z = x.astype(np.float64) @ logits.T - np.logaddexp(0, logits).sum(axis=1)  # (N, G)
    log_prior = -0.5 * grid**2 - 0.5 * np.log(2 * np.pi)
    a = log_px_z + log_prior + np.log(grid[1] - grid[0])
    top = a.max(axis=1, keepdims=True)
    return (top + np.log(np.exp(a - top).sum(axis=1, keepdims=True)))[:, 0]


@pytest.fixture(scope="module")
def small_trained_1d(mnist, mnist_dir):
    """A latent-size-1 VAE trained briefly, so that q(z|x) is informative
    and the bound is not trivially tight. One hidden layer: with two, the
    decoder folds the 1-D latent line so that many posteriors have several
    peaks, which a Gaussian q (and so any practical K) misses.

    It trains on the first 4,096 images of the MNIST training file (some of
    which are now validation images): the images the thresholds below were
    calibrated with. (On the first 4,096 of ``x_train`` the ELBO's gap is
    2.6 nats instead of 4.1, too small for the "not too easy" check.)"""
    from vae_machinery.idx_data import read_arrays

    raw, _ = read_arrays("mnist", mnist_dir)
    first = (raw["train_images"][:4096].reshape(4096, vh.IMAGE_PIXELS) / np.float32(255.0)).astype(np.float32)
    vh.set_seed(0)
    model = vh.VAE(latent_dim=1, hidden_dim=64, hidden_layers=1, seed=0)
    x = vh.binarize_images(first, np.random.default_rng(0))
    vh.compile_vae(model, 2e-3)
    model.fit(x, epochs=3, batch_size=128, verbose=0)
    return model, vh.binarize_images(mnist.x_test[:50], np.random.default_rng(1))


def test_iwae_converges_to_the_exact_log_likelihood(small_trained_1d):
    model, x = small_trained_1d
    exact = exact_log_px_1d(model, x)
    assert np.all(exact < 0)  # a probability of a binary image is below 1
    elbo = -vh.evaluate_vae(model, x)["neg_elbo"]
    estimates = {k: vh.iwae_log_likelihood(model, x, k=k, seed=3) for k in (1, 10, 1000)}
    means = [estimates[k]["log_px"] for k in (1, 10, 1000)]
    # ELBO <= IWAE(k) <= log p(x) <= 0, tightening with k.
    assert means[0] < means[1] < means[2] < exact.mean() < 0
    assert elbo < means[1]
    gap_1, gap_1000 = exact.mean() - means[0], exact.mean() - means[2]
    assert gap_1 > 3, "test is too easy: the ELBO is already tight"
    assert gap_1000 < 0.5 * gap_1
    # Most images are within a fraction of a nat of the exact value; a few
    # with a two-peaked posterior, which the Gaussian q misses, stay far below.
    assert np.median(exact - estimates[1000]["per_image"]) < 0.3


def test_k_1_is_the_elbo_of_the_same_samples(small_trained_1d, mnist):
    model, _ = small_trained_1d
    x = vh.binarize_images(mnist.x_test[:2000], np.random.default_rng(2))
    r = vh.iwae_log_likelihood(model, x, k=1, seed=5)
    assert r["log_px"] == pytest.approx(r["elbo"])
    # The same quantity as evaluate_vae's one-sample ELBO, up to sampling noise.
    assert r["log_px"] == pytest.approx(-vh.evaluate_vae(model, x)["neg_elbo"], abs=1.5)


def test_estimate_does_not_depend_on_chunking():
    model = vh.VAE(latent_dim=2, hidden_dim=16, seed=4)
    x = binary_images(10, seed=4)
    a = vh.iwae_log_likelihood(model, x, k=40, seed=7)
    b = vh.iwae_log_likelihood(model, x, k=40, seed=7, max_rows=64)
    np.testing.assert_allclose(a["per_image"], b["per_image"], rtol=1e-6)
    assert a["k"] == 40 and a["per_image"].shape == (10,)


@pytest.mark.parametrize("k", [0, -5, 2.5, "100"])
def test_bad_k_is_a_parameter_error(k):
    model = vh.VAE(latent_dim=2, hidden_dim=8)
    with pytest.raises(ParameterError, match="IWAE_K"):
        vh.iwae_log_likelihood(model, binary_images(2), k=k)


def test_binarize_samples_bernoulli_pixels():
    x = np.full((200, 784), 0.3, np.float32)
    x[:, :100] = 0.0
    x[:, 100:200] = 1.0
    b = vh.binarize_images(x, np.random.default_rng(0))
    assert b.dtype == np.float32 and set(np.unique(b)) == {0.0, 1.0}
    assert np.all(b[:, :100] == 0) and np.all(b[:, 100:200] == 1)
    assert b[:, 200:].mean() == pytest.approx(0.3, abs=0.01)


def test_binarized_dataset_has_a_fixed_binary_test_set(mnist_dir, mnist):
    a = vh.load_dataset("mnist", mnist_dir, binarize="dynamic")
    b = vh.load_dataset("mnist", mnist_dir, binarize="dynamic")
    assert a.binarize == "dynamic" and mnist.binarize is None
    assert set(np.unique(a.x_test)) == {0.0, 1.0}
    np.testing.assert_array_equal(a.x_test, b.x_test)  # the same test set for every run
    np.testing.assert_array_equal(a.x_train, mnist.x_train)  # binarized per epoch in train_vae
    assert abs(a.x_test.mean() - mnist.x_test.mean()) < 0.005


def test_dynamic_binarization_draws_new_pixels_every_epoch(mnist):
    seen = []
    data = vh.Dataset(name="mnist", x_train=mnist.x_train[:512], y_train=mnist.y_train[:512],
                      x_val=mnist.x_val[:256], y_val=mnist.y_val[:256],
                      x_test=mnist.x_test[:256], y_test=mnist.y_test[:256],
                      class_names=mnist.class_names, source="test", binarize="dynamic")
    model = vh.VAE(latent_dim=2, hidden_dim=16, seed=0)
    original_fit = model.fit

    def recording_fit(batches, **kwargs):
        seen.append(np.concatenate([np.asarray(x) for (x,) in batches]))
        return original_fit(batches, **kwargs)

    model.fit = recording_fit
    history = vh.train_vae(model, data, epochs=2, batch_size=128, learning_rate=1e-3, verbose=False)
    assert len(seen) == 2 and all(set(np.unique(x)) <= {0.0, 1.0} for x in seen)
    order = [epoch_order(0, e, 512) for e in range(2)]
    # Same images in a new order, and each image binarized afresh.
    first, second = seen[0][np.argsort(order[0])], seen[1][np.argsort(order[1])]
    assert not np.array_equal(first, second)
    # Bernoulli(intensity): ink where the grey image has ink, none where it is blank.
    grey = data.x_train
    assert np.all(first[grey == 0] == 0) and np.all(first[grey == 1] == 1)
    assert abs(first.mean() - grey.mean()) < 0.01 and abs(second.mean() - grey.mean()) < 0.01
    assert np.isfinite(history["val_loss"]).all()


@pytest.mark.parametrize("bad", ["static", True, 1])
def test_bad_binarize_is_a_parameter_error(bad):
    with pytest.raises(ParameterError, match="BINARIZE"):
        check_parameters(BINARIZE=bad)
