"""Runs bundles (vae_machinery.runs_bundle, tools/bundle_runs.py): pack the finished runs of a notebook,
fetch them from a file:// URL or a path, check them, unpack them whole or not at all. Tiny fake runs,
shaped like the real records (runs.write_run); nothing is trained."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

import vae_helpers as vh
from vae_machinery import runs_bundle as rb
from vae_machinery.errors import ParameterError
from vae_machinery.files import HISTORY_FILE, MODEL_FILE
from vae_machinery.parameters import check_parameters
from vae_machinery.runs import RUN_FILE, WEIGHTS_FILE, finished_run, matmul_precision_for, write_run

SETTINGS = dict(DATASET="mnist", LATENT_DIM=2, HIDDEN_DIM=512, EPOCHS=20, BATCH_SIZE=512, LEARNING_RATE=4e-3,
                LR_DECAY=0.25, TRAIN_IMAGES=None, IWAE_K=100)
# What a bundle of make_runs() holds: each finished run's record, model file and (07's runs) history.
PACKED = {"cvae/run.json", "cvae/model.weights.h5", "vae_seed43/run.json", "vae_seed43/model.weights.h5",
          "beta1_latent2/seed42/run.json", "beta1_latent2/seed42/vae.keras",
          "beta1_latent2/seed42/history.json"}


def _run(folder: Path, seed: int, model_file: str = WEIGHTS_FILE, precision: str | None = None) -> dict:
    """One finished run as 08-10 (model.weights.h5) or 07's grid (vae.keras, history.json) save it."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = dict(SETTINGS, SEED=seed)
    (folder / model_file).write_bytes(hashlib.sha256(f"{folder.name}{seed}".encode()).digest() * 64)
    if model_file == MODEL_FILE:
        (folder / HISTORY_FILE).write_text(json.dumps({"loss": [150.0, 140.0], "val_loss": [151.0, 141.0]}))
    return write_run(folder, settings, {"neg_elbo": 140.0 + seed / 100, "train_time_s": 100.0 + seed},
                     model_file=model_file, matmul_precision=precision or matmul_precision_for(settings),
                     log="epoch  1/20 ...\n")


def make_runs(root: Path) -> Path:
    """A run folder with three finished runs and what a bundle leaves out: an unfinished run, a
    partial weights file, results tables, a digit grid and a checkpoint."""
    _run(root / "cvae", 42)
    _run(root / "vae_seed43", 43)
    _run(root / "beta1_latent2" / "seed42", 42, model_file=MODEL_FILE)
    (root / "unfinished").mkdir()
    (root / "unfinished" / WEIGHTS_FILE).write_bytes(b"half-trained")  # no record: trained again
    (root / "cvae" / f".partial-{WEIGHTS_FILE}").write_bytes(b"partial")
    (root / "results.csv").write_text("run,neg_elbo\ncvae,140.42\n")
    (root / "digit_grid.npz").write_bytes(b"grid")
    (root / "checkpoint").mkdir()
    (root / "checkpoint" / "checkpoint.npz").write_bytes(b"checkpoint")
    return root


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path, with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(parent: Path) -> list[str]:
    """The temporary files and folders fetch_runs makes beside the run folder."""
    return sorted(p.name for p in parent.iterdir() if "-download-" in p.name or "-unpacking-" in p.name)


@pytest.fixture
def bundle(tmp_path):
    """(bundle path, its SHA-256, the source run folder); the .sha256 file beside it."""
    source = make_runs(tmp_path / "instructor" / "conditional")
    path = tmp_path / "www" / "08-runs.tar.gz"
    digest = rb.pack_runs(source, path)
    rb.write_sha256_file(path, digest)
    return path, digest, source


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def _write_tar(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> str:
    """A .tar.gz of plain files (and symbolic links), as a hand-made or tampered bundle; its SHA-256."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return rb.sha256_of(path)


# ------------------------------------------------------------------------------------------------
# Packing
# ------------------------------------------------------------------------------------------------
def test_a_bundle_holds_exactly_what_the_reuse_path_reads_with_a_true_manifest(bundle):
    path, digest, source = bundle
    members = _members(path)
    # No unfinished run, partial file, results table, digit grid or checkpoint:
    assert set(members) == PACKED | {rb.MANIFEST_FILE}
    manifest = json.loads(members[rb.MANIFEST_FILE])
    assert manifest["runs"] == ["beta1_latent2/seed42", "cvae", "vae_seed43"]
    assert set(manifest["files"]) == PACKED
    for name, entry in manifest["files"].items():
        data = (source / name).read_bytes()
        assert members[name] == data
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (path.parent / "08-runs.tar.gz.sha256").read_text() == f"{digest}  08-runs.tar.gz\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["08-runs.tar.gz", "08-runs.tar.gz.sha256"]


def test_the_same_runs_give_the_same_bundle(bundle, tmp_path):
    path, digest, source = bundle
    for run in source.rglob(RUN_FILE):  # other times on the files: the bytes of the bundle stay
        run.touch()
    assert rb.pack_runs(source, tmp_path / "again.tar.gz") == digest
    assert path.read_bytes()[3:8] == bytes(5)  # gzip header: no file name stored, modification time 0
    with tarfile.open(path, "r:gz") as tar:
        assert {(m.mtime, m.uid, m.gid, m.uname, m.mode) for m in tar.getmembers()} == {(0, 0, 0, "", 0o644)}


def test_a_folder_without_finished_runs_is_not_packed(tmp_path):
    (tmp_path / "runs" / "unfinished").mkdir(parents=True)
    with pytest.raises(rb.RunsBundleError, match="No finished runs"):
        rb.pack_runs(tmp_path / "runs", tmp_path / "b.tar.gz")
    assert not (tmp_path / "b.tar.gz").exists()


# ------------------------------------------------------------------------------------------------
# Fetching: the good routes
# ------------------------------------------------------------------------------------------------
def test_round_trip_through_a_file_url_with_its_sha256_fragment(bundle, tmp_path):
    path, digest, source = bundle
    target = tmp_path / "student" / "artifacts" / "conditional"
    line = rb.fetch_runs(f"{path.as_uri()}#sha256={digest}", target)
    assert line.startswith(f"Unpacked 3 runs (0 MB) from {path.as_uri()} into {target}")
    assert "reused" in line and "\n" not in line and "trained again" not in line
    unpacked = tree(target)
    assert unpacked.pop(rb.FETCHED_FILE)
    assert unpacked == {name: data for name, data in tree(source).items() if name in PACKED}
    assert finished_run(target / "cvae", dict(SETTINGS, SEED=42)) is not None  # the notebooks' reuse rule
    history = json.loads((target / "beta1_latent2" / "seed42" / HISTORY_FILE).read_text())
    assert history["val_loss"] == [151.0, 141.0]  # what vh.load_artifacts reads beside vae.keras
    assert leftovers(target.parent) == []


def test_round_trip_from_a_path_with_the_sha256_file_beside_it_then_nothing_to_do(bundle, tmp_path):
    path, digest, source = bundle
    target = tmp_path / "student" / "conditional"
    assert rb.fetch_runs(str(path), target).startswith("Unpacked 3 runs")
    before = tree(target)
    path.unlink()  # fetched and complete: not downloaded again
    again = rb.fetch_runs(f"{path}#sha256={digest}", target)
    assert again.startswith(f"The 3 runs of {path} are already in {target}: nothing fetched")
    assert tree(target) == before
    (target / "cvae" / RUN_FILE).unlink()  # one run gone: the bundle is needed again
    with pytest.raises(rb.RunsBundleError, match="Could not download"):
        rb.fetch_runs(f"{path}#sha256={digest}", target)


def test_a_finished_run_already_there_is_kept_and_an_unfinished_one_replaced(bundle, tmp_path):
    path, digest, _ = bundle
    target = tmp_path / "conditional"
    mine = _run(target / "cvae", 7)  # a student's own finished run, other settings
    mine_files = tree(target / "cvae")
    (target / "vae_seed43").mkdir()
    (target / "vae_seed43" / WEIGHTS_FILE).write_bytes(b"interrupted")  # no record: unfinished
    line = rb.fetch_runs(f"{path}#sha256={digest}", target)
    assert line.startswith("Unpacked 2 runs") and "kept the 1 already there (never overwritten)" in line
    assert tree(target / "cvae") == mine_files
    assert json.loads((target / "cvae" / RUN_FILE).read_text())["settings"] == mine["settings"]
    assert finished_run(target / "vae_seed43", dict(SETTINGS, SEED=43)) is not None
    assert (target / "vae_seed43" / WEIGHTS_FILE).read_bytes() != b"interrupted"
    assert leftovers(tmp_path) == []


def test_runs_of_another_precision_are_announced_as_trained_again(tmp_path):
    settings = dict(SETTINGS, SEED=42)
    other = {"float32": "bfloat16", "bfloat16": "float32"}[matmul_precision_for(settings)]
    source = tmp_path / "runs"
    _run(source / "cvae", 42, precision=other)
    digest = rb.pack_runs(source, tmp_path / "b.tar.gz")
    line = rb.fetch_runs(f"{tmp_path / 'b.tar.gz'}#sha256={digest}", tmp_path / "target")
    assert f"1 of them were trained with {other} products" in line and "train again here" in line


# ------------------------------------------------------------------------------------------------
# Fetching: errors leave nothing behind
# ------------------------------------------------------------------------------------------------
def test_a_wrong_checksum_is_a_clear_error_and_changes_nothing(bundle, tmp_path):
    path, digest, _ = bundle
    target = tmp_path / "conditional"
    _run(target / "vae", 42)
    before = tree(target)
    wrong = "0" * 64
    with pytest.raises(rb.RunsBundleError) as error:
        rb.fetch_runs(f"{path.as_uri()}#sha256={wrong}", target)
    message = str(error.value)
    assert path.as_uri() in message and wrong in message and digest in message
    assert "download it again" in message and "Nothing was unpacked" in message
    assert tree(target) == before
    assert leftovers(tmp_path) == []


def test_a_truncated_bundle_is_an_error_and_leaves_nothing(bundle, tmp_path):
    path, digest, _ = bundle
    partial = tmp_path / "partial.tar.gz"
    partial.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    target = tmp_path / "conditional"
    with pytest.raises(rb.RunsBundleError, match=f"expected {digest}"):
        rb.fetch_runs(f"{partial}#sha256={digest}", target)
    assert not target.exists()
    assert leftovers(tmp_path) == []


def test_a_download_that_stops_early_is_an_error_and_a_whole_one_unpacks(bundle, tmp_path):
    """Over HTTP (a local server): a response cut short of its Content-Length, then a whole one."""
    import http.server
    import threading

    path, digest, _ = bundle
    data = path.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2] if "partial" in self.path else data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        early = f"stopped early: {len(data) // 2:,} of {len(data):,} bytes"
        with pytest.raises(rb.RunsBundleError, match=early):
            rb.fetch_runs(f"{base}/partial.tar.gz#sha256={digest}", tmp_path / "a" / "conditional")
        assert not (tmp_path / "a" / "conditional").exists() and leftovers(tmp_path / "a") == []
        line = rb.fetch_runs(f"{base}/runs.tar.gz#sha256={digest}", tmp_path / "b" / "conditional")
        assert line.startswith(f"Unpacked 3 runs (0 MB) from {base}/runs.tar.gz into")
    finally:
        server.shutdown()
        server.server_close()


def test_a_file_that_does_not_match_the_manifest_stops_everything(bundle, tmp_path):
    path, _, _ = bundle
    members = _members(path)
    name = "vae_seed43/model.weights.h5"  # the last run moved: no run before it may land either
    members[name] = bytes(len(members[name]))  # same size, other bytes
    tampered = tmp_path / "tampered.tar.gz"
    digest = _write_tar(tampered, members)  # the outer digest is right
    target = tmp_path / "conditional"
    with pytest.raises(rb.RunsBundleError, match=f"does not match its manifest.*{name}"):
        rb.fetch_runs(f"{tampered.as_uri()}#sha256={digest}", target)
    assert not target.exists()
    assert leftovers(tmp_path) == []


def test_a_manifest_that_lists_files_outside_its_runs_is_refused(bundle, tmp_path):
    path, _, _ = bundle
    members = _members(path)
    manifest = json.loads(members[rb.MANIFEST_FILE])
    manifest["files"]["stray.txt"] = {"sha256": hashlib.sha256(b"x").hexdigest(), "size": 1}
    manifest["runs"].append("cvae/inner")  # and a run inside another run
    members.update({rb.MANIFEST_FILE: json.dumps(manifest).encode(), "stray.txt": b"x"})
    digest = _write_tar(tmp_path / "odd.tar.gz", members)
    with pytest.raises(rb.RunsBundleError, match="cvae: holds another run.*stray.txt: in no run"):
        rb.fetch_runs(f"{tmp_path / 'odd.tar.gz'}#sha256={digest}", tmp_path / "conditional")
    assert not (tmp_path / "conditional").exists()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(("members", "links", "refused"), [
    ({"../evil.txt": b"outside"}, {}, "../evil.txt"),
    ({"/tmp/evil.txt": b"absolute"}, {}, "/tmp/evil.txt"),
    ({}, {"cvae/link": "../../evil.txt"}, "cvae/link"),
])
def test_unsafe_members_are_refused(bundle, tmp_path, members, links, refused):
    path, _, _ = bundle
    hostile = tmp_path / "hostile.tar.gz"
    digest = _write_tar(hostile, {**_members(path), **members}, links)
    target = tmp_path / "sub" / "conditional"
    with pytest.raises(rb.RunsBundleError, match=f"holds '{refused}'.*refused"):
        rb.fetch_runs(f"{hostile}#sha256={digest}", target)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "sub" / "evil.txt").exists()
    assert not target.exists()
    assert leftovers(tmp_path / "sub") == []


def test_no_digest_or_a_bad_fragment_is_a_clear_error(bundle, tmp_path):
    path, _, _ = bundle
    path.with_name(path.name + ".sha256").unlink()
    with pytest.raises(rb.RunsBundleError, match=r"No SHA-256 .*#sha256="):
        rb.fetch_runs(str(path), tmp_path / "conditional")
    with pytest.raises(rb.RunsBundleError, match="only '#sha256='"):
        rb.fetch_runs(f"{path}#md5=abc", tmp_path / "conditional")
    with pytest.raises(rb.RunsBundleError, match="not a ftp: address"):
        rb.fetch_runs("ftp://example.org/runs.tar.gz#sha256=" + "a" * 64, tmp_path / "conditional")
    assert not (tmp_path / "conditional").exists()


# ------------------------------------------------------------------------------------------------
# The notebooks' parameter, the tool
# ------------------------------------------------------------------------------------------------
def test_the_runs_url_parameter_is_none_or_an_address():
    assert vh.fetch_runs is rb.fetch_runs  # what the notebooks call after their setup cell
    check_parameters(RUNS_URL=None)
    check_parameters(RUNS_URL="https://example.org/08-runs.tar.gz#sha256=" + "a" * 64)
    check_parameters(RUNS_URL="../bundles/08-runs.tar.gz")
    for bad in (42, "", "   ", ["https://example.org/b.tar.gz"], True):
        with pytest.raises(ParameterError, match=r"RUNS_URL = .* is not allowed: RUNS_URL must be None"):
            check_parameters(RUNS_URL=bad)


def test_the_tool_packs_a_notebooks_default_run_folder(tmp_path, capsys):
    from vae_tools import bundle_runs

    assert bundle_runs.default_run_folder(bundle_runs.find_notebook("08")) == (
        bundle_runs.ROOT / "artifacts" / "conditional")
    assert bundle_runs.default_run_folder(bundle_runs.find_notebook("07")) == (
        bundle_runs.ROOT / "artifacts" / "experiments")
    assert bundle_runs.default_run_folder(bundle_runs.find_notebook("10")).name == "collapse"
    source = make_runs(tmp_path / "runs")
    assert bundle_runs.main(["09", "--runs", str(source), "--out", str(tmp_path / "out"),
                             "--url-base", "https://example.org/runs/"]) == 0
    printed = capsys.readouterr().out
    bundle = tmp_path / "out" / "09_conv_vae-runs.tar.gz"
    digest = (tmp_path / "out" / "09_conv_vae-runs.tar.gz.sha256").read_text().split()[0]
    assert f'RUNS_URL = "https://example.org/runs/09_conv_vae-runs.tar.gz#sha256={digest}"' in printed
    assert f"{len(PACKED)} files + MANIFEST.json" in printed and "packed 3 finished runs" in printed
    assert digest == rb.sha256_of(bundle)
