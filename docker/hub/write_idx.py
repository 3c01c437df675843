"""Write a dataset's four IDX files, gzipped, from the standard Keras download (docker/hub/Dockerfile).

    python write_idx.py FOLDER [DATASET ...]      # default: mnist

Each dataset goes to FOLDER/<dataset>/ under the standard names (train-images-idx3-ubyte.gz, ...),
where the series' loader looks when VAE_DATA_DIR (or DATA_DIR) is FOLDER. The arrays of the Keras
download are checked against the published SHA-256 sums before they are written, and the files are
read back through the same loader, so the image never holds a file the notebooks would refuse.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

from vae_machinery.idx_data import DATASETS, read_arrays, to_idx_bytes


def write_dataset(folder: Path, name: str) -> Path:
    """FOLDER/<name>/ with the four gzipped IDX files of ``name``, verified; returns that folder."""
    arrays, source = read_arrays(name, None)  # the Keras download, checked against the SHA-256 sums
    out = folder / name
    out.mkdir(parents=True, exist_ok=True)
    for key, filename in DATASETS[name]["files"].items():
        # mtime=0: the same bytes on every build; level 6 is a tenth of level 9's time, 2% larger
        compressed = gzip.compress(to_idx_bytes(arrays[key]), compresslevel=6, mtime=0)
        (out / f"{filename}.gz").write_bytes(compressed)
    read_arrays(name, out)  # read back as the notebooks will: parsed and checked again
    print(f"{DATASETS[name]['title']}: {source} -> {out} (SHA-256 verified)")
    return out


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print(__doc__)
        return 2
    unknown = [name for name in argv[1:] if name not in DATASETS]
    if unknown:
        print(f"unknown dataset(s) {unknown}: choose from {sorted(DATASETS)}")
        return 2
    for name in argv[1:] or ["mnist"]:
        write_dataset(Path(argv[0]), name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
