"""Convert saved runs of earlier versions of the series to its one run record, in place.

Before the run record (``run.json``, see ``src/vae_machinery/runs.py``) the
series saved runs in two ways: notebook 03 and 07's grid wrote ``config.json``
(settings and results in one flat dict, beside ``vae.keras``), and notebooks
08-10 wrote ``run.json`` with the precision under ``auto_precision``. This
script rewrites both as the record, so that the runs are reused instead of
trained again; nothing is retrained and the model files are not touched.
A ``config.json`` without ``val_loss`` comes from a version that trained on
the validation images too: it is left alone, and its run is trained again.

    python tools/convert_runs.py                 # every run under artifacts/
    python tools/convert_runs.py path/to/runs    # every run under another folder
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vae_machinery.files import MODEL_FILE
from vae_machinery.parameters import PLACES
from vae_machinery.runs import RUN_FILE, WEIGHTS_FILE, write_run

ROOT = Path(__file__).resolve().parent.parent

OLD_CONFIG_FILE = "config.json"
# What an old config.json held besides the settings (vh.train_and_save and notebook 03 wrote these).
RESULTS = ("test_neg_elbo", "test_bce", "test_kl", "test_log_px", "val_loss", "train_time_s")


def convert_config(folder: Path) -> str:
    """``folder/config.json`` (03, 07) as a run record; what was done, in a few words."""
    config = json.loads((folder / OLD_CONFIG_FILE).read_text())
    if not (folder / MODEL_FILE).is_file():
        return f"skipped: no {MODEL_FILE}"
    if "val_loss" not in config:
        return "skipped: trained before the validation split, train it again"
    settings = {k: v for k, v in config.items() if k not in (*RESULTS, *PLACES, "matmul_precision")}
    results = {k: config[k] for k in RESULTS if k in config}
    # Runs saved before the precision was recorded multiplied in float32.
    write_run(folder, settings, results, model_file=MODEL_FILE,
              matmul_precision=config.get("matmul_precision", "float32"))
    (folder / OLD_CONFIG_FILE).unlink()
    return "converted config.json"


def convert_record(folder: Path) -> str | None:
    """An 08-10 ``run.json`` with ``auto_precision`` as a run record; None if it is one already."""
    record = json.loads((folder / RUN_FILE).read_text())
    if "auto_precision" not in record:
        return None
    write_run(folder, record["settings"], record["results"], model_file=WEIGHTS_FILE,
              matmul_precision=record["auto_precision"], log=record.get("log", ""))
    return "converted run.json"


def convert_tree(root: Path) -> list[tuple[Path, str]]:
    """Convert every old run under ``root``; return (folder, what was done) for each one found."""
    done = []
    for path in sorted(root.rglob(OLD_CONFIG_FILE)):
        if not (path.parent / RUN_FILE).is_file():
            done.append((path.parent, convert_config(path.parent)))
    for path in sorted(root.rglob(RUN_FILE)):
        if (what := convert_record(path.parent)) is not None:
            done.append((path.parent, what))
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", default=str(ROOT / "artifacts"),
                        help="the folder to search (default: artifacts/)")
    root = Path(parser.parse_args(argv).root)
    if not root.is_dir():
        parser.error(f"{root} is not a folder")
    done = convert_tree(root)
    for folder, what in done:
        print(f"{folder}: {what}")
    print(f"{sum(w.startswith('converted') for _, w in done)} runs converted under {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
