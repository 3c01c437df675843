"""docs/cluster.md's routes to a cluster start with the pinned versions, and tools/slurm_grid.py starts one.

What can be checked here, without a network, helm, kubectl or SLURM:

* every ``dask scheduler`` / ``dask worker`` command of the page's bash blocks uses only options of
  the pinned distributed's ``dask`` CLI (which passes unknown options on to preload scripts instead
  of failing, so a misspelt one would go unnoticed); no bash line calls the removed
  ``dask-scheduler`` / ``dask-worker`` commands;
* the shims of the page's Dockerfile, written to a bin folder first on ``PATH``, run the unified
  CLI; the options that Dask Helm chart releases before dask/helm-chart#535 pass to them, rendered
  with the page's values, are options of that CLI;
* the page's Helm values parse, give the scheduler the workers' ``PYTHONPATH`` (the image's
  ``src``) and thread variables, one task thread per worker, and no Jupyter pod; the
  ``kubectl port-forward`` service is the chart's name for the ``helm install`` release;
* every ``-p NAME`` the page passes to tools/run_series.py (directly, through
  tools/slurm_grid.py or in the ``SLURMCluster`` snippet) is a parameter of notebook 07;
* the scheduler files are named after the job: ``$SLURM_JOB_ID`` in the batch script,
  ``{job_id}`` in tools/slurm_grid.py;
* the ``SLURMCluster`` snippet, run with ``scale`` and ``subprocess.run`` recorded, writes worker
  jobs whose command (``python -m distributed.cli.dask_worker``) takes its options;
* tools/slurm_grid.py starts a cluster: three processes with the environments of three ``srun``
  tasks run ``--check`` (about 10 s: it starts Dask and imports TensorFlow in the worker).

``test_the_checks_catch_a_planted_error`` plants one error at a time in the page and checks that it
is reported.
"""

from __future__ import annotations

import ast
import functools
import os
import random
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import yaml

from vae_tools import slurm_grid

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "cluster.md"
NOTEBOOK_07 = ROOT / "notebooks" / "07_experiments.ipynb"
SLURM_GRID = ROOT / "tools" / "slurm_grid.py"
BIN = Path(sys.executable).parent  # the environment's console scripts (dask)
SHELL_OPERATORS = {"&", "&&", "|", "||", ";"}
# The commands the removed console scripts were; the page may name them only in its Dockerfile's shims.
REMOVED = ("dask-scheduler", "dask-worker")


# --- reading the page --------------------------------------------------------------------------------

def blocks(text: str, language: str) -> list[str]:
    """The fenced code blocks of ``text`` in ``language``."""
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.M | re.S)


def bash_commands(text: str) -> list[list[str]]:
    """Every simple command of the page's bash blocks, as shell words (comments dropped), split at
    ``&``, ``&&``, ``|``, ``||`` and ``;``."""
    commands = []
    for block in blocks(text, "bash"):
        for line in block.replace("\\\n", " ").splitlines():
            words, command = shlex.split(line, comments=True), []
            for word in words + [";"]:
                if word in SHELL_OPERATORS:
                    if command:
                        commands.append(command)
                    command = []
                else:
                    command.append(word)
    return commands


def dockerfile_instructions(text: str) -> list[str]:
    """The instructions of the page's Dockerfile block, continuation lines joined."""
    (block,) = blocks(text, "dockerfile")
    return [line for line in block.replace("\\\n", "").splitlines() if line and not line.startswith("#")]


def values(text: str) -> dict:
    """The page's Helm values file (the yaml block)."""
    (block,) = blocks(text, "yaml")
    return yaml.safe_load(block)


def env_of(component: dict) -> dict[str, str]:
    return {item["name"]: item["value"] for item in component.get("env") or []}


@functools.cache
def cli_options(*command: str) -> frozenset[str]:
    """The long options ``command --help`` lists (both halves of a ``--flag / --no-flag`` pair)."""
    result = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return frozenset(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", result.stdout))


def options_used(words: list[str]) -> list[str]:
    return [word.split("=")[0] for word in words if word.startswith("--")]


@functools.cache
def notebook_07_parameters() -> frozenset[str]:
    """The names notebook 07's cell tagged ``parameters`` assigns."""
    nb = nbformat.read(NOTEBOOK_07, as_version=4)
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    return frozenset(target.id for node in ast.parse(cell.source).body if isinstance(node, ast.Assign)
                     for target in node.targets)


def run_series_parameters(words: list[str]) -> list[str]:
    """The names of the ``-p NAME VALUE`` pairs in ``words``."""
    return [words[i + 1] for i, word in enumerate(words) if word == "-p"]


def chart_fullname(release: str, chart: str = "dask", name_override: str | None = None,
                   fullname_override: str | None = None) -> str:
    """``dask.fullname`` of the Dask Helm chart (dask/templates/_helpers.tpl): the release name if it
    contains the chart's name, else ``<release>-<chart>``; cut to 63 characters, one trailing ``-``
    trimmed (Helm's ``trunc 63 | trimSuffix "-"``)."""
    if fullname_override:
        return fullname_override[:63].removesuffix("-")
    name = name_override or chart
    if name in release:
        return release[:63].removesuffix("-")
    return f"{release}-{name}"[:63].removesuffix("-")


# --- the checks, each a list of problems of a page's text ---------------------------------------------

def command_problems(text: str) -> list[str]:
    """``dask scheduler`` / ``dask worker`` commands with options the pinned CLI does not have; calls
    of the removed ``dask-scheduler`` / ``dask-worker``; a page without both commands."""
    problems, seen = [], set()
    for words in bash_commands(text):
        for removed in REMOVED:
            if removed in words or any(w.endswith(f"/{removed}") for w in words):
                problems.append(f"calls {removed}, which distributed 2026.6 removed: {shlex.join(words)}")
        for i, word in enumerate(words[:-1]):
            if Path(word).name == "dask" and words[i + 1] in ("scheduler", "worker"):
                sub = words[i + 1]
                seen.add(sub)
                known = cli_options(str(BIN / "dask"), sub)
                problems += [f"dask {sub} has no option {option}: {shlex.join(words)}"
                             for option in options_used(words[i + 2:]) if option not in known]
    problems += [f"no `dask {sub}` command in the page's bash blocks" for sub in ("scheduler", "worker")
                 if sub not in seen]
    return problems


def values_problems(text: str) -> list[str]:
    """What the page's Helm values get wrong for the grid."""
    found = values(text)
    scheduler, worker = env_of(found["scheduler"]), env_of(found["worker"])
    workdir = next(line.split()[1] for line in dockerfile_instructions(text) if line.startswith("WORKDIR"))
    problems = []
    if worker.get("PYTHONPATH") != f"{workdir}/src":
        problems.append(f"worker PYTHONPATH {worker.get('PYTHONPATH')!r} is not the image's {workdir}/src")
    for name in ("PYTHONPATH", *slurm_grid.TF_THREADS):
        if scheduler.get(name) != worker.get(name):
            problems.append(f"scheduler.env {name}={scheduler.get(name)!r}, worker.env {worker.get(name)!r}")
    problems += [f"worker.env {name}={worker.get(name)!r}, not {value!r}"
                 for name, value in slurm_grid.TF_THREADS.items() if worker.get(name) != value]
    if found["worker"].get("threads_per_worker") != 1:
        problems.append(f"worker.threads_per_worker is {found['worker'].get('threads_per_worker')!r}, not 1")
    if found.get("jupyter", {}).get("enabled") is not False:
        problems.append("jupyter.enabled is not false: the chart deploys its own Jupyter pod")
    return problems


def service_problems(text: str) -> list[str]:
    """The port-forwarded service is not the chart's scheduler service of the installed release."""
    commands = bash_commands(text)
    installs = [w for w in commands if w[:2] == ["helm", "install"]]
    forwards = [w for w in commands if w[:2] == ["kubectl", "port-forward"]]
    if len(installs) != 1 or len(forwards) != 1:
        return [f"expected one helm install and one kubectl port-forward, found {installs} and {forwards}"]
    release, chart = installs[0][2:4]
    expected = f"svc/{chart_fullname(release, chart.split('/')[-1])}-scheduler"
    problems = [] if expected in forwards[0] else [f"port-forward {shlex.join(forwards[0])}: the chart "
                                                   f"names release {release}'s scheduler service {expected}"]
    for words in commands:  # helm template shows what the same release and values would start
        if words[:2] == ["helm", "template"] and words[2:4] != installs[0][2:4]:
            problems.append(f"{shlex.join(words)} renders another release than {shlex.join(installs[0])}")
    return problems


def parameter_problems(text: str) -> list[str]:
    """``-p NAME`` of a run_series or slurm_grid command, or of the SLURMCluster snippet, that notebook
    07 does not declare."""
    runs = [w for w in bash_commands(text) if any(x.endswith(("run_series.py", "slurm_grid.py")) for x in w)]
    for block in blocks(text, "python"):
        for node in ast.walk(ast.parse(block)):
            words = [e.value if isinstance(e, ast.Constant) else "<expr>" for e in getattr(node, "elts", [])]
            if isinstance(node, ast.List) and "tools/run_series.py" in words:
                runs.append(words)
    problems = [] if len(runs) >= 4 else [f"expected the page's four routes to run notebook 07, found {runs}"]
    for words in runs:
        only = words[words.index("--only") + 1:][:1] if "--only" in words else []
        if any(w.endswith("run_series.py") for w in words) and only != ["07"]:
            problems.append(f"{shlex.join(words)} does not run notebook 07 alone (--only 07)")
        problems += [f"notebook 07 has no parameter {name}: {shlex.join(words)}"
                     for name in run_series_parameters(words) if name not in notebook_07_parameters()]
    return problems


def scheduler_file_problems(text: str) -> list[str]:
    """A batch script whose scheduler file is not named after the job, or whose steps or login-node
    reader use another file."""
    commands = bash_commands(text)
    assigned = {w[0].split("=", 1)[0]: w[0].split("=", 1)[1] for w in commands if len(w) == 1 and "=" in w[0]}
    used = {w[w.index("--scheduler-file") + 1] for w in commands if "--scheduler-file" in w and "dask" in w}
    resolved = {re.sub(r"^\$\{?(\w+)\}?$", lambda m: assigned.get(m.group(1), m.group(0)), u) for u in used}
    if len(resolved) != 1:
        return [f"the scheduler and the workers use different scheduler files: {sorted(resolved)}"]
    (name,) = resolved
    problems = [] if "$SLURM_JOB_ID" in name else [f"scheduler file {name} is not named after the job "
                                                   "($SLURM_JOB_ID): a later job would read a dead address"]
    reader = name.replace("$SLURM_JOB_ID", "$JOB")
    if not any(reader in word for words in commands for word in words):
        problems.append(f"no login-node command reads {reader}")
    if "~/vae-scheduler-{job_id}.json" not in text:
        problems.append("the page does not name tools/slurm_grid.py's scheduler file "
                        "~/vae-scheduler-{job_id}.json")
    return problems


CHECKS = (command_problems, values_problems, service_problems, parameter_problems, scheduler_file_problems)


# --- the page ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_the_page_passes(check):
    assert check(PAGE.read_text()) == []


def test_the_checks_catch_a_planted_error():
    """The page with one error planted at a time: the check that covers it reports it."""
    text = PAGE.read_text()

    def planted(check, old: str, new: str) -> list[str]:
        assert text.count(old) >= 1, old
        return check(text.replace(old, new, 1))

    found = planted(command_problems, "dask scheduler --scheduler-file", "dask-scheduler --scheduler-file")
    assert found == [
        "calls dask-scheduler, which distributed 2026.6 removed: srun --ntasks=1 --exclusive dask-scheduler "
        "--scheduler-file '$SCHEDULER_FILE'",
        "no `dask scheduler` command in the page's bash blocks"]
    found = planted(command_problems, "--nthreads 1 --memory-limit", "--nthread 1 --memory-limit")
    assert len(found) == 1 and found[0].startswith("dask worker has no option --nthread:")
    found = planted(service_problems, "svc/vae-grid-dask-scheduler", "svc/vae-grid-scheduler")
    assert len(found) == 1 and "svc/vae-grid-dask-scheduler" in found[0]
    pythonpath = "    - {name: PYTHONPATH, value: /opt/vae-mnist-notebooks/src}\n"
    assert text.index("scheduler:\n  image:") < text.index(pythonpath) < text.index("worker:\n  image:")
    found = planted(values_problems, pythonpath, "")  # the first one: the scheduler's
    assert found == ["scheduler.env PYTHONPATH=None, worker.env '/opt/vae-mnist-notebooks/src'"]
    assert planted(values_problems, "jupyter:\n  enabled: false", "jupyter:\n  rbac: false") == [
        "jupyter.enabled is not false: the chart deploys its own Jupyter pod"]
    assert planted(values_problems, "threads_per_worker: 1", "threads_per_worker: 2") == [
        "worker.threads_per_worker is 2, not 1"]
    found = planted(parameter_problems, "-p SWEEP_DIR /shared/vae/experiments", "-p SWEEP_DIRS /shared/vae")
    assert len(found) == 1 and found[0].startswith("notebook 07 has no parameter SWEEP_DIRS:")
    found = planted(scheduler_file_problems, "~/vae-scheduler-$SLURM_JOB_ID.json", "~/vae-scheduler.json")
    assert found[0].startswith("scheduler file ~/vae-scheduler.json is not named after the job")


def test_the_pinned_distributed_has_only_the_unified_cli_and_the_page_says_which_it_pins():
    """The shims are needed: the pinned distributed has no dask-scheduler / dask-worker scripts."""
    assert (BIN / "dask").exists()
    assert not [name for name in REMOVED if (BIN / name).exists()]
    pinned = re.search(r"^distributed==(\d+\.\d+)\.", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    assert f"(the series pins {pinned})" in " ".join(PAGE.read_text().split())


def test_the_dockerfile_shims_run_the_unified_cli_with_the_arguments_of_older_chart_releases(tmp_path):
    """The shims of the page's Dockerfile, written by its own RUN line into a folder first on PATH, start
    the unified CLI; the arguments that chart releases before dask/helm-chart#535 give them (their
    templates dask-scheduler-deployment.yaml and dask-worker-deployment.yaml, rendered with the page's
    values) are options of that CLI, and the memory limit parses."""
    import distributed
    from dask.utils import parse_bytes

    text = PAGE.read_text()
    instructions = dockerfile_instructions(text)
    (run,) = [line for line in instructions if line.startswith("RUN") and "dask-scheduler" in line]
    assert not [line for line in instructions if line.startswith(("ENTRYPOINT", "CMD"))]
    shims = run.removeprefix("RUN ").replace("/usr/local/bin/", f"{tmp_path}/")
    subprocess.run(["sh", "-c", shims], check=True)
    env = {**os.environ, "PATH": os.pathsep.join([str(tmp_path), str(BIN), os.environ.get("PATH", "")])}
    for shim, sub in (("dask-scheduler", "scheduler"), ("dask-worker", "worker")):
        result = subprocess.run([shim, "--help"], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"Usage: dask {sub} [OPTIONS]"), result.stdout[:200]
        version = subprocess.run([shim, "--version"], env=env, capture_output=True, text=True, timeout=120)
        assert version.returncode == 0 and version.stdout.split()[-1] == distributed.__version__

    worker = values(text)["worker"]
    limits = worker["resources"]["limits"]
    scheduler_args = ["--port=8786", "--dashboard-address=:8787"]
    worker_args = [f"{chart_fullname('vae-grid')}-scheduler:8786",
                   "--nthreads", str(worker["threads_per_worker"]), "--memory-limit", str(limits["memory"]),
                   "--no-dashboard", "--dashboard-address", "8790"]
    assert set(options_used(scheduler_args)) <= cli_options(str(BIN / "dask"), "scheduler")
    assert set(options_used(worker_args)) <= cli_options(str(BIN / "dask"), "worker")
    assert parse_bytes(limits["memory"]) == 3 * 2**30


def test_the_chart_fullname_rule():
    assert chart_fullname("vae-grid") == "vae-grid-dask"
    assert chart_fullname("my-dask") == "my-dask" and chart_fullname("daskhub") == "daskhub"
    assert chart_fullname("x" * 70) == "x" * 63
    assert chart_fullname("a" * 58) == "a" * 58 + "-dask"
    assert chart_fullname("a" * 59) == "a" * 59 + "-das"
    assert chart_fullname("a" * 62) == "a" * 62  # "<62 a>-" cut to 63, then the "-" trimmed
    assert chart_fullname("vae-grid", fullname_override="grid") == "grid"


# --- SLURMCluster ----------------------------------------------------------------------------------------

def test_the_slurmcluster_snippet_writes_worker_jobs_the_pinned_cli_accepts(monkeypatch):
    """The page's SLURMCluster snippet, run with the job submission and notebook 07 recorded: 20 jobs,
    each a single-threaded worker with one TensorFlow thread and the checkout's src, whose command
    takes its options; notebook 07 runs on the cluster's address."""
    from dask_jobqueue import SLURMCluster

    (snippet,) = [b for b in blocks(PAGE.read_text(), "python") if "SLURMCluster" in b]
    seen = {}

    def scale(self, n=None, jobs=0, **kwargs):  # the constructor scales to its n_workers (0) too
        if n or jobs:
            seen.update(n=n, jobs=jobs, script=self.job_script(), address=self.scheduler_address)

    def run(command, **kwargs):
        seen.update(command=command, check=kwargs.get("check"))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(SLURMCluster, "scale", scale)
    monkeypatch.setattr(subprocess, "run", run)
    exec(compile(snippet, "docs/cluster.md", "exec"), {"__name__": "snippet"})
    monkeypatch.undo()

    assert (seen["n"], seen["jobs"]) == (None, 20)
    command = seen["command"]
    assert command[command.index("SCHEDULER_ADDRESS") + 1] == seen["address"] and seen["check"]
    assert set(run_series_parameters(command)) <= notebook_07_parameters()
    script = seen["script"]
    for variable in slurm_grid.TF_THREADS:
        assert re.search(rf"^export .*\b{variable}=1\b", script, re.M), script
    assert re.search(r"^export PYTHONPATH=\S+/src\b", script, re.M), script
    (line,) = [line for line in script.splitlines() if "-m distributed.cli.dask_worker" in line]
    words = shlex.split(line)
    assert words[0] == sys.executable and words[words.index("--nthreads") + 1] == "1"
    known = cli_options(sys.executable, "-m", "distributed.cli.dask_worker")
    assert set(options_used(words)) <= known, set(options_used(words)) - known


# --- tools/slurm_grid.py -------------------------------------------------------------------------------

SLURM_ENV = ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_JOB_ID", *slurm_grid.TF_THREADS)


def test_slurm_grid_names_the_scheduler_file_after_the_job():
    assert "{job_id}" in slurm_grid.SCHEDULER_FILE
    assert slurm_grid.SCHEDULER_FILE == str(Path.home() / "vae-scheduler-{job_id}.json")
    args, rest = slurm_grid.parse_arguments(["-p", "SWEEP_DIR", "/shared/x", "-p", "EPOCHS", "5"])
    assert args.scheduler_file == slurm_grid.SCHEDULER_FILE and not args.check
    assert rest == ["-p", "SWEEP_DIR", "/shared/x", "-p", "EPOCHS", "5"]
    for wrong in (["--scheduler-file", "/tmp/vae-scheduler.json"], ["--only", "08"],
                  ["-p", "SCHEDULER_ADDRESS", "tcp://x:1"]):
        with pytest.raises(SystemExit):
            slurm_grid.parse_arguments(wrong)


def test_slurm_grid_says_how_to_run_it_outside_srun_and_without_dask_jobqueue(monkeypatch, capsys):
    for name in SLURM_ENV:
        monkeypatch.delenv(name, raising=False)
    assert slurm_grid.main(["--check"]) == 2
    assert "not a task of srun" in capsys.readouterr().err
    monkeypatch.setenv("SLURM_PROCID", "0")
    monkeypatch.setenv("SLURM_JOB_ID", "17")
    monkeypatch.setenv("SLURM_NTASKS", "2")
    assert slurm_grid.main(["--check"]) == 2
    assert "at least 3 are needed" in capsys.readouterr().err
    monkeypatch.setenv("SLURM_NTASKS", "3")
    monkeypatch.setitem(sys.modules, "dask_jobqueue", None)
    monkeypatch.setitem(sys.modules, "dask_jobqueue.slurm", None)
    assert slurm_grid.main(["--check"]) == 2
    assert "pip install dask-jobqueue" in capsys.readouterr().err


def test_slurm_grid_runs_notebook_07_with_the_address_and_the_other_arguments(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda command, **kw: calls.append(command) or
                        subprocess.CompletedProcess(command, 3))
    assert slurm_grid.run_notebook("tcp://10.0.0.5:8786", ["-p", "SWEEP_DIR", "/shared/x"]) == 3
    (command,) = calls
    assert command[:2] == [sys.executable, str(ROOT / "tools" / "run_series.py")]
    assert command[2:] == ["--only", "07", "-p", "SCHEDULER_ADDRESS", "tcp://10.0.0.5:8786",
                           "-p", "SWEEP_DIR", "/shared/x"]
    assert set(run_series_parameters(command)) <= notebook_07_parameters()


def test_slurm_grid_sets_one_tensorflow_thread_unless_the_job_did():
    environ = {"PYTHONPATH": "/elsewhere", "TF_NUM_INTEROP_THREADS": "2"}
    slurm_grid.prepare_environment(environ)
    assert environ["TF_NUM_INTRAOP_THREADS"] == "1" and environ["TF_NUM_INTEROP_THREADS"] == "2"
    assert environ["PYTHONPATH"] == "/elsewhere"  # the job's own: this script does not change it
    from vae_machinery.grid import worker_env

    assert {k: v for k, v in worker_env(1).items() if k in slurm_grid.TF_THREADS} == slurm_grid.TF_THREADS


class _Future:
    def __init__(self, value):
        self.value = value

    def result(self):
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


class _Client:
    """What check_workers asks of a client: the workers and one task on each."""

    def __init__(self, workers):
        self.workers = workers

    def scheduler_info(self, n_workers=-1):
        return {"workers": {address: {"name": name, "nthreads": threads}
                            for address, (name, threads, _) in self.workers.items()}}

    def submit(self, function, workers, **kwargs):
        (address,) = workers
        return _Future(self.workers[address][2])


def test_slurm_grid_check_fails_on_a_worker_with_more_threads_or_without_the_helpers(capsys):
    good = {"name": "2", "vae_helpers": "/x/vae_helpers.py", **slurm_grid.TF_THREADS}
    assert slurm_grid.check_workers(_Client({"tcp://a:1": (2, 1, good)})) == 0
    assert "check passed: 1 worker," in capsys.readouterr().out
    for workers in ({"tcp://a:1": (2, 2, good)},
                    {"tcp://a:1": (2, 1, {**good, "TF_NUM_INTRAOP_THREADS": "4"})},
                    {"tcp://a:1": (2, 1, good), "tcp://b:1": (3, 1, ModuleNotFoundError("vae_helpers"))}):
        assert slurm_grid.check_workers(_Client(workers)) == 1
        assert "check failed on 1 of" in capsys.readouterr().err


@pytest.mark.slow
def test_slurm_grid_starts_a_cluster_from_three_srun_tasks(tmp_path):
    """tools/slurm_grid.py --check in three processes with the environments srun gives its tasks
    (SLURM_PROCID 0, 1, 2; SLURM_NTASKS 3; a job id), no TensorFlow thread variables set: the
    scheduler, the client and one worker. The client reports one worker with one task thread and
    one TensorFlow thread, which imported this checkout's helpers, and a scheduler file named after
    the job; all three end, with status 0, and leave no scheduler file behind."""
    job_id = str(random.randrange(10**6, 10**7))
    env = {k: v for k, v in os.environ.items() if k not in SLURM_ENV}
    env.update(SLURM_NTASKS="3", SLURM_JOB_ID=job_id)
    pattern = str(tmp_path / "vae-scheduler-{job_id}.json")
    command = [sys.executable, str(SLURM_GRID), "--check", "--scheduler-file", pattern, "--wait", "180"]
    procs = {}
    try:
        for rank in (2, 0, 1):  # srun starts its tasks in no particular order
            out = open(tmp_path / f"task{rank}.out", "w")
            procs[rank] = subprocess.Popen(command, env={**env, "SLURM_PROCID": str(rank)}, cwd=tmp_path,
                                           stdout=out, stderr=subprocess.STDOUT, text=True)
            out.close()
        deadline = time.monotonic() + 300
        for rank in (1, 0, 2):  # the client ends first and closes the cluster
            procs[rank].wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    logs = {rank: (tmp_path / f"task{rank}.out").read_text() for rank in procs}
    assert {rank: proc.returncode for rank, proc in procs.items()} == {0: 0, 1: 0, 2: 0}, logs
    client = logs[1]
    scheduler_file = tmp_path / f"vae-scheduler-{job_id}.json"
    assert re.search(rf"^scheduler tcp://\S+, 1 worker \(scheduler file {re.escape(str(scheduler_file))}\)$",
                     client, re.M), client
    (line,) = [line for line in client.splitlines() if line.startswith("worker ")]
    assert line.startswith("worker 2 (tcp://") and ": 1 task thread, " in line
    assert "TF_NUM_INTRAOP_THREADS=1, TF_NUM_INTEROP_THREADS=1" in line
    assert line.endswith(f"vae_helpers from {ROOT / 'src' / 'vae_helpers.py'}"), line
    assert "check passed: 1 worker," in client
    assert not list(tmp_path.glob("vae-scheduler-*.json")), "a finished job left its address behind"
