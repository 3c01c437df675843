"""Pack the finished runs of notebook 07, 08, 09 or 10 into one bundle that students download.

    python tools/bundle_runs.py 08                        # build/bundles/08_conditional_vae-runs.tar.gz
    python tools/bundle_runs.py 07 --out /srv/www/runs --url-base https://example.org/runs

The run folder is the notebook's default, read from its parameters cell: ``SWEEP_DIR`` (07), or
``ARTIFACTS_DIR`` and the subfolder the notebook's code joins to it (``conditional``, ``conv``,
``collapse``), relative to ``notebooks/``; ``--runs`` names another folder. The bundle
(``src/vae_machinery/runs_bundle.py``) holds what the notebook reads when it reuses a run, with
the SHA-256 and size of every file; ``<name>.tar.gz.sha256`` is written beside it. The tool
prints the bundle's size, its file count, the training time its runs took, and the ``RUNS_URL``
line to give students (with ``#sha256=``): the notebook fetches, checks and unpacks the bundle,
then reuses every run.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
from pathlib import Path

from vae_machinery.runs import read_run
from vae_machinery.runs_bundle import pack_runs, read_manifest, write_sha256_file
from vae_tools.series import NOTEBOOKS, ROOT, notebooks
from vae_tools.series import number as series_number

# Where a notebook's code puts its runs inside ARTIFACTS_DIR: Path(ARTIFACTS_DIR) / "conditional".
_SUBFOLDER = re.compile(r"""Path\(ARTIFACTS_DIR\)\s*/\s*["']([^"'/]+)["']""")


def find_notebook(number: str) -> Path:
    """``notebooks/<number>_*.ipynb``."""
    found = [path for path in notebooks() if series_number(path) == f"{int(number):02d}"]
    if len(found) != 1:
        raise SystemExit(f"No single notebook {number} in {NOTEBOOKS} (found {[p.name for p in found]}).")
    return found[0]


def _code_cells(notebook: Path) -> list[dict]:
    return [cell for cell in json.loads(notebook.read_text())["cells"] if cell["cell_type"] == "code"]


def parameters_cell(notebook: Path) -> dict[str, object]:
    """The literal values of the notebook's parameters cell (the cell tagged ``parameters``)."""
    cells = [c for c in _code_cells(notebook) if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise SystemExit(f"{notebook.name} has {len(cells)} cells tagged 'parameters', not one.")
    values = {}
    for statement in ast.parse("".join(cells[0]["source"])).body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(
                statement.targets[0], ast.Name):
            values[statement.targets[0].id] = ast.literal_eval(statement.value)
    return values


def default_run_folder(notebook: Path) -> Path:
    """The folder of the notebook's runs with its default parameters: ``SWEEP_DIR``, or
    ``ARTIFACTS_DIR`` joined with the one subfolder the notebook's code puts its runs in."""
    parameters = parameters_cell(notebook)
    if "SWEEP_DIR" in parameters:
        return (NOTEBOOKS / str(parameters["SWEEP_DIR"])).resolve()
    if "ARTIFACTS_DIR" not in parameters:
        raise SystemExit(f"{notebook.name}'s parameters cell has no SWEEP_DIR or ARTIFACTS_DIR: "
                         "no runs to pack.")
    code = "\n".join("".join(cell["source"]) for cell in _code_cells(notebook))
    subfolders = sorted(set(_SUBFOLDER.findall(code)))
    if len(subfolders) != 1:
        raise SystemExit(f"{notebook.name} joins {subfolders or 'no subfolder'} to ARTIFACTS_DIR, not "
                         "exactly one folder of runs: name it with --runs.")
    return (NOTEBOOKS / str(parameters["ARTIFACTS_DIR"]) / subfolders[0]).resolve()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", help="the notebook's number: 07, 08, 09 or 10")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bundles",
                        help="the folder the bundle goes to (default: build/bundles)")
    parser.add_argument("--runs", type=Path, help="the folder of the runs (default: the notebook's own)")
    parser.add_argument("--url-base", help="where the bundle will be downloaded from, for the RUNS_URL line")
    args = parser.parse_args(argv)

    notebook = find_notebook(args.notebook)
    run_folder = args.runs.resolve() if args.runs else default_run_folder(notebook)
    bundle = args.out / f"{notebook.stem}-runs.tar.gz"
    digest = pack_runs(run_folder, bundle)
    sidecar = write_sha256_file(bundle, digest)

    manifest = read_manifest(bundle)  # what was packed, not what the folder holds now
    runs, files = manifest["runs"], manifest["files"]
    unpacked = sum(entry["size"] for entry in files.values())
    records = [read_run(run_folder / run) for run in runs]
    hours = sum(float(r["results"].get("train_time_s", 0.0)) for r in records if r is not None) / 3600
    where = f"{args.url_base.rstrip('/')}/{bundle.name}" if args.url_base else bundle.resolve().as_uri()
    print(f"{notebook.name}: packed {len(runs)} finished runs from {run_folder}")
    print(f"{bundle} ({bundle.stat().st_size / 1e6:.1f} MB; {len(files)} files + MANIFEST.json, "
          f"{unpacked / 1e6:.1f} MB unpacked); SHA-256 {digest} (also in {sidecar.name})")
    print(f"Training these runs took {hours:.2f} hours, as their records say (the test evaluations come "
          "on top)")
    if not args.url_base:
        print("Put the bundle where students can download it, and give them this line with that address "
              "(--url-base prints it):")
    print(f'RUNS_URL = "{where}#sha256={digest}"')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
