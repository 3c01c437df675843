"""Sweeps: grids of training runs (notebook 07) and their tables.

:func:`plan_sweep` lists the runs (:mod:`vae_machinery.grid` trains them on
Dask, :mod:`vae_machinery.runs` says when a finished one is reused), and
:func:`write_csv` and :func:`format_table` write and print the results. No
module of the package runs notebooks: papermill is the tools' (``make run``).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .files import atomic_write

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


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *, with_std: bool = False) -> str:
    """A plain-text table of ``rows`` (floats with 2 decimals), for printing. With ``with_std``, a column
    ``c`` whose row also has ``c_std`` shows as ``mean ± std`` (the means over seeds of 07's grid)."""
    def cell(r: Mapping[str, Any], c: str) -> str:
        v = r[c]
        if with_std and f"{c}_std" in r:
            return f"{v:.2f} ± {r[f'{c}_std']:.2f}"
        return f"{v:.2f}" if isinstance(v, float) else ("-" if v is None else str(v))

    body = [[cell(r, c) for c in columns] for r in rows]
    widths = [max([len(c), *(len(b[i]) for b in body)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.rjust(w) for v, w in zip(b, widths)) for b in body]
    return "\n".join(lines)
