"""Run the notebooks of the series with papermill, in dependency order.

Notebooks 07-10 are not part of the series run: each trains models of its own,
for minutes to hours (07, the experiments: 43 training runs, 192 minutes of
training two at a time; 08-10, the conditional and convolutional VAEs and
posterior collapse: six trainings of 2 to 3 minutes, 1.8 hours and 9 minutes). Select them
with ``--only``, e.g. ``--only 07`` or ``--only 08 09``, or ``--from 08``; each runs alone.

01 and 02 run at the same time, then 03 (training) alone, then 04-06 together,
once 03 has saved the model they read: kernel start-ups and imports are
single-threaded, so two notebooks share a 2-core CPU well, but training uses
every core.

Examples (from the repository root; ``make run`` calls this)::

    python tools/run_series.py                      # defaults, into build/notebooks/
    python tools/run_series.py -p EPOCHS 5 -p LATENT_DIM 10
    python tools/run_series.py --inplace            # refresh the committed notebooks
    python tools/run_series.py --only 07 -p EPOCHS 1   # a quick experiments sweep
    python tools/run_series.py --from 08            # 08 onwards: beyond the basic VAE (about 2 hours)

Each ``-p NAME VALUE`` is passed to every notebook that declares ``NAME`` in
its ``parameters`` cell (values are Python literals: ints, floats,
True/False/None, lists such as ``[42, 43]``, else strings; the parser is
``vae_machinery.parameters.parse_value``, which ``tools/editions.py grade``
shares). A name no notebook declares is an error, so a typo does not silently
run the defaults.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import papermill as pm

from vae_machinery.parameters import parse_value
from vae_tools.series import NOTEBOOKS, ROOT, TRAINING, notebooks, number, on_request, sync_defaults

EXPERIMENTS = "07_experiments.ipynb"  # runs notebook 03 once per setting (its SWEEP_DIR holds the runs)


def series(include_experiments: bool = False) -> list[Path]:
    """The notebooks ``make run`` executes (01-06); with ``include_experiments``
    also those run on request only (07 onwards)."""
    return [p for p in notebooks() if include_experiments or not on_request(p)]


def stages(paths: list[Path]) -> list[list[Path]]:
    """Group the notebooks into stages; the notebooks of a stage run at the
    same time. 01 and 02 (short, mostly single-threaded) together; 03 alone,
    since training uses every core and slows down when anything runs beside
    it; then the notebooks that read the model 03 saved, together. Notebooks
    07 onwards train models of their own: each runs alone."""
    before = [p for p in paths if number(p) < TRAINING]
    training = [p for p in paths if number(p) == TRAINING]
    after = [p for p in paths if number(p) > TRAINING and not on_request(p)]
    alone = [[p] for p in paths if on_request(p)]
    return [s for s in (before, training, after, *alone) if s]


def declared_parameters(path: Path) -> set[str]:
    return set(pm.inspect_notebook(str(path)))


def strip_papermill_metadata(path: Path) -> None:
    """Remove papermill's timing metadata so committed notebooks diff cleanly."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)


def start_notebook(path: Path, out: Path, params: dict, log) -> subprocess.Popen:
    """Execute ``path`` into ``out`` with papermill in a process of its own.
    Its kernel's stderr (TensorFlow's start-up log, Jupyter's transport
    warnings) goes to ``log``; the cells' outputs go into ``out``."""
    cmd = [sys.executable, "-m", "papermill", str(path), str(out), "-k", "python3",
           "--cwd", str(NOTEBOOKS), "--no-progress-bar", "--no-log-output", "-y", json.dumps(params)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)


def failure(out: Path) -> str:
    """The error of the cell that failed in the executed notebook ``out``."""
    try:
        nb = nbformat.read(out, as_version=4)
    except (OSError, ValueError):
        return "papermill could not run it"
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"cell {cell.get('execution_count')}: {output['ename']}: {output['evalue']}"
    return "papermill stopped before a cell failed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"), help="parameter passed to every notebook that has it")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--output-dir", type=Path, default=ROOT / "build" / "notebooks",
                       help="where the executed notebooks go (default: build/notebooks)")
    where.add_argument("--inplace", action="store_true",
                       help="overwrite the notebooks in notebooks/ (maintainers, before a commit)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--only", nargs="*", default=None,
                       help="run only notebooks whose name starts with one of these prefixes, e.g. 03 04")
    which.add_argument("--from", dest="first", metavar="NN", default=None,
                       help="run every notebook from number NN on, e.g. --from 08 (make beyond)")
    args = parser.parse_args(argv)

    params = {name: parse_value(value) for name, value in args.parameter}
    paths = series(include_experiments=bool(args.only or args.first))
    if args.only:
        paths = [p for p in paths if any(p.name.startswith(o) for o in args.only)]
    if args.first:
        paths = [p for p in paths if number(p) >= args.first.zfill(2)]
    if not paths:
        wanted = " or ".join(args.only) if args.only else f"{args.first} or later"
        print(f"error: no notebook starts with {wanted}", file=sys.stderr)
        return 2
    declared = {p: declared_parameters(p) for p in paths}
    unknown = set(params) - set().union(*declared.values())
    if unknown:
        known = ", ".join(sorted(set().union(*declared.values())))
        print(f"error: unknown parameter(s) {', '.join(sorted(unknown))}; the notebooks take: {known}",
              file=sys.stderr)
        return 2
    if args.inplace and params:
        print("error: --inplace refreshes the committed notebooks with their defaults; "
              "drop the parameters or use --output-dir", file=sys.stderr)
        return 2

    if args.inplace:  # the parameters cells take their defaults from their one home, SERIES_DEFAULTS
        from vae_machinery.parameters import SERIES_DEFAULTS

        for path in paths:
            changed = sync_defaults(path, SERIES_DEFAULTS)
            if changed:
                print(f"{path.name}: defaults of {', '.join(changed)} set from SERIES_DEFAULTS", flush=True)
    out_dir = NOTEBOOKS if args.inplace else args.output_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    shown = " ".join(f"{k}={v!r}" for k, v in params.items()) or "defaults"
    print(f"Running {len(paths)} notebook{'s' if len(paths) > 1 else ''} ({shown}) -> {out_dir}", flush=True)
    log_path = ROOT / "build" / "kernel-stderr.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start_all = time.perf_counter()
    with open(log_path, "wb") as log:
        for stage in stages(paths):
            if len(stage) > 1:
                print(f"  {', '.join(p.stem[:2] for p in stage)} at the same time:", flush=True)
            running = {}
            for path in stage:
                mine = {k: v for k, v in params.items() if k in declared[path]}
                running[path] = (start_notebook(path, out_dir / path.name, mine, log), time.perf_counter())
            failed = []
            while running:
                for path, (proc, start) in list(running.items()):
                    if proc.poll() is None:
                        continue
                    del running[path]
                    out = out_dir / path.name
                    if proc.returncode != 0:
                        print(f"  {path.name:<28}FAILED", flush=True)
                        failed.append(f"{path.name} failed in {failure(out)}\n"
                                      f"The executed notebook with the error is {out}")
                        continue
                    if args.inplace:
                        strip_papermill_metadata(out)
                    print(f"  {path.name:<28}{time.perf_counter() - start:6.1f} s", flush=True)
                time.sleep(0.1)
            if failed:
                print("\n" + "\n".join(failed) + f"\nKernel log: {log_path}", file=sys.stderr)
                return 1
    print(f"Done in {time.perf_counter() - start_all:.1f} s. Figures are in {figures_folder(params, paths)}.")
    return 0


def figures_folder(params: dict, paths: list[Path]) -> Path:
    """Where the notebooks wrote their figures: the rule they follow themselves
    (vae_machinery.parameters.figures_dir), for this run's parameters."""
    from vae_machinery.parameters import SERIES_DEFAULTS, figures_dir, is_default_run

    run_dir = "SWEEP_DIR" if any(p.name == EXPERIMENTS for p in paths) else "ARTIFACTS_DIR"
    folder = figures_dir(params.get("IMGS_DIR"), params.get(run_dir, SERIES_DEFAULTS[run_dir]),
                         is_default_run(**params))
    return (NOTEBOOKS / folder).resolve()


if __name__ == "__main__":
    sys.exit(main())
