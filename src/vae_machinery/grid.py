"""The experiment grid of notebook 07 on Dask: every (setting, seed) is one task.

:func:`plan_grid` crosses the settings of :func:`~vae_machinery.sweeps.plan_sweep`
with the seeds; :func:`start_client` connects to a Dask cluster, a local one
sized for this machine by default (:data:`LOCAL_LAYOUT`) or any running one by
address (``SCHEDULER_ADDRESS`` in notebook 07, or Dask's own
``DASK_SCHEDULER_ADDRESS``); :func:`run_grid` submits the runs that are not
finished yet and gathers the results as they arrive, one printed line each;
:func:`summarize` turns the runs into one row per setting with the mean and
standard deviation over the seeds.

Each task calls :func:`train_run`, which trains and saves one run with the
training function the caller hands to :func:`run_grid` (notebook 07 hands it
``vh.train_and_save``, notebook 03 in one call; this package never imports
``vae_helpers``) and notebook 03's defaults (``vh.TRAINING_DEFAULTS``, the
parameters cells' values) for every setting the grid does not vary. A run
folder ``SWEEP_DIR/<setting>/seed<SEED>`` counts as finished only when its
run record is there (:mod:`vae_machinery.runs`, the series' one run record and
reuse rule): the task removes it before training and ``save_artifacts`` writes
it last, each file atomically, so a worker that dies mid-run leaves a folder
that is trained again, never read. Tasks of a lost worker are re-run elsewhere by the
scheduler; errors raised inside a task are retried (``retries``).

Give every worker process one task thread (``dask worker --nthreads 1``; use
``--nworkers`` for several per machine) and set TensorFlow's threads with
:func:`worker_env`: tasks that share a process share TensorFlow's and Keras'
global random state, and a seed would no longer fix its run.

On a cluster of several machines, ``SWEEP_DIR`` and the data must be on a
folder every worker sees at the same path (a shared file system), and the
workers need this repository's ``src`` on their ``PYTHONPATH`` (or the
package installed).
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dask.system import CPU_COUNT

from .parameters import PLACES
from .runs import finished_run, flat, start_run
from .sweeps import SWEEP_COLUMNS, format_table, native_stderr_to

# The local cluster: (worker processes, task threads each), one single-threaded worker
# per core, each with one TensorFlow thread. One worker running a task per core on a
# shared pool measured about 10 % faster on the series' 2-core machine (within the
# noise of a shared CPU), but tasks in one process share TensorFlow's and Keras' global
# random state (vh.set_seed), so a seed no longer fixes its run: one task at a time per
# process keeps every run reproducible (docs/performance.md, bench/sweep_speed.py). The cores are those
# this process may use (Dask's CPU_COUNT: CPU affinity and a container's CPU limit), not the host's.
LOCAL_LAYOUT = (CPU_COUNT, 1)
# What a run's result row holds besides SWEEP_COLUMNS.
GRID_COLUMNS = ("setting", "SEED", *SWEEP_COLUMNS)
METRICS = ("test_neg_elbo", "test_bce", "test_kl", "test_log_px", "train_time_s")
# What summary.csv holds: one row per setting, each metric's mean and standard deviation over the seeds.
SUMMARY_COLUMNS = ("setting", "seeds", "DATASET", "BINARIZE", "BETA", "LATENT_DIM", "EPOCHS", "IWAE_K",
                   *(c for m in METRICS for c in (m, f"{m}_std")))


def plan_grid(runs: Sequence[Mapping[str, Any]], seeds: Sequence[int]) -> list[dict[str, Any]]:
    """Every run of ``plan_sweep`` once per seed, setting by setting; ``run``
    becomes ``<setting>/seed<SEED>`` (the run's folder under SWEEP_DIR)."""
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"SEEDS must be distinct and not empty, got {list(seeds)}")
    return [{**run, "setting": run["run"], "SEED": int(seed), "run": f"{run['run']}/seed{int(seed)}"}
            for run in runs for seed in seeds]


def run_settings(task: Mapping[str, Any], common: Mapping[str, Any],
                 defaults: Mapping[str, Any]) -> dict[str, Any]:
    """All the settings of one run: notebook 03's defaults, overridden by the
    sweep's ``common`` settings and by the run's own."""
    own = {k: v for k, v in task.items() if k not in ("run", "setting")}
    settings = {**defaults, **common, **own}
    return {k: v for k, v in settings.items() if k not in PLACES}


def _row(config: Mapping[str, Any], task_run: str, **extra: Any) -> dict[str, Any]:
    setting, _, _ = task_run.partition("/")
    return {"setting": setting, "run": task_run, **{k: config.get(k) for k in GRID_COLUMNS if k not in
                                                    ("setting", "run")}, **extra}


# train(folder, settings, data_dir) trains one run and saves it in folder, its run record last;
# it returns the run's settings and results in one dict (vh.train_and_save).
TrainFunction = Callable[[Path, Mapping[str, Any], "str | None"], Mapping[str, Any]]


def train_run(folder: str, settings: Mapping[str, Any], data_dir: str | None = None, *,
              train: TrainFunction, run: str = "", rerun: bool = False,
              train_images: int | None = None) -> dict[str, Any]:
    """One training run, ``train(folder, settings, data_dir)``, saved in
    ``folder``; the Dask task of :func:`run_grid`. A finished run with the
    same ``settings`` is returned as it is unless ``rerun`` (a retried task
    whose first attempt finished). ``train_images`` (quick runs, tests) trains
    on the first training images only (``TRAIN_IMAGES`` in the settings
    ``train`` receives and saves); the validation and test sets are always
    whole."""
    start = time.perf_counter()
    folder_path = Path(folder)
    settings = dict(settings, **({"TRAIN_IMAGES": train_images} if train_images else {}))
    record = None if rerun else finished_run(folder_path, settings)
    if record is not None:
        return _row(flat(record), run, reused=True, worker=_worker_name(), wall_s=time.perf_counter() - start)

    start_run(folder_path)  # unfinished from here until train() saves its record
    # The model's initial weights come from its seed (vh.VAE seeds each layer), not from Python's
    # global random state, which a worker's own threads (connection back-off, gathering) draw from too.
    config = train(folder_path, settings, data_dir)
    return _row(config, run, reused=False, worker=_worker_name(), wall_s=time.perf_counter() - start)


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return "local"


def _bokeh() -> bool:
    import importlib.util

    return importlib.util.find_spec("bokeh") is not None


def start_client(address: str | None = None, layout: tuple[int, int] | None = None) -> Any:
    """A Dask client: of the scheduler at ``address`` (or at Dask's
    ``DASK_SCHEDULER_ADDRESS``) if given, else of a new local cluster of
    ``layout = (workers, threads each)`` processes (default
    :data:`LOCAL_LAYOUT`) on 127.0.0.1, where each worker's TensorFlow uses
    as many intra-op threads as the worker has task threads."""
    import dask
    from distributed import Client, LocalCluster

    address = address or dask.config.get("scheduler-address", None)
    if address:
        return Client(address)
    workers, threads = layout or LOCAL_LAYOUT
    # The workers' own stderr (TensorFlow's C++ start-up log) goes to a file, not into the notebook;
    # a dashboard only where someone can open it.
    log = Path(tempfile.gettempdir()) / "vae-dask-workers.log"
    with native_stderr_to(log):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True,
                               host="127.0.0.1", env=worker_env(threads),
                               dashboard_address=":0" if _bokeh() and _live_frontend() else None)
    return Client(cluster)


def worker_env(tf_threads: int) -> dict[str, str]:
    """The environment of a worker process: TensorFlow's thread pools of
    ``tf_threads`` threads (read once, when TensorFlow starts in the worker),
    its C++ log quieter, and this repository's ``src`` on the ``PYTHONPATH``.
    The same seeds give the same numbers only with the same ``tf_threads``
    (the thread count changes the order of float sums, and training
    amplifies the rounding differences)."""
    src = str(Path(__file__).resolve().parent.parent)
    rest = os.environ.get("PYTHONPATH", "")
    return {"TF_NUM_INTRAOP_THREADS": str(tf_threads), "TF_NUM_INTEROP_THREADS": str(tf_threads),
            "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": os.pathsep.join([src, rest]) if rest else src}


def stop_client(client: Any) -> None:
    """Close ``client``, and the local cluster :func:`start_client` started
    for it (a cluster reached by address keeps running)."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def running_tasks(dask_worker: Any) -> list[str]:
    """The keys of the tasks executing on a worker now: ``client.run(running_tasks)``."""
    return [str(key) for key, ts in dask_worker.state.tasks.items() if ts.state == "executing"]


def describe_client(client: Any) -> str:
    """One line: where the scheduler is and what workers it has."""
    info = client.scheduler_info()
    workers = info.get("workers", {})
    threads = sum(w.get("nthreads", 0) for w in workers.values())
    return f"Dask scheduler at {info.get('address')}: {len(workers)} workers, {threads} threads"


def _line(i: int, n: int, row: Mapping[str, Any]) -> str:
    how = (f"reused (training took {row['train_time_s']:.0f} s)" if row["reused"] else
           f"trained in {row['train_time_s']:.0f} s on {row['worker']}")
    return (f"[{i}/{n}] {row['run']:<32} negative ELBO {row['test_neg_elbo']:7.2f} nats "
            f"(BCE {row['test_bce']:6.2f} + KL {row['test_kl']:6.2f}), log p(x) {row['test_log_px']:8.2f}; "
            f"{how}")


def run_grid(client: Any, tasks: Sequence[Mapping[str, Any]], sweep_dir: str | os.PathLike,
             common: Mapping[str, Any], *, train: TrainFunction, defaults: Mapping[str, Any],
             data_dir: str | None = None, rerun: bool = False, retries: int = 2,
             train_images: int | None = None, progress: bool | None = None) -> list[dict[str, Any]]:
    """Train every task of :func:`plan_grid` that has no finished folder (all
    of them with ``rerun``) on ``client``'s cluster, each in
    ``sweep_dir/<run>`` by ``train`` (see :func:`train_run`); print one line
    per run as it finishes (reused ones first); return one row per task, in
    the order of ``tasks``. ``progress`` shows Dask's progress bar (default:
    in a live notebook frontend only, so that papermill's copies hold lines,
    not widgets)."""
    from distributed import as_completed

    sweep_dir = Path(sweep_dir).resolve()
    data_dir = str(Path(data_dir).resolve()) if data_dir else None  # the workers' cwd may differ
    rows: dict[str, dict[str, Any]] = {}
    futures = []
    for task in tasks:
        folder = sweep_dir / task["run"]
        settings = run_settings(task, common, defaults)
        lookup = dict(settings, **({"TRAIN_IMAGES": train_images} if train_images else {}))
        record = None if rerun else finished_run(folder, lookup)
        if record is not None:
            rows[task["run"]] = _row(flat(record), task["run"], reused=True, worker="-", wall_s=0.0)
            print(_line(len(rows), len(tasks), rows[task["run"]]), flush=True)
            continue
        key = f"train-{task['run']}-{uuid.uuid4().hex[:8]}"
        futures.append(client.submit(train_run, str(folder), settings, data_dir, train=train, run=task["run"],
                                     rerun=rerun, train_images=train_images, key=key, retries=retries,
                                     pure=False))
    if futures and (progress if progress is not None else _live_frontend()):
        from distributed import progress as dask_progress

        dask_progress(futures)
    for future in as_completed(futures) if futures else ():
        row = future.result()
        rows[row["run"]] = row
        print(_line(len(rows), len(tasks), row), flush=True)
    return [rows[task["run"]] for task in tasks]


def _live_frontend() -> bool:
    from .explorer import widget_frontend

    return widget_frontend()


def summarize(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str] = METRICS) -> list[dict[str, Any]]:
    """One row per setting, in the order of ``rows``: its settings, the mean
    of each metric over the seeds (under the metric's name), the sample
    standard deviation (``<metric>_std``, 0 for one seed), the values seed by
    seed (``<metric>_by_seed``, for :func:`vae_helpers.compare_seeds`),
    ``seeds`` and the ``run`` of its first seed (whose folder the figures load)."""
    import numpy as np

    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["setting"], []).append(r)
    out = []
    for setting, group in groups.items():
        first = group[0]
        row = {k: first[k] for k in ("DATASET", "BINARIZE", "BETA", "LATENT_DIM", "EPOCHS", "IWAE_K")}
        row.update(setting=setting, first_run=first["run"], seeds=len(group))
        for m in metrics:
            values = np.array([g[m] for g in group], dtype=float)
            row[m] = float(values.mean())
            row[f"{m}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            row[f"{m}_by_seed"] = values.tolist()
        out.append(row)
    return out


def mean_std_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A plain-text table of :func:`summarize` rows: a metric with a ``_std``
    shows as ``mean ± std`` (2 decimals)."""
    return format_table(rows, columns, with_std=True)
