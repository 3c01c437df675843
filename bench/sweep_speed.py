"""Sweep-speed benchmark: runs per hour of notebook 07's grid on local Dask clusters.

    python bench/sweep_speed.py                 # 4 runs of 2 epochs per layout, twice each
    python bench/sweep_speed.py --epochs 20     # runs as long as the real grid's

Trains the same small grid (β = 0.5 and 1 at latent size 2, two seeds: 4
runs, the task of ``vae_machinery.grid.train_run`` with notebook 03's
defaults) on a fresh local cluster of each layout ``workers x threads``:

* ``1x2``: one worker process running two tasks at once on a shared
  TensorFlow pool of 2 intra-op threads;
* ``2x1``: two worker processes, one task and 1 intra-op thread each.

The layouts alternate (1x2, 2x1, 1x2, 2x1 with ``--repeats 2``) so that a
change in the machine's load hits both; the ratio of the two within this run is
the result to read, not the absolute runs per hour (this machine's CPU may be
shared). Cluster start-up is excluded; TensorFlow's import and each run's
first-step tracing are included, as in the real grid. Prints a table and one
JSON line. Data from ``$VAE_DATA_DIR`` (or the Keras download).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import vae_helpers as vh  # the training function the grid's tasks run
from vae_machinery import grid
from vae_machinery.parameters import TRAINING_DEFAULTS
from vae_machinery.sweeps import plan_sweep

ROOT = Path(__file__).resolve().parent.parent

LAYOUTS = {"1x2": (1, 2), "2x1": (2, 1)}


def time_grid(layout: tuple[int, int], epochs: int, iwae_k: int, seeds: list[int]) -> float:
    """Seconds to train the small grid on a fresh local cluster of ``layout``."""
    tasks = grid.plan_grid(plan_sweep([0.5, 1.0], [2]), seeds)
    defaults = TRAINING_DEFAULTS
    sweep_dir = Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    client = grid.start_client(layout=layout)
    try:
        client.wait_for_workers(layout[0])
        start = time.perf_counter()
        rows = grid.run_grid(client, tasks, sweep_dir, {"EPOCHS": epochs, "IWAE_K": iwae_k},
                             train=vh.train_and_save, defaults=defaults,
                             data_dir=os.environ.get("VAE_DATA_DIR"), progress=False)
        seconds = time.perf_counter() - start
        assert not any(r["reused"] for r in rows)
        return seconds
    finally:
        client.close()
        client.cluster.close()
        shutil.rmtree(sweep_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--iwae-k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    seeds = [1, 2]
    runs = 2 * len(seeds)
    times: dict[str, list[float]] = {name: [] for name in LAYOUTS}
    for _ in range(args.repeats):
        for name, layout in LAYOUTS.items():
            times[name].append(time_grid(layout, args.epochs, args.iwae_k, seeds))
            print(f"{name}: {times[name][-1]:.1f} s for {runs} runs", flush=True)
    median = {name: statistics.median(t) for name, t in times.items()}
    print(f"\n{'layout':<8}{'grid s (median)':>16}{'runs per hour':>15}")
    for name, s in median.items():
        print(f"{name:<8}{s:>16.1f}{3600 * runs / s:>15.0f}")
    faster = min(median, key=median.get)
    ratio = max(median.values()) / min(median.values())
    print(f"{faster} finishes the grid {ratio:.2f}x sooner")
    print(json.dumps({"epochs": args.epochs, "runs": runs, "seconds": times,
                      "runs_per_hour": {n: 3600 * runs / s for n, s in median.items()},
                      "faster": faster, "ratio": ratio}))


if __name__ == "__main__":
    main()
