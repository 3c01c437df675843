"""Fixtures for the unit tests."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


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
    from vae_tools import build_site as bs

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
    from vae_tools import editions

    root = tmp_path_factory.mktemp("editions")
    written = editions.student_edition(root / "student", course=root / "course")
    return root, written


# Notebooks 07-10 in short versions: a course's, as the instructor runs them before grading, and as their
# own tests check them. 07: 4 settings x 2 seeds of one epoch; 08: 2 epochs, its three seeds; 09: one epoch
# on 1,024 images at latent size 2, two learning rates, one seed; 10: one epoch on 1,024 images, latent 8.
SHORT = {
    "07": {"EPOCHS": 1, "SEEDS": [1, 2], "BETAS": [0.5, 1.0], "LATENT_DIMS": [2, 5],
           "BINARIZED_LATENT_DIMS": [2], "IWAE_K": 5},
    "08": {"EPOCHS": 2, "IWAE_K": 2},
    "09": {"EPOCHS": 1, "IWAE_K": 1, "TRAIN_IMAGES": 1024, "CONV_LATENT_DIMS": [2], "SEEDS": [1],
           "LEARNING_RATES": [1e-3, 4e-3]},
    "10": {"EPOCHS": 1, "WARMUP_EPOCHS": 1, "IWAE_K": 1, "TRAIN_IMAGES": 1024, "COLLAPSE_LATENT_DIM": 8,
           "HIDDEN_DIM": 64},
}


class ShortRuns:
    """Notebooks 07-10 run once per test session with their :data:`SHORT` parameters, through papermill,
    all into one folder of finished runs (``folder``: their ARTIFACTS_DIR, 07's SWEEP_DIR is
    ``folder/experiments``, the figures go to ``folder/imgs``). ``short_runs("08")`` executes 08 the first
    time it is asked for and returns its executed cells; tests/test_beyond.py and test_experiments.py check
    them, and grading every notebook (test_editions.py) grades on the same runs, as an instructor would."""

    parameters = SHORT

    def __init__(self, folder: Path, mnist_dir: Path) -> None:
        self.folder, self.mnist_dir, self.cells = folder, mnist_dir, {}

    def notebook_parameters(self, number: str) -> tuple[Path, dict]:
        """The notebook ``number`` and what it is run with: where the runs go, the data, its short version."""
        from vae_tools import editions

        path = next((ROOT / "notebooks").glob(f"{number}_*.ipynb"))
        parameters = editions.grading_parameters(path, self.folder, {
            **SHORT[number], "DATA_DIR": str(self.mnist_dir), "IMGS_DIR": str(self.folder / "imgs")})
        parameters.pop("RESUME", None)
        return path, parameters

    def execute(self, number: str, name: str) -> list:
        """Execute notebook ``number`` into ``folder/name`` now; return its executed cells."""
        import json

        import papermill as pm

        path, parameters = self.notebook_parameters(number)
        out = self.folder / name
        pm.execute_notebook(str(path), str(out), parameters=parameters, kernel_name="python3",
                            cwd=str(ROOT / "notebooks"), progress_bar=False)
        return json.loads(out.read_text())["cells"]

    def __call__(self, number: str) -> list:
        if number not in self.cells:
            self.cells[number] = self.execute(number, f"executed-{number}.ipynb")
        return self.cells[number]


@pytest.fixture(scope="session")
def short_runs(tmp_path_factory, mnist_dir) -> ShortRuns:
    return ShortRuns(tmp_path_factory.mktemp("short-runs"), mnist_dir)
