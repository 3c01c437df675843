"""Checks of the notebooks' parameters, before any work starts.

:func:`check_parameters` raises :class:`ParameterError` naming the
parameter, the value it got and what is allowed, so a typo in a papermill
call or a parameters cell stops at once with a message, not deep inside
TensorFlow.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ParameterError
from .idx_data import DATASETS

BINARIZE_MODES = (None, "dynamic")
# Parameters that name folders (relative ones start in the series' notebooks/ folder).
FOLDERS = ("DATA_DIR", "ARTIFACTS_DIR", "SWEEP_DIR", "IMGS_DIR")
# Parameters that say where things go or how a run goes on, not what is trained: never a run's settings.
PLACES = (*FOLDERS, "RESUME", "RERUN", "RUNS_URL", "SCHEDULER_ADDRESS")
MATMUL_PRECISIONS = ("auto", "float32", "bfloat16")


def parse_value(text: str) -> Any:
    """A parameter's value as given on a command line (``-p NAME VALUE`` of tools/run_series.py and
    tools/editions.py grade): a Python literal (``5``, ``1e-3``, ``True``, ``None``, ``[42, 43]``,
    ``'text'``), else the text itself (``fashion_mnist``). papermill's own ``-p`` reads the same
    numbers, booleans, None and words, and takes a list as its text."""
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, bool
    )


def describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


# Every parameter of the series' notebooks (their parameters cells): what check_parameters knows.
KNOWN_PARAMETERS = frozenset({
    "SEED", "SEEDS", "DATASET", "DATA_DIR", "LATENT_DIM", "LATENT_DIMS", "BINARIZED_LATENT_DIMS",
    "CONV_LATENT_DIMS", "COLLAPSE_LATENT_DIM", "HIDDEN_DIM", "EPOCHS", "BATCH_SIZE", "N_SAMPLES",
    "LEARNING_RATE", "LEARNING_RATES", "LR_DECAY", "MATMUL_PRECISION", "BETA", "BETAS", "HIGH_BETA",
    "BINARIZE", "IWAE_K", "TRAIN_IMAGES", "WARMUP_EPOCHS", "FREE_BITS", "ARTIFACTS_DIR", "SWEEP_DIR",
    "IMGS_DIR", "RESUME", "RERUN", "SCHEDULER_ADDRESS", "RUNS_URL",
})

# Parameters that hold lists, and the parameter each item must be valid as.
_LIST_PARAMETERS = {"BETAS": "BETA", "LATENT_DIMS": "LATENT_DIM", "BINARIZED_LATENT_DIMS": "LATENT_DIM",
                    "CONV_LATENT_DIMS": "LATENT_DIM", "SEEDS": "SEED", "LEARNING_RATES": "LEARNING_RATE"}


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
                        raise ParameterError(f"Parameter {name} = {describe(value)} is not allowed: "
                                             f"its item {item!r} is not a valid {item_name}. "
                                             f"{str(error).split(': ', 1)[1]}") from None
        elif name in {"LATENT_DIM", "HIDDEN_DIM", "EPOCHS", "BATCH_SIZE", "N_SAMPLES", "COLLAPSE_LATENT_DIM"}:
            if not is_int(value) or value < 1:
                problem = "a positive integer"
        elif name == "TRAIN_IMAGES":
            if value is not None and (not is_int(value) or value < 1):
                problem = ("None (all training images) or a positive integer (only the first ones, "
                           "for a quick run)")
        elif name == "WARMUP_EPOCHS":
            if not is_int(value) or value < 0:
                problem = ("an integer >= 0: the epochs over which the KL weight rises from 0 to 1 "
                           "(0: no warm-up)")
        elif name == "FREE_BITS":
            if not is_real(value) or not math.isfinite(value) or value < 0:
                problem = "a finite number >= 0: the nats of KL each latent dimension gets for free (0: none)"
        elif name == "SEED":
            if not is_int(value):
                problem = "an integer (with papermill use -p, not -r)"
        elif name == "LEARNING_RATE":
            if not is_real(value) or not math.isfinite(value) or value <= 0:
                problem = "a finite number > 0, e.g. 1e-3"
        elif name == "LR_DECAY":
            if not is_real(value) or not 0 <= value <= 1:
                problem = ("a number from 0 to 1: the fraction of training, at the end, over which "
                           "the learning rate falls to 0 (0 keeps it constant)")
        elif name == "MATMUL_PRECISION":
            if value not in MATMUL_PRECISIONS:
                problem = ("one of 'auto' (bfloat16 products where the CPU has them natively), "
                           "'float32' or 'bfloat16'")
        elif name in {"BETA", "HIGH_BETA"}:
            if not is_real(value) or not math.isfinite(value) or value < 0:
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
            if not is_int(value) or value < 1:
                problem = "a positive integer (importance samples per image, e.g. 100)"
        elif name == "SCHEDULER_ADDRESS":
            if value is not None and (not isinstance(value, str) or "://" not in value and ":" not in value):
                problem = ("None (a local Dask cluster, or $DASK_SCHEDULER_ADDRESS) or a scheduler "
                           "address such as 'tcp://10.0.0.5:8786'")
        elif name == "RUNS_URL":
            if value is not None and (not isinstance(value, str) or not value.strip()):
                problem = ("None (train, or reuse the runs already here) or the address of a runs bundle: "
                           "an https:// or file:// URL or a path, e.g. "
                           "'https://example.org/08_conditional_vae-runs.tar.gz#sha256=<64 hex digits>'")
        elif name in {"RESUME", "RERUN"}:
            if not isinstance(value, bool):
                problem = "True or False"
        elif name == "IMGS_DIR":
            if value is not None and (not isinstance(value, (str, os.PathLike)) or not str(value)):
                problem = ("None (imgs/ for the default run, else ARTIFACTS_DIR/imgs) or a folder path "
                           "(it is created if missing)")
        elif name in {"ARTIFACTS_DIR", "SWEEP_DIR"}:
            if not isinstance(value, (str, os.PathLike)) or not str(value):
                problem = "a folder path (it is created if missing)"
        else:
            raise TypeError(f"check_parameters() got an unknown parameter {name!r}")
        if problem:
            raise ParameterError(
                f"Parameter {name} = {describe(value)} is not allowed: "
                f"{name} must be {problem}."
            )
    _check_together(params)


def _check_together(params: dict[str, Any]) -> None:
    """The rules that tie two parameters, or a list's items, together."""
    for name in ("BETAS", "LATENT_DIMS", "CONV_LATENT_DIMS", "SEEDS"):
        if name in params and not params[name]:
            raise ParameterError(f"Parameter {name} = [] is not allowed: {name} needs at least one value.")
    seeds = params.get("SEEDS") or []
    if len(set(seeds)) < len(seeds):
        raise ParameterError(f"Parameter SEEDS = {seeds!r} is not allowed: the seeds must be distinct.")
    if "WARMUP_EPOCHS" in params and "EPOCHS" in params and params["WARMUP_EPOCHS"] > params["EPOCHS"]:
        raise ParameterError(f"WARMUP_EPOCHS = {params['WARMUP_EPOCHS']} is more than EPOCHS = "
                             f"{params['EPOCHS']}: the KL weight would never reach beta, and the runs would "
                             "not end on the ELBO.")


# The parameters of the committed run: the defaults of the notebooks' parameters cells
# (tests/test_project.py checks that they agree). Only a run with all of them writes imgs/.
SERIES_DEFAULTS: dict[str, Any] = {
    "SEED": 42, "DATASET": "mnist", "LATENT_DIM": 2, "HIDDEN_DIM": 512, "EPOCHS": 20, "BATCH_SIZE": 512,
    "LEARNING_RATE": 4e-3, "LR_DECAY": 0.25, "MATMUL_PRECISION": "auto", "BETA": 1.0, "BINARIZE": None,
    "IWAE_K": 100, "ARTIFACTS_DIR": "../artifacts", "BETAS": [0.0, 0.25, 0.5, 1.0, 2.0, 4.0],
    "LATENT_DIMS": [2, 5, 10, 20], "BINARIZED_LATENT_DIMS": [2, 5, 10, 20],
    "SWEEP_DIR": "../artifacts/experiments", "SEEDS": [42, 43, 44],
    # notebooks 08-10
    "TRAIN_IMAGES": None, "CONV_LATENT_DIMS": [2, 20],
    "LEARNING_RATES": [1e-3, 2e-3, 4e-3], "COLLAPSE_LATENT_DIM": 32, "HIGH_BETA": 4.0, "WARMUP_EPOCHS": 10,
    "FREE_BITS": 0.25,
}
# What notebook 03 trains with, and saves in its run record: a model trained with these settings is
# notebook 03's model (04-06 train one with them when 03's is missing; 07's grid varies some of them).
TRAINING_SETTINGS = ("DATASET", "LATENT_DIM", "HIDDEN_DIM", "EPOCHS", "BATCH_SIZE", "LEARNING_RATE",
                     "LR_DECAY", "MATMUL_PRECISION", "BETA", "BINARIZE", "SEED", "IWAE_K")
TRAINING_DEFAULTS: dict[str, Any] = {name: SERIES_DEFAULTS[name] for name in TRAINING_SETTINGS}
COMMITTED_IMGS_DIR = "../imgs"  # relative to notebooks/, where the notebooks run


def is_default_run(**params: Any) -> bool:
    """Whether every one of ``params`` that the committed run fixes has its
    default value (parameters that do not change the figures, like
    ``DATA_DIR`` or ``RESUME``, are ignored)."""
    return all(SERIES_DEFAULTS[name] == value for name, value in params.items() if name in SERIES_DEFAULTS)


def figures_dir(imgs_dir: str | os.PathLike | None, run_dir: str | os.PathLike, default_run: bool) -> Path:
    """Where a notebook writes its figures: ``imgs_dir`` when given; else the
    committed ``imgs/`` for the default run, and ``run_dir/imgs`` for any
    other, so that trying other parameters never overwrites the figures the
    README shows."""
    if imgs_dir is not None:
        return Path(imgs_dir)
    return Path(COMMITTED_IMGS_DIR) if default_run else Path(run_dir) / "imgs"
