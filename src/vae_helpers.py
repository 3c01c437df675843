"""Helpers for the VAE-on-MNIST tutorial series.

The notebooks in ``notebooks/`` explain; this module does the work:

* **data** – :func:`load_dataset` reads MNIST or Fashion-MNIST from the four
  standard IDX files (a folder given by ``DATA_DIR`` or the environment
  variable ``VAE_DATA_DIR``) or from the standard Keras download, and checks
  every byte against known SHA-256 sums;
* **model** – :class:`VAE`, an MLP encoder/decoder written with backend-agnostic
  ``keras.ops`` (TensorFlow, JAX and PyTorch backends all work);
* **losses** – :func:`reconstruction_bce` and :func:`kl_divergence`;
* **training** – :func:`train_vae` (one printed line per epoch) and
  :func:`evaluate_vae`;
* **artifacts** – :func:`save_artifacts` / :func:`load_artifacts`, written
  atomically so an interrupted run never leaves a half-written model behind;
* **plots** – one function per figure of the series, and :func:`save_figure`.

Errors a learner can cause (a bad parameter, missing or corrupt data, running
the notebooks out of order) raise :class:`VAEError` subclasses whose message
names the problem and the fix.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import platform
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# TensorFlow's C++ runtime logs start-up chatter (CPU features, "could not
# find cuda drivers", "failed call to cuInit") straight to file descriptor 2,
# where notebooks show it as red text. Keep it quiet unless the user set the
# level themselves (TF_CPP_MIN_LOG_LEVEL=0 shows everything); Python errors and
# warnings are not affected.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_NATIVE_NOISE = ("cudart_stub.cc", "All log messages before absl::InitializeLog()",
                 "cuda_platform.cc", "Unable to register cu")


def _import_keras_quietly() -> Any:
    """Import Keras (and its backend) with fd 2 captured; pass on every line
    except the known TensorFlow start-up noise, which is logged before the
    log level above takes effect."""
    import importlib

    if "keras" in sys.modules or os.environ["TF_CPP_MIN_LOG_LEVEL"] != "3":
        return importlib.import_module("keras")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            module = importlib.import_module("keras")
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines():
                if line.strip() and not any(n in line for n in _NATIVE_NOISE):
                    print(line, file=sys.stderr)
    return module


keras = _import_keras_quietly()
if int(keras.__version__.split(".")[0]) < 3:
    raise ImportError(
        f"This series needs Keras 3, but Keras {keras.__version__} is installed. "
        "Install the pinned versions: pip install -r requirements.txt"
    )
import numpy as np  # noqa: E402
from keras import layers, ops  # noqa: E402

__all__ = [
    "ArtifactsError",
    "CHECKPOINT_FILE",
    "DATASETS",
    "DataError",
    "Dataset",
    "EpochLogger",
    "ParameterError",
    "VAE",
    "VAEError",
    "build_decoder",
    "build_encoder",
    "check_parameters",
    "compile_vae",
    "decode_manifold",
    "describe_model",
    "epoch_order",
    "evaluate_vae",
    "kl_divergence",
    "latent_means",
    "load_artifacts",
    "load_checkpoint",
    "load_dataset",
    "parse_idx",
    "plot_digit_grid",
    "plot_latent_space",
    "plot_loss_curves",
    "plot_manifold",
    "plot_reconstructions",
    "plot_samples",
    "project_2d",
    "reconstruct",
    "reconstruction_bce",
    "save_artifacts",
    "save_checkpoint",
    "save_figure",
    "set_seed",
    "train_vae",
    "versions",
]

IMAGE_SIDE = 28
IMAGE_PIXELS = IMAGE_SIDE * IMAGE_SIDE


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------
class VAEError(Exception):
    """Base class of the errors this module raises on purpose."""


class ParameterError(VAEError, ValueError):
    """A notebook parameter has a value the series cannot use."""


class DataError(VAEError, RuntimeError):
    """The dataset is missing, incomplete or not the expected bytes."""


class ArtifactsError(VAEError, RuntimeError):
    """Training artifacts are missing or belong to another configuration."""


# --------------------------------------------------------------------------
# Reproducibility and environment
# --------------------------------------------------------------------------
def versions() -> str:
    """One line naming the versions of Python, TensorFlow, Keras and NumPy."""
    try:
        import tensorflow as tf

        tf_version = tf.__version__
    except ImportError:  # a JAX- or PyTorch-only install
        tf_version = "not installed"
    return (
        f"Versions: Python {platform.python_version()}, TensorFlow {tf_version}, "
        f"Keras {keras.__version__} (backend: {keras.backend.backend()}), "
        f"NumPy {np.__version__}"
    )


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and the Keras backend.

    Together with a shuffle order that depends only on seed and epoch
    (:func:`epoch_order`) and XLA-compiled training steps (deterministic on a
    CPU), the same seed on the same machine gives the same weights, numbers
    and figures; the test suite checks this. TensorFlow's
    ``enable_op_determinism`` is *not* used: Keras turns XLA off under it,
    which makes training about twice as slow on a CPU.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ParameterError(
            f"SEED must be an integer, got {seed!r} ({type(seed).__name__}). "
            "With papermill pass it with -p (not -r), e.g. -p SEED 42."
        )
    keras.utils.set_random_seed(seed)


# --------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------
def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, bool
    )


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def check_parameters(**params: Any) -> None:
    """Check notebook parameters before any work starts.

    Pass the parameters a notebook uses by name, e.g.
    ``check_parameters(SEED=SEED, LATENT_DIM=LATENT_DIM)``. Raises
    :class:`ParameterError` naming the parameter, the value received and what
    is allowed. Unknown names are a programming error and raise ``TypeError``.
    """
    for name, value in params.items():
        problem = None
        if name in {"LATENT_DIM", "HIDDEN_DIM", "EPOCHS", "BATCH_SIZE", "N_SAMPLES"}:
            if not _is_int(value) or value < 1:
                problem = "a positive integer"
        elif name == "SEED":
            if not _is_int(value):
                problem = "an integer (with papermill use -p, not -r)"
        elif name == "LEARNING_RATE":
            if not _is_real(value) or not math.isfinite(value) or value <= 0:
                problem = "a finite number > 0, e.g. 1e-3"
        elif name == "BETA":
            if not _is_real(value) or not math.isfinite(value) or value < 0:
                problem = "a finite number >= 0 (1.0 is the standard VAE)"
        elif name == "DATASET":
            if value not in DATASETS:
                problem = "one of " + ", ".join(repr(n) for n in DATASETS)
        elif name == "DATA_DIR":
            if value is not None and not (
                isinstance(value, (str, os.PathLike)) and Path(value).is_dir()
            ):
                problem = (
                    "None (use $VAE_DATA_DIR or the Keras download) or an "
                    "existing folder holding the four IDX files"
                )
        elif name == "RESUME":
            if not isinstance(value, bool):
                problem = "True or False"
        elif name in {"ARTIFACTS_DIR", "IMGS_DIR"}:
            if not isinstance(value, (str, os.PathLike)) or not str(value):
                problem = "a folder path (it is created if missing)"
        else:
            raise TypeError(f"check_parameters() got an unknown parameter {name!r}")
        if problem:
            raise ParameterError(
                f"Parameter {name} = {_describe(value)} is not allowed: "
                f"{name} must be {problem}."
            )


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------
_IDX_FILES = ("train_images", "train_labels", "test_images", "test_labels")
# Both datasets use the four standard IDX file names.
_IDX_FILENAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

DATASETS: dict[str, dict[str, Any]] = {
    "mnist": {
        "title": "MNIST",
        "class_names": [str(d) for d in range(10)],
        "files": _IDX_FILENAMES,
        # SHA-256 of the *decompressed* IDX files: the same for every mirror.
        "sha256": {
            "train_images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train_labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "test_images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "test_labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
    },
    "fashion_mnist": {
        "title": "Fashion-MNIST",
        "class_names": [
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
        ],
        "files": _IDX_FILENAMES,
        "sha256": {
            "train_images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train_labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "test_images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "test_labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
    },
}

_EXPECTED_COUNTS = {"train": 60_000, "test": 10_000}


@dataclass(frozen=True)
class Dataset:
    """Images scaled to [0, 1] and flattened to 784 values, with labels."""

    name: str
    x_train: np.ndarray  # (60000, 784) float32
    y_train: np.ndarray  # (60000,) uint8
    x_test: np.ndarray  # (10000, 784) float32
    y_test: np.ndarray  # (10000,) uint8
    class_names: list[str]
    source: str  # where the bytes came from

    @property
    def title(self) -> str:
        return DATASETS[self.name]["title"]


def parse_idx(raw: bytes, what: str = "IDX data") -> np.ndarray:
    """Parse the bytes of one decompressed IDX file into a ``uint8`` array.

    The IDX header is big-endian: a magic number ``0x00000803`` (images) or
    ``0x00000801`` (labels), the item count, then rows and columns for images.
    Raises :class:`DataError` when the header or the size is wrong.
    """
    if len(raw) < 8:
        raise DataError(f"{what} is too short ({len(raw)} bytes) to be an IDX file.")
    magic, count = struct.unpack(">II", raw[:8])
    if magic == 0x00000803:
        if len(raw) < 16:
            raise DataError(f"{what}: truncated IDX image header.")
        rows, cols = struct.unpack(">II", raw[8:16])
        shape, offset = (count, rows, cols), 16
    elif magic == 0x00000801:
        shape, offset = (count,), 8
    else:
        raise DataError(
            f"{what} is not an IDX file: magic number 0x{magic:08x}, expected "
            "0x00000803 (images) or 0x00000801 (labels). Is it the right file?"
        )
    expected = offset + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(
            f"{what} has {len(raw)} bytes but its header announces {count} items "
            f"({expected} bytes): the file is truncated or padded. Download it again."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape)


def _to_idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array (inverse of :func:`parse_idx`)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    if array.ndim == 3:
        header = struct.pack(">IIII", 0x00000803, *array.shape)
    elif array.ndim == 1:
        header = struct.pack(">II", 0x00000801, array.shape[0])
    else:
        raise ValueError(f"IDX images are 3-D and labels 1-D, got shape {array.shape}")
    return header + array.tobytes()


def _sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _dataset_folder(name: str, data_dir: Path) -> Path:
    """``data_dir`` itself, or its sub-folder named after the dataset."""
    if not data_dir.is_dir():
        raise DataError(
            f"Data folder {str(data_dir)!r} does not exist. Set DATA_DIR (or the "
            "environment variable VAE_DATA_DIR) to a folder holding the four "
            f"{DATASETS[name]['title']} IDX files, or to None to download them "
            "with Keras."
        )
    sub = data_dir / name
    return sub if sub.is_dir() else data_dir


def _read_idx_file(folder: Path, filename: str) -> tuple[bytes, Path]:
    """Read ``filename`` or ``filename.gz`` from ``folder``, decompressed."""
    for path in (folder / f"{filename}.gz", folder / filename):
        if path.is_file():
            break
    else:
        raise DataError(
            f"{filename}.gz is missing from {str(folder)!r}. The folder must hold "
            "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
            "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz "
            "(compressed or not)."
        )
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:  # BadGzipFile is an OSError
            raise DataError(
                f"{str(path)!r} is not a valid gzip file ({err}): the download is "
                "truncated or corrupt. Delete it and download it again."
            ) from None
    return raw, path


def _which_dataset(key: str, digest: str) -> str | None:
    for other, spec in DATASETS.items():
        if spec["sha256"][key] == digest:
            return other
    return None


def _verified_arrays(name: str, raws: Mapping[str, bytes], where: Mapping[str, str]) -> dict[str, np.ndarray]:
    """Parse the four IDX payloads and check counts and SHA-256 sums."""
    spec = DATASETS[name]
    arrays = {}
    for key in _IDX_FILES:
        raw = raws[key]
        array = parse_idx(raw, where[key])
        split = key.split("_")[0]
        if array.shape[0] != _EXPECTED_COUNTS[split] or (
            array.ndim == 3 and array.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE)
        ):
            raise DataError(
                f"{where[key]} holds {array.shape} but {spec['title']} "
                f"{split} data is {_EXPECTED_COUNTS[split]} items"
                + (f" of {IMAGE_SIDE}x{IMAGE_SIDE}" if array.ndim == 3 else "")
                + ". Download the file again."
            )
        digest = _sha256(raw)
        if digest != spec["sha256"][key]:
            other = _which_dataset(key, digest)
            hint = (
                f" These are the {DATASETS[other]['title']} files: set DATASET = "
                f"{other!r} or point DATA_DIR at the {spec['title']} files."
                if other
                else " The file is corrupt or from another dataset: download it again."
            )
            raise DataError(
                f"Checksum mismatch for {where[key]}: SHA-256 of the decompressed "
                f"bytes is {digest}, expected {spec['sha256'][key]}.{hint}"
            )
        arrays[key] = array
    return arrays


def _load_from_folder(name: str, data_dir: Path) -> tuple[dict[str, np.ndarray], str]:
    folder = _dataset_folder(name, data_dir)
    raws, where = {}, {}
    for key in _IDX_FILES:
        raws[key], path = _read_idx_file(folder, DATASETS[name]["files"][key])
        where[key] = repr(str(path))
    return _verified_arrays(name, raws, where), f"folder {folder}"


def _load_from_keras(name: str) -> tuple[dict[str, np.ndarray], str]:
    loader = getattr(keras.datasets, name)
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as err:  # network errors come in many types
        raise DataError(
            f"Could not download {DATASETS[name]['title']} with Keras "
            f"({type(err).__name__}: {err}). Without internet, put the four IDX "
            "files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
            "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) in a folder "
            "and set DATA_DIR to it, or export VAE_DATA_DIR=/path/to/folder."
        ) from None
    arrays = {
        "train_images": x_train, "train_labels": y_train,
        "test_images": x_test, "test_labels": y_test,
    }
    # Re-encode as IDX so the same checksums verify the Keras copy.
    raws = {key: _to_idx_bytes(a) for key, a in arrays.items()}
    where = {key: f"Keras' {name} download ({key})" for key in arrays}
    return _verified_arrays(name, raws, where), "Keras download"


def load_dataset(name: str = "mnist", data_dir: str | os.PathLike | None = None) -> Dataset:
    """Load MNIST or Fashion-MNIST, verified against known SHA-256 sums.

    Where the data comes from, in order: ``data_dir`` if given; else the
    folder in the environment variable ``VAE_DATA_DIR``; else the standard
    Keras download (cached in ``~/.keras/datasets``). A folder may hold the
    four files directly or in a sub-folder named after the dataset.

    Images are returned as float32 in [0, 1], flattened to 784 values.
    """
    check_parameters(DATASET=name)
    if data_dir is None and os.environ.get("VAE_DATA_DIR"):
        data_dir = os.environ["VAE_DATA_DIR"]
    if data_dir is not None:
        arrays, source = _load_from_folder(name, Path(data_dir))
    else:
        arrays, source = _load_from_keras(name)

    def images(a: np.ndarray) -> np.ndarray:
        return (a.reshape(len(a), IMAGE_PIXELS) / np.float32(255.0)).astype(np.float32)

    return Dataset(
        name=name,
        x_train=images(arrays["train_images"]),
        y_train=arrays["train_labels"].copy(),
        x_test=images(arrays["test_images"]),
        y_test=arrays["test_labels"].copy(),
        class_names=list(DATASETS[name]["class_names"]),
        source=source,
    )


# --------------------------------------------------------------------------
# Losses (per example; backend-agnostic keras.ops)
# --------------------------------------------------------------------------
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

    ``KL = -1/2 * sum(1 + log sigma^2 - mu^2 - sigma^2)``.
    """
    return -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------
def build_encoder(input_dim: int, hidden_dim: int, latent_dim: int) -> keras.Model:
    """x (784) -> Dense(hidden, ReLU) -> (mu, log sigma^2), each latent_dim."""
    x = keras.Input(shape=(input_dim,), name="image")
    h = layers.Dense(hidden_dim, activation="relu", name="hidden")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(h)
    return keras.Model(x, [z_mean, z_log_var], name="encoder")


def build_decoder(latent_dim: int, hidden_dim: int, output_dim: int) -> keras.Model:
    """z (latent_dim) -> Dense(hidden, ReLU) -> 784 logits (one per pixel)."""
    z = keras.Input(shape=(latent_dim,), name="z")
    h = layers.Dense(hidden_dim, activation="relu", name="hidden")(z)
    logits = layers.Dense(output_dim, name="logits")(h)
    return keras.Model(z, logits, name="decoder")


@keras.saving.register_keras_serializable(package="vae_helpers")
class VAE(keras.Model):
    """Variational autoencoder with an MLP encoder and decoder.

    ``model(x)`` returns ``(logits, z_mean, z_log_var)``. Training minimises
    ``reconstruction_bce + beta * kl_divergence`` averaged over the batch; the
    two parts are tracked as the metrics ``reconstruction_loss`` and
    ``kl_loss`` (and ``loss`` is their weighted sum).
    """

    def __init__(
        self,
        latent_dim: int = 2,
        hidden_dim: int = 1024,
        input_dim: int = IMAGE_PIXELS,
        beta: float = 1.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.hidden_dim = int(hidden_dim)
        self.input_dim = int(input_dim)
        self.beta = float(beta)
        self.seed = seed
        self.encoder = build_encoder(self.input_dim, self.hidden_dim, self.latent_dim)
        self.decoder = build_decoder(self.latent_dim, self.hidden_dim, self.input_dim)
        self.noise = keras.random.SeedGenerator(seed)
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        # Encoder and decoder are functional models, built on creation, so the
        # VAE has all its weights now (count_params and loading work at once).
        self.built = True

    def reparameterize(self, z_mean: Any, z_log_var: Any) -> Any:
        """z = mu + sigma * eps with eps ~ N(0, I): sampling made differentiable."""
        eps = keras.random.normal(ops.shape(z_mean), seed=self.noise)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def call(self, x: Any, training: bool = False) -> tuple[Any, Any, Any]:
        z_mean, z_log_var = self.encoder(x, training=training)
        z = self.reparameterize(z_mean, z_log_var)
        return self.decoder(z, training=training), z_mean, z_log_var

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        logits, z_mean, z_log_var = y_pred
        bce = reconstruction_bce(x, logits)
        kl = kl_divergence(z_mean, z_log_var)
        self.reconstruction_tracker.update_state(bce)
        self.kl_tracker.update_state(kl)
        return ops.mean(bce + self.beta * kl)

    def decode(self, z: Any) -> np.ndarray:
        """Pixel probabilities sigmoid(decoder(z)) as a NumPy array."""
        return ops.convert_to_numpy(ops.sigmoid(self.decoder(ops.convert_to_tensor(z))))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            latent_dim=self.latent_dim, hidden_dim=self.hidden_dim,
            input_dim=self.input_dim, beta=self.beta, seed=self.seed,
        )
        return config


def latent_means(model: VAE, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """The encoder's means mu(x) for every row of ``x``, as a NumPy array."""
    return model.encoder.predict(x, batch_size=batch_size, verbose=0)[0]


def reconstruct(model: VAE, x: np.ndarray) -> np.ndarray:
    """Decode the encoder's mean: the model's most likely reconstruction."""
    return model.decode(latent_means(model, x))


def describe_model(model: VAE) -> str:
    """A plain-text summary: layers, output shapes and parameter counts."""
    lines = []
    for part in (model.encoder, model.decoder):
        lines.append(f"{part.name}:")
        for layer in part.layers:
            if isinstance(layer, layers.InputLayer):
                shape = tuple(layer.output.shape)
                lines.append(f"  {layer.name:<10} input  {str(shape):<12}")
                continue
            shape = tuple(layer.output.shape)
            act = getattr(layer.activation, "__name__", "")
            lines.append(
                f"  {layer.name:<10} {act:<6} {str(shape):<12} {layer.count_params():>9,} params"
            )
        lines.append(f"  total{'':<27}{part.count_params():>9,} params")
    lines.append(f"VAE total: {model.count_params():,} trainable parameters")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Training and evaluation
# --------------------------------------------------------------------------
class EpochLogger(keras.callbacks.Callback):
    """Print one short line per epoch (train and test BCE, KL and total) and
    stop with a clear message if the loss becomes NaN or infinite."""

    def __init__(self, epochs: int, verbose: bool = True) -> None:
        super().__init__()
        self.epochs = epochs
        self.verbose = verbose
        self.epoch_times: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        self.epoch_times.append(time.perf_counter() - self._start)
        if not all(math.isfinite(v) for v in logs.values()):
            self.model.stop_training = True
            shown = ", ".join(f"{k} {v:.4g}" for k, v in logs.items())
            raise FloatingPointError(
                f"The loss became NaN or infinite in epoch {epoch + 1} ({shown}). "
                "Lower LEARNING_RATE (e.g. by 10x) and train again; the last good "
                "checkpoint and artifacts were kept."
            )
        if self.verbose:
            w = len(str(self.epochs))
            print(
                f"epoch {epoch + 1:>{w}}/{self.epochs}  "
                f"train: BCE {logs['reconstruction_loss']:7.2f}  KL {logs['kl_loss']:5.2f}  "
                f"loss {logs['loss']:7.2f} | "
                f"test: BCE {logs['val_reconstruction_loss']:7.2f}  KL {logs['val_kl_loss']:5.2f}  "
                f"loss {logs['val_loss']:7.2f} nats | {self.epoch_times[-1]:.1f} s",
                flush=True,
            )


def compile_vae(model: VAE, learning_rate: float, steps_per_execution: int = 16) -> VAE:
    """Attach an Adam optimizer (the loss is the model's own ``compute_loss``)
    and choose how training steps run:

    * ``jit_compile`` – XLA fuses the small element-wise ops around the two big
      matrix multiplies into a few kernels (TensorFlow and JAX; the PyTorch
      backend runs eagerly);
    * ``steps_per_execution`` – run several batches per call from Python,
      so the per-step overhead is paid once per 16 batches.

    Neither changes the maths: only how fast the same steps run.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        jit_compile=keras.backend.backend() in ("tensorflow", "jax"),
        steps_per_execution=steps_per_execution,
    )
    return model


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The shuffled order of the training images in ``epoch``: a function of
    the seed and the epoch only, so a resumed run sees the same batches."""
    return np.random.default_rng([seed, epoch]).permutation(n)


CHECKPOINT_FILE = "checkpoint.npz"


def _checkpoint_identity(model: VAE, batch_size: int, learning_rate: float, seed: int) -> dict:
    return dict(latent_dim=model.latent_dim, hidden_dim=model.hidden_dim, input_dim=model.input_dim,
                beta=model.beta, batch_size=batch_size, learning_rate=float(learning_rate), seed=seed)


def save_checkpoint(path: Path, model: VAE, history: Mapping[str, Sequence[float]],
                    identity: Mapping[str, Any]) -> None:
    """Write the model's and the optimizer's variables, the history so far
    and the run's settings to one ``.npz`` file, atomically."""
    arrays = {f"model/{i}": ops.convert_to_numpy(v) for i, v in enumerate(model.variables)}
    arrays.update({f"optimizer/{i}": ops.convert_to_numpy(v)
                   for i, v in enumerate(model.optimizer.variables)})
    meta = json.dumps({"history": dict(history), "identity": dict(identity)})
    arrays["meta"] = np.frombuffer(meta.encode(), dtype=np.uint8)
    _atomic_write(path, lambda p: np.savez(p, **arrays))


def load_checkpoint(path: Path, model: VAE, identity: Mapping[str, Any]) -> dict[str, list[float]]:
    """Restore ``model`` (weights, noise-generator state, optimizer state)
    from :func:`save_checkpoint`'s file and return the history so far."""
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(f["meta"].tobytes().decode())
        if meta["identity"] != dict(identity):
            changed = {k: (meta["identity"].get(k), v) for k, v in identity.items()
                       if meta["identity"].get(k) != v}
            raise ArtifactsError(
                f"The checkpoint {str(path)!r} belongs to a run with other settings "
                f"(saved vs now: {changed}). Set RESUME = False to start afresh, or "
                "use the settings of the interrupted run."
            )
        model.optimizer.build(model.trainable_variables)
        for group, variables in (("model", model.variables), ("optimizer", model.optimizer.variables)):
            for i, variable in enumerate(variables):
                variable.assign(f[f"{group}/{i}"])
    return {k: list(v) for k, v in meta["history"].items()}


def train_vae(
    model: VAE,
    data: Dataset,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    *,
    seed: int = 0,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    verbose: bool = True,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> dict[str, list[float]]:
    """Train on ``data.x_train`` and evaluate on all of ``data.x_test`` after
    every epoch; print one line per epoch.

    With ``checkpoint_dir`` the model and optimizer state are saved after
    every epoch (atomically); with ``resume=True`` a run continues from that
    checkpoint and ends with the same weights as an uninterrupted run.
    Returns the per-epoch history (train, and ``val_`` = test) plus
    ``epoch_time_s``.
    """
    check_parameters(EPOCHS=epochs, BATCH_SIZE=batch_size, LEARNING_RATE=learning_rate, SEED=seed)
    if not model.compiled:
        compile_vae(model, learning_rate)
    identity = _checkpoint_identity(model, batch_size, learning_rate, seed)
    checkpoint = Path(checkpoint_dir) / CHECKPOINT_FILE if checkpoint_dir is not None else None
    history: dict[str, list[float]] = {}
    if resume:
        if checkpoint is None:
            raise ParameterError("RESUME = True needs a checkpoint folder (checkpoint_dir).")
        if checkpoint.is_file():
            history = load_checkpoint(checkpoint, model, identity)
            if verbose:
                print(f"Resuming after epoch {len(history.get('loss', []))} from {checkpoint}")
        elif verbose:
            print(f"No checkpoint in {checkpoint.parent}: training from the start")
    first = len(history.get("loss", []))
    logger = EpochLogger(epochs, verbose)
    for epoch in range(first, epochs):
        start = time.perf_counter()
        order = epoch_order(seed, epoch, len(data.x_train))
        result = model.fit(
            data.x_train[order],
            initial_epoch=epoch,
            epochs=epoch + 1,
            batch_size=batch_size,
            validation_data=(data.x_test,),
            validation_batch_size=1000,
            shuffle=False,  # the order above is the shuffle
            verbose=0,
            callbacks=[logger, *callbacks],
        )
        for key, values in result.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
        # Wall time of the whole epoch: shuffling, training and test evaluation.
        history.setdefault("epoch_time_s", []).append(time.perf_counter() - start)
        if checkpoint is not None:
            save_checkpoint(checkpoint, model, history, identity)
    return history


def evaluate_vae(model: VAE, x: np.ndarray, batch_size: int = 1000) -> dict[str, float]:
    """Mean BCE, KL and negative ELBO (BCE + KL, nats per image) over ``x``,
    with one sample of z per image."""
    bce_sum = kl_sum = 0.0
    for start in range(0, len(x), batch_size):
        batch = ops.convert_to_tensor(x[start : start + batch_size])
        logits, z_mean, z_log_var = model(batch, training=False)
        bce_sum += float(ops.sum(reconstruction_bce(batch, logits)))
        kl_sum += float(ops.sum(kl_divergence(z_mean, z_log_var)))
    bce, kl = bce_sum / len(x), kl_sum / len(x)
    return {"bce": bce, "kl": kl, "neg_elbo": bce + kl}


# --------------------------------------------------------------------------
# Artifacts: what 03_training writes and 04-06 read
# --------------------------------------------------------------------------
MODEL_FILE = "vae.keras"
HISTORY_FILE = "history.json"
CONFIG_FILE = "config.json"


def _atomic_write(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``: readers see the old
    file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_json(path: Path, obj: Any) -> None:
    _atomic_write(path, lambda p: p.write_text(json.dumps(obj, indent=2) + "\n"))


def save_artifacts(
    artifacts_dir: str | os.PathLike,
    model: VAE,
    history: Mapping[str, Sequence[float]],
    config: Mapping[str, Any],
) -> Path:
    """Save the trained model, its history and the configuration it was
    trained with. The config is written last, so a folder whose config is
    present has a complete set."""
    folder = Path(artifacts_dir)
    _atomic_write(folder / MODEL_FILE, lambda p: model.save(p))
    _write_json(folder / HISTORY_FILE, dict(history))
    _write_json(folder / CONFIG_FILE, dict(config))
    return folder


def load_artifacts(
    artifacts_dir: str | os.PathLike, **expected: Any
) -> tuple[VAE, dict[str, list[float]], dict[str, Any]]:
    """Load what ``03_training.ipynb`` saved, after checking that it exists
    and was trained with the ``expected`` settings (e.g. ``LATENT_DIM=2``).
    The model is loaded in Keras' safe mode."""
    folder = Path(artifacts_dir)
    config_path = folder / CONFIG_FILE
    if not config_path.is_file() or not (folder / MODEL_FILE).is_file():
        raise ArtifactsError(
            f"No trained model in {str(folder)!r}. Run 03_training.ipynb first "
            "(or `make run`), with the same ARTIFACTS_DIR."
        )
    config = json.loads(config_path.read_text())
    for name, value in expected.items():
        if config.get(name) != value:
            raise ArtifactsError(
                f"The model in {str(folder)!r} was trained with {name} = "
                f"{config.get(name)!r}, but this notebook has {name} = {value!r}. "
                f"Re-run 03_training.ipynb with {name} = {value!r}, or set this "
                f"notebook's {name} to {config.get(name)!r}."
            )
    model = keras.saving.load_model(folder / MODEL_FILE, safe_mode=True)
    history = json.loads((folder / HISTORY_FILE).read_text())
    return model, history, config


# --------------------------------------------------------------------------
# Latent-space utilities
# --------------------------------------------------------------------------
def project_2d(z: np.ndarray) -> tuple[np.ndarray, str]:
    """``z`` itself when 2-D, else its projection on the first two principal
    components. Returns the points and an axis-label prefix."""
    if z.shape[1] == 2:
        return z, "z"
    centred = z - z.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T, "PC"


def decode_manifold(model: VAE, n: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Decode an ``n`` x ``n`` grid over the 2-D latent plane, spaced by the
    quantiles of N(0, 1) so that every cell holds equal prior mass. Returns
    the grid coordinates and the image (n*28 x n*28)."""
    if model.latent_dim != 2:
        raise ValueError("The manifold plot needs LATENT_DIM = 2.")
    normal = statistics.NormalDist()
    coords = np.array([normal.inv_cdf(p) for p in np.linspace(0.05, 0.95, n)], dtype=np.float32)
    zz = np.array([[x, y] for y in coords[::-1] for x in coords], dtype=np.float32)
    images = model.decode(zz).reshape(n, n, IMAGE_SIDE, IMAGE_SIDE)
    canvas = images.transpose(0, 2, 1, 3).reshape(n * IMAGE_SIDE, n * IMAGE_SIDE)
    return coords, canvas


# --------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------
def save_figure(fig: Any, path: str | os.PathLike) -> Path:
    """Save a Matplotlib figure as PNG atomically (no timestamp in the file,
    so the same figure gives the same bytes)."""
    path = Path(path)
    _atomic_write(
        path,
        lambda p: fig.savefig(p, format="png", dpi=100, bbox_inches="tight",
                              metadata={"Software": None}),
    )
    return path


def _image_axes(ax: Any) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def plot_digit_grid(images: np.ndarray, labels: Sequence[int], class_names: Sequence[str],
                    ncols: int = 10, title: str = "") -> Any:
    """Show images in a grid, each titled with its class name."""
    import matplotlib.pyplot as plt

    nrows = math.ceil(len(images) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.2 * ncols, 1.4 * nrows), squeeze=False)
    for ax in axes.flat:
        _image_axes(ax)
        ax.axis("off")
    for ax, img, label in zip(axes.flat, images, labels):
        ax.imshow(img.reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(class_names[int(label)], fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_reconstructions(originals: np.ndarray, reconstructions: np.ndarray,
                         labels: Sequence[int], class_names: Sequence[str], title: str) -> Any:
    """Originals in the top row, their reconstructions in the row below."""
    import matplotlib.pyplot as plt

    n = len(originals)
    fig, axes = plt.subplots(2, n, figsize=(1.1 * n, 2.8), squeeze=False)
    for i in range(n):
        for row, imgs in enumerate((originals, reconstructions)):
            ax = axes[row, i]
            ax.imshow(imgs[i].reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="gray_r", vmin=0, vmax=1)
            _image_axes(ax)
        axes[0, i].set_title(class_names[int(labels[i])], fontsize=9)
    axes[0, 0].set_ylabel("original")
    axes[1, 0].set_ylabel("reconstruction")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _tile(images: np.ndarray, nrows: int, ncols: int) -> np.ndarray:
    grid = images[: nrows * ncols].reshape(nrows, ncols, IMAGE_SIDE, IMAGE_SIDE)
    return grid.transpose(0, 2, 1, 3).reshape(nrows * IMAGE_SIDE, ncols * IMAGE_SIDE)


def plot_samples(images: np.ndarray, nrows: int, ncols: int, title: str) -> Any:
    """A grid of decoded samples (pixel probabilities) as one image."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(0.75 * ncols, 0.75 * nrows + 0.5))
    ax.imshow(_tile(images, nrows, ncols), cmap="gray_r", vmin=0, vmax=1)
    ax.set_xticks(np.arange(ncols) * IMAGE_SIDE + IMAGE_SIDE / 2, range(1, ncols + 1))
    ax.set_yticks(np.arange(nrows) * IMAGE_SIDE + IMAGE_SIDE / 2, range(1, nrows + 1))
    ax.set_xlabel("sample (column)")
    ax.set_ylabel("sample (row)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_manifold(coords: np.ndarray, canvas: np.ndarray, title: str) -> Any:
    """The decoded latent grid from :func:`decode_manifold`, with z-axes."""
    import matplotlib.pyplot as plt

    n = len(coords)
    fig, ax = plt.subplots(figsize=(9, 9))
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1)
    ticks = np.arange(n) * IMAGE_SIDE + IMAGE_SIDE / 2
    labels = [f"{c:.1f}" for c in coords]
    ax.set_xticks(ticks[::2], labels[::2])
    ax.set_yticks(ticks[::2], labels[::-1][::2])
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_latent_space(points: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                      axis_prefix: str, title: str) -> Any:
    """Scatter of 2-D latent points coloured by class, with a legend."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 7))
    cmap = plt.get_cmap("tab10")
    for k, name in enumerate(class_names):
        sel = labels == k
        ax.scatter(points[sel, 0], points[sel, 1], s=2, alpha=0.5, color=cmap(k), label=name,
                   rasterized=True)
    legend = ax.legend(title="class", markerscale=6, loc="center left", bbox_to_anchor=(1, 0.5))
    for handle in legend.legend_handles:
        handle.set_alpha(1)
    ax.set_xlabel(f"${axis_prefix}_1$" if axis_prefix == "z" else f"{axis_prefix} 1")
    ax.set_ylabel(f"${axis_prefix}_2$" if axis_prefix == "z" else f"{axis_prefix} 2")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_loss_curves(history: Mapping[str, Sequence[float]], title: str) -> Any:
    """Reconstruction BCE, KL and total loss per epoch, train vs test."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = np.arange(1, len(history["loss"]) + 1)
    parts = [("reconstruction_loss", "reconstruction BCE"), ("kl_loss", "KL divergence"),
             ("loss", "total loss (BCE + β·KL)")]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, (key, label) in zip(axes, parts):
        ax.plot(epochs, history[key], "o-", ms=3, label="train")
        ax.plot(epochs, history[f"val_{key}"], "s--", ms=3, label="test")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("nats per image")
        ax.set_title(label)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


if __name__ == "__main__":  # pragma: no cover
    print(versions())
