"""What every notebook's setup cell does, in one call, and the claims its text makes.

:func:`start_notebook` takes the notebook's namespace (``globals()``), picks
its parameters (the UPPER_CASE names that :func:`check_parameters` knows),
checks them, seeds the random number generators when there is a ``SEED``,
chooses the figure folder and prints the library versions. It returns
``(IMGS_DIR, default_run)`` (for a notebook that draws figures): ``default_run``
says whether every parameter has the value of the committed run, whose outputs
the text describes.

:func:`claim` is what a notebook writes where its text says something about
the committed run ("the VAE reconstructs far better than the mean image"):
in the default run it is an assert; in any other run (fewer epochs, another
beta, latent size or dataset) it prints whether the claim holds in this run,
with the measured value, and the notebook goes on.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import keras
import numpy as np

from .errors import ParameterError
from .parameters import (
    COMMITTED_IMGS_DIR,
    FOLDERS,
    KNOWN_PARAMETERS,
    check_parameters,
    figures_dir,
    is_default_run,
)

# The folder that a run's files go to, by parameter (the first one a notebook has).
_RUN_FOLDERS = ("ARTIFACTS_DIR", "SWEEP_DIR")
# The default run's figures, for a notebook alone in a folder: beside it, as its runs are.
LONE_IMGS_DIR = "imgs"


def versions() -> str:
    """One line naming the versions of Python, TensorFlow, Keras and NumPy."""
    try:
        import tensorflow as tf

        tf_version = tf.__version__
    except ImportError:  # a JAX- or PyTorch-only install
        tf_version = "not installed"
    return (f"Versions: Python {platform.python_version()}, TensorFlow {tf_version}, "
            f"Keras {keras.__version__} (backend: {keras.backend.backend()}), NumPy {np.__version__}")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and the Keras backend: the same seed on the same
    machine gives the same weights, numbers and figures (the shuffle order
    depends only on seed and epoch, and XLA-compiled steps are deterministic
    on a CPU; the test suite checks this)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ParameterError(f"SEED must be an integer, got {seed!r} ({type(seed).__name__}). "
                             "With papermill pass it with -p (not -r), e.g. -p SEED 42.")
    keras.utils.set_random_seed(seed)


def _checkout_notebooks(start: Path) -> Path | None:
    """``notebooks/`` of the checkout whose root is ``start``, if it is one. Only the root: a notebook
    started anywhere else in a checkout (the student edition in ``editions/student/notebooks/``)
    stays where it is, reads the notebooks beside it and writes beside it, never in ``notebooks/``."""
    if (start / "notebooks").is_dir() and (start / "src" / "vae_helpers.py").is_file():
        return start / "notebooks"
    return None


def in_series_folder(folder: Path) -> bool:
    """Whether ``folder`` is a ``notebooks/`` folder of the series (of a checkout, of the student
    edition, of a copy of either), whose parent holds the runs and figures that the parameters'
    relative paths (``"../artifacts"``, ``"../imgs"``) name."""
    return folder.name == "notebooks"


def keep_runs_beside(namespace: MutableMapping[str, Any]) -> dict[str, str]:
    """For a notebook alone in a folder (Colab's ``/content``, a folder a student made): the folder
    parameters in ``namespace`` that leave the folder (``"../artifacts"``) become folders inside it
    (``"artifacts"``), so that nothing is written outside the folder the student sees. Returns the
    changed parameters with their new values."""
    changed = {}
    for name in FOLDERS:
        value = namespace.get(name)
        if isinstance(value, str) and value.startswith("../"):
            changed[name] = namespace[name] = value.removeprefix("../")
    return changed


def as_in_series_folder(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """``parameters`` of a notebook alone in a folder, written as in a ``notebooks/`` folder: there the
    folder itself stands for the series' root, so ``"artifacts"`` names what ``"../artifacts"`` names
    in ``notebooks/`` (the default run stays the default run, also when the setup cell runs twice)."""
    return {name: f"../{value}" if name in FOLDERS and isinstance(value, str)
            and not value.startswith(("../", "/")) else value for name, value in parameters.items()}


def notebook_parameters(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The notebook's parameters: the names of ``namespace`` that are series parameters."""
    return {name: value for name, value in namespace.items() if name in KNOWN_PARAMETERS}


def start_notebook(namespace: MutableMapping[str, Any]) -> tuple[Path, bool] | None:
    """The setup cell's work: check the parameters in ``namespace``, seed, choose the figure folder.

    Relative paths in the parameters (``"../artifacts"``) start in ``notebooks/``: started in a
    checkout's root (papermill without ``--cwd``), the notebook moves there first. Started in a
    folder that is not a ``notebooks/`` folder (Colab's ``/content``), it keeps its runs and figures
    in that folder (:func:`keep_runs_beside` changes those parameters in ``namespace``, and a line
    says so). On Colab it enables the custom widget manager that notebook 06's explorer needs. A
    notebook that draws figures (it has ``IMGS_DIR``) gets ``(IMGS_DIR, default_run)``: the figure
    folder (the committed ``imgs/`` only for the default run) and whether this is the default run.
    """
    notebooks = _checkout_notebooks(Path.cwd())
    if notebooks is not None and Path.cwd() != notebooks:
        os.chdir(notebooks)
    print(versions())
    lone = not in_series_folder(Path.cwd())
    if lone and (changed := keep_runs_beside(namespace)):
        print("Not in a notebooks/ folder of the series: its runs stay in this folder ("
              + ", ".join(f"{name} = {value!r}" for name, value in changed.items()) + ")")
    _enable_colab_widgets()
    parameters = notebook_parameters(namespace)
    check_parameters(**parameters)
    default_run = is_default_run(**(as_in_series_folder(parameters) if lone else parameters))
    if "SEED" in parameters:
        set_seed(parameters["SEED"])
    if "IMGS_DIR" not in parameters:
        return None
    run_folder = next(parameters[name] for name in _RUN_FOLDERS if name in parameters)
    chosen = parameters["IMGS_DIR"]
    if lone and chosen is None and default_run:
        chosen = LONE_IMGS_DIR
    imgs_dir = figures_dir(chosen, run_folder, default_run)
    print(f"Figures go to {imgs_dir}")
    return imgs_dir, default_run


def figures_for_model(config: Mapping[str, Any], imgs_dir: str | os.PathLike,
                      artifacts_dir: str | os.PathLike, default_run: bool) -> tuple[Path, bool]:
    """``(IMGS_DIR, default_run)`` once a notebook knows the model it loaded (04-06): a model trained
    with other settings than the committed run's (``config``, its saved settings) makes this another
    run, whose figures go to ``artifacts_dir/imgs`` instead of the committed ``imgs/``."""
    if not default_run or is_default_run(**config):
        return Path(imgs_dir), default_run
    chosen = Path(imgs_dir) not in (Path(COMMITTED_IMGS_DIR), Path(LONE_IMGS_DIR))  # a parameter: keep it
    imgs = Path(imgs_dir) if chosen else figures_dir(None, artifacts_dir, False)
    print(f"The model in {str(artifacts_dir)!r} is not the committed run's: figures go to {imgs}")
    return imgs, False


def _enable_colab_widgets() -> None:
    """On Colab, let notebook widgets (06's latent explorer) draw: Colab shows third-party widgets only
    with its custom widget manager on (``google.colab.output.enable_custom_widget_manager``)."""
    try:
        from google.colab import output  # only Colab has it
    except ImportError:
        return
    output.enable_custom_widget_manager()


def describe_model(model: Any) -> str:
    """A plain-text summary of a VAE's encoder and decoder: layers, output shapes and parameter counts."""
    lines = []
    for part in (model.encoder, model.decoder):
        lines.append(f"{part.name}:")
        for layer in part.layers:
            shape = str(tuple(layer.output.shape))
            if isinstance(layer, keras.layers.InputLayer):
                lines.append(f"  {layer.name:<10} input  {shape:<12}")
            else:
                act = getattr(getattr(layer, "activation", None), "__name__", "")  # none for Reshape, Flatten
                lines.append(f"  {layer.name:<10} {act:<6} {shape:<12} {layer.count_params():>9,} params")
        lines.append(f"  total{'':<27}{part.count_params():>9,} params")
    lines.append(f"VAE total: {model.count_params():,} trainable parameters")
    return "\n".join(lines)


def claim(holds: bool, statement: str, measured: str, *, default_run: bool) -> None:
    """A sentence of the text about the committed run, and the measure that backs it.

    ``statement`` says what the text claims ("the VAE reconstructs far better than the mean
    image"), ``measured`` the value that decides it in this run ("BCE 137.0 vs 206.1 nats").
    In the default run it prints "Checked: ..." and a claim that does not hold stops the notebook (the
    text would be false); in any other run it prints whether the claim holds there, and the notebook
    goes on.
    """
    if default_run:
        if not holds:  # raised, not asserted: it must stop the run under python -O too
            raise AssertionError(f"The text says: {statement}. In this default run it does not hold: "
                                 f"{measured}.")
        print(f"Checked: {statement}: {measured}.")
        return
    verdict = "holds in this run" if holds else "does NOT hold in this run"
    print(f"Claim of the text (about the default run): {statement}: {verdict}: {measured}.")


__all__ = ["as_in_series_folder", "claim", "describe_model", "figures_for_model", "in_series_folder",
           "keep_runs_beside", "notebook_parameters", "set_seed", "start_notebook", "versions"]
