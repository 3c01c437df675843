"""Training runs, saved and reused: the one run record of the series.

Every run the series keeps (notebook 03's model, each run of 07's grid, the
runs of 08-10) is a folder with the model and one record, ``run.json``::

    {"settings": {...},            what was trained: the parameters
     "results": {...},             what came out: test metrics, validation loss, train_time_s
     "matmul_precision": "...",    what the training steps multiplied in: "float32" or "bfloat16"
     "model": "vae.keras",         the model file beside it (or "model.weights.h5")
     "log": "..."}                 what training printed (may be empty)

The record is written last, each file atomically, and removed before a run
starts training (:func:`start_run`), so a folder without it is unfinished and
is trained again, never read. :func:`finished_run` is the one reuse rule: a
run is reused when its record's settings are exactly the ones asked for and its
products used the precision those settings mean on this machine
(``MATMUL_PRECISION``, default ``"auto"``: a run from a float32-only machine
is not reused on a bfloat16 one, nor the other way round).
:func:`reuse_or_train` is that rule for notebooks 08-10, which train models of
their own (their weights are saved); notebook 03's ``vh.save_artifacts`` and
07's grid (``vh.train_and_save``) save the whole model (``vae.keras``) with the
same record. Folders saved by versions before this record (``config.json``) are
converted by ``tools/convert_runs.py``, or trained again.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .bfloat16 import matmul_precision, resolve_matmul_precision
from .files import write_json

RUN_FILE = "run.json"
WEIGHTS_FILE = "model.weights.h5"


def _plain(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` as they read back from JSON (tuples become lists), to compare with a saved record."""
    return json.loads(json.dumps(dict(settings)))


def matmul_precision_for(settings: Mapping[str, Any]) -> str:
    """The precision a run with ``settings`` multiplies in on this machine (its ``MATMUL_PRECISION``,
    default ``"auto"``; ``XLA = False``, notebook 09's convolutional runs, compiles without XLA, which
    bfloat16 products need: float32)."""
    return resolve_matmul_precision(settings.get("MATMUL_PRECISION", "auto"), settings.get("XLA"))


def start_run(folder: str | Path) -> Path:
    """Make ``folder`` and remove its record: from here until :func:`write_run` the run is unfinished."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RUN_FILE).unlink(missing_ok=True)
    return folder


def write_run(folder: str | Path, settings: Mapping[str, Any], results: Mapping[str, Any], *,
              model_file: str, matmul_precision: str, log: str = "") -> dict[str, Any]:
    """Write the record of the finished run in ``folder`` (atomically; call it last, once
    ``model_file`` is saved there) and return it."""
    record = {"settings": _plain(settings), "results": _plain(results), "matmul_precision": matmul_precision,
              "model": model_file, "log": log}
    write_json(Path(folder) / RUN_FILE, record)
    return record


def read_run(folder: str | Path) -> dict[str, Any] | None:
    """The record of the finished run in ``folder``; None if it has none, or its model file is missing."""
    path = Path(folder) / RUN_FILE
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    return record if (Path(folder) / record.get("model", "")).is_file() else None


def finished_run(folder: str | Path, settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """The record of the run in ``folder`` if it finished with exactly ``settings``, its products in the
    precision they mean on this machine; else None."""
    record = read_run(folder)
    if record is None:
        return None
    same = (record["settings"] == _plain(settings)
            and record["matmul_precision"] == matmul_precision_for(settings))
    return record if same else None


def flat(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record's settings, results and precision in one dict (``config["LATENT_DIM"]``,
    ``config["test_neg_elbo"]``): what ``vh.load_artifacts`` returns and 07's grid tabulates."""
    return {**record["settings"], **record["results"], "matmul_precision": record["matmul_precision"]}


class _Tee(io.TextIOBase):
    """A text stream that writes to ``stream`` and keeps a copy of everything written."""

    def __init__(self, stream: Any) -> None:
        self.stream, self.parts = stream, []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


@contextlib.contextmanager
def _no_retracing_warnings() -> Iterator[None]:
    """Keep TensorFlow's "triggered tf.function retracing" warning out of the notebook: every new model
    compiles a training function of its own, which is what the warning counts, and is meant to."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def reuse_or_train(folder: str | Path, settings: Mapping[str, Any], model: Any,
                   train: Callable[[], dict[str, Any]], *, rerun: bool = False,
                   name: str = "", log_lines: int | None = None) -> dict[str, Any]:
    """The results of one training run of a notebook's own model (08-10), trained now or reused.

    If ``folder`` holds a finished run with the same ``settings`` (:func:`finished_run`; and
    ``rerun`` is False), its weights are loaded into ``model`` and its saved
    results returned. Otherwise ``train()`` trains ``model`` and returns its
    results (a JSON-friendly dict); weights and results are then saved, each
    file atomically, the record last. Either way one line is printed, and the
    returned dict has ``reused`` (True or False) and ``train_time_s`` (of the
    run that trained the model) besides what ``train()`` returned. What
    ``train()`` printed is saved too, and printed again (indented) on reuse:
    all of it, or its last ``log_lines`` lines (a notebook that replays many runs).
    """
    folder = Path(folder)
    label = f"{name:<24}" if name else str(folder)
    record = None if rerun else finished_run(folder, settings)
    if record is not None:
        model.load_weights(folder / WEIGHTS_FILE)
        log = record.get("log", "").rstrip("\n")
        shown = ", its training log:"
        if log_lines is not None:
            log = "\n".join(log.splitlines()[-log_lines:]) if log_lines > 0 else ""
            lines = "line" if log_lines == 1 else f"{log_lines} lines"
            shown = f", the last {lines} of its log:"
        print(f"{label} reused from {folder} (training took {record['results']['train_time_s']:.0f} s)"
              + (shown if log else ""), flush=True)
        if log:
            print(textwrap.indent(log, "    "), flush=True)
        return {**record["results"], "reused": True}
    start = time.perf_counter()
    tee = _Tee(sys.stdout)
    with _no_retracing_warnings(), contextlib.redirect_stdout(tee):
        results = dict(train())
    results.setdefault("train_time_s", time.perf_counter() - start)
    start_run(folder)  # no record while the weights change
    partial = folder / f".partial-{WEIGHTS_FILE}"  # Keras wants the name to end in .weights.h5
    model.save_weights(partial)
    os.replace(partial, folder / WEIGHTS_FILE)
    # What the compiled model multiplied in (notebook 09's convolutional runs, compiled without XLA:
    # float32 on any CPU), not what the settings ask for; a model that train() never compiled: the settings'.
    precision = matmul_precision(model) if model.compiled else matmul_precision_for(settings)
    write_run(folder, settings, results, model_file=WEIGHTS_FILE, log="".join(tee.parts),
              matmul_precision=precision)
    print(f"{label} trained in {results['train_time_s']:.0f} s", flush=True)
    return {**results, "reused": False}
