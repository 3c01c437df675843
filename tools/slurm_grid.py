"""Notebook 07's grid on one SLURM allocation, with dask-jobqueue's ``SLURMRunner``.

Every task of ``srun`` runs this script. ``SLURMRunner`` makes task 0 the Dask
scheduler, task 1 the client (the body of this script) and every other task a
worker with one task thread; all of them read the scheduler's address from a
scheduler file named after the job, so a later job never reads the address of
a finished one. The client waits for the workers, prints the scheduler's
address and runs notebook 07 on them::

    tools/run_series.py --only 07 -p SCHEDULER_ADDRESS <address> <the other arguments given here>

When it ends, the scheduler and the workers stop, and the script exits with
run_series' status. From a batch script (22 tasks: the scheduler, the client
and 20 workers; see docs/cluster.md)::

    srun -n 22 python tools/slurm_grid.py -p SWEEP_DIR /shared/vae/experiments
    srun -n 22 python tools/slurm_grid.py --check    # only check the allocation

``--check`` runs one small task on every worker instead of notebook 07: it
imports ``vae_helpers`` (TensorFlow, Keras: what every grid task imports) and
reports the worker's name, task threads and TensorFlow thread variables; the
script exits 1 if a worker has other than one task thread or TensorFlow thread,
or cannot import the helpers, 0 if all is well. A way to check an allocation
before spending it on the grid.

The workers run in the environment of the batch script. TensorFlow's thread
variables are set to 1, as ``vae_machinery.grid.worker_env`` sets them for a
local cluster, unless the environment sets them already. The workers, the
scheduler (which deserialises the task graph) and notebook 07's kernel all
import the helpers (``src`` on ``PYTHONPATH``, or ``pip install .``); the
client runs ``tools/run_series.py`` from this checkout, which must be installed
editable (``make venv``, or ``pip install -e .``). ``--check`` says which worker
cannot import the helpers (docs/cluster.md).

Needs dask-jobqueue 0.9 or later: ``pip install dask-jobqueue`` (or ``pip install
'.[cluster]'``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import MutableMapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# In the home directory, which the login node and every compute node see; {job_id} becomes $SLURM_JOB_ID.
SCHEDULER_FILE = str(Path.home() / "vae-scheduler-{job_id}.json")
SLURM_VARIABLES = ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_JOB_ID")  # what SLURMRunner reads
# What vae_machinery.grid.worker_env(1) sets.
TF_THREADS = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
TF_LOG = {"TF_CPP_MIN_LOG_LEVEL": "2"}
USAGE = "srun -n 22 python tools/slurm_grid.py [--check] [run_series arguments]"


def parse_arguments(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    """This script's options, and the arguments it passes on to tools/run_series.py."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], usage=USAGE, allow_abbrev=False,
        epilog="Every other argument goes to tools/run_series.py after --only 07 -p SCHEDULER_ADDRESS "
               "<address>, e.g. -p SWEEP_DIR /shared/vae/experiments -p EPOCHS 5.")
    parser.add_argument("--scheduler-file", default=SCHEDULER_FILE,
                        help="where the scheduler writes its address; {job_id} becomes the job's id "
                             "(default: %(default)s)")
    parser.add_argument("--check", action="store_true",
                        help="run one small task on every worker and report it, instead of notebook 07")
    parser.add_argument("--wait", type=float, default=600,
                        help="seconds to wait for all workers to connect (default: %(default)s)")
    args, rest = parser.parse_known_args(argv)
    if "{job_id}" not in args.scheduler_file:
        parser.error("--scheduler-file must contain {job_id}, so that a later job never reads the "
                     "address of a finished one")
    if "--only" in rest or "SCHEDULER_ADDRESS" in rest:
        parser.error("--only 07 and SCHEDULER_ADDRESS are given by this script")
    return args, rest


def slurm_problem(environ: MutableMapping[str, str]) -> str | None:
    """Why this process is not a task of an ``srun`` step that can hold a cluster, or None."""
    missing = [name for name in SLURM_VARIABLES if not environ.get(name)]
    if missing:
        return (f"{', '.join(missing)} not set: this is not a task of srun. Run it inside an allocation, "
                f"one task for the scheduler, one for the client and one per worker: {USAGE}")
    if int(environ["SLURM_NTASKS"]) < 3:
        return (f"srun started {environ['SLURM_NTASKS']} task(s): at least 3 are needed, one for the "
                f"scheduler, one for the client and one per worker: {USAGE}")
    return None


def prepare_environment(environ: MutableMapping[str, str]) -> None:
    """One TensorFlow thread per worker, unless the job set it; TensorFlow's C++ log quieter."""
    for name, value in {**TF_THREADS, **TF_LOG}.items():
        environ.setdefault(name, value)


def describe_worker() -> dict[str, str | None]:
    """The check task: import the helpers as every grid task does; report this worker."""
    from distributed import get_worker

    import vae_helpers

    return {"name": str(get_worker().name), "vae_helpers": vae_helpers.__file__,
            **{name: os.environ.get(name) for name in TF_THREADS}}


def check_workers(client) -> int:
    """Run :func:`describe_worker` once on every worker; print what each reports. 0 if every worker
    has one task thread and one TensorFlow thread and imports the helpers, else 1."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    futures = {address: client.submit(describe_worker, workers=[address], allow_other_workers=False,
                                       pure=False, key=f"check-{address}")
               for address in workers}
    problems = []
    for address, future in sorted(futures.items(), key=lambda item: str(workers[item[0]].get("name"))):
        threads = workers[address]["nthreads"]
        try:
            found = future.result()
        except Exception as error:  # reported; the check fails
            print(f"worker {workers[address].get('name')} ({address}): cannot import vae_helpers: "
                  f"{type(error).__name__}: {error}", flush=True)
            problems.append(address)
            continue
        tf_threads = ", ".join(f"{name}={found[name]}" for name in TF_THREADS)
        print(f"worker {found['name']} ({address}): {threads} task thread{'s' if threads != 1 else ''}, "
              f"{tf_threads}, vae_helpers from {found['vae_helpers']}", flush=True)
        if threads != 1 or any(found[name] != value for name, value in TF_THREADS.items()):
            problems.append(address)
    if problems:
        print(f"check failed on {len(problems)} of {len(workers)} workers: each needs one task thread, "
              "TF_NUM_INTRAOP_THREADS=1, TF_NUM_INTEROP_THREADS=1 and the helpers (docs/cluster.md)",
              file=sys.stderr, flush=True)
        return 1
    print(f"check passed: {len(workers)} worker{'s' if len(workers) != 1 else ''}, each with one task "
          "thread and one TensorFlow thread",
          flush=True)
    return 0


def run_notebook(address: str, rest: list[str]) -> int:
    """Notebook 07 on the cluster at ``address``, through tools/run_series.py; its exit status."""
    command = [sys.executable, str(ROOT / "tools" / "run_series.py"), "--only", "07",
               "-p", "SCHEDULER_ADDRESS", address, *rest]
    print("running", " ".join(command), flush=True)
    return subprocess.run(command, cwd=ROOT).returncode


def main(argv: list[str] | None = None) -> int:
    args, rest = parse_arguments(argv)
    problem = slurm_problem(os.environ)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        from dask_jobqueue.slurm import SLURMRunner
    except ImportError:
        print("error: dask-jobqueue is not installed: pip install dask-jobqueue (0.9 or later), "
              "or pip install '.[cluster]'", file=sys.stderr)
        return 2
    from distributed import Client

    prepare_environment(os.environ)
    # Task 0 runs the scheduler and task 2 onwards a worker, inside SLURMRunner(...), until the
    # client closes the runner; they never reach the body of the with statement.
    with SLURMRunner(scheduler_file=args.scheduler_file, worker_options={"nthreads": 1}) as runner:
        with Client(runner) as client:
            try:
                client.wait_for_workers(runner.n_workers, timeout=args.wait)
            except TimeoutError:
                connected = len(client.scheduler_info(n_workers=-1)["workers"])
                print(f"error: {connected} of {runner.n_workers} workers connected within {args.wait:g} s "
                      f"(scheduler file {runner.scheduler_file}); see the job's output for the others",
                      file=sys.stderr)
                return 1
            print(f"scheduler {runner.scheduler_address}, {runner.n_workers} worker"
                  f"{'s' if runner.n_workers != 1 else ''} "
                  f"(scheduler file {runner.scheduler_file})", flush=True)
            return check_workers(client) if args.check else run_notebook(runner.scheduler_address, rest)


if __name__ == "__main__":
    sys.exit(main())
