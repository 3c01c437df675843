"""Notebook 07's grid on Dask (vae_machinery.grid): seeds, summaries, reuse, and
a real cluster on loopback that loses a worker mid-run.

The cluster test starts ``dask scheduler`` and two ``dask worker`` processes,
all bound to 127.0.0.1, runs a tiny grid (1 epoch on the first 2,000 training
images, 4 runs) through them by address, kills one worker with SIGKILL while a
run executes on it, and checks that every result arrives and equals a run of
the same tasks on the default local cluster. Both sides give TensorFlow the
same number of threads on the same machine with the same seeds, so the runs do
the same arithmetic in the same order: the numbers must agree to float32
rounding of a 10,000-image mean (1e-3 nats; in practice they are identical).
With another thread count they would not: the order of the float sums
changes, and training amplifies the difference (about a nat after 4 epochs,
bench/sweep_speed.py).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import vae_helpers as vh
from vae_machinery import grid, runs
from vae_machinery.files import MODEL_FILE
from vae_machinery.sweeps import plan_sweep

pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = vh.TRAINING_DEFAULTS
COMMON = {"EPOCHS": 1, "IWAE_K": 5, "DATASET": "mnist"}
TRAIN_IMAGES = 2000
METRICS = ("test_neg_elbo", "test_bce", "test_kl", "test_log_px")


def test_plan_grid_repeats_every_setting_for_every_seed():
    tasks = grid.plan_grid(plan_sweep([0.5, 1.0], [2]), [7, 8])
    assert [t["run"] for t in tasks] == ["beta0.5_latent2/seed7", "beta0.5_latent2/seed8",
                                        "beta1_latent2/seed7", "beta1_latent2/seed8"]
    assert {t["setting"] for t in tasks} == {"beta0.5_latent2", "beta1_latent2"}
    with pytest.raises(ValueError, match="distinct"):
        grid.plan_grid(plan_sweep([1.0], [2]), [1, 1])
    settings = grid.run_settings(tasks[0], COMMON, DEFAULTS)
    assert settings["SEED"] == 7 and settings["BETA"] == 0.5 and settings["EPOCHS"] == 1
    assert settings["HIDDEN_DIM"] == DEFAULTS["HIDDEN_DIM"] and "ARTIFACTS_DIR" not in settings


def test_summary_mean_std_and_the_seed_spread():
    rows = [{"setting": "a", "run": f"a/seed{s}", "DATASET": "mnist", "BINARIZE": None, "BETA": 1.0,
             "LATENT_DIM": 2, "EPOCHS": 20, "IWAE_K": 100, "test_neg_elbo": v, "test_bce": v - 5,
             "test_kl": 5.0, "test_log_px": -v + 1, "train_time_s": 30.0}
            for s, v in enumerate([140, 142, 144])]
    rows += [dict(r, setting="b", run=r["run"].replace("a/", "b/"), test_neg_elbo=r["test_neg_elbo"] + d)
             for r, d in zip(rows, [1.0, 3.0, 2.0])]
    a, b = grid.summarize(rows)
    assert (a["setting"], a["seeds"], a["first_run"]) == ("a", 3, "a/seed0")
    assert a["test_neg_elbo"] == 142.0 and a["test_neg_elbo_std"] == pytest.approx(2.0)
    assert a["test_kl_std"] == 0.0 and b["test_neg_elbo"] == 144.0
    assert a["test_neg_elbo_by_seed"] == [140.0, 142.0, 144.0]
    assert b["test_neg_elbo_by_seed"] == [141.0, 145.0, 146.0]
    table = grid.mean_std_table([a, b], ["setting", "test_neg_elbo"]).splitlines()
    assert table[2].split() == ["a", "142.00", "±", "2.00"]


def _finished(folder, settings, precision):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MODEL_FILE).write_bytes(b"model")
    results = {"test_neg_elbo": 150.0, "test_bce": 140.0, "test_kl": 10.0, "test_log_px": -145.0,
               "train_time_s": 12.0, "val_loss": 151.0}
    runs.write_run(folder, settings, results, model_file=MODEL_FILE, matmul_precision=precision)


class _NoCluster:
    def submit(self, *args, **kwargs):
        raise AssertionError("a finished run was submitted again")


def test_finished_runs_are_reused_and_half_written_ones_are_not(tmp_path, capsys):
    from vae_machinery.bfloat16 import resolve_matmul_precision

    tasks = grid.plan_grid(plan_sweep([1.0], [2]), [1, 2])
    precision = resolve_matmul_precision("auto")
    for task in tasks:
        _finished(tmp_path / task["run"], grid.run_settings(task, COMMON, DEFAULTS), precision)
    rows = grid.run_grid(_NoCluster(), tasks, tmp_path, COMMON, train=vh.train_and_save, defaults=DEFAULTS,
                         progress=False)
    assert [r["reused"] for r in rows] == [True, True] and rows[1]["SEED"] == 2
    assert capsys.readouterr().out.count("reused (training took 12 s)") == 2
    # A run cut off before its record was written (model and history there, no record) is not finished.
    (tmp_path / tasks[1]["run"] / runs.RUN_FILE).unlink()
    with pytest.raises(AssertionError, match="submitted again"):
        grid.run_grid(_NoCluster(), tasks[1:], tmp_path, COMMON, train=vh.train_and_save, defaults=DEFAULTS,
                         progress=False)
    # Other settings (here a different precision) are not reused either.
    _finished(tmp_path / tasks[1]["run"], grid.run_settings(tasks[1], COMMON, DEFAULTS), "other")
    with pytest.raises(AssertionError, match="submitted again"):
        grid.run_grid(_NoCluster(), tasks[1:], tmp_path, COMMON, train=vh.train_and_save, defaults=DEFAULTS,
                         progress=False)


def _worker_env(mnist_dir):
    """As the default local cluster's workers: TensorFlow pools of as many threads
    (the same thread count, the same float sums, the same numbers)."""
    return {**os.environ, **grid.worker_env(grid.LOCAL_LAYOUT[1]), "VAE_DATA_DIR": str(mnist_dir)}


def _dask(*args):
    return [sys.executable, "-m", "distributed.cli.dask_" + args[0], *args[1:]]


@pytest.fixture
def loopback_cluster(tmp_path, mnist_dir):
    """A scheduler and two single-threaded workers (no nannies), all on 127.0.0.1."""
    scheduler_file = tmp_path / "scheduler.json"
    env = _worker_env(mnist_dir)
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = [subprocess.Popen(_dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                    "--scheduler-file", str(scheduler_file)),
                              env=env, stdout=subprocess.DEVNULL, stderr=open(logs / "scheduler.log", "w"))]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:"), address
        for i in range(2):
            procs.append(subprocess.Popen(
                _dask("worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny",
                      "--no-dashboard", "--name", f"w{i}"),
                env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=open(logs / f"worker{i}.log", "w")))
        yield address
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.mark.slow
def test_grid_survives_a_killed_worker_and_matches_a_local_run(tmp_path, mnist_dir, loopback_cluster):
    from distributed import Client

    tasks = grid.plan_grid(plan_sweep([0.5, 1.0], [2]), [1, 2])
    kw = dict(train=vh.train_and_save, defaults=DEFAULTS, data_dir=str(mnist_dir), train_images=TRAIN_IMAGES,
              progress=False)

    # The default path: a local cluster sized for this machine.
    start = time.perf_counter()
    local = grid.start_client()
    try:
        assert len(local.scheduler_info()["workers"]) == grid.LOCAL_LAYOUT[0]
        expected = grid.run_grid(local, tasks, tmp_path / "local", COMMON, **kw)
    finally:
        grid.stop_client(local)
    local_s = time.perf_counter() - start
    assert not any(r["reused"] for r in expected)

    # The same grid on the loopback cluster, by address; one worker is killed mid-run.
    client = Client(loopback_cluster)
    try:
        client.wait_for_workers(2, timeout=60)
        pids = client.run(os.getpid)  # worker address -> process id
        killed = {}

        def kill_one_when_busy():
            deadline = time.monotonic() + 120
            while not killed and time.monotonic() < deadline:
                for addr, keys in client.run(grid.running_tasks).items():
                    if keys:
                        os.kill(pids[addr], signal.SIGKILL)
                        killed.update(address=addr, key=keys[0])
                        return
                time.sleep(0.2)

        import threading

        killer = threading.Thread(target=kill_one_when_busy)
        killer.start()
        rows = grid.run_grid(client, tasks, tmp_path / "remote", COMMON, **kw)
        killer.join()
        assert killed, "no task ever ran on a worker"
        assert len(client.scheduler_info()["workers"]) == 1, "the killed worker is gone"
        survivor = set(pids) - {killed["address"]}
        assert {r["worker"] for r in rows} == survivor, "every result came from the surviving worker"
    finally:
        client.close()

    assert [r["run"] for r in rows] == [t["run"] for t in tasks]
    differ = [(got["run"], m, got[m], want[m], got["worker"]) for got, want in zip(rows, expected)
              for m in METRICS if got[m] != pytest.approx(want[m], abs=1e-3)]
    assert not differ, (killed, differ)
    for task in tasks:  # every run folder is complete
        folder = tmp_path / "remote" / task["run"]
        assert {p.name for p in folder.iterdir()} >= {MODEL_FILE, runs.RUN_FILE, "history.json"}
        assert not [p for p in folder.iterdir() if p.name.startswith(".")], "no temporary file left behind"

    # A second local run of the grid reuses every run and starts no training.
    again = grid.run_grid(_NoCluster(), tasks, tmp_path / "local", COMMON, **kw)
    assert all(r["reused"] for r in again)
    print(f"local grid {local_s:.0f} s; killed {killed['address']} while it ran {killed['key']}")


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs CPU affinity and at least 2 cores")
def test_the_local_cluster_has_one_worker_per_core_the_process_may_use():
    """In a container or under taskset the host's os.cpu_count() is too many: a process allowed one core
    gets one worker (the layout came from os.cpu_count() before, 2 or more here)."""
    probe = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
             "from vae_machinery import grid; print(grid.LOCAL_LAYOUT)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "(1, 1)"

