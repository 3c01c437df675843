"""Helpers for the VAE-on-MNIST tutorial series.

The notebooks in ``notebooks/`` explain; this module does the work:

* **data** – :func:`load_dataset` reads MNIST or Fashion-MNIST from the four
  standard IDX files (a folder given by ``DATA_DIR`` or the environment
  variable ``VAE_DATA_DIR``) or from the standard Keras download, and checks
  every byte against known SHA-256 sums;
* **model** – :class:`VAE`, an MLP encoder/decoder written with backend-agnostic
  ``keras.ops`` (TensorFlow, JAX and PyTorch backends all work); on CPUs with
  AVX512-BF16 its training steps multiply in bfloat16 (:class:`Dense`,
  :func:`bfloat16_matmul`, the one place with a branch per backend);
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

import contextlib
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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# TensorFlow's C++ runtime logs start-up chatter (CPU features, "could not
# find cuda drivers", "failed call to cuInit", "oneDNN custom operations are
# on") straight to file descriptor 2,
# where notebooks show it as red text. Keep it quiet unless the user set the
# level themselves (TF_CPP_MIN_LOG_LEVEL=0 shows everything); Python errors and
# warnings are not affected.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_NATIVE_NOISE = ("cudart_stub.cc", "All log messages before absl::InitializeLog()",
                 "cuda_platform.cc", "Unable to register cu",
                 "oneDNN custom operations are on")  # on CPUs with AVX-512


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
    "ACTIVATION",
    "ADAM_BETA_2",
    "ArtifactsError",
    "BINARIZE_MODES",
    "CHECKPOINT_FILE",
    "CONFIG_FILE",
    "ConstantThenLinearDecay",
    "DATASETS",
    "Dense",
    "DataError",
    "Dataset",
    "EXPLORER_MAX_SLIDERS",
    "EXPLORER_TEXT",
    "EpochLogger",
    "HIDDEN_LAYERS",
    "HISTORY_FILE",
    "LatentExplorer",
    "MATMUL_PRECISIONS",
    "MODEL_FILE",
    "ParameterError",
    "STEPS_PER_EXECUTION",
    "SWEEP_COLUMNS",
    "TEST_BATCH_SIZE",
    "VAE",
    "VAEError",
    "bfloat16_matmul",
    "bfloat16_matmul_supported",
    "binarize_images",
    "build_decoder",
    "build_encoder",
    "check_answer",
    "check_parameters",
    "compile_vae",
    "decode_manifold",
    "describe_model",
    "epoch_batches",
    "epoch_order",
    "evaluate_vae",
    "format_table",
    "interpolate",
    "iwae_log_likelihood",
    "kl_divergence",
    "latent_explorer",
    "latent_means",
    "load_artifacts",
    "load_checkpoint",
    "load_dataset",
    "log_importance_weights",
    "parse_idx",
    "plan_sweep",
    "plot_digit_grid",
    "plot_image_panels",
    "plot_interpolations",
    "plot_latent_space",
    "plot_latent_sweep",
    "plot_loss_curves",
    "plot_manifold",
    "plot_rate_distortion",
    "plot_reconstructions",
    "plot_samples",
    "plot_sweep_gallery",
    "project_2d",
    "reconstruct",
    "reconstruction_bce",
    "resolve_matmul_precision",
    "run_notebook",
    "run_sweep",
    "save_artifacts",
    "save_checkpoint",
    "save_figure",
    "set_seed",
    "tile_images",
    "train_vae",
    "versions",
    "write_csv",
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


# Parameters that hold lists, and the parameter each item must be valid as.
_LIST_PARAMETERS = {"BETAS": "BETA", "LATENT_DIMS": "LATENT_DIM", "BINARIZED_LATENT_DIMS": "LATENT_DIM"}


def check_parameters(**params: Any) -> None:
    """Check notebook parameters before any work starts.

    Pass the parameters a notebook uses by name, e.g.
    ``check_parameters(SEED=SEED, LATENT_DIM=LATENT_DIM)``. Raises
    :class:`ParameterError` naming the parameter, the value received and what
    is allowed. Unknown names are a programming error and raise ``TypeError``.
    """
    for name, value in params.items():
        problem = None
        if name in _LIST_PARAMETERS:
            item_name = _LIST_PARAMETERS[name]
            if not isinstance(value, (list, tuple)):
                problem = f"a list of {item_name} values, e.g. [1, 2]"
            else:
                for item in value:
                    try:
                        check_parameters(**{item_name: item})
                    except ParameterError as error:
                        raise ParameterError(f"Parameter {name} = {_describe(value)} is not allowed: "
                                             f"its item {item!r} is not a valid {item_name}. "
                                             f"{str(error).split(': ', 1)[1]}") from None
        elif name in {"LATENT_DIM", "HIDDEN_DIM", "EPOCHS", "BATCH_SIZE", "N_SAMPLES"}:
            if not _is_int(value) or value < 1:
                problem = "a positive integer"
        elif name == "SEED":
            if not _is_int(value):
                problem = "an integer (with papermill use -p, not -r)"
        elif name == "LEARNING_RATE":
            if not _is_real(value) or not math.isfinite(value) or value <= 0:
                problem = "a finite number > 0, e.g. 1e-3"
        elif name == "LR_DECAY":
            if not _is_real(value) or not 0 <= value <= 1:
                problem = ("a number from 0 to 1: the fraction of training, at the end, over which "
                           "the learning rate falls to 0 (0 keeps it constant)")
        elif name == "MATMUL_PRECISION":
            if value not in MATMUL_PRECISIONS:
                problem = ("one of 'auto' (bfloat16 products where the CPU has them natively), "
                           "'float32' or 'bfloat16'")
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
        elif name == "BINARIZE":
            if value not in BINARIZE_MODES:
                problem = "None (grey-level pixels) or 'dynamic' (binarized MNIST)"
        elif name == "IWAE_K":
            if not _is_int(value) or value < 1:
                problem = "a positive integer (importance samples per image, e.g. 100)"
        elif name in {"RESUME", "RERUN"}:
            if not isinstance(value, bool):
                problem = "True or False"
        elif name in {"ARTIFACTS_DIR", "IMGS_DIR", "SWEEP_DIR"}:
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
    # None: grey-level pixels in [0, 1]. "dynamic": x_test is binarized once
    # (fixed seed) and train_vae draws a fresh binarization of x_train every epoch.
    binarize: str | None = None

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


BINARIZE_MODES = (None, "dynamic")
BINARIZE_TEST_SEED = 0  # one fixed binarized test set, shared by every run


def binarize_images(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sample every pixel as Bernoulli(intensity): a 0/1 image, float32."""
    return (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)


def load_dataset(
    name: str = "mnist", data_dir: str | os.PathLike | None = None, binarize: str | None = None
) -> Dataset:
    """Load MNIST or Fashion-MNIST, verified against known SHA-256 sums.

    Where the data comes from, in order: ``data_dir`` if given; else the
    folder in the environment variable ``VAE_DATA_DIR``; else the standard
    Keras download (cached in ``~/.keras/datasets``). A folder may hold the
    four files directly or in a sub-folder named after the dataset.

    Images are returned as float32 in [0, 1], flattened to 784 values. With
    ``binarize="dynamic"`` the test images are binarized once, with a fixed
    seed (the same test set for every run), and :func:`train_vae` binarizes
    the training images afresh every epoch ("dynamic binarization", the
    data of the published MNIST log-likelihoods).
    """
    check_parameters(DATASET=name, BINARIZE=binarize)
    if data_dir is None and os.environ.get("VAE_DATA_DIR"):
        data_dir = os.environ["VAE_DATA_DIR"]
    if data_dir is not None:
        arrays, source = _load_from_folder(name, Path(data_dir))
    else:
        arrays, source = _load_from_keras(name)

    def images(a: np.ndarray) -> np.ndarray:
        return (a.reshape(len(a), IMAGE_PIXELS) / np.float32(255.0)).astype(np.float32)

    x_test = images(arrays["test_images"])
    if binarize == "dynamic":
        x_test = binarize_images(x_test, np.random.default_rng(BINARIZE_TEST_SEED))
    return Dataset(
        name=name,
        x_train=images(arrays["train_images"]),
        y_train=arrays["train_labels"].copy(),
        x_test=x_test,
        y_test=arrays["test_labels"].copy(),
        class_names=list(DATASETS[name]["class_names"]),
        source=source,
        binarize=binarize,
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
HIDDEN_LAYERS = 2  # hidden layers in the encoder and in the decoder
# SiLU (x * sigmoid(x)), a smooth ReLU: at latent size 20 it reaches a test
# negative ELBO about 3 nats lower than ReLU in the same 20 epochs.
ACTIVATION = "silu"


MATMUL_PRECISIONS = ("auto", "float32", "bfloat16")


def bfloat16_matmul_supported() -> bool:
    """Whether training can multiply in bfloat16 here, and gain from it: the
    TensorFlow or JAX backend on a CPU whose instruction set multiplies
    bfloat16 natively (AVX512-BF16 or AMX, read from ``/proc/cpuinfo``;
    recent AMD Ryzen/EPYC and Intel Xeon). Elsewhere (older CPUs emulate
    bfloat16 slowly; GPUs have their own fast formats) it is False."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            return False
    elif backend == "jax":
        import jax

        if jax.default_backend() != "cpu":
            return False
    else:
        return False
    try:
        words = Path("/proc/cpuinfo").read_text().split()
    except OSError:  # not Linux
        return False
    return "avx512_bf16" in words or "amx_bf16" in words


def _uses_xla() -> bool:
    """Whether :func:`compile_vae` compiles training steps with XLA: on the
    TensorFlow and JAX backends (the PyTorch backend runs eagerly)."""
    return keras.backend.backend() in ("tensorflow", "jax")


def resolve_matmul_precision(precision: str, jit_compile: bool | None = None) -> str:
    """``"float32"`` or ``"bfloat16"``: what ``MATMUL_PRECISION = precision``
    means on this machine (``"auto"``: bfloat16 where
    :func:`bfloat16_matmul_supported`). bfloat16 products need XLA
    (``jit_compile``, by default as :func:`compile_vae` sets it), on
    TensorFlow or JAX."""
    check_parameters(MATMUL_PRECISION=precision)
    if jit_compile is None:
        jit_compile = _uses_xla()
    if precision == "auto":
        return "bfloat16" if jit_compile and bfloat16_matmul_supported() else "float32"
    if precision == "bfloat16" and not (jit_compile and _uses_xla()):
        raise ParameterError(
            "MATMUL_PRECISION = 'bfloat16' needs the TensorFlow or JAX backend with XLA "
            f"(jit_compile); this run has Keras backend {keras.backend.backend()!r} and "
            f"jit_compile={jit_compile}. Use MATMUL_PRECISION = 'float32' (or 'auto')."
        )
    return precision


def _bfloat16_product(a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False) -> Any:
    """``a @ b`` (or with ``a``/``b`` transposed) of float32 matrices,
    rounded to bfloat16 on the way in and accumulated and returned in float32
    (a native instruction on CPUs with AVX512-BF16). Keras has no
    backend-agnostic op for a product whose result type differs from its
    inputs', hence one branch per backend (XLA on both).

    XLA's CPU backend multiplies bfloat16 natively only if the left operand
    is stored row by row; a transposed left operand (``x.T @ g``, the weight
    gradient) would silently be multiplied in float32. So ``a.T`` is made
    for real: flattened behind an optimization barrier, which XLA cannot
    see through and fold back into the product.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        from tensorflow.compiler.tf2xla.python import xla

        a = tf.cast(tf.transpose(a) if transpose_a else a, tf.bfloat16)
        if transpose_a:
            (flat,) = xla.optimization_barrier(tf.reshape(a, [-1]))
            a = tf.reshape(flat, tf.shape(a))
        return tf.raw_ops.BatchMatMulV3(x=a, y=tf.cast(b, tf.bfloat16), Tout=tf.float32, adj_y=transpose_b)
    import jax

    a = (a.T if transpose_a else a).astype("bfloat16")
    if transpose_a:
        a = jax.lax.optimization_barrier(a.reshape(-1)).reshape(a.shape)
    contract = ((1,), (1,) if transpose_b else (0,))
    return jax.lax.dot_general(a, b.astype("bfloat16"), (contract, ((), ())), preferred_element_type="float32")


@ops.custom_gradient
def bfloat16_matmul(x: Any, kernel: Any) -> Any:
    """``x @ kernel`` with bfloat16 inputs and float32 accumulation, forward
    and backward: the two products of the gradient are bfloat16 products
    too (``dx = g @ kernel.T``, ``dkernel = x.T @ g``). TensorFlow and JAX,
    under XLA only."""

    def grad(*args: Any, upstream: Any = None) -> tuple[Any, Any]:
        if upstream is None:  # TensorFlow passes it positionally, JAX by name
            (upstream,) = args
        return (_bfloat16_product(upstream, kernel, transpose_b=True),
                _bfloat16_product(x, upstream, transpose_a=True))

    return _bfloat16_product(x, kernel), grad


def _tensorflow_eager() -> bool:
    """True when this call runs eagerly on the TensorFlow backend."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return tf.executing_eagerly()


@keras.saving.register_keras_serializable(package="vae_helpers")
class Dense(layers.Dense):
    """``keras.layers.Dense`` whose training steps can multiply in bfloat16.

    With ``bfloat16_training`` set (by :func:`compile_vae`, through
    :attr:`VAE.matmul_precision`, for ``MATMUL_PRECISION = "bfloat16"``) the product ``inputs @ kernel`` of a
    training step rounds both to bfloat16 (8 bits of mantissa) and adds up
    in float32; weights, biases, activations, the loss and Adam stay
    float32. Evaluation and inference (``training=False``) always multiply
    in float32.
    """

    bfloat16_training = False

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not (training and self.bfloat16_training) or _tensorflow_eager():
            # (TensorFlow has the float32-result bfloat16 product under XLA
            # only: an eager call, say model(x, training=True) in a cell,
            # multiplies in float32 instead of failing.)
            return super().call(inputs, training=training)
        y = bfloat16_matmul(inputs, ops.convert_to_tensor(self.kernel))
        if self.bias is not None:
            y = ops.add(y, self.bias)
        return self.activation(y) if self.activation is not None else y


def _hidden_stack(inputs: Any, hidden_dim: int, hidden_layers: int, activation: str) -> Any:
    """``hidden_layers`` dense layers of ``hidden_dim`` units, named hidden1, hidden2, ..."""
    h = inputs
    for i in range(1, hidden_layers + 1):
        h = Dense(hidden_dim, activation=activation, name=f"hidden{i}")(h)
    return h


def build_encoder(input_dim: int, hidden_dim: int, latent_dim: int,
                  hidden_layers: int = HIDDEN_LAYERS, activation: str = ACTIVATION) -> keras.Model:
    """x (784) -> hidden_layers x Dense(hidden, activation) -> (mu, log sigma^2), each latent_dim."""
    x = keras.Input(shape=(input_dim,), name="image")
    h = _hidden_stack(x, hidden_dim, hidden_layers, activation)
    z_mean = Dense(latent_dim, name="z_mean")(h)
    z_log_var = Dense(latent_dim, name="z_log_var")(h)
    return keras.Model(x, [z_mean, z_log_var], name="encoder")


def build_decoder(latent_dim: int, hidden_dim: int, output_dim: int,
                  hidden_layers: int = HIDDEN_LAYERS, activation: str = ACTIVATION) -> keras.Model:
    """z (latent_dim) -> hidden_layers x Dense(hidden, activation) -> 784 logits (one per pixel)."""
    z = keras.Input(shape=(latent_dim,), name="z")
    h = _hidden_stack(z, hidden_dim, hidden_layers, activation)
    logits = Dense(output_dim, name="logits")(h)
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
        hidden_dim: int = 512,
        input_dim: int = IMAGE_PIXELS,
        hidden_layers: int = HIDDEN_LAYERS,
        activation: str = ACTIVATION,
        beta: float = 1.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.hidden_dim = int(hidden_dim)
        self.input_dim = int(input_dim)
        self.hidden_layers = int(hidden_layers)
        self.activation = str(activation)
        self.beta = float(beta)
        self.seed = seed
        self.encoder = build_encoder(self.input_dim, self.hidden_dim, self.latent_dim, self.hidden_layers,
                                     self.activation)
        self.decoder = build_decoder(self.latent_dim, self.hidden_dim, self.input_dim, self.hidden_layers,
                                     self.activation)
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

    def _dense_layers(self) -> list[Dense]:
        return [layer for layer in self._flatten_layers() if isinstance(layer, Dense)]

    @property
    def matmul_precision(self) -> str:
        """``"bfloat16"`` if training steps multiply in bfloat16 (see
        :func:`compile_vae`), else ``"float32"``."""
        dense = self._dense_layers()
        return "bfloat16" if dense and all(layer.bfloat16_training for layer in dense) else "float32"

    @matmul_precision.setter
    def matmul_precision(self, precision: str) -> None:
        if precision not in ("float32", "bfloat16"):
            raise ParameterError(f"matmul_precision must be 'float32' or 'bfloat16', not {precision!r}")
        for layer in self._dense_layers():
            layer.bfloat16_training = precision == "bfloat16"

    def decode(self, z: Any) -> np.ndarray:
        """Pixel probabilities sigmoid(decoder(z)) as a NumPy array."""
        return ops.convert_to_numpy(ops.sigmoid(self.decoder(ops.convert_to_tensor(z))))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            latent_dim=self.latent_dim, hidden_dim=self.hidden_dim,
            input_dim=self.input_dim, hidden_layers=self.hidden_layers, activation=self.activation,
            beta=self.beta, seed=self.seed,
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
    """Print one short line per epoch (train and test BCE, KL and total, and
    the learning rate the epoch started with) and stop with a clear message
    if the loss becomes NaN or infinite."""

    def __init__(self, epochs: int, verbose: bool = True) -> None:
        super().__init__()
        self.epochs = epochs
        self.verbose = verbose
        self.epoch_times: list[float] = []
        self.learning_rates: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()
        self.learning_rates.append(float(ops.convert_to_numpy(self.model.optimizer.learning_rate)))

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
                f"loss {logs['val_loss']:7.2f} nats | lr {self.learning_rates[-1]:.1e} | "
                f"{self.epoch_times[-1]:.1f} s",
                flush=True,
            )


@keras.saving.register_keras_serializable(package="vae_helpers")
class ConstantThenLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate of training step ``step``: constant at
    ``learning_rate``, then falling linearly to 0 over the last
    ``decay_fraction`` of the ``total_steps`` (0 keeps it constant).

    The constant phase makes fast progress; the decay lets Adam settle
    into the minimum it has found instead of jittering around it.
    """

    def __init__(self, learning_rate: float, total_steps: int, decay_fraction: float = 0.25) -> None:
        self.learning_rate = float(learning_rate)
        self.total_steps = int(total_steps)
        self.decay_fraction = float(decay_fraction)

    def __call__(self, step: Any) -> Any:
        if self.decay_fraction == 0:
            return ops.convert_to_tensor(self.learning_rate, dtype="float32")
        steps_left = self.total_steps - ops.cast(step, "float32")
        return self.learning_rate * ops.clip(steps_left / (self.decay_fraction * self.total_steps), 0.0, 1.0)

    def get_config(self) -> dict[str, Any]:
        return dict(learning_rate=self.learning_rate, total_steps=self.total_steps,
                    decay_fraction=self.decay_fraction)


ADAM_BETA_2 = 0.99  # Adam's memory of squared gradients: about 100 steps (Keras' default 0.999: 1000)
STEPS_PER_EXECUTION = 16  # training steps per call from Python into the compiled step


def compile_vae(model: VAE, learning_rate: float, *, total_steps: int | None = None, lr_decay: float = 0.0,
                matmul_precision: str = "auto", steps_per_execution: int = STEPS_PER_EXECUTION) -> VAE:
    """Attach an Adam optimizer (the loss is the model's own ``compute_loss``)
    and choose how training steps run.

    The learning rate is ``learning_rate``, falling linearly to 0 over the
    last ``lr_decay`` of ``total_steps`` (:class:`ConstantThenLinearDecay`;
    constant without ``total_steps``). Adam uses ``beta_2 = 0.99``
    (:data:`ADAM_BETA_2`): a 20-epoch run has only a few thousand steps,
    and Keras' default 0.999 averages squared gradients over the last
    thousand of them, so the step sizes lag behind the loss landscape.

    For speed, neither of which changes the maths:

    * ``jit_compile`` – XLA fuses the small element-wise operations around
      the matrix multiplies into a few kernels (TensorFlow and JAX; the
      PyTorch backend runs eagerly);
    * ``steps_per_execution`` – many batches per call from Python, so the
      per-call overhead is paid once per 16 batches, not once per batch.

    And one that changes the arithmetic a little: ``matmul_precision``
    (:func:`resolve_matmul_precision`). With ``"bfloat16"`` the matrix
    products of training steps round their inputs to bfloat16 and add up in
    float32 (:class:`Dense`), which CPUs with AVX512-BF16 do about twice
    as fast; ``"auto"`` chooses it where the CPU has it.
    """
    check_parameters(LEARNING_RATE=learning_rate, LR_DECAY=lr_decay, MATMUL_PRECISION=matmul_precision)
    schedule: Any = learning_rate
    if total_steps is not None and lr_decay > 0:
        schedule = ConstantThenLinearDecay(learning_rate, total_steps, lr_decay)
    jit_compile = _uses_xla()
    model.matmul_precision = resolve_matmul_precision(matmul_precision, jit_compile)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=schedule, beta_2=ADAM_BETA_2),
        jit_compile=jit_compile,
        # Keras' PyTorch backend runs one step per call only.
        steps_per_execution=steps_per_execution if keras.backend.backend() != "torch" else 1,
    )
    return model


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The shuffled order of the training images in ``epoch``: a function of
    the seed and the epoch only, so a resumed run sees the same batches."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def epoch_batches(x_train: Any, order: np.ndarray, batch_size: int,
                  binarize_seed: int | None = None) -> Any:
    """One epoch of training batches: the rows of ``x_train`` in ``order``,
    ``batch_size`` at a time (the last batch may be smaller), as a
    ``tf.data.Dataset`` of 1-tuples, which ``model.fit`` accepts whatever the
    Keras backend (the benchmark trains with it on TensorFlow and on JAX).

    ``x_train`` should be a TensorFlow tensor made once per training run
    (``tf.constant(data.x_train)``): each batch is gathered from it, so no
    shuffled copy of the whole training set is made. With ``binarize_seed``
    every pixel is drawn as Bernoulli(intensity), from a random stream keyed
    by the seed and the batch's position (dynamic binarization).

    tf.data's autotuning is turned off: when ``fit`` returns, TensorFlow
    waits for the autotuning thread to stop, which cost up to 1.3 s per epoch
    on a 2-core CPU; a fixed prefetch of two batches feeds training as fast.
    """
    import tensorflow as tf

    batches = tf.data.Dataset.from_tensor_slices(np.asarray(order, dtype=np.int64)).batch(batch_size)
    if binarize_seed is None:
        batches = batches.map(lambda rows: (tf.gather(x_train, rows),))
    else:
        def binarized(i: Any, rows: Any) -> tuple[Any]:
            x = tf.gather(x_train, rows)
            u = tf.random.stateless_uniform(tf.shape(x), seed=tf.stack([tf.constant(binarize_seed, tf.int64), i]))
            return (tf.cast(u < x, x.dtype),)

        batches = batches.enumerate().map(binarized)
    options = tf.data.Options()
    options.autotune.enabled = False
    return batches.prefetch(2).with_options(options)


def _binarize_seed(seed: int, epoch: int) -> int:
    """The random-stream key of an epoch's binarized training pixels."""
    return int(np.random.default_rng([seed, epoch, 1]).integers(2**62))


CHECKPOINT_FILE = "checkpoint.npz"
TEST_BATCH_SIZE = 1000  # images per evaluation batch (no gradients: large batches are cheap)


def _checkpoint_identity(model: VAE, data: Dataset, batch_size: int, learning_rate: float,
                         lr_decay: float, seed: int) -> dict:
    return dict(dataset=data.name, binarize=data.binarize, latent_dim=model.latent_dim,
                hidden_dim=model.hidden_dim, hidden_layers=model.hidden_layers, activation=model.activation,
                input_dim=model.input_dim, beta=model.beta, batch_size=batch_size,
                learning_rate=float(learning_rate), lr_decay=float(lr_decay),
                matmul_precision=model.matmul_precision, seed=seed)


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
    lr_decay: float = 0.0,
    matmul_precision: str = "auto",
    seed: int = 0,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    verbose: bool = True,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> dict[str, list[float]]:
    """Train on ``data.x_train`` and evaluate on all of ``data.x_test`` after
    every epoch; print one line per epoch.

    The learning rate is ``learning_rate`` and falls linearly to 0 over the
    last ``lr_decay`` of the ``epochs``; ``matmul_precision`` chooses
    float32 or bfloat16 matrix products (see :func:`compile_vae`; a model
    compiled beforehand keeps its own settings). With ``checkpoint_dir``
    the model and optimizer state are saved after every epoch (atomically);
    with ``resume=True`` a run continues from that checkpoint and ends with
    the same weights as an uninterrupted run. Returns the per-epoch history
    (train, and ``val_`` = test) plus ``learning_rate`` (at the start of
    each epoch) and ``epoch_time_s``.
    """
    import tensorflow as tf  # the input pipeline is tf.data, which fit accepts on every backend

    check_parameters(EPOCHS=epochs, BATCH_SIZE=batch_size, LEARNING_RATE=learning_rate, LR_DECAY=lr_decay,
                     MATMUL_PRECISION=matmul_precision, SEED=seed)
    if not model.compiled:
        steps_per_epoch = math.ceil(len(data.x_train) / batch_size)
        compile_vae(model, learning_rate, total_steps=epochs * steps_per_epoch, lr_decay=lr_decay,
                    matmul_precision=matmul_precision)
    identity = _checkpoint_identity(model, data, batch_size, learning_rate, lr_decay, seed)
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
    x_train = tf.constant(data.x_train)  # once per run; epoch_batches gathers from it
    # The test set as a ready-made tf.data pipeline, built once: from NumPy
    # arrays, fit would build a new one (with tf.data's autotuning) every epoch.
    test_batches = epoch_batches(tf.constant(data.x_test), np.arange(len(data.x_test)), TEST_BATCH_SIZE)
    for epoch in range(first, epochs):
        start = time.perf_counter()
        order = epoch_order(seed, epoch, len(data.x_train))
        binarize_seed = _binarize_seed(seed, epoch) if data.binarize == "dynamic" else None
        # One fit() call per epoch, so that the order of every epoch is ours
        # (a resumed run sees exactly the batches of a straight one).
        result = model.fit(
            epoch_batches(x_train, order, batch_size, binarize_seed),
            initial_epoch=epoch,
            epochs=epoch + 1,
            validation_data=test_batches,
            shuffle=False,  # the order above is the shuffle
            verbose=0,
            callbacks=[logger, *callbacks],
        )
        for key, values in result.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
        history.setdefault("learning_rate", []).append(logger.learning_rates[-1])
        # Wall time of the whole epoch: shuffling, training and test evaluation.
        history.setdefault("epoch_time_s", []).append(time.perf_counter() - start)
        if checkpoint is not None:
            save_checkpoint(checkpoint, model, history, identity)
    return history


def evaluate_vae(model: VAE, x: np.ndarray, batch_size: int = TEST_BATCH_SIZE) -> dict[str, float]:
    """Mean BCE, KL and negative ELBO (BCE + KL, nats per image) over ``x``,
    with one sample of z per image."""
    bce_sum = kl_sum = 0.0
    for start in range(0, len(x), batch_size):
        batch = ops.convert_to_tensor(x[start : start + batch_size])
        logits, z_mean, z_log_var = model(batch, training=False)
        bce_sum += float(ops.convert_to_numpy(ops.sum(reconstruction_bce(batch, logits))))
        kl_sum += float(ops.convert_to_numpy(ops.sum(kl_divergence(z_mean, z_log_var))))
    bce, kl = bce_sum / len(x), kl_sum / len(x)
    return {"bce": bce, "kl": kl, "neg_elbo": bce + kl}


def log_importance_weights(model: VAE, x: Any, eps: Any) -> Any:
    """``log w = log p(x|z) + log p(z) - log q(z|x)`` for ``z = mu + sigma * eps``.

    ``x`` is ``(B, 784)``, ``eps`` is ``(B, K, latent_dim)`` standard-normal
    noise; returns ``(B, K)`` log-weights in nats. ``E[log w]`` is the ELBO,
    and ``log mean_k w_k`` is the importance-weighted bound of Burda et al.
    (2015). The Gaussian normalising constants cancel between ``p(z)`` and
    ``q(z|x)`` and are left out.
    """
    x = ops.convert_to_tensor(x)
    eps = ops.convert_to_tensor(eps)
    z_mean, z_log_var = model.encoder(x, training=False)
    z = ops.expand_dims(z_mean, 1) + ops.expand_dims(ops.exp(0.5 * z_log_var), 1) * eps
    logits = model.decoder(ops.reshape(z, (-1, model.latent_dim)), training=False)
    logits = ops.reshape(logits, (ops.shape(x)[0], -1, model.input_dim))
    # -BCE summed over pixels, written as x.l - softplus(l) (see reconstruction_bce).
    log_px_z = ops.einsum("bkp,bp->bk", logits, x) - ops.sum(ops.softplus(logits), axis=-1)
    log_pz = -0.5 * ops.sum(ops.square(z), axis=-1)
    log_qz = -0.5 * ops.sum(ops.square(eps), axis=-1) - 0.5 * ops.sum(z_log_var, axis=-1, keepdims=True)
    return log_px_z + log_pz - log_qz


def _logmeanexp(a: np.ndarray, axis: int = -1) -> np.ndarray:
    top = a.max(axis=axis, keepdims=True)
    return (top + np.log(np.mean(np.exp(a - top), axis=axis, keepdims=True))).squeeze(axis)


def iwae_log_likelihood(
    model: VAE,
    x: np.ndarray,
    k: int = 100,
    *,
    seed: int = 0,
    batch_size: int | None = None,
    max_rows: int = 32_768,
) -> dict[str, Any]:
    """Importance-weighted estimate of ``log p(x)`` (Burda et al., 2015).

    For every image, draw ``k`` samples ``z_k ~ q(z|x)`` and return
    ``log (1/k) sum_k p(x|z_k) p(z_k) / q(z_k|x)``. Averaged over images this
    is a lower bound on ``log p(x)`` that tightens as ``k`` grows (``k = 1``
    is the ELBO) and reaches ``log p(x)`` as ``k -> infinity``.

    Returns ``{"log_px": mean estimate, "elbo": mean of the same samples'
    log-weights, "per_image": (N,) estimates, "k": k, "seconds": wall time}``,
    all in nats per image. Work is done ``max_rows`` decoder rows at a time.
    """
    if not _is_int(k) or k < 1:
        raise ParameterError(f"Parameter IWAE_K = {_describe(k)} is not allowed: "
                             "IWAE_K must be a positive integer.")
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    x = np.asarray(x, dtype=np.float32)
    if batch_size is None:
        batch_size = max(1, min(len(x), max_rows // k))
    chunk = max(1, min(k, max_rows // batch_size))
    per_image = np.empty(len(x))
    elbo_sum = 0.0
    for first in range(0, len(x), batch_size):
        xb = x[first : first + batch_size]
        eps = rng.standard_normal((len(xb), k, model.latent_dim), dtype=np.float32)
        chunks = [log_importance_weights(model, xb, eps[:, j : j + chunk]) for j in range(0, k, chunk)]
        log_w = np.concatenate([ops.convert_to_numpy(c).astype(np.float64) for c in chunks], axis=1)
        per_image[first : first + len(xb)] = _logmeanexp(log_w, axis=1)
        elbo_sum += float(log_w.mean(axis=1).sum())
    return {
        "log_px": float(per_image.mean()),
        "elbo": elbo_sum / len(x),
        "per_image": per_image,
        "k": int(k),
        "seconds": time.perf_counter() - start,
    }


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


def interpolate(model: VAE, x_start: np.ndarray, x_end: np.ndarray, steps: int = 10) -> np.ndarray:
    """Decode ``steps`` evenly spaced points on the straight line from the
    latent mean of each ``x_start`` image to that of the matching ``x_end``
    image. Returns ``(pairs, steps, 784)`` pixel probabilities; the first and
    last columns are the two images' reconstructions."""
    if not _is_int(steps) or steps < 2:
        raise ParameterError(f"steps = {_describe(steps)} is not allowed: steps must be an integer >= 2.")
    if len(x_start) != len(x_end):
        raise ValueError(f"x_start has {len(x_start)} images but x_end has {len(x_end)}: pass pairs.")
    z_a, z_b = latent_means(model, x_start), latent_means(model, x_end)
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[None, :, None]
    z = (1.0 - t) * z_a[:, None, :] + t * z_b[:, None, :]
    return model.decode(z.reshape(-1, model.latent_dim)).reshape(len(x_start), steps, -1)


@contextlib.contextmanager
def native_stderr_to(path: str | os.PathLike) -> Iterator[None]:
    """Send what this process and its children write straight to file
    descriptor 2 (TensorFlow's C++ start-up log, Jupyter's transport
    warnings from the kernels papermill starts) to a log file. Python
    exceptions and cell outputs are unaffected."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def run_notebook(notebook: str | os.PathLike, output: str | os.PathLike,
                 parameters: Mapping[str, Any], cwd: str | os.PathLike | None = None,
                 stderr_log: str | os.PathLike | None = None) -> Path:
    """Execute a notebook with papermill (no progress bar, no cell logging)
    and write the executed copy to ``output``; the kernel's own stderr goes
    to ``stderr_log`` (default: next to ``output``). A failing cell raises
    papermill's ``PapermillExecutionError`` naming the cell and the error;
    the partly executed copy is kept at ``output`` for inspection."""
    import papermill as pm

    notebook = Path(notebook)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    log = Path(stderr_log) if stderr_log is not None else output.with_suffix(".stderr.log")
    with native_stderr_to(log):
        pm.execute_notebook(str(notebook), str(output), parameters=dict(parameters),
                            cwd=str(cwd if cwd is not None else notebook.parent),
                            kernel_name="python3", progress_bar=False, log_output=False)
    return output


# --------------------------------------------------------------------------
# Exercises
# --------------------------------------------------------------------------
def check_answer(answer: Any, expected: Any, *, tolerance: float = 0.0, hint: str = "") -> bool | None:
    """Self-check for the notebooks' exercises: print whether ``answer``
    matches ``expected`` (strings exactly, numbers and arrays within
    ``tolerance``). ``expected`` may be a function, called only when an
    answer is given, so an unanswered exercise costs nothing. Returns True,
    False, or None while the answer is still ``None``."""
    if answer is None:
        print("Not answered yet: replace None with your answer and run this cell again.")
        return None
    if callable(expected):
        expected = expected()
    if isinstance(expected, str):
        ok = isinstance(answer, str) and answer.strip().lower() == expected.lower()
    else:
        try:
            got, want = np.asarray(answer, dtype=float), np.asarray(expected, dtype=float)
            ok = got.shape == want.shape and bool(np.allclose(got, want, rtol=0.0, atol=tolerance))
        except (TypeError, ValueError):
            ok = False
    print("Correct!" if ok else f"Not quite. {hint}".rstrip())
    return ok


# --------------------------------------------------------------------------
# Experiments: a grid of training runs (notebook 07)
# --------------------------------------------------------------------------
SWEEP_COLUMNS = ("run", "DATASET", "BINARIZE", "BETA", "LATENT_DIM", "EPOCHS", "IWAE_K",
                 "test_neg_elbo", "test_bce", "test_kl", "test_log_px", "train_time_s")


def plan_sweep(betas: Sequence[float], latent_dims: Sequence[int],
               binarized_latent_dims: Sequence[int] = ()) -> list[dict[str, Any]]:
    """The training runs of a sweep, without duplicates: every β at latent
    size 2, every latent size at β = 1 (grey levels), and every binarized
    latent size at β = 1. Each run has a folder-friendly ``run`` name."""
    wanted = [(float(b), 2, None) for b in betas] + [(1.0, int(d), None) for d in latent_dims]
    wanted += [(1.0, int(d), "dynamic") for d in binarized_latent_dims]
    runs: list[dict[str, Any]] = []
    for beta, dim, binarize in wanted:
        run = {"BETA": beta, "LATENT_DIM": dim, "BINARIZE": binarize}
        if run not in [{k: r[k] for k in run} for r in runs]:
            name = f"beta{beta:g}_latent{dim}" + ("_binarized" if binarize else "")
            runs.append({"run": name, **run})
    return runs


def _reusable_run(folder: Path, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The saved config of a finished run in ``folder`` if it was trained
    with ``params`` and with the matrix-product precision this machine would
    use now (a run from a float32-only machine is not reused on a bfloat16
    one, or the other way round); else None."""
    config_path = folder / CONFIG_FILE
    if not (config_path.is_file() and (folder / MODEL_FILE).is_file()):
        return None
    config = json.loads(config_path.read_text())
    same = all(config.get(k) == v for k, v in params.items() if k not in ("ARTIFACTS_DIR", "IMGS_DIR", "DATA_DIR"))
    precision = resolve_matmul_precision(params.get("MATMUL_PRECISION", "auto"))
    # Runs saved before the setting existed multiplied in float32.
    return config if same and config.get("matmul_precision", "float32") == precision else None


def run_sweep(runs: Sequence[Mapping[str, Any]], notebook: str | os.PathLike, sweep_dir: str | os.PathLike,
              common: Mapping[str, Any], rerun: bool = False) -> list[dict[str, Any]]:
    """Train every run of :func:`plan_sweep` by executing the training
    notebook with papermill, each in its own folder ``sweep_dir/<run>``
    (model, history, config, figures and the executed notebook). A run whose
    folder already holds a finished model with the same settings is reused
    unless ``rerun``. Prints one line per run; returns one row per run with
    the :data:`SWEEP_COLUMNS`."""
    sweep_dir = Path(sweep_dir).resolve()
    rows = []
    for i, run in enumerate(runs, 1):
        folder = sweep_dir / run["run"]
        params = {**common, **{k: v for k, v in run.items() if k != "run"},
                  "ARTIFACTS_DIR": str(folder), "IMGS_DIR": str(folder / "imgs")}
        config = None if rerun else _reusable_run(folder, params)
        reuse = config is not None
        start = time.perf_counter()
        if not reuse:
            run_notebook(notebook, folder / Path(notebook).name, params)
            config = json.loads((folder / CONFIG_FILE).read_text())
        row = {"run": run["run"], **{k: config[k] for k in SWEEP_COLUMNS[1:]}}
        rows.append(row)
        how = (f"reused (training took {row['train_time_s']:.0f} s)" if reuse else
               f"trained in {row['train_time_s']:.0f} s, {time.perf_counter() - start:.0f} s in all")
        print(f"[{i}/{len(runs)}] {row['run']:<26} negative ELBO {row['test_neg_elbo']:7.2f} nats "
              f"(BCE {row['test_bce']:6.2f} + KL {row['test_kl']:5.2f}), "
              f"log p(x) {row['test_log_px']:8.2f} nats; {how}", flush=True)
    return rows


def write_csv(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]],
              columns: Sequence[str] = SWEEP_COLUMNS) -> Path:
    """Write ``rows`` as CSV (one header line, floats with 4 decimals), atomically."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else ("" if v is None else v))
                         for k, v in row.items()})
    path = Path(path)
    _atomic_write(path, lambda p: p.write_text(buffer.getvalue()))
    return path


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A plain-text table of ``rows`` (floats with 2 decimals), for printing."""
    def cell(v: Any) -> str:
        return f"{v:.2f}" if isinstance(v, float) else ("-" if v is None else str(v))

    body = [[cell(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(b[i]) for b in body)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.rjust(w) for v, w in zip(b, widths)) for b in body]
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------
def save_figure(fig: Any, path: str | os.PathLike) -> Path:
    """Save a Matplotlib figure as PNG atomically (no timestamp in the file,
    so the same figure gives the same bytes)."""
    path = Path(path)
    _atomic_write(path, lambda p: p.write_bytes(_figure_png(fig, dpi=100, bbox_inches="tight")))
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
    _scatter(ax, points, labels, class_names, axis_prefix)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_loss_curves(history: Mapping[str, Sequence[float]], title: str) -> Any:
    """Reconstruction BCE, KL and total loss per epoch, train vs test; the
    epochs in which the learning rate was falling are shaded."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = np.arange(1, len(history["loss"]) + 1)
    rates = np.asarray(history.get("learning_rate", []))
    # The learning rate is recorded at the start of each epoch: it falls
    # during the epoch before the first lower value.
    falling = np.flatnonzero(rates[1:] < rates[0] * (1 - 1e-6)) if len(rates) > 1 else []
    parts = [("reconstruction_loss", "reconstruction BCE"), ("kl_loss", "KL divergence"),
             ("loss", "total loss (BCE + β·KL)")]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, (key, label) in zip(axes, parts):
        if len(falling):
            ax.axvspan(epochs[falling[0]] - 0.5, epochs[-1] + 0.5, color="0.5", alpha=0.12, lw=0,
                       label="learning rate falling")
        ax.plot(epochs, history[key], "o-", ms=3, label="train")
        ax.plot(epochs, history[f"val_{key}"], "s--", ms=3, label="test")
        ax.set_xlabel("epoch")
        ax.set_xlim(0.5, epochs[-1] + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("nats per image")
        ax.set_title(label)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_interpolations(paths: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                        labels: Sequence[tuple[int, int]], class_names: Sequence[str], title: str) -> Any:
    """One row per pair: the start image, the decoded path, the end image."""
    import matplotlib.pyplot as plt

    pairs, steps = paths.shape[:2]
    fig, axes = plt.subplots(pairs, steps + 2, figsize=(0.9 * (steps + 2), 1.0 * pairs + 0.9),
                             squeeze=False)
    for i in range(pairs):
        row = [starts[i], *paths[i], ends[i]]
        for j, img in enumerate(row):
            ax = axes[i, j]
            ax.imshow(img.reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="gray_r", vmin=0, vmax=1)
            _image_axes(ax)
            if j in (0, steps + 1):
                for spine in ax.spines.values():
                    spine.set_color("tab:red")
        a, b = labels[i]
        axes[i, 0].set_ylabel(f"{class_names[a]} → {class_names[b]}", rotation=0, ha="right",
                              va="center", fontsize=9)
    axes[0, 0].set_title("start", fontsize=9)
    axes[0, -1].set_title("end", fontsize=9)
    for j in range(steps):
        axes[-1, j + 1].set_xlabel(f"t={j / (steps - 1):.2f}", fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_rate_distortion(rows: Sequence[Mapping[str, Any]], title: str) -> Any:
    """Test KL (rate) against test reconstruction BCE (distortion), one
    labelled point per β, with lines of equal negative ELBO for reference."""
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: r["BETA"])
    kl = np.array([r["test_kl"] for r in rows])
    bce = np.array([r["test_bce"] for r in rows])
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.plot(kl, bce, "-", color="0.6", zorder=1)
    points = ax.scatter(kl, bce, c=np.log2([r["BETA"] for r in rows]), cmap="viridis", s=60, zorder=2)
    for r, x, y in zip(rows, kl, bce):
        ax.annotate(f"β = {r['BETA']:g}", (x, y), textcoords="offset points", xytext=(6, 4), fontsize=9)
    total = kl + bce
    kl_line = np.linspace(0, kl.max() * 1.1, 50)
    for level in np.unique(np.round(np.linspace(total.min(), total.max(), 3))):
        ax.plot(kl_line, level - kl_line, ":", color="tab:red", lw=0.8)
    ax.plot([], [], ":", color="tab:red", lw=0.8, label="equal negative ELBO (BCE + KL)")
    ax.set_xlim(0, kl.max() * 1.1)
    ax.set_ylim(bce.min() - 5, bce.max() + 5)
    fig.colorbar(points, ax=ax, label="log$_2$ β")
    ax.set_xlabel("rate: test KL (nats per image)")
    ax.set_ylabel("distortion: test reconstruction BCE (nats per image)")
    ax.set_title(title)
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_latent_sweep(rows: Sequence[Mapping[str, Any]], title: str) -> Any:
    """Test negative ELBO and importance-weighted -log p(x) against latent
    size, with the BCE and KL parts of the ELBO."""
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: r["LATENT_DIM"])
    dims = [r["LATENT_DIM"] for r in rows]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    ax.plot(dims, [r["test_neg_elbo"] for r in rows], "o-", label="negative ELBO (upper bound)")
    ax.plot(dims, [-r["test_log_px"] for r in rows], "s--",
            label=f"−log p(x), importance-weighted (K = {rows[0]['IWAE_K']})")
    ax.set_ylabel("nats per image (lower is better)")
    ax.set_title("Held-out bound and likelihood")
    ax2.plot(dims, [r["test_bce"] for r in rows], "o-", label="reconstruction BCE")
    ax2.plot(dims, [r["test_kl"] for r in rows], "s--", label="KL")
    ax2.set_ylabel("nats per image")
    ax2.set_title("Parts of the negative ELBO")
    for a in (ax, ax2):
        a.set_xscale("log", base=2)
        a.set_xticks(dims, [str(d) for d in dims])
        a.set_xlabel("latent size")
        a.legend()
        a.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_image_panels(panels: Sequence[tuple[str, np.ndarray]], title: str) -> Any:
    """Several images (e.g. sample grids from :func:`tile_images`) side by
    side, each with its own title."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6), squeeze=False)
    for ax, (name, image) in zip(axes[0], panels):
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
        _image_axes(ax)
        ax.set_title(name, fontsize=10)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_sweep_gallery(entries: Sequence[tuple[str, np.ndarray, np.ndarray]], labels: np.ndarray,
                       class_names: Sequence[str], title: str) -> Any:
    """One column per run: its latent scatter (test means coloured by class)
    on top, a grid of its samples below. ``entries`` are ``(run title,
    2-D points, sample canvas from tile_images)``."""
    import matplotlib.pyplot as plt

    n = len(entries)
    fig, axes = plt.subplots(2, n, figsize=(3.3 * n, 7.0), squeeze=False)
    cmap = plt.get_cmap("tab10")
    for j, (name, points, canvas) in enumerate(entries):
        ax = axes[0, j]
        for k, cname in enumerate(class_names):
            sel = labels == k
            ax.scatter(points[sel, 0], points[sel, 1], s=1, alpha=0.4, color=cmap(k), label=cname,
                       rasterized=True)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("$z_1$" if points.shape[1] == 2 else "PC 1")
        ax.set_ylabel("$z_2$" if points.shape[1] == 2 else "PC 2")
        ax.grid(alpha=0.3)
        axes[1, j].imshow(canvas, cmap="gray_r", vmin=0, vmax=1)
        _image_axes(axes[1, j])
        axes[1, j].set_xlabel("samples, z ~ N(0, I)")
    legend = axes[0, -1].legend(title="class", markerscale=8, loc="center left", bbox_to_anchor=(1, 0.5),
                                fontsize=8)
    for handle in legend.legend_handles:
        handle.set_alpha(1)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def tile_images(images: np.ndarray, nrows: int, ncols: int) -> np.ndarray:
    """Arrange ``nrows * ncols`` flattened 28x28 images in one 2-D canvas."""
    return _tile(images, nrows, ncols)


# --------------------------------------------------------------------------
# Interactive latent explorer (notebook 06)
# --------------------------------------------------------------------------
EXPLORER_MAX_SLIDERS = 10  # one slider per latent dimension, for the first ten
EXPLORER_TEXT = ("Interactive latent explorer (sliders and a clickable latent map). It needs a running "
                 "Jupyter kernel with ipywidgets, e.g. JupyterLab: run the notebook to use it.")
_EXPLORER_DPI = 60  # pixels per inch of the clickable map (8 x 7 in -> 480 x 420 px)


def _png(image: np.ndarray, zoom: int = 1) -> bytes:
    """A grey-level image in [0, 1] (1 = ink) as PNG bytes, enlarged ``zoom``
    times by pixel repetition. Same image, same bytes."""
    import io

    from PIL import Image

    pixels = np.clip(255.0 * (1.0 - image), 0, 255).astype(np.uint8)
    pixels = np.repeat(np.repeat(pixels, zoom, axis=0), zoom, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _figure_png(fig: Any, **kwargs: Any) -> bytes:
    """A Matplotlib figure as PNG bytes (no timestamp, so reproducible)."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None}, **kwargs)
    return buffer.getvalue()


def _nearest_point(points: np.ndarray, x: float, y: float) -> int:
    """Index of the row of ``points`` (N, 2) closest to (x, y)."""
    return int(np.argmin((points[:, 0] - x) ** 2 + (points[:, 1] - y) ** 2))


def _widget_frontend() -> bool:
    """True when this cell runs in a live frontend that can show widgets.

    The kernel cannot ask the frontend whether it renders widgets, so use
    what the execute request says: papermill, nbconvert --execute (nbclient)
    and nbval all send ``allow_stdin=False`` (they cannot answer ``input()``),
    while JupyterLab, Notebook 7 and VS Code send ``True``. A frontend whose
    widget manager already opened the ``jupyter.widget.control`` comm counts
    too (it only can once ipywidgets was imported before it connected)."""
    try:
        from IPython import get_ipython
        from ipywidgets import Widget
    except ImportError:
        return False
    kernel = getattr(get_ipython(), "kernel", None)
    if kernel is None:  # plain Python, pytest, a terminal IPython
        return False
    if getattr(Widget, "_control_comm", None) is not None:
        return True
    get_parent = getattr(kernel, "get_parent", None)  # ipykernel >= 6: the request being run
    if get_parent is None:
        return bool(getattr(kernel, "_allow_stdin", False))
    return bool(get_parent().get("content", {}).get("allow_stdin", False))


def _scatter(ax: Any, points: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
             prefix: str) -> None:
    """The latent map of :func:`plot_latent_space`, drawn on ``ax``."""
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("tab10")
    for k, name in enumerate(class_names):
        sel = labels == k
        ax.scatter(points[sel, 0], points[sel, 1], s=2, alpha=0.5, color=cmap(k % 10), label=name,
                   rasterized=True)
    legend = ax.legend(title="class", markerscale=6, loc="center left", bbox_to_anchor=(1, 0.5))
    for handle in legend.legend_handles:
        handle.set_alpha(1)
    ax.set_xlabel(f"${prefix}_1$" if prefix == "z" else f"{prefix} 1")
    ax.set_ylabel(f"${prefix}_2$" if prefix == "z" else f"{prefix} 2")
    ax.grid(alpha=0.3)


class LatentExplorer:
    """What :func:`latent_explorer` returns: the parts of the explorer.

    ``points`` (N, 2) are the plotted coordinates of the test images, ``means``
    (N, latent_dim) their latent means. In the interactive version ``widget``
    is the whole explorer (an ``ipywidgets.VBox``), ``sliders`` the latent
    sliders, ``decoded`` the image decoded from the sliders, ``nearest`` the
    picked test image and its reconstruction, ``map`` the clickable scatter (drawn from ``map_figure``);
    ``figure`` is None. In the static version ``figure`` is the Matplotlib
    figure shown and the widget attributes are None / empty.
    """

    def __init__(self, model: Any, x: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                 means: np.ndarray, points: np.ndarray, prefix: str) -> None:
        self.model, self.x, self.labels, self.class_names = model, x, labels, list(class_names)
        self.means, self.points, self.prefix = means, points, prefix
        self.widget: Any = None
        self.sliders: list[Any] = []
        self.decoded = self.nearest = self.map = self.caption = None
        self.figure: Any = None
        self.selected: int | None = None
        self._base = np.zeros(means.shape[1], dtype=np.float32)  # dimensions without a slider
        self._hold = False
        self.map_figure: Any = None  # the Matplotlib figure behind the clickable map
        self._marker: Any = None

    def __repr__(self) -> str:
        kind = "interactive" if self.widget is not None else "static"
        return (f"<LatentExplorer ({kind}): {len(self.points):,} test images, "
                f"{self.means.shape[1]}-D latent space>")

    def nearest_index(self, x: float, y: float) -> int:
        """The test image whose plotted point is closest to (x, y)."""
        return _nearest_point(self.points, x, y)

    def z(self) -> np.ndarray:
        """The latent vector the sliders describe, shape (1, latent_dim)."""
        z = self._base.copy()
        for j, slider in enumerate(self.sliders):
            z[j] = slider.value
        return z[None]

    def select(self, x: float, y: float) -> int:
        """What a click at plot coordinates (x, y) does: show the nearest
        test image with its label and reconstruction, mark it on the map and
        move the sliders to its latent mean. Returns its index."""
        i = self.nearest_index(x, y)
        self.selected = i
        self._base = self.means[i].astype(np.float32)
        self._hold = True  # one decode for all the sliders, not one per slider
        try:
            for j, slider in enumerate(self.sliders):
                slider.value = float(np.clip(self._base[j], slider.min, slider.max))
        finally:
            self._hold = False
        self._update_decoded()
        if self.nearest is not None:
            pair = np.concatenate([self.x[i].reshape(IMAGE_SIDE, IMAGE_SIDE),
                                   np.full((IMAGE_SIDE, 2), 0.3),
                                   self.model.decode(self.means[i:i + 1])[0].reshape(IMAGE_SIDE, IMAGE_SIDE)],
                                  axis=1)
            self.nearest.value = _png(pair, zoom=4)
            coords = ", ".join(f"{v:.2f}" for v in self.points[i])
            name = self.class_names[int(self.labels[i])]
            self.caption.value = (f"<b>Test image #{i}</b>: label <b>{name}</b> at ({coords})"
                                  "<br>left: the image, right: its reconstruction")
            self._marker.set_data([self.points[i, 0]], [self.points[i, 1]])
            self.map.value = _figure_png(self.map_figure)
        return i

    def click(self, event: Mapping[str, Any]) -> None:
        """ipyevents handler: ``dataX``/``dataY`` are pixels of the map image
        (origin top left), turned into plot coordinates for :meth:`select`."""
        if "dataX" not in event or self.map_figure is None:
            return
        height = self.map_figure.bbox.height
        to_data = self.map_figure.axes[0].transData.inverted()
        x, y = to_data.transform((event["dataX"], height - event["dataY"]))
        self.select(float(x), float(y))

    def _update_decoded(self, change: Any = None) -> None:
        if not self._hold and self.decoded is not None:
            self.decoded.value = _png(self.model.decode(self.z())[0].reshape(IMAGE_SIDE, IMAGE_SIDE), zoom=5)


def _explorer_widgets(explorer: LatentExplorer, title: str) -> Any:
    """Build the interactive explorer: map on the left; decoded digit,
    sliders and the picked test image on the right."""
    import ipywidgets as w
    from ipyevents import Event
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 7), dpi=_EXPLORER_DPI)
    ax = fig.add_axes((0.1, 0.08, 0.66, 0.84))  # fixed axes: pixel <-> data mapping never moves
    _scatter(ax, explorer.points, explorer.labels, explorer.class_names, explorer.prefix)
    ax.set_title("click a point: nearest test image")
    (explorer._marker,) = ax.plot([], [], marker="x", color="black", markersize=14, markeredgewidth=3)
    explorer.map_figure = fig
    explorer.map = w.Image(format="png", layout=w.Layout(width="480px", height="420px"))
    Event(source=explorer.map, watched_events=["click"]).on_dom_event(explorer.click)

    means = explorer.means
    for j in range(min(means.shape[1], EXPLORER_MAX_SLIDERS)):
        low = float(np.floor(min(means[:, j].min(), -3.0)))
        high = float(np.ceil(max(means[:, j].max(), 3.0)))
        slider = w.FloatSlider(value=0.0, min=low, max=high, step=0.05, description=f"z{j + 1}",
                               continuous_update=True, readout_format=".2f",
                               layout=w.Layout(width="300px"))
        slider.observe(explorer._update_decoded, names="value")
        explorer.sliders.append(slider)
    explorer.decoded = w.Image(format="png", layout=w.Layout(width="140px", height="140px"))
    explorer.nearest = w.Image(format="png", layout=w.Layout(width="232px", height="112px"))
    explorer.caption = w.HTML()
    note = ""
    if means.shape[1] > EXPLORER_MAX_SLIDERS:
        others = means.shape[1] - EXPLORER_MAX_SLIDERS
        note = (f"<br><i>Sliders for z1-z{EXPLORER_MAX_SLIDERS}; the other {others} dimensions "
                "stay at the picked image's mean (0 before any click).</i>")
    right = w.VBox([w.HTML("<b>decoded from the sliders</b>" + note), explorer.decoded, *explorer.sliders,
                    w.HTML("<b>nearest test image</b>"), explorer.nearest, explorer.caption],
                   layout=w.Layout(margin="0 0 0 12px"))
    heading = w.HTML(f"<b>{title}</b>" if title else "")
    explorer.select(*np.median(explorer.points, axis=0))  # start with the image nearest the centre
    return w.VBox([heading, w.HBox([explorer.map, right])])


def _explorer_figure(explorer: LatentExplorer, title: str, n: int = 10) -> Any:
    """The static stand-in: the map with a marker at the median point of each
    class (at most ``n``), and below, for each marker, the nearest test image
    (titled "marker -> its label") and that image's reconstruction."""
    from matplotlib.figure import Figure

    classes = [k for k in range(len(explorer.class_names)) if np.any(explorer.labels == k)][:n]
    marks = np.array([np.median(explorer.points[explorer.labels == k], axis=0) for k in classes])
    picks = [explorer.nearest_index(*p) for p in marks]
    recons = explorer.model.decode(explorer.means[picks])
    fig = Figure(figsize=(10, 6.6), dpi=72)
    grid = fig.add_gridspec(3, max(len(picks), 1), height_ratios=(5, 1, 1))
    ax = fig.add_subplot(grid[0, :])
    _scatter(ax, explorer.points, explorer.labels, explorer.class_names, explorer.prefix)
    for k, (px, py) in zip(classes, marks):
        ax.annotate(str(k), (px, py), ha="center", va="center", fontsize=10, fontweight="bold",
                    bbox={"boxstyle": "circle,pad=0.2", "facecolor": "white", "edgecolor": "black"})
    for col, (k, i) in enumerate(zip(classes, picks)):
        for row, image in ((1, explorer.x[i]), (2, recons[col])):
            cell = fig.add_subplot(grid[row, col])
            cell.imshow(image.reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="gray_r", vmin=0, vmax=1)
            _image_axes(cell)
            if row == 1:
                cell.set_title(f"{k} \u2192 {explorer.class_names[int(explorer.labels[i])]}", fontsize=9)
            if col == 0:
                cell.set_ylabel("nearest\ntest image" if row == 1 else "its recon-\nstruction", fontsize=8)
    fig.suptitle((f"{title}\n" if title else "") + "Static preview of the latent explorer: marker k at "
                 "the median of class k \u2192 nearest test image (its label)", fontsize=11)
    fig.tight_layout()
    return fig


def latent_explorer(model: VAE, x: np.ndarray, labels: np.ndarray, class_names: Sequence[str], *,
                    title: str = "", interactive: bool | None = None) -> LatentExplorer:
    """Display an explorer of the latent space and return its parts.

    Interactive version (ipywidgets + ipyevents, in JupyterLab 4 or Notebook 7):
    the test images' latent means, coloured by class (the PCA projection when
    the latent space has more than 2 dimensions); one slider per latent
    dimension, for the first ten (further dimensions keep the value of the
    last picked image's mean, 0 at first), decoding a digit live; a click on
    the map picks the nearest test image (distance in the plotted 2-D space),
    shows it with its label and reconstruction, and moves the sliders to its
    mean. Only this explorer is a widget: other cells keep ``%matplotlib
    inline``.

    Static version: the map with a marker at each class's median point, and
    each marker's nearest test image and its reconstruction, as one PNG. It is
    shown when the notebook is run by papermill, nbval or nbconvert (see
    :func:`_widget_frontend`) or ipywidgets/ipyevents are missing, so the
    executed notebook holds one small figure and no widget state. Force either
    version with ``interactive=True`` / ``False``.

    Assign the result (``explorer = vh.latent_explorer(...)``): it is
    displayed already. In a saved notebook the widget reads as the sentence
    :data:`EXPLORER_TEXT`.
    """
    x = np.asarray(x)
    labels = np.asarray(labels)
    input_dim = getattr(model, "input_dim", IMAGE_PIXELS)
    if x.ndim != 2 or x.shape[1] != input_dim or len(x) == 0:
        raise ParameterError(f"x must be a non-empty array of flattened images, shape (N, {input_dim}); "
                             f"got shape {x.shape}.")
    if labels.shape != (len(x),) or not np.issubdtype(labels.dtype, np.integer):
        raise ParameterError(f"labels must be N = {len(x)} integer class labels, one per image in x; "
                             f"got shape {labels.shape} ({labels.dtype}).")
    if labels.min() < 0 or labels.max() >= len(class_names):
        raise ParameterError(f"labels must lie in 0..{len(class_names) - 1} (one per entry of class_names); "
                             f"got {labels.min()}..{labels.max()}.")
    if not isinstance(title, str):
        raise ParameterError(f"title must be a string, got {_describe(title)}.")
    from IPython.display import Image, display

    means = latent_means(model, x)
    points, prefix = project_2d(means)
    explorer = LatentExplorer(model, x, labels, class_names, means, points, prefix)
    note = ("Static preview: this run cannot show widgets (papermill, nbval, nbconvert). "
            "In JupyterLab the explorer is interactive.")
    if interactive is None:
        interactive = _widget_frontend()
        try:
            import ipyevents  # noqa: F401
        except ImportError:
            if interactive:
                note = "Static preview: install ipywidgets and ipyevents (requirements.txt) for the explorer."
            interactive = False
    if interactive:
        explorer.widget = _explorer_widgets(explorer, title)
        bundle = explorer.widget._repr_mimebundle_()
        bundle["text/plain"] = EXPLORER_TEXT
        display(bundle, raw=True)
    else:
        explorer.figure = _explorer_figure(explorer, title)
        print(note)
        display(Image(data=_figure_png(explorer.figure, bbox_inches="tight")))
    return explorer


if __name__ == "__main__":  # pragma: no cover
    print(versions())
