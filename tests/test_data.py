"""Data loading: IDX parsing, checksums, sources and their error messages."""

import gzip
import shutil
import struct

import numpy as np
import pytest

import vae_helpers as vh

FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def idx_images(a):
    return struct.pack(">IIII", 0x803, *a.shape) + a.astype(np.uint8).tobytes()


def test_parse_idx_images_and_labels():
    imgs = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(vh.parse_idx(idx_images(imgs)), imgs)
    labels = np.array([7, 1, 0], dtype=np.uint8)
    raw = struct.pack(">II", 0x801, 3) + labels.tobytes()
    np.testing.assert_array_equal(vh.parse_idx(raw), labels)


def test_parse_idx_round_trips_with_encoder():
    imgs = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    np.testing.assert_array_equal(vh.parse_idx(vh._to_idx_bytes(imgs)), imgs)


def test_parse_idx_rejects_wrong_magic():
    raw = struct.pack(">II", 0x1234, 3) + bytes(3)
    with pytest.raises(vh.DataError, match="magic number 0x00001234"):
        vh.parse_idx(raw, "labels.idx")


def test_parse_idx_rejects_wrong_count():
    raw = struct.pack(">II", 0x801, 5) + bytes(3)  # header says 5, payload has 3
    with pytest.raises(vh.DataError, match="announces 5 items.*truncated"):
        vh.parse_idx(raw, "labels.idx")


def test_parse_idx_rejects_tiny_file():
    with pytest.raises(vh.DataError, match="too short"):
        vh.parse_idx(b"\x00\x00", "x")


def test_real_mnist_shapes_and_statistics(mnist):
    assert mnist.x_train.shape == (60_000, 784) and mnist.x_train.dtype == np.float32
    assert mnist.x_test.shape == (10_000, 784)
    assert mnist.y_train.shape == (60_000,) and mnist.y_test.shape == (10_000,)
    assert mnist.x_train.min() == 0.0 and mnist.x_train.max() == 1.0
    # Sanity figures published with the data: mean 33.3184, std 78.5675 on 0-255.
    assert mnist.x_train.mean(dtype=np.float64) * 255 == pytest.approx(33.3184, abs=1e-3)
    assert mnist.x_train.std(dtype=np.float64) * 255 == pytest.approx(78.5675, abs=1e-3)
    assert np.bincount(mnist.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_fashion_mnist_loads_from_parent_folder(mnist_dir):
    parent = mnist_dir.parent
    if not (parent / "fashion_mnist").is_dir():
        pytest.skip("no fashion_mnist folder beside the MNIST one")
    data = vh.load_dataset("fashion_mnist", parent)
    assert data.x_train.mean(dtype=np.float64) * 255 == pytest.approx(72.9404, abs=1e-3)
    assert data.class_names[9] == "Ankle boot"


def test_environment_variable_is_used(mnist_dir, monkeypatch):
    monkeypatch.setenv("VAE_DATA_DIR", str(mnist_dir))
    data = vh.load_dataset("mnist")
    assert data.source.startswith("folder")


@pytest.fixture
def data_copy(mnist_dir, tmp_path):
    """A writable copy of the four MNIST files."""
    for name in FILES:
        shutil.copy(mnist_dir / name, tmp_path / name)
    return tmp_path


def test_uncompressed_files_are_accepted(data_copy):
    name = "t10k-labels-idx1-ubyte"
    (data_copy / name).write_bytes(gzip.decompress((data_copy / f"{name}.gz").read_bytes()))
    (data_copy / f"{name}.gz").unlink()
    assert vh.load_dataset("mnist", data_copy).y_test.shape == (10_000,)


def test_missing_folder_says_how_to_fix(tmp_path):
    with pytest.raises(vh.DataError, match="does not exist.*VAE_DATA_DIR"):
        vh.load_dataset("mnist", tmp_path / "nowhere")


def test_missing_file_is_named(data_copy):
    (data_copy / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(vh.DataError, match="t10k-labels-idx1-ubyte.gz is missing"):
        vh.load_dataset("mnist", data_copy)


def test_truncated_gzip_is_reported(data_copy):
    path = data_copy / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100_000])
    with pytest.raises(vh.DataError, match="train-images-idx3-ubyte.gz.*not a valid gzip.*download it again"):
        vh.load_dataset("mnist", data_copy)


def test_checksum_mismatch_is_reported(data_copy):
    path = data_copy / "t10k-labels-idx1-ubyte.gz"
    labels = bytearray(gzip.decompress(path.read_bytes()))
    labels[100] = (labels[100] + 1) % 10  # one wrong label: a valid file, wrong bytes
    path.write_bytes(gzip.compress(bytes(labels)))
    with pytest.raises(vh.DataError, match="Checksum mismatch.*t10k-labels-idx1-ubyte.gz"):
        vh.load_dataset("mnist", data_copy)


def test_wrong_item_count_is_reported(data_copy):
    path = data_copy / "t10k-labels-idx1-ubyte.gz"
    labels = gzip.decompress(path.read_bytes())
    short = struct.pack(">II", 0x801, 9_999) + labels[8:-1]
    path.write_bytes(gzip.compress(short))
    with pytest.raises(vh.DataError, match=r"holds \(9999,\).*10000 items"):
        vh.load_dataset("mnist", data_copy)


def test_wrong_dataset_is_recognised(mnist_dir):
    with pytest.raises(vh.DataError, match="These are the MNIST files: set DATASET = 'mnist'"):
        vh.load_dataset("fashion_mnist", mnist_dir)


def test_unknown_dataset_name():
    with pytest.raises(vh.ParameterError, match="DATASET = 'cifar10'.*'mnist', 'fashion_mnist'"):
        vh.load_dataset("cifar10")


def _keras_arrays(data):
    """What keras.datasets.mnist.load_data() returns, rebuilt from `data`."""
    def as_uint8(x):
        return np.round(x * 255).astype(np.uint8).reshape(-1, 28, 28)

    return (as_uint8(data.x_train), data.y_train.copy()), (as_uint8(data.x_test), data.y_test.copy())


def test_keras_download_is_used_and_verified(mnist, monkeypatch):
    monkeypatch.delenv("VAE_DATA_DIR", raising=False)
    monkeypatch.setattr(vh.keras.datasets.mnist, "load_data", lambda: _keras_arrays(mnist))
    data = vh.load_dataset("mnist")
    assert data.source == "Keras download"
    np.testing.assert_array_equal(data.x_test, mnist.x_test)


def test_keras_download_with_wrong_bytes_is_rejected(mnist, monkeypatch):
    (x_train, y_train), (x_test, y_test) = _keras_arrays(mnist)
    x_test[0, 14, 14] ^= 0xFF
    monkeypatch.delenv("VAE_DATA_DIR", raising=False)
    monkeypatch.setattr(vh.keras.datasets.mnist, "load_data",
                        lambda: ((x_train, y_train), (x_test, y_test)))
    with pytest.raises(vh.DataError, match="Checksum mismatch for Keras' mnist download"):
        vh.load_dataset("mnist")


def test_offline_without_data_says_how_to_point_at_a_folder(monkeypatch):
    def offline():
        raise OSError("Temporary failure in name resolution")

    monkeypatch.delenv("VAE_DATA_DIR", raising=False)
    monkeypatch.setattr(vh.keras.datasets.mnist, "load_data", offline)
    with pytest.raises(vh.DataError, match="Could not download MNIST.*name resolution.*VAE_DATA_DIR"):
        vh.load_dataset("mnist")
