"""Training runs of notebooks 08-10, saved and reused.

Those notebooks train several models each (notebook 09's convolutional ones
take minutes). :func:`reuse_or_train` keeps every finished run in a folder of
its own, the weights and a JSON file with the run's settings and results, and
reuses it when the notebook runs again with the same settings, so that
re-executing a notebook (to change its prose, or after an interruption) does
not train everything again; what the training printed (one line per epoch)
is saved with the run and shown again when it is reused. A run trained with other settings, or on a
machine whose ``MATMUL_PRECISION = "auto"`` means something else, is trained
afresh and replaces the folder's contents.
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

from .bfloat16 import resolve_matmul_precision
from .files import write_json

RUN_FILE = "run.json"
WEIGHTS_FILE = "model.weights.h5"


def finished_run(folder: str | Path, settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """The saved record of the run in ``folder`` if it finished with exactly
    ``settings`` on a machine like this one, else None."""
    folder = Path(folder)
    record_path, weights = folder / RUN_FILE, folder / WEIGHTS_FILE
    if not (record_path.is_file() and weights.is_file()):
        return None
    record = json.loads(record_path.read_text())
    same = (record.get("settings") == json.loads(json.dumps(dict(settings)))
            and record.get("auto_precision") == resolve_matmul_precision("auto"))
    return record if same else None


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
    """The results of one training run, trained now or reused.

    If ``folder`` holds a finished run with the same ``settings`` (and
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
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RUN_FILE).unlink(missing_ok=True)  # no record while the weights change
    partial = folder / f".partial-{WEIGHTS_FILE}"  # Keras wants the name to end in .weights.h5
    model.save_weights(partial)
    os.replace(partial, folder / WEIGHTS_FILE)
    write_json(folder / RUN_FILE, {"settings": dict(settings), "results": results, "log": "".join(tee.parts),
                                   "auto_precision": resolve_matmul_precision("auto")})
    print(f"{label} trained in {results['train_time_s']:.0f} s", flush=True)
    return {**results, "reused": False}
