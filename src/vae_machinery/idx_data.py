"""MNIST and Fashion-MNIST from their IDX files, checked byte for byte.

:func:`read_arrays` finds the four standard files in a folder (or downloads
them with Keras), parses them (:func:`parse_idx`) and verifies every
decompressed file against its SHA-256 sum, so a truncated download or the
wrong dataset stops with a message that says what to do.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError

IMAGE_SIDE = 28

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

EXPECTED_COUNTS = {"train": 60_000, "test": 10_000}


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


def to_idx_bytes(array: np.ndarray) -> bytes:
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
        if array.shape[0] != EXPECTED_COUNTS[split] or (
            array.ndim == 3 and array.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE)
        ):
            raise DataError(
                f"{where[key]} holds {array.shape} but {spec['title']} "
                f"{split} data is {EXPECTED_COUNTS[split]} items"
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
    import keras

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
    raws = {key: to_idx_bytes(a) for key, a in arrays.items()}
    where = {key: f"Keras' {name} download ({key})" for key in arrays}
    return _verified_arrays(name, raws, where), "Keras download"


def read_arrays(name: str, data_dir: str | Path | None) -> tuple[dict[str, np.ndarray], str]:
    """The four verified uint8 arrays of dataset ``name`` (keys
    ``train_images``, ``train_labels``, ``test_images``, ``test_labels``) and
    where they came from: the folder ``data_dir``, or the Keras download when
    it is None."""
    if data_dir is not None:
        return _load_from_folder(name, Path(data_dir))
    return _load_from_keras(name)
