"""Fixtures for the unit tests."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The hidden tests' expected answers (instructor-only, not part of the package); `make venv` also puts
# this folder on the environment's path, so that the notebooks' hidden tests find it.
if str(ROOT / "instructor") not in sys.path:
    sys.path.insert(0, str(ROOT / "instructor"))


def _data_root() -> Path | None:
    """Folder with the real IDX files: $VAE_DATA_DIR, else ../shared/data."""
    env = os.environ.get("VAE_DATA_DIR")
    for candidate in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "data" / "mnist"]:
        if (candidate / "train-images-idx3-ubyte.gz").is_file():
            return candidate
    return None


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    folder = _data_root()
    if folder is None:
        pytest.skip("real MNIST files not found: set VAE_DATA_DIR to a folder with the four IDX files")
    return folder


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    import vae_helpers as vh

    return vh.load_dataset("mnist", mnist_dir)
