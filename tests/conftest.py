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


SITE_HUB = "https://hub.university.example"  # as `make site SITE_JUPYTERHUB_URL=...` sets it


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """Both flavours of the documentation site (tools/build_site.py) from the committed notebooks, built
    once per test session, with a JupyterHub URL set: tests/test_site.py reads it, test_browser.py
    loads it in Chromium."""
    import build_site as bs  # tools/, on sys.path through the repository's conftest.py

    out = tmp_path_factory.mktemp("site")
    os.environ["SITE_JUPYTERHUB_URL"] = SITE_HUB
    try:
        facts = bs.build(out_dir=out)
    finally:
        del os.environ["SITE_JUPYTERHUB_URL"]
    return {"out": out, "facts": facts, "student": out / "student", "instructor": out / "instructor"}


@pytest.fixture(scope="session")
def student_edition(tmp_path_factory):
    """The student edition of the whole series and its nbgrader course folder (tools/editions.py),
    written once per test session: (folder, the notebooks written)."""
    import editions

    root = tmp_path_factory.mktemp("editions")
    written = editions.student_edition(root / "student", course=root / "course")
    return root, written
