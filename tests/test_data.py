"""Data loading: IDX parsing, checksums, sources and their error messages."""

import gzip
import shutil
import struct

import numpy as np
import pytest

import vae_helpers as vh
from vae_machinery.errors import DataError, ParameterError
from vae_machinery.idx_data import parse_idx, read_arrays, to_idx_bytes

FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def idx_images(a):
    return struct.pack(">IIII", 0x803, *a.shape) + a.astype(np.uint8).tobytes()


def test_parse_idx_images_and_labels():
    imgs = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(parse_idx(idx_images(imgs)), imgs)
    labels = np.array([7, 1, 0], dtype=np.uint8)
    raw = struct.pack(">II", 0x801, 3) + labels.tobytes()
    np.testing.assert_array_equal(parse_idx(raw), labels)


def test_parse_idx_round_trips_with_encoder():
    imgs = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    np.testing.assert_array_equal(parse_idx(to_idx_bytes(imgs)), imgs)


def test_parse_idx_rejects_wrong_magic():
    raw = struct.pack(">II", 0x1234, 3) + bytes(3)
    with pytest.raises(DataError, match="magic number 0x00001234"):
        parse_idx(raw, "labels.idx")


def test_parse_idx_rejects_wrong_count():
    raw = struct.pack(">II", 0x801, 5) + bytes(3)  # header says 5, payload has 3
    with pytest.raises(DataError, match="announces 5 items.*truncated"):
        parse_idx(raw, "labels.idx")


def test_parse_idx_rejects_tiny_file():
    with pytest.raises(DataError, match="too short"):
        parse_idx(b"\x00\x00", "x")


def test_real_mnist_shapes_and_statistics(mnist):
    assert mnist.x_train.shape == (55_000, 784) and mnist.x_train.dtype == np.float32
    assert mnist.x_val.shape == (5_000, 784) and mnist.x_val.dtype == np.float32
    assert mnist.x_test.shape == (10_000, 784) and mnist.x_test.dtype == np.float32
    assert (mnist.y_train.shape == (55_000,) and mnist.y_val.shape == (5_000,)
            and mnist.y_test.shape == (10_000,))
    assert mnist.x_train.min() == 0.0 and mnist.x_train.max() == 1.0
    # Sanity figures published with the data, for all 60,000 training images
    # (training + validation): mean 33.3184, std 78.5675 on 0-255.
    all_train = np.concatenate([mnist.x_train, mnist.x_val])
    assert all_train.mean(dtype=np.float64) * 255 == pytest.approx(33.3184, abs=1e-3)
    assert all_train.std(dtype=np.float64) * 255 == pytest.approx(78.5675, abs=1e-3)
    assert np.bincount(np.concatenate([mnist.y_train, mnist.y_val])).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(mnist.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _row_index(images):
    """Each image's bytes -> its row (the 60,000 MNIST training images are all different)."""
    index = {row.tobytes(): i for i, row in enumerate(images)}
    assert len(index) == len(images)
    return index


def test_validation_split_is_fixed_disjoint_and_keeps_the_labels(mnist, mnist_dir):
    raw, _ = read_arrays("mnist", mnist_dir)
    raw_x = raw["train_images"].reshape(60_000, 784)
    rows = _row_index(raw_x)

    def source_rows(x):
        return np.array([rows[r.tobytes()] for r in np.round(x * 255).astype(np.uint8)])

    train_rows, val_rows = source_rows(mnist.x_train), source_rows(mnist.x_val)
    assert len(train_rows) == 55_000 and len(val_rows) == 5_000 == vh.VALIDATION_SIZE
    # Disjoint, and together exactly the 60,000 training images, each once, in file order.
    assert not set(train_rows) & set(val_rows)
    np.testing.assert_array_equal(np.sort(np.concatenate([train_rows, val_rows])), np.arange(60_000))
    assert np.all(np.diff(train_rows) > 0) and np.all(np.diff(val_rows) > 0)
    # Every image keeps its own label.
    np.testing.assert_array_equal(mnist.y_train, raw["train_labels"][train_rows])
    np.testing.assert_array_equal(mnist.y_val, raw["train_labels"][val_rows])
    # The split is the documented one (seed VALIDATION_SEED) and is pinned: a change
    # would silently change every validation number of the series.
    expected = np.sort(np.random.default_rng(vh.VALIDATION_SEED).permutation(60_000)[:vh.VALIDATION_SIZE])
    np.testing.assert_array_equal(val_rows, expected)
    assert val_rows[:5].tolist() == [9, 24, 49, 60, 65]
    assert np.bincount(mnist.y_val).tolist() == [507, 553, 465, 481, 468, 489, 488, 524, 502, 523]
    # The test images are not part of the split.
    np.testing.assert_array_equal(mnist.x_test, raw["test_images"].reshape(10_000, 784) / np.float32(255))


def test_validation_split_is_the_same_on_every_load(mnist, mnist_dir):
    again = vh.load_dataset("mnist", mnist_dir)
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(again, name), getattr(mnist, name), err_msg=name)


def test_binarized_validation_images_are_binary_and_fixed(mnist, mnist_dir):
    a = vh.load_dataset("mnist", mnist_dir, binarize="dynamic")
    b = vh.load_dataset("mnist", mnist_dir, binarize="dynamic")
    assert a.x_val.shape == (5_000, 784) and a.x_val.dtype == np.float32
    assert set(np.unique(a.x_val)) == {0.0, 1.0}
    np.testing.assert_array_equal(a.x_val, b.x_val)  # the same validation images for every run
    np.testing.assert_array_equal(a.y_val, mnist.y_val)  # the same images, binarized
    # Bernoulli(intensity) of the grey validation images: ink where they are black, none where blank.
    grey = mnist.x_val
    assert np.all(a.x_val[grey == 0] == 0) and np.all(a.x_val[grey == 1] == 1)
    assert abs(a.x_val.mean() - grey.mean()) < 0.005
    # Training images stay grey (train_vae binarizes them afresh every epoch).
    np.testing.assert_array_equal(a.x_train, mnist.x_train)
    # The binarized test set is the one of every earlier version of the series
    # (drawn first from the fixed seed), so test numbers stay comparable.
    np.testing.assert_array_equal(
        a.x_test, vh.binarize_images(mnist.x_test, np.random.default_rng(vh.BINARIZE_TEST_SEED)))


def test_fashion_mnist_loads_from_parent_folder(mnist_dir):
    parent = mnist_dir.parent
    if not (parent / "fashion_mnist").is_dir():
        pytest.skip("no fashion_mnist folder beside the MNIST one")
    data = vh.load_dataset("fashion_mnist", parent)
    assert data.x_train.shape == (55_000, 784) and data.x_val.shape == (5_000, 784)
    all_train = np.concatenate([data.x_train, data.x_val])  # the 60,000 training images
    assert all_train.mean(dtype=np.float64) * 255 == pytest.approx(72.9404, abs=1e-3)
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
    with pytest.raises(DataError, match="does not exist.*VAE_DATA_DIR"):
        vh.load_dataset("mnist", tmp_path / "nowhere")


def test_missing_file_is_named(data_copy):
    (data_copy / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz is missing"):
        vh.load_dataset("mnist", data_copy)


def test_truncated_gzip_is_reported(data_copy):
    path = data_copy / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100_000])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz.*not a valid gzip.*download it again"):
        vh.load_dataset("mnist", data_copy)


def test_checksum_mismatch_is_reported(data_copy):
    path = data_copy / "t10k-labels-idx1-ubyte.gz"
    labels = bytearray(gzip.decompress(path.read_bytes()))
    labels[100] = (labels[100] + 1) % 10  # one wrong label: a valid file, wrong bytes
    path.write_bytes(gzip.compress(bytes(labels)))
    with pytest.raises(DataError, match="Checksum mismatch.*t10k-labels-idx1-ubyte.gz"):
        vh.load_dataset("mnist", data_copy)


def test_wrong_item_count_is_reported(data_copy):
    path = data_copy / "t10k-labels-idx1-ubyte.gz"
    labels = gzip.decompress(path.read_bytes())
    short = struct.pack(">II", 0x801, 9_999) + labels[8:-1]
    path.write_bytes(gzip.compress(short))
    with pytest.raises(DataError, match=r"holds \(9999,\).*10000 items"):
        vh.load_dataset("mnist", data_copy)


def test_wrong_dataset_is_recognised(mnist_dir):
    with pytest.raises(DataError, match="These are the MNIST files: set DATASET = 'mnist'"):
        vh.load_dataset("fashion_mnist", mnist_dir)


def test_unknown_dataset_name():
    with pytest.raises(ParameterError, match="DATASET = 'cifar10'.*'mnist', 'fashion_mnist'"):
        vh.load_dataset("cifar10")


def _keras_arrays(mnist_dir):
    """What keras.datasets.mnist.load_data() returns: all 60,000 training
    images in file order, then the 10,000 test images."""
    raw, _ = read_arrays("mnist", mnist_dir)
    return ((raw["train_images"].copy(), raw["train_labels"].copy()),
            (raw["test_images"].copy(), raw["test_labels"].copy()))


def test_keras_download_is_used_and_verified(mnist, mnist_dir, monkeypatch):
    monkeypatch.delenv("VAE_DATA_DIR", raising=False)
    monkeypatch.setattr(vh.keras.datasets.mnist, "load_data", lambda: _keras_arrays(mnist_dir))
    data = vh.load_dataset("mnist")
    assert data.source == "Keras download"
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(data, name), getattr(mnist, name), err_msg=name)


def test_keras_download_with_wrong_bytes_is_rejected(mnist_dir, monkeypatch):
    (x_train, y_train), (x_test, y_test) = _keras_arrays(mnist_dir)
    x_test[0, 14, 14] ^= 0xFF
    monkeypatch.delenv("VAE_DATA_DIR", raising=False)
    monkeypatch.setattr(vh.keras.datasets.mnist, "load_data",
                        lambda: ((x_train, y_train), (x_test, y_test)))
    with pytest.raises(DataError, match="Checksum mismatch for Keras' mnist download"):
        vh.load_dataset("mnist")


def test_offline_without_data_says_how_to_point_at_a_folder(monkeypatch):
    def offline():
        raise OSError("Temporary failure in name resolution")

    monkeypatch.delenv("VAE_DATA_DIR", raising=False)
    monkeypatch.setattr(vh.keras.datasets.mnist, "load_data", offline)
    with pytest.raises(DataError, match="Could not download MNIST.*name resolution.*VAE_DATA_DIR"):
        vh.load_dataset("mnist")
