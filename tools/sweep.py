"""Train the runs of a sweep (notebook 07) by executing 03_training.ipynb.

Each run is notebook 03 executed with papermill, with the run's parameters
and its own ``ARTIFACTS_DIR``, so a sweep trains exactly what the series
teaches. The helper module never runs notebooks; notebook 07 imports this
file from ``tools/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from vae_machinery.files import CONFIG_FILE  # noqa: E402
from vae_machinery.sweeps import SWEEP_COLUMNS, reusable_run  # noqa: E402


@contextlib.contextmanager
def native_stderr_to(path: str | os.PathLike) -> Iterator[None]:
    """Send what this process and its children write straight to file
    descriptor 2 (TensorFlow's C++ start-up log, Jupyter's transport
    warnings from the kernels papermill starts) to a log file. Python
    exceptions and cell outputs are unaffected."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def run_notebook(notebook: str | os.PathLike, output: str | os.PathLike,
                 parameters: Mapping[str, Any], cwd: str | os.PathLike | None = None,
                 stderr_log: str | os.PathLike | None = None) -> Path:
    """Execute a notebook with papermill (no progress bar, no cell logging)
    and write the executed copy to ``output``; the kernel's own stderr goes
    to ``stderr_log`` (default: next to ``output``). A failing cell raises
    papermill's ``PapermillExecutionError`` naming the cell and the error;
    the partly executed copy is kept at ``output`` for inspection."""
    import papermill as pm

    notebook = Path(notebook)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    log = Path(stderr_log) if stderr_log is not None else output.with_suffix(".stderr.log")
    with native_stderr_to(log):
        pm.execute_notebook(str(notebook), str(output), parameters=dict(parameters),
                            cwd=str(cwd if cwd is not None else notebook.parent),
                            kernel_name="python3", progress_bar=False, log_output=False)
    return output



def run_sweep(runs: Sequence[Mapping[str, Any]], notebook: str | os.PathLike, sweep_dir: str | os.PathLike,
              common: Mapping[str, Any], rerun: bool = False) -> list[dict[str, Any]]:
    """Train every run of :func:`plan_sweep` by executing the training
    notebook with papermill, each in its own folder ``sweep_dir/<run>``
    (model, history, config, figures and the executed notebook). A run whose
    folder already holds a finished model with the same settings is reused
    unless ``rerun``. Prints one line per run; returns one row per run with
    the :data:`SWEEP_COLUMNS`."""
    sweep_dir = Path(sweep_dir).resolve()
    rows = []
    for i, run in enumerate(runs, 1):
        folder = sweep_dir / run["run"]
        params = {**common, **{k: v for k, v in run.items() if k != "run"},
                  "ARTIFACTS_DIR": str(folder), "IMGS_DIR": str(folder / "imgs")}
        config = None if rerun else reusable_run(folder, params)
        reuse = config is not None
        start = time.perf_counter()
        if not reuse:
            run_notebook(notebook, folder / Path(notebook).name, params)
            config = json.loads((folder / CONFIG_FILE).read_text())
        row = {"run": run["run"], **{k: config[k] for k in SWEEP_COLUMNS[1:]}}
        rows.append(row)
        how = (f"reused (training took {row['train_time_s']:.0f} s)" if reuse else
               f"trained in {row['train_time_s']:.0f} s, {time.perf_counter() - start:.0f} s in all")
        print(f"[{i}/{len(runs)}] {row['run']:<26} negative ELBO {row['test_neg_elbo']:7.2f} nats "
              f"(BCE {row['test_bce']:6.2f} + KL {row['test_kl']:5.2f}), "
              f"log p(x) {row['test_log_px']:8.2f} nats; {how}", flush=True)
    return rows
