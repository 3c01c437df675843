"""Sweeps: grids of training runs (notebook 07), their reuse and their tables.

:func:`plan_sweep` lists the runs, :func:`run_sweep` trains each one by
executing ``03_training.ipynb`` with papermill (:func:`run_notebook`), so a
sweep trains exactly what the series teaches, and reuses a finished run
(:func:`reusable_run`); :func:`write_csv` and :func:`format_table` write and
print the results. Running notebooks is this module's job alone:
``vae_helpers`` never does, and papermill is imported only when a run is
trained.
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

from .bfloat16 import resolve_matmul_precision
from .files import CONFIG_FILE, MODEL_FILE, atomic_write

SWEEP_COLUMNS = ("run", "DATASET", "BINARIZE", "BETA", "LATENT_DIM", "EPOCHS", "IWAE_K",
                 "test_neg_elbo", "test_bce", "test_kl", "test_log_px", "train_time_s")


def plan_sweep(betas: Sequence[float], latent_dims: Sequence[int],
               binarized_latent_dims: Sequence[int] = ()) -> list[dict[str, Any]]:
    """The training runs of a sweep, without duplicates: every β at latent
    size 2, every latent size at β = 1 (grey levels), and every binarized
    latent size at β = 1. Each run has a folder-friendly ``run`` name."""
    wanted = [(float(b), 2, None) for b in betas] + [(1.0, int(d), None) for d in latent_dims]
    wanted += [(1.0, int(d), "dynamic") for d in binarized_latent_dims]
    runs: list[dict[str, Any]] = []
    for beta, dim, binarize in wanted:
        run = {"BETA": beta, "LATENT_DIM": dim, "BINARIZE": binarize}
        if run not in [{k: r[k] for k in run} for r in runs]:
            name = f"beta{beta:g}_latent{dim}" + ("_binarized" if binarize else "")
            runs.append({"run": name, **run})
    return runs


def reusable_run(folder: Path, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The saved config of a finished run in ``folder`` if it was trained
    with ``params`` and with the matrix-product precision this machine would
    use now (a run from a float32-only machine is not reused on a bfloat16
    one, or the other way round); else None. Runs saved before the series
    held out a validation set (their config has no ``val_loss``) trained on
    other images and are not reused either."""
    config_path = folder / CONFIG_FILE
    if not (config_path.is_file() and (folder / MODEL_FILE).is_file()):
        return None
    config = json.loads(config_path.read_text())
    if "val_loss" not in config:
        return None
    paths = ("ARTIFACTS_DIR", "IMGS_DIR", "DATA_DIR")
    same = all(config.get(k) == v for k, v in params.items() if k not in paths)
    precision = resolve_matmul_precision(params.get("MATMUL_PRECISION", "auto"))
    # Runs saved before the setting existed multiplied in float32.
    return config if same and config.get("matmul_precision", "float32") == precision else None


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


def write_csv(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]],
              columns: Sequence[str] = SWEEP_COLUMNS) -> Path:
    """Write ``rows`` as CSV (one header line, floats with 4 decimals), atomically."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else ("" if v is None else v))
                         for k, v in row.items()})
    path = Path(path)
    atomic_write(path, lambda p: p.write_text(buffer.getvalue()))
    return path


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A plain-text table of ``rows`` (floats with 2 decimals), for printing."""
    def cell(v: Any) -> str:
        return f"{v:.2f}" if isinstance(v, float) else ("-" if v is None else str(v))

    body = [[cell(r[c]) for c in columns] for r in rows]
    widths = [max([len(c), *(len(b[i]) for b in body)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.rjust(w) for v, w in zip(b, widths)) for b in body]
    return "\n".join(lines)
