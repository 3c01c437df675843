"""The instructor's finished runs, packed into one file and unpacked where the notebooks reuse them.

Notebooks 07-10 train many models (minutes to hours); each finished run is a folder with its
record and model (:mod:`vae_machinery.runs`). :func:`pack_runs` packs the finished runs of a
notebook's run folder (``SWEEP_DIR`` for 07, ``ARTIFACTS_DIR/conditional``, ``/conv``,
``/collapse`` for 08-10) into a ``.tar.gz`` bundle: of each run only what the reuse path reads,
its record (``run.json``), the model file the record names (``model.weights.h5`` or
``vae.keras``) and ``history.json`` where there is one (``vh.load_artifacts`` reads it), with a
``MANIFEST.json`` that lists every file's SHA-256 and size. ``tools/bundle_runs.py`` is the
command line.

:func:`fetch_runs` (a notebook's ``RUNS_URL``) downloads a bundle (``https://``, ``file://`` or
a local path), checks the whole file's SHA-256 (given as ``#sha256=<hex>`` after the address,
like pip's hash fragments, or read from ``<bundle>.sha256`` beside it), unpacks it into a
temporary folder beside the run folder, checks every file against the manifest, and only then
moves each run into place whole (one ``os.replace`` per run folder). A run already finished in
the run folder is never overwritten. Any error leaves no temporary file or half-unpacked run.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import ArtifactsError
from .files import HISTORY_FILE, atomic_write, write_json
from .runs import RUN_FILE, matmul_precision_for, read_run

MANIFEST_FILE = "MANIFEST.json"
# What a run folder remembers of the bundles unpacked into it (digest -> address, runs).
FETCHED_FILE = ".fetched_runs.json"
BUNDLE_FORMAT = 1
_CHUNK = 1 << 20
_HEX64 = re.compile(r"[0-9a-f]{64}")


class RunsBundleError(ArtifactsError):
    """A runs bundle cannot be fetched or unpacked: wrong digest, partial download, unsafe member."""


# --------------------------------------------------------------------------------------------
# Packing
# --------------------------------------------------------------------------------------------
def finished_runs(run_folder: str | os.PathLike) -> list[str]:
    """The finished runs under ``run_folder``: the folders below it (at any depth, e.g. 07's
    ``beta1_latent2/seed42``) that hold a record whose model file is there
    (:func:`~vae_machinery.runs.read_run`), as sorted POSIX paths relative to ``run_folder``.
    Hidden folders are skipped, and nothing below a run is searched."""
    root = Path(run_folder)
    found = []
    for folder, subfolders, _ in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        path = Path(folder)
        if path != root and read_run(path) is not None:
            found.append(path.relative_to(root).as_posix())
            subfolders[:] = []
    return sorted(found)


def run_files(run_dir: str | os.PathLike) -> list[str]:
    """The files of one finished run that the notebooks read when they reuse it: the record, the
    model file it names and ``history.json`` if there is one (not checkpoints or partial files)."""
    run_dir = Path(run_dir)
    record = read_run(run_dir)
    if record is None:
        raise RunsBundleError(f"{str(run_dir)!r} holds no finished run (no {RUN_FILE} with its model file).")
    model = record["model"]
    if PurePosixPath(model).name != model:
        raise RunsBundleError(f"The record in {str(run_dir)!r} names the model file {model!r}: a file name "
                              "beside the record is expected.")
    names = {RUN_FILE, model} | ({HISTORY_FILE} if (run_dir / HISTORY_FILE).is_file() else set())
    return sorted(names)


def sha256_of(path: str | os.PathLike) -> str:
    """The SHA-256 of a file, as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _tar_info(name: str, size: int) -> tarfile.TarInfo:
    """A plain file's header with nothing that changes from machine to machine or day to day."""
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


class _HashingReader:
    """A file read through once: what was read is hashed on the way (one pass for tar and manifest)."""

    def __init__(self, file: Any) -> None:
        self.file, self.digest = file, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk = self.file.read(size)
        self.digest.update(chunk)
        return chunk


def pack_runs(run_folder: str | os.PathLike, bundle_path: str | os.PathLike) -> str:
    """Pack the finished runs of ``run_folder`` into the ``.tar.gz`` file ``bundle_path``
    (written atomically) and return its SHA-256. The bundle holds, for each run, what
    :func:`run_files` names, and ``MANIFEST.json`` (the runs, each file's SHA-256 and size);
    unfinished runs and every other file (results tables, figures, checkpoints) stay out. The
    same runs give the same bytes (sorted names, fixed times and owners)."""
    root = Path(run_folder)
    runs = finished_runs(root)
    if not runs:
        raise RunsBundleError(f"No finished runs in {str(root)!r}: nothing to pack. Run the notebook first "
                              "(or name the folder that holds its runs).")
    files = {f"{run}/{name}": root / run / name for run in runs for name in run_files(root / run)}

    def write(tmp: Path) -> None:
        listing = {}
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, path in files.items():
                with open(path, "rb") as file:
                    size = os.fstat(file.fileno()).st_size
                    reader = _HashingReader(file)
                    tar.addfile(_tar_info(name, size), reader)  # fails if the file shrinks meanwhile
                listing[name] = {"sha256": reader.digest.hexdigest(), "size": size}
            manifest = {"format": BUNDLE_FORMAT, "runs": runs, "files": listing}
            text = json.dumps(manifest, indent=2).encode() + b"\n"
            tar.addfile(_tar_info(MANIFEST_FILE, len(text)), io.BytesIO(text))

    atomic_write(Path(bundle_path), write)
    return sha256_of(bundle_path)


def read_manifest(bundle_path: str | os.PathLike) -> dict[str, Any]:
    """The ``MANIFEST.json`` of a bundle: ``{"format", "runs", "files": {name: {"sha256", "size"}}}``."""
    with tarfile.open(bundle_path, "r:gz") as tar:
        try:
            member = tar.extractfile(MANIFEST_FILE)
        except KeyError:
            member = None
        if member is None:
            raise RunsBundleError(f"{str(bundle_path)!r} has no {MANIFEST_FILE}: not a runs bundle.")
        return json.loads(member.read())


def write_sha256_file(bundle_path: str | os.PathLike, digest: str) -> Path:
    """Write ``<bundle>.sha256`` beside the bundle (``sha256sum``'s format, so ``sha256sum -c``
    checks it too); :func:`fetch_runs` reads it when the address has no ``#sha256=``."""
    bundle = Path(bundle_path)
    path = bundle.with_name(bundle.name + ".sha256")
    atomic_write(path, lambda tmp: tmp.write_text(f"{digest}  {bundle.name}\n"))
    return path


# --------------------------------------------------------------------------------------------
# Fetching
# --------------------------------------------------------------------------------------------
def _split_address(runs_url: str) -> tuple[str, str | None]:
    """``(url, digest)``: the bundle's URL (a local path becomes a ``file://`` URL) and the
    SHA-256 of its ``#sha256=`` fragment, or None without one."""
    address, has_fragment, fragment = runs_url.strip().partition("#")
    digest = None
    if has_fragment:
        key, _, value = fragment.partition("=")
        digest = value.strip().lower()
        if key != "sha256" or not _HEX64.fullmatch(digest):
            raise RunsBundleError(f"RUNS_URL {runs_url!r} ends in '#{fragment}': after the address only "
                                  "'#sha256=' and the bundle's 64 hex digits may follow "
                                  "(tools/bundle_runs.py prints the whole line).")
    scheme = urllib.parse.urlsplit(address).scheme.lower()
    if scheme in ("http", "https", "file"):
        return address, digest
    if scheme and len(scheme) > 1:  # a one-letter scheme is a Windows drive: C:\runs\...
        raise RunsBundleError(f"RUNS_URL {runs_url!r}: give an https:// or file:// URL or a path of a runs "
                              f"bundle, not a {scheme}: address.")
    return Path(address).expanduser().resolve().as_uri(), digest


def _open(url: str) -> Any:
    """The response for ``url`` (https, http or file only: :func:`_split_address` checks the scheme)."""
    return urllib.request.urlopen(url, timeout=60)


def _sidecar_digest(url: str, runs_url: str) -> str:
    """The digest in ``<bundle>.sha256`` beside the bundle at ``url``."""
    sidecar = url + ".sha256"
    try:
        with _open(sidecar) as response:
            text = response.read(4096).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise RunsBundleError(f"No SHA-256 for the runs bundle {runs_url!r}: RUNS_URL has no '#sha256=<hex>' "
                              f"and {sidecar} cannot be read ({error}). Give RUNS_URL as printed by "
                              "tools/bundle_runs.py, with its #sha256=, or put the .sha256 file beside the "
                              "bundle.") from None
    digest = (text.split() or [""])[0].lower()
    if not _HEX64.fullmatch(digest):
        raise RunsBundleError(f"{sidecar} does not start with a SHA-256 (64 hex digits): {text[:80]!r}.")
    return digest


def _download(url: str, target: Path, expected: str, runs_url: str) -> int:
    """Download ``url`` into ``target`` and check its length and SHA-256; return its size."""
    digest, size = hashlib.sha256(), 0
    try:
        with _open(url) as response, open(target, "wb") as out:
            announced = response.headers.get("Content-Length")
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        raise RunsBundleError(f"Could not download the runs bundle {runs_url!r} ({error}). Check the address "
                              "(RUNS_URL) and the connection; nothing was unpacked.") from None
    actual = digest.hexdigest()
    if announced is not None and announced.isdigit() and int(announced) != size:
        raise RunsBundleError(f"The download of the runs bundle {runs_url!r} stopped early: {size:,} of "
                              f"{int(announced):,} bytes (SHA-256 {actual}, expected {expected}). Run the "
                              "cell again to download it again; nothing was unpacked.")
    if actual != expected:
        raise RunsBundleError(f"The runs bundle {runs_url!r} is not the expected file: its SHA-256 is "
                              f"{actual} ({size:,} bytes), expected {expected}. A partial or damaged "
                              "download, or another bundle than the digest was made for: download it again, "
                              "or take RUNS_URL (with its #sha256=) from the same place as the bundle. "
                              "Nothing was unpacked.")
    return size


def _check_member(member: tarfile.TarInfo, runs_url: str) -> None:
    """Refuse anything but plain files and folders at relative paths inside the bundle."""
    path = PurePosixPath(member.name)
    if member.issym() or member.islnk():
        problem = "a link"
    elif not (member.isfile() or member.isdir()):
        problem = "not a plain file"
    elif path.is_absolute() or ".." in path.parts or member.name.startswith("\\"):
        problem = "a path outside the folder it is unpacked into"
    else:
        return
    raise RunsBundleError(f"The runs bundle {runs_url!r} holds {member.name!r}, {problem}: refused, nothing "
                          "was unpacked. A bundle packed by tools/bundle_runs.py holds plain files only.")


def _unpack(bundle: Path, staging: Path, runs_url: str) -> dict[str, Any]:
    """Unpack ``bundle`` into the empty folder ``staging``, check every file against the
    manifest and every run's record; return the manifest."""
    try:
        with tarfile.open(bundle, "r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member, runs_url)
            tar.extractall(staging, filter="data")
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        raise RunsBundleError(f"The runs bundle {runs_url!r} cannot be unpacked ({error}); nothing was "
                              "unpacked. Pack it again with tools/bundle_runs.py.") from None
    try:
        manifest = json.loads((staging / MANIFEST_FILE).read_text())
        runs, listing = list(manifest["runs"]), dict(manifest["files"])
    except (OSError, ValueError, KeyError, TypeError):
        raise RunsBundleError(f"The runs bundle {runs_url!r} has no readable {MANIFEST_FILE}: not a bundle "
                              "of tools/bundle_runs.py; nothing was unpacked.") from None
    present = {p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file()} - {MANIFEST_FILE}
    problems = [f"{name}: missing" for name in sorted(set(listing) - present)]
    problems += [f"{name}: not in the manifest" for name in sorted(present - set(listing))]
    for name in sorted(set(listing) & present):
        path, entry = staging / name, listing[name]
        if path.stat().st_size != entry.get("size") or sha256_of(path) != entry.get("sha256"):
            problems.append(f"{name}: its size or SHA-256 is not the manifest's")
    for run in runs:
        path = PurePosixPath(run)
        if (path.as_posix() != run or run in ("", ".") or path.is_absolute() or ".." in path.parts
                or read_run(staging / run) is None):
            problems.append(f"{run}: not a finished run in the bundle")
        elif any(other.startswith(f"{run}/") for other in runs):
            problems.append(f"{run}: holds another run")
    problems += [f"{name}: in no run" for name in sorted(listing)
                 if not any(name.startswith(f"{run}/") for run in runs)]
    if problems:
        raise RunsBundleError(f"The runs bundle {runs_url!r} does not match its manifest ("
                              + "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
                              + "); nothing was unpacked. Pack it again with tools/bundle_runs.py.")
    return manifest


def _move_runs(staging: Path, run_folder: Path, runs: Sequence[str]) -> tuple[list[str], list[str]]:
    """Move each run of ``staging`` into ``run_folder`` whole; a finished run there stays (an
    unfinished folder, which the notebooks would train again, is replaced). Returns the runs
    moved and the runs kept."""
    moved, kept = [], []
    for i, run in enumerate(runs):
        target = run_folder / run
        if read_run(target) is not None:
            kept.append(run)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() or target.is_symlink():
            os.replace(target, staging / f".unfinished-{i}")  # removed with the staging folder
        os.replace(staging / run, target)
        moved.append(run)
    return moved, kept


def _fetched(run_folder: Path) -> dict[str, Any]:
    try:
        return json.loads((run_folder / FETCHED_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _precision_note(run_folder: Path, runs: Sequence[str]) -> str:
    """Empty if this machine reuses the runs' products; else what it will do instead."""
    records = [r for r in (read_run(run_folder / run) for run in runs) if r is not None]
    other = [r for r in records if r["matmul_precision"] != matmul_precision_for(r["settings"])]
    if not other:
        return ""
    here = matmul_precision_for(other[0]["settings"])
    return (f"; but {len(other)} of them were trained with {other[0]['matmul_precision']} products and this "
            f"machine computes in {here}: those train again here")


def fetch_runs(runs_url: str, run_folder: str | os.PathLike) -> str:
    """Download the runs bundle at ``runs_url`` (an ``https://`` or ``file://`` URL, or a path;
    its SHA-256 as ``#sha256=<hex>`` after it, or in ``<bundle>.sha256`` beside it), check it and
    unpack its runs into ``run_folder``; return one line to print.

    The whole file's SHA-256 is checked first (a wrong one, or a partial download, is an error
    that says what to do), then every file against the bundle's manifest; unsafe members
    (absolute paths, ``..``, links) are refused. Only then does each run move into place, whole;
    a finished run already in ``run_folder`` is kept, never overwritten. On any error no temporary
    file and no half-unpacked run stays behind (runs already moved into place stay, each whole). A
    bundle already unpacked there, its runs all still present, is not downloaded again
    (``run_folder/.fetched_runs.json`` remembers it). A path holding ``#`` must be given as a
    ``file://`` URL with the ``#`` written ``%23``.
    """
    url, expected = _split_address(runs_url)
    if expected is None:
        expected = _sidecar_digest(url, runs_url)
    run_folder = Path(run_folder)
    shown = runs_url.strip().partition("#")[0]
    earlier = _fetched(run_folder).get(expected)
    if earlier and all(read_run(run_folder / run) is not None for run in earlier["runs"]):
        note = _precision_note(run_folder, earlier["runs"])
        return (f"The {len(earlier['runs'])} runs of {shown} are already in {run_folder}: nothing fetched; "
                f"every run below with these settings is reused{note}.")
    parent = run_folder.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    download = staging = None
    try:
        fd, name = tempfile.mkstemp(dir=parent, prefix=f".{run_folder.name}-download-", suffix=".tar.gz")
        os.close(fd)
        download = Path(name)
        staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{run_folder.name}-unpacking-"))
        _download(url, download, expected, shown)
        manifest = _unpack(download, staging, shown)
        moved, kept = _move_runs(staging, run_folder, manifest["runs"])
        write_json(run_folder / FETCHED_FILE,
                   {**_fetched(run_folder), expected: {"url": shown, "runs": manifest["runs"]}})
    finally:
        if download is not None:
            download.unlink(missing_ok=True)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    sizes: Mapping[str, Any] = manifest["files"]
    megabytes = sum(entry["size"] for name, entry in sizes.items()
                    if any(name.startswith(f"{run}/") for run in moved)) / 1e6
    kept_note = f", kept the {len(kept)} already there (never overwritten)" if kept else ""
    return (f"Unpacked {len(moved)} runs ({megabytes:.0f} MB) from {shown} into {run_folder}{kept_note}: "
            f"a run below with the settings it was trained with is reused, not trained"
            f"{_precision_note(run_folder, manifest['runs'])}.")
