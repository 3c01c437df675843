"""The VAE of the tutorial series, in the order the notebooks teach it.

1. **Data** – :func:`load_dataset`: MNIST as 784 numbers in [0, 1] per
   image, split into training, validation and test images.
2. **The two loss terms** – :func:`reconstruction_bce` and
   :func:`kl_divergence`, one value per image, and :func:`vae_loss`.
3. **The model** – :func:`build_encoder`, :func:`build_decoder`,
   :func:`reparameterize` and the :class:`VAE` that joins them.
4. **Training** – :func:`compile_vae` (the optimizer) and :func:`train_vae`
   (the loop; Keras' ``fit`` runs the step, with :meth:`VAE.compute_loss`).
5. **Evaluation** – :func:`evaluate_vae` (the ELBO),
   :func:`iwae_log_likelihood` (a tighter estimate of log p(x)) and
   :func:`compare_seeds` (when two settings differ by more than the seeds do).
6. **The latent space** – :func:`latent_means`, :func:`reconstruct`,
   :func:`decode_manifold`, :func:`interpolate`.
7. **Saving and loading** – :func:`save_artifacts` / :func:`load_artifacts`, and
   :func:`load_or_train` (04-06 opened alone train 03's model first).

What a student need not read lives in the package ``vae_machinery`` beside
this file: IDX files and checksums, the fast input pipeline and
checkpoints, bfloat16 products, plots, the explorer widget, sweeps and the
exercise checks. Its functions are available here under the same names
(``vh.plot_loss_curves``, ``vh.latent_explorer``, ...). Everything is
written with backend-agnostic ``keras.ops``: TensorFlow, JAX and PyTorch
all work.
"""

from __future__ import annotations

import json
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

# vae_machinery first: it imports Keras without TensorFlow's C++ start-up chatter.
import vae_machinery  # noqa: F401

# isort: split
import keras
import numpy as np
from keras import ops

from vae_machinery import fast_training, runs
from vae_machinery.errors import ArtifactsError, ParameterError
from vae_machinery.fast_training import (
    CHECKPOINT_FILE,
    STEPS_PER_EXECUTION,
    ConstantThenLinearDecay,
    EpochLogger,
    epoch_batches,
    epoch_order,
)
from vae_machinery.files import HISTORY_FILE, MODEL_FILE, atomic_write, write_json
from vae_machinery.idx_data import DATASETS, IMAGE_SIDE, read_arrays
from vae_machinery.notebook_setup import set_seed
from vae_machinery.parameters import TRAINING_DEFAULTS, check_parameters, describe, is_int
from vae_machinery.runs import RUN_FILE

# ==========================================================================
# 1. Data
# ==========================================================================
IMAGE_PIXELS = IMAGE_SIDE * IMAGE_SIDE  # 784
VALIDATION_SIZE = 5_000  # training images held out to follow training and to tune settings
VALIDATION_SEED = 0  # fixed: every run validates on the same 5,000 images
BINARIZE_TEST_SEED = 0  # fixed: every binarized run sees the same binarized validation and test images


@dataclass(frozen=True)
class Dataset:
    """Images scaled to [0, 1] and flattened to 784 values, with their labels.

    The 60,000 training images are split once, with a fixed seed, into
    ``x_train`` (55,000, to train on) and ``x_val`` (5,000, to follow
    training and choose settings by). ``x_test`` (10,000) is touched once,
    at the end, so that its number is an honest estimate for new images.
    """

    name: str
    x_train: np.ndarray  # (55000, 784) float32
    y_train: np.ndarray  # (55000,) uint8
    x_val: np.ndarray  # (5000, 784) float32
    y_val: np.ndarray  # (5000,) uint8
    x_test: np.ndarray  # (10000, 784) float32
    y_test: np.ndarray  # (10000,) uint8
    class_names: list[str]
    source: str  # where the bytes came from
    # None: grey-level pixels. "dynamic": x_val and x_test are binarized once
    # (fixed seed); train_vae draws a fresh binarization of x_train every epoch.
    binarize: str | None = None

    @property
    def title(self) -> str:
        return DATASETS[self.name]["title"]


def binarize_images(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sample every pixel as Bernoulli(intensity): a 0/1 image, float32."""
    return (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)


def load_dataset(name: str = "mnist", data_dir: str | os.PathLike | None = None,
                 binarize: str | None = None) -> Dataset:
    """Load MNIST or Fashion-MNIST, verified against known SHA-256 sums.

    The files come from ``data_dir`` if given, else from the folder in the
    environment variable ``VAE_DATA_DIR``, else from the standard Keras
    download. With ``binarize="dynamic"`` every pixel becomes 0 or 1 with
    probability equal to its intensity (the data of the published MNIST
    log-likelihoods): validation and test images once, with a fixed seed,
    the training images afresh every epoch (in :func:`train_vae`).
    """
    check_parameters(DATASET=name, BINARIZE=binarize)
    if data_dir is None and os.environ.get("VAE_DATA_DIR"):
        data_dir = os.environ["VAE_DATA_DIR"]
    arrays, source = read_arrays(name, data_dir)

    def images(a: np.ndarray) -> np.ndarray:
        return (a.reshape(len(a), IMAGE_PIXELS) / np.float32(255.0)).astype(np.float32)

    x_all, y_all = images(arrays["train_images"]), arrays["train_labels"].copy()
    is_val = np.zeros(len(x_all), dtype=bool)
    is_val[np.random.default_rng(VALIDATION_SEED).permutation(len(x_all))[:VALIDATION_SIZE]] = True
    x_val, x_test = x_all[is_val], images(arrays["test_images"])
    if binarize == "dynamic":
        rng = np.random.default_rng(BINARIZE_TEST_SEED)
        x_test = binarize_images(x_test, rng)
        x_val = binarize_images(x_val, rng)
    return Dataset(name=name, x_train=x_all[~is_val], y_train=y_all[~is_val],
                   x_val=x_val, y_val=y_all[is_val],
                   x_test=x_test, y_test=arrays["test_labels"].copy(),
                   class_names=list(DATASETS[name]["class_names"]), source=source, binarize=binarize)


# ==========================================================================
# 2. The two loss terms (one value per image, in nats)
# ==========================================================================
def reconstruction_bce(x: Any, logits: Any) -> Any:
    """Binary cross-entropy between pixels ``x`` and decoder ``logits``,
    summed over the 784 pixels: one value per image, in nats.

    ``-[x log sigmoid(l) + (1 - x) log(1 - sigmoid(l))]``, computed from the
    logits for numerical stability.
    """
    return ops.sum(ops.binary_crossentropy(x, logits, from_logits=True), axis=-1)


def kl_divergence(z_mean: Any, z_log_var: Any) -> Any:
    """Closed-form KL( N(mu, sigma^2) || N(0, I) ) summed over latent
    dimensions: one value per image, in nats.

    ``KL = 1/2 * sum(mu^2 + sigma^2 - 1 - log sigma^2)`` with ``sigma^2 = exp(log sigma^2)``.
    """
    return 0.5 * ops.sum(ops.square(z_mean) + ops.exp(z_log_var) - 1.0 - z_log_var, axis=-1)


def vae_loss(x: Any, logits: Any, z_mean: Any, z_log_var: Any, beta: float = 1.0) -> Any:
    """The loss of each image, ``BCE + beta * KL``: the negative ELBO when
    ``beta = 1``. Training minimises its mean over a batch."""
    return reconstruction_bce(x, logits) + beta * kl_divergence(z_mean, z_log_var)


# ==========================================================================
# 3. The model
# ==========================================================================
HIDDEN_LAYERS = 2  # hidden layers in the encoder and in the decoder
ACTIVATION = "silu"  # x * sigmoid(x), a smooth ReLU: beats ReLU by 6 nats at latent size 20 (docs/tuning.md)
# The layers are Keras' own Dense; compile_vae can make their training steps multiply
# in bfloat16 on CPUs that have it (docs/performance.md), without changing the layers.


def seeded_dense(units: int, seeds: random.Random | None, **kwargs: Any) -> keras.layers.Dense:
    """keras.layers.Dense whose initial weights take the next seed of ``seeds`` (the seed Keras would
    draw from Python's random state after random.seed); None: Keras draws it from that global state."""
    seed = None if seeds is None else seeds.randint(1, int(1e9))
    return keras.layers.Dense(units, kernel_initializer=keras.initializers.GlorotUniform(seed), **kwargs)


def build_encoder(input_dim: int, hidden_dim: int, latent_dim: int, hidden_layers: int = HIDDEN_LAYERS,
                  activation: str = ACTIVATION, seeds: random.Random | None = None) -> keras.Model:
    """x (784) -> hidden layers -> two heads: the mean mu and the log-variance
    log sigma^2 of q(z|x), each of size latent_dim. ``seeds``: see seeded_dense."""
    x = keras.Input(shape=(input_dim,), name="image")
    h = x
    for i in range(1, hidden_layers + 1):
        h = seeded_dense(hidden_dim, seeds, activation=activation, name=f"hidden{i}")(h)
    z_mean = seeded_dense(latent_dim, seeds, name="z_mean")(h)
    z_log_var = seeded_dense(latent_dim, seeds, name="z_log_var")(h)
    return keras.Model(x, [z_mean, z_log_var], name="encoder")


def build_decoder(latent_dim: int, hidden_dim: int, output_dim: int, hidden_layers: int = HIDDEN_LAYERS,
                  activation: str = ACTIVATION, seeds: random.Random | None = None) -> keras.Model:
    """z (latent_dim) -> hidden layers -> 784 logits, one per pixel
    (the pixel's probability of ink is sigmoid(logit)). ``seeds``: see seeded_dense."""
    z = keras.Input(shape=(latent_dim,), name="z")
    h = z
    for i in range(1, hidden_layers + 1):
        h = seeded_dense(hidden_dim, seeds, activation=activation, name=f"hidden{i}")(h)
    logits = seeded_dense(output_dim, seeds, name="logits")(h)
    return keras.Model(z, logits, name="decoder")


def reparameterize(z_mean: Any, z_log_var: Any, eps: Any) -> Any:
    """z = mu + sigma * eps with sigma = exp(log sigma^2 / 2) and eps ~ N(0, I):
    a sample of q(z|x) that is a differentiable function of mu and sigma."""
    return z_mean + ops.exp(0.5 * z_log_var) * eps


@keras.saving.register_keras_serializable(package="vae_helpers")
class VAE(keras.Model):
    """Variational autoencoder with an MLP encoder and decoder.

    ``model(x)`` returns ``(logits, z_mean, z_log_var)``. Training minimises
    the batch mean of :func:`vae_loss` (``BCE + beta * KL``); the two parts
    are tracked as the metrics ``reconstruction_loss`` and ``kl_loss``.

    ``reparameterize``, ``kl_divergence`` and ``vae_loss`` are the functions
    the model trains with: this module's, unless others of the same form are
    passed (notebook 03 passes the ones you wrote in notebook 02, when they
    pass their checks). They are not saved: a loaded model uses this module's.
    ``decoder`` replaces the MLP decoder (notebook 10 passes an autoregressive one).
    """

    def __init__(self, latent_dim: int = 2, hidden_dim: int = 512, input_dim: int = IMAGE_PIXELS,
                 hidden_layers: int = HIDDEN_LAYERS, activation: str = ACTIVATION, beta: float = 1.0,
                 seed: int | None = None, *, reparameterize=reparameterize, kl_divergence=kl_divergence,
                 vae_loss=vae_loss, decoder: keras.Model | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.latent_dim, self.hidden_dim, self.input_dim = int(latent_dim), int(hidden_dim), int(input_dim)
        self.hidden_layers, self.activation = int(hidden_layers), str(activation)
        self.beta, self.seed = float(beta), seed
        self.reparameterize, self.kl_divergence, self.vae_loss = reparameterize, kl_divergence, vae_loss
        seeds = None if seed is None else random.Random(seed)  # the layers' initial weights, in order
        self.encoder = build_encoder(input_dim, hidden_dim, latent_dim, hidden_layers, activation, seeds)
        self.decoder = decoder if decoder is not None else build_decoder(latent_dim, hidden_dim, input_dim,
                                                                           hidden_layers, activation, seeds)
        self.noise = keras.random.SeedGenerator(seed)  # the random state of eps
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        self.built = True  # encoder and decoder already have their weights

    # call and compute_loss use the model's three functions; a model that borrows these methods
    # without having its own (notebook 09's) uses this module's.
    def call(self, x: Any, training: bool = False) -> tuple[Any, Any, Any]:
        z_mean, z_log_var = self.encoder(x, training=training)
        eps = keras.random.normal(ops.shape(z_mean), seed=self.noise)
        z = getattr(self, "reparameterize", reparameterize)(z_mean, z_log_var, eps)
        return self.decoder(z, training=training), z_mean, z_log_var

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The loss Keras' training step differentiates: the batch mean of vae_loss, BCE + beta * KL."""
        logits, z_mean, z_log_var = y_pred
        loss = getattr(self, "vae_loss", vae_loss)(x, logits, z_mean, z_log_var, self.beta)
        # The two terms, also tracked separately to follow both during training.
        self.reconstruction_tracker.update_state(reconstruction_bce(x, logits))
        self.kl_tracker.update_state(getattr(self, "kl_divergence", kl_divergence)(z_mean, z_log_var))
        return ops.mean(loss)

    def decode(self, z: Any) -> np.ndarray:
        """Pixel probabilities sigmoid(decoder(z)) as a NumPy array."""
        return ops.convert_to_numpy(ops.sigmoid(self.decoder(ops.convert_to_tensor(z))))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "latent_dim": self.latent_dim, "hidden_dim": self.hidden_dim,
                "input_dim": self.input_dim, "hidden_layers": self.hidden_layers,
                "activation": self.activation, "beta": self.beta, "seed": self.seed}


# ==========================================================================
# 4. Training
# ==========================================================================
ADAM_BETA_2 = 0.99  # Adam's memory of squared gradients: about 100 steps (Keras' default 0.999: 1000)
EVAL_BATCH_SIZE = 1000  # images per evaluation batch (no gradients: large batches are cheap)


def compile_vae(model: VAE, learning_rate: float, *, total_steps: int | None = None, lr_decay: float = 0.0,
                matmul_precision: str = "auto", steps_per_execution: int = STEPS_PER_EXECUTION,
                jit_compile: bool | None = None) -> VAE:
    """Give the model its optimizer: Adam with ``beta_2 = 0.99``, the
    learning rate constant and then falling linearly to 0 over the last
    ``lr_decay`` of ``total_steps``. The loss is the model's own
    :meth:`VAE.compute_loss`.

    The rest is speed, explained in ``docs/performance.md``: XLA compilation
    (TensorFlow and JAX; ``jit_compile=False`` turns it off), ``steps_per_execution``
    batches per call, and ``matmul_precision`` (bfloat16 products where the CPU has them).
    """
    check_parameters(LEARNING_RATE=learning_rate, LR_DECAY=lr_decay, MATMUL_PRECISION=matmul_precision)
    schedule: Any = learning_rate
    if total_steps is not None and lr_decay > 0:
        schedule = ConstantThenLinearDecay(learning_rate, total_steps, lr_decay)
    optimizer = keras.optimizers.Adam(learning_rate=schedule, beta_2=ADAM_BETA_2)
    fast_training.compile_fast(model, optimizer, matmul_precision, steps_per_execution, jit_compile)
    return model


def train_vae(model: VAE, data: Dataset, epochs: int, batch_size: int, learning_rate: float, *,
              lr_decay: float = 0.0, matmul_precision: str = "auto", seed: int = 0,
              checkpoint_dir: str | os.PathLike | None = None, resume: bool = False, verbose: bool = True,
              callbacks: Sequence[keras.callbacks.Callback] = (),
              labels: bool = False) -> dict[str, list[float]]:
    """Train on ``data.x_train`` and evaluate on the validation images
    ``data.x_val`` after every epoch, printing one line per epoch. The test
    images are not touched.

    Each epoch is one ``model.fit`` pass over the training images in an order
    fixed by ``seed`` and the epoch. With ``checkpoint_dir`` the state is
    saved after every epoch; ``resume=True`` continues from it and ends with
    the weights of an uninterrupted run. Returns the history per epoch:
    ``loss``, ``reconstruction_loss``, ``kl_loss`` (training), the same with
    ``val_`` (validation), ``learning_rate`` and ``epoch_time_s``. With
    ``labels=True`` every batch is a pair (images, one-hot labels): the input
    of a conditional VAE (notebook 08).
    """
    check_parameters(EPOCHS=epochs, BATCH_SIZE=batch_size, LEARNING_RATE=learning_rate, LR_DECAY=lr_decay,
                     MATMUL_PRECISION=matmul_precision, SEED=seed)
    if model.compiled and not resume and int(model.optimizer.iterations) > 0:
        raise ParameterError("This model has been trained already, and its learning-rate schedule has run "
                             "out. Build a new model (re-run the cell that creates it) and train that, or "
                             "continue an interrupted run with RESUME = True.")
    if not model.compiled:
        steps = epochs * math.ceil(len(data.x_train) / batch_size)
        compile_vae(model, learning_rate, total_steps=steps, lr_decay=lr_decay,
                    matmul_precision=matmul_precision)
    identity = fast_training.run_identity(model, data, epochs, batch_size, learning_rate, lr_decay, seed)
    checkpoint = Path(checkpoint_dir) / CHECKPOINT_FILE if checkpoint_dir is not None else None
    history = fast_training.restore_history(checkpoint, model, identity, verbose) if resume else {}
    logger = EpochLogger(epochs, verbose)
    x_train, val_batches = fast_training.training_tensors(data, EVAL_BATCH_SIZE, labels)
    # One fit() call per epoch, each over this epoch's shuffled order (so that a
    # resumed run sees exactly the batches of a straight one), with a validation pass.
    for epoch in range(len(history.get("loss", [])), epochs):
        start = time.perf_counter()
        order = epoch_order(seed, epoch, len(data.x_train))  # this epoch's shuffle
        binarize = fast_training.binarize_seed(seed, epoch) if data.binarize == "dynamic" else None
        result = model.fit(epoch_batches(x_train, order, batch_size, binarize), initial_epoch=epoch,
                           epochs=epoch + 1, validation_data=val_batches, shuffle=False, verbose=0,
                           callbacks=[logger, *callbacks])
        for key, values in result.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
        history.setdefault("learning_rate", []).append(logger.learning_rates[-1])
        history.setdefault("epoch_time_s", []).append(time.perf_counter() - start)
        if checkpoint is not None:
            fast_training.save_checkpoint(checkpoint, model, history, identity)
    return history


# ==========================================================================
# 5. Evaluation
# ==========================================================================
def evaluate_vae(model: VAE, x: np.ndarray, batch_size: int = EVAL_BATCH_SIZE,
                 labels: np.ndarray | None = None) -> dict[str, float]:
    """Mean BCE, KL and negative ELBO (BCE + KL, nats per image) over ``x``,
    with one sample of z per image. A conditional VAE (notebook 08) also gets
    the one-hot ``labels``: its negative ELBO bounds -log p(x | y)."""
    bce_sum = kl_sum = 0.0
    for start in range(0, len(x), batch_size):
        batch = ops.convert_to_tensor(x[start : start + batch_size])
        y = None if labels is None else ops.convert_to_tensor(labels[start : start + batch_size])
        logits, z_mean, z_log_var = model(batch if y is None else (batch, y), training=False)
        bce_sum += float(ops.convert_to_numpy(ops.sum(reconstruction_bce(batch, logits))))
        kl_sum += float(ops.convert_to_numpy(ops.sum(kl_divergence(z_mean, z_log_var))))
    bce, kl = bce_sum / len(x), kl_sum / len(x)
    return {"bce": bce, "kl": kl, "neg_elbo": bce + kl}


def log_importance_weights(model: VAE, x: Any, eps: Any, labels: Any = None) -> Any:
    """``log w = log p(x|z) + log p(z) - log q(z|x)`` for ``z = mu + sigma * eps``.

    ``x`` is ``(B, 784)``, ``eps`` is ``(B, K, latent_dim)`` standard-normal
    noise; returns ``(B, K)`` log-weights in nats. The Gaussian normalising
    constants cancel between ``p(z)`` and ``q(z|x)`` and are left out. For a
    conditional VAE, whose encoder and decoder take ``[x, labels]`` and
    ``[z, labels]``, pass the ``(B, classes)`` one-hot ``labels``: then
    ``p(x|z)`` and ``q(z|x)`` are ``p(x|z, y)`` and ``q(z|x, y)``.
    """
    x, eps = ops.convert_to_tensor(x), ops.convert_to_tensor(eps)
    labels = None if labels is None else ops.convert_to_tensor(labels)
    z_mean, z_log_var = model.encoder(x if labels is None else [x, labels], training=False)
    z = reparameterize(ops.expand_dims(z_mean, 1), ops.expand_dims(z_log_var, 1), eps)  # (B, K, latent)
    rows = ops.reshape(z, (-1, model.latent_dim))
    if labels is not None:  # the label of image b next to each of its K samples
        rows = [rows, ops.repeat(labels, ops.shape(eps)[1], axis=0)]
    logits = model.decoder(rows, training=False)
    logits = ops.reshape(logits, (ops.shape(x)[0], -1, model.input_dim))
    # log p(x|z) = -BCE summed over pixels, written as x.l - softplus(l) so that x is not copied K times.
    log_px_z = ops.einsum("bkp,bp->bk", logits, x) - ops.sum(ops.softplus(logits), axis=-1)
    log_pz = -0.5 * ops.sum(ops.square(z), axis=-1)
    log_qz = -0.5 * ops.sum(ops.square(eps), axis=-1) - 0.5 * ops.sum(z_log_var, axis=-1, keepdims=True)
    return log_px_z + log_pz - log_qz


def log_mean_exp(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """``log(mean(exp(a)))`` along ``axis``, without overflow: the largest
    value is taken out before exponentiating."""
    top = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(top + np.log(np.mean(np.exp(a - top), axis=axis, keepdims=True)), axis=axis)


def iwae_log_likelihood(model: VAE, x: np.ndarray, k: int = 100, *, seed: int = 0,
                        batch_size: int | None = None, max_rows: int = 32_768,
                        labels: np.ndarray | None = None) -> dict[str, Any]:
    """Importance-weighted estimate of ``log p(x)`` (Burda et al., 2015).

    For every image, draw ``k`` samples ``z_k ~ q(z|x)`` and return
    ``log (1/k) sum_k p(x|z_k) p(z_k) / q(z_k|x)``. Averaged over images this
    is a lower bound on ``log p(x)`` that tightens as ``k`` grows (``k = 1``
    is the ELBO). Returns ``{"log_px", "elbo", "per_image", "k", "seconds"}``
    in nats per image; works on ``max_rows`` decoder rows at a time. With
    one-hot ``labels`` (a conditional VAE) it estimates ``log p(x | y)``.
    """
    if not is_int(k) or k < 1:
        raise ParameterError(f"Parameter IWAE_K = {describe(k)} is not allowed: "
                             "IWAE_K must be a positive integer.")
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    x = np.asarray(x, dtype=np.float32)
    batch_size = batch_size or max(1, min(len(x), max_rows // k))
    chunk = max(1, min(k, max_rows // batch_size))
    per_image, elbo_sum = np.empty(len(x)), 0.0
    for first in range(0, len(x), batch_size):
        xb = x[first : first + batch_size]
        eps = rng.standard_normal((len(xb), k, model.latent_dim), dtype=np.float32)
        yb = None if labels is None else labels[first : first + batch_size]
        log_w = np.concatenate([ops.convert_to_numpy(log_importance_weights(model, xb, eps[:, j : j + chunk],
                                                                            yb))
                                for j in range(0, k, chunk)], axis=1).astype(np.float64)
        per_image[first : first + len(xb)] = log_mean_exp(log_w, axis=1)
        elbo_sum += float(log_w.mean(axis=1).sum())
    return {"log_px": float(per_image.mean()), "elbo": elbo_sum / len(x), "per_image": per_image,
            "k": int(k), "seconds": time.perf_counter() - start}


def kl_per_dimension(model: VAE, x: np.ndarray, batch_size: int = EVAL_BATCH_SIZE) -> np.ndarray:
    """The KL of each latent dimension, ``1/2 (mu^2 + sigma^2 - 1 - log sigma^2)``,
    averaged over the images ``x``: ``(latent_dim,)`` nats that sum to the KL."""
    z_mean, z_log_var = model.encoder.predict(x, batch_size=batch_size, verbose=0)
    return np.mean(0.5 * (np.square(z_mean) + np.exp(z_log_var) - 1.0 - z_log_var), axis=0)


def active_units(model: VAE, x: np.ndarray, threshold: float = 0.01,
                 batch_size: int = EVAL_BATCH_SIZE) -> np.ndarray:
    """Which latent dimensions the model uses (Burda et al., 2015): unit ``u``
    is active when its encoder mean moves with the image,
    ``Var_x(E_q[z_u | x]) > threshold``. Returns one True/False per dimension."""
    z_mean = latent_means(model, x, batch_size)
    return np.var(z_mean, axis=0) > threshold


@dataclass(frozen=True)
class Comparison:
    """What the seeds say about ``mean(b) - mean(a)`` (made by :func:`compare_seeds`)."""

    difference: float
    p_value: float | None  # Welch's t-test, two-sided; None: fewer than 3 seeds on a side
    seeds: tuple[int, int]
    level: float = 0.05
    unit: str = "nats"

    @property
    def told_apart(self) -> bool:
        return self.p_value is not None and self.p_value < self.level

    def __str__(self) -> str:
        difference = f"{self.difference:+.2f}" + (f" {self.unit}" if self.unit else "")
        if self.p_value is None:
            return f"{difference} ({self.seeds[0]} and {self.seeds[1]} seeds: too few for a test, no verdict)"
        if self.told_apart:
            word = "higher" if self.difference > 0 else "lower"
            return f"{difference}: {word} (Welch's t-test p = {self.p_value:.2g} < {self.level:g})"
        return (f"{difference}: not told apart by these seeds "
                f"(Welch's t-test p = {self.p_value:.2g} >= {self.level:g})")


def compare_seeds(a: Sequence[float], b: Sequence[float], level: float = 0.05,
                  unit: str = "nats") -> Comparison:
    """The series' one rule for calling two settings different, from one number per seed.

    With at least 3 seeds a side, Welch's t-test (two-sided, unequal variances) at
    ``level``: ``b`` is "higher" or "lower" than ``a`` only when ``p < level``, else
    "not told apart by these seeds". With fewer seeds there is no test and no verdict:
    one seed cannot say how much another seed would move the number.
    """
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    p_value = None
    if min(len(a), len(b)) >= 3 and (a.std() > 0 or b.std() > 0):
        p_value = float(stats.ttest_ind(b, a, equal_var=False).pvalue)
    elif min(len(a), len(b)) >= 3:  # no spread at all: any difference is real, none is none
        p_value = 0.0 if a.mean() != b.mean() else 1.0
    return Comparison(float(b.mean() - a.mean()), p_value, (len(a), len(b)), level, unit)


# ==========================================================================
# 6. The latent space
# ==========================================================================
def latent_means(model: VAE, x: np.ndarray, batch_size: int = EVAL_BATCH_SIZE) -> np.ndarray:
    """The encoder's means mu(x) for every row of ``x``, as a NumPy array."""
    return model.encoder.predict(x, batch_size=batch_size, verbose=0)[0]


def reconstruct(model: VAE, x: np.ndarray) -> np.ndarray:
    """Decode the encoder's mean: the model's most likely reconstruction."""
    return model.decode(latent_means(model, x))


def decode_manifold(model: VAE, n: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Decode an ``n`` x ``n`` grid over the 2-D latent plane, spaced by the
    quantiles 5 % ... 95 % of N(0, 1), so that every cell holds equal prior
    mass. Returns the grid coordinates and the image (n*28 x n*28)."""
    if model.latent_dim != 2:
        raise ParameterError("The manifold plot needs LATENT_DIM = 2.")
    normal = statistics.NormalDist()
    coords = np.array([normal.inv_cdf(p) for p in np.linspace(0.05, 0.95, n)], dtype=np.float32)
    zz = np.array([[x, y] for y in coords[::-1] for x in coords], dtype=np.float32)
    images = model.decode(zz).reshape(n, n, IMAGE_SIDE, IMAGE_SIDE)
    return coords, images.transpose(0, 2, 1, 3).reshape(n * IMAGE_SIDE, n * IMAGE_SIDE)


def interpolate(model: VAE, x_start: np.ndarray, x_end: np.ndarray, steps: int = 10) -> np.ndarray:
    """Decode ``steps`` evenly spaced points on the straight line from the
    latent mean of each ``x_start`` image to that of the matching ``x_end``
    image. Returns ``(pairs, steps, 784)`` pixel probabilities; the first and
    last columns are the two images' reconstructions."""
    if not is_int(steps) or steps < 2:
        raise ParameterError(f"steps = {describe(steps)} is not allowed: steps must be an integer >= 2.")
    if len(x_start) != len(x_end):
        raise ParameterError(f"x_start has {len(x_start)} images but x_end has {len(x_end)}: pass pairs.")
    z_a, z_b = latent_means(model, x_start), latent_means(model, x_end)
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[None, :, None]
    z = (1.0 - t) * z_a[:, None, :] + t * z_b[:, None, :]
    return model.decode(z.reshape(-1, model.latent_dim)).reshape(len(x_start), steps, -1)


# ==========================================================================
# 7. Saving and loading (what 03_training writes and 04-06 read)
# ==========================================================================
def save_artifacts(artifacts_dir: str | os.PathLike, model: VAE, history: Mapping[str, Sequence[float]],
                   settings: Mapping[str, Any], results: Mapping[str, Any] | None = None) -> Path:
    """Save the trained model, its history and its run record (the ``settings`` it was trained
    with, its ``results``, the precision of its products), each file atomically. The record,
    ``run.json``, is removed first and written last: a folder that has it has a complete set."""
    folder = runs.start_run(artifacts_dir)
    atomic_write(folder / MODEL_FILE, lambda p: model.save(p))
    write_json(folder / HISTORY_FILE, dict(history))
    runs.write_run(folder, settings, results or {}, model_file=MODEL_FILE,
                   matmul_precision=matmul_precision(model))
    return folder


def load_artifacts(artifacts_dir: str | os.PathLike, **expected: Any) -> tuple[VAE, dict[str, list[float]],
                                                                            dict[str, Any]]:
    """Load what ``03_training.ipynb`` saved, after checking that it exists and was trained with the
    ``expected`` settings (e.g. ``LATENT_DIM=2``): the model (in Keras' safe mode), its history, and
    its settings and results in one dict."""
    folder = Path(artifacts_dir)
    record = runs.read_run(folder)
    if record is None:
        raise ArtifactsError(f"No trained model in {str(folder)!r}. Run 03_training.ipynb first "
                             "(or `make run`), with the same ARTIFACTS_DIR.")
    config = runs.flat(record)
    for name, value in expected.items():
        if config.get(name) != value:
            raise ArtifactsError(
                f"The model in {str(folder)!r} was trained with {name} = {config.get(name)!r}, but this "
                f"notebook has {name} = {value!r}. Re-run 03_training.ipynb with {name} = {value!r}, or set "
                f"this notebook's {name} to {config.get(name)!r}.")
    model = keras.saving.load_model(folder / MODEL_FILE, safe_mode=True)
    return model, json.loads((folder / HISTORY_FILE).read_text()), config


def train_and_save(artifacts_dir: str | os.PathLike, settings: Mapping[str, Any],
                   data_dir: str | None = None) -> dict[str, Any]:
    """Notebook 03 in one call: train a VAE with ``settings`` (03's parameters, e.g.
    ``TRAINING_DEFAULTS``), evaluate it on the test set and save it in ``artifacts_dir``. With
    ``TRAIN_IMAGES`` in ``settings`` it trains on the first training images only (quick runs).
    Returns the settings and the test results in one dict, as :func:`load_artifacts` does."""
    s = dict(settings)
    set_seed(s["SEED"])
    data = load_dataset(s["DATASET"], data_dir, binarize=s["BINARIZE"])
    if n := s.get("TRAIN_IMAGES"):  # a quick run: the first n training images
        data = replace(data, x_train=data.x_train[:n], y_train=data.y_train[:n])
    model = VAE(latent_dim=s["LATENT_DIM"], hidden_dim=s["HIDDEN_DIM"], beta=s["BETA"], seed=s["SEED"])
    history = train_vae(model, data, epochs=s["EPOCHS"], batch_size=s["BATCH_SIZE"],
                        learning_rate=s["LEARNING_RATE"], lr_decay=s["LR_DECAY"],
                        matmul_precision=s["MATMUL_PRECISION"], seed=s["SEED"], verbose=False)
    test = evaluate_vae(model, data.x_test)
    iw = iwae_log_likelihood(model, data.x_test, k=s["IWAE_K"], seed=s["SEED"])
    results = {"test_neg_elbo": test["neg_elbo"], "test_bce": test["bce"], "test_kl": test["kl"],
               "test_log_px": iw["log_px"], "val_loss": history["val_loss"][-1],
               "train_time_s": float(sum(history["epoch_time_s"]))}
    save_artifacts(artifacts_dir, model, history, s, results)
    return runs.flat(runs.read_run(artifacts_dir))


def load_or_train(artifacts_dir: str | os.PathLike, data_dir: str | None = None,
                  **expected: Any) -> tuple[VAE, dict[str, list[float]], dict[str, Any]]:
    """:func:`load_artifacts`; but when ``artifacts_dir`` holds no model yet (this notebook runs
    alone, e.g. on Colab), first train one as notebook 03 does, with its defaults and the
    ``expected`` settings, and save it there for the next notebook."""
    folder = Path(artifacts_dir)
    if runs.read_run(folder) is None:
        settings = {**TRAINING_DEFAULTS, **expected}
        print(f"No trained model in {str(folder)!r} yet: training one as 03_training.ipynb does, with its "
              f"defaults ({settings['EPOCHS']} epochs, latent size {settings['LATENT_DIM']}; about 1 to 2 "
              "minutes on a 2-core CPU) ...")
        train_and_save(folder, settings, data_dir)
    return load_artifacts(folder, **expected)


# ==========================================================================
# The machinery, also available here: vh.plot_loss_curves, vh.latent_explorer, ...
# ==========================================================================
from vae_machinery import student_code  # noqa: E402
from vae_machinery.bfloat16 import matmul_precision  # noqa: E402
from vae_machinery.errors import VAEError  # noqa: E402
from vae_machinery.exercises import check  # noqa: E402
from vae_machinery.explorer import latent_explorer  # noqa: E402
from vae_machinery.notebook_setup import claim, describe_model, figures_for_model, start_notebook  # noqa: E402
from vae_machinery.plots import (  # noqa: E402
    ONE_D,
    plot_digit_grid,
    plot_image_panels,
    plot_image_table,
    plot_interpolations,
    plot_kl_per_dimension,
    plot_latent_panels,
    plot_latent_space,
    plot_latent_sweep,
    plot_loss_curves,
    plot_manifold,
    plot_rate_distortion,
    plot_reconstructions,
    plot_samples,
    plot_sweep_gallery,
    project_2d,
    save_figure,
    tile_images,
)
from vae_machinery.runs_bundle import fetch_runs  # noqa: E402
from vae_machinery.sweeps import format_table, plan_sweep, write_csv  # noqa: E402


def functions_from_notebook(notebook: str | Path = "02_model.ipynb", *, verbose: bool = True) -> dict:
    """Your notebook-02 functions as ``VAE`` keyword arguments if they pass their checks, else {}."""
    return student_code.functions_from_notebook(notebook, sys.modules[__name__], verbose=verbose)


__all__ = [
    # the VAE, defined in this file
    "ACTIVATION", "ADAM_BETA_2", "BINARIZE_TEST_SEED", "Dataset", "EVAL_BATCH_SIZE", "HIDDEN_LAYERS",
    "IMAGE_PIXELS", "IMAGE_SIDE", "VAE", "VALIDATION_SEED", "VALIDATION_SIZE", "active_units",
    "Comparison", "binarize_images", "build_decoder", "build_encoder", "compare_seeds", "compile_vae",
    "decode_manifold", "describe_model", "evaluate_vae", "interpolate", "iwae_log_likelihood",
    "kl_divergence", "kl_per_dimension", "latent_means", "load_artifacts", "load_dataset",
    "log_importance_weights", "log_mean_exp", "reconstruct", "load_or_train", "reconstruction_bce",
    "reparameterize", "save_artifacts", "seeded_dense", "train_and_save", "train_vae", "vae_loss",
    # the machinery, from vae_machinery
    "DATASETS", "HISTORY_FILE", "MODEL_FILE", "RUN_FILE", "TRAINING_DEFAULTS", "claim", "figures_for_model",
    "set_seed", "start_notebook", "VAEError", "check", "fetch_runs", "format_table",
    "functions_from_notebook", "latent_explorer", "matmul_precision",
    "plan_sweep", "plot_digit_grid", "plot_image_panels", "plot_image_table", "plot_interpolations",
    "plot_kl_per_dimension", "plot_latent_panels", "plot_latent_space", "plot_latent_sweep",
    "plot_loss_curves", "plot_manifold", "plot_rate_distortion", "plot_reconstructions", "plot_samples",
    "ONE_D", "plot_sweep_gallery", "project_2d", "save_figure", "tile_images", "write_csv",
]
