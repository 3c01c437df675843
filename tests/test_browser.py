"""Real-browser checks: the series in JupyterLab and the HTML report, in headless Chromium.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them);
skipped when no Chromium is installed. JupyterLab runs on a free localhost port
with a token, on a temporary copy of notebooks/ and imgs/, with its settings,
workspaces and runtime files in a temporary folder too, so neither the
repository nor the user's Jupyter state is touched. Server, kernels and browser
are always shut down.
"""

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import export_report as er  # tools/, on sys.path through conftest.py
import pytest

ROOT = Path(__file__).resolve().parent.parent

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LAB_NOTEBOOK = ROOT / "notebooks" / "01_data.ipynb"
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--window-size=1280,1400"]
WAIT = 60  # seconds, for the slowest step (JupyterLab's first render on a busy 2-core machine)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium installed (apt-get install chromium chromium-driver): real-browser tests skipped",
)


def first_heading(path: Path) -> str:
    return json.loads(path.read_text())["cells"][0]["source"][0].lstrip("#").strip()


def png_outputs(path: Path) -> int:
    cells = json.loads(path.read_text())["cells"]
    return sum("image/png" in o.get("data", {}) for c in cells for o in c.get("outputs", []))


def markdown_images(path: Path) -> int:
    cells = json.loads(path.read_text())["cells"]
    markdown = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return len(re.findall(r"!\[[^\]]*\]\(|<img\b", markdown))


def check_screenshot(path: Path) -> None:
    from PIL import Image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "a PNG file"
    with Image.open(path) as img:
        assert img.width >= 800 and img.height >= 600
        gray = img.convert("L")
        low, high = gray.getextrema()
        assert high - low > 100, "not a blank screenshot"
        assert len(img.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 50, "more than a few flat colours"


def wait_for(driver, script: str, what: str, *args, timeout: float = WAIT):
    """Poll a JavaScript function body until it returns a truthy value (a dict: with `ok` true);
    fail naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = driver.execute_script(script, *args)
        if value and (not isinstance(value, dict) or value.get("ok")):
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout} s waiting for {what}; last state: {value}")


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def browser():
    if CHROMEDRIVER is None:
        pytest.fail(f"Chromium is installed ({CHROMIUM}) but chromedriver is not: "
                    "apt-get install chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.binary_location = CHROMIUM  # with the driver's path given too, Selenium Manager downloads nothing
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_pids(pid: int) -> list[int]:
    """Processes whose parent is pid (Linux /proc; empty elsewhere)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab as `make lab` starts it (this environment's `jupyter lab`), on a copy of the series."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    shutil.copytree(ROOT / "notebooks", root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copytree(ROOT / "imgs", root / "imgs")
    settings = base / "settings"
    # render every cell (no virtual scrolling) so all outputs are in the DOM; no news pop-up
    _write_json(settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings",
                {"windowingMode": "none"})
    _write_json(settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings",
                {"fetchNews": "false", "checkForUpdates": False})
    env = {**os.environ,
           "JUPYTER_CONFIG_DIR": str(base / "config"), "JUPYTER_DATA_DIR": str(base / "data"),
           "JUPYTER_RUNTIME_DIR": str(base / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"), "IPYTHONDIR": str(base / "ipython")}
    token, port = secrets.token_hex(16), free_port()
    jupyter = Path(sys.executable).with_name("jupyter")
    cmd = [str(jupyter), "lab"] if jupyter.exists() else [sys.executable, "-m", "jupyterlab"]
    cmd += ["--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI runs as root
    log_path = base / "jupyter.log"
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root,
                                start_new_session=True)
    seen_children: set[int] = set()

    def api(path: str, method: str = "GET"):
        request = urllib.request.Request(url + path, method=method,
                                         headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()

    try:
        deadline = time.monotonic() + WAIT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if api("/api/status")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not answer within {WAIT} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield {"url": url, "token": token, "pid": proc.pid, "root": root, "api": api,
               "children": seen_children, "log": log_path}
    finally:
        seen_children.update(child_pids(proc.pid))
        with contextlib.suppress(OSError):
            api("/api/shutdown", method="POST")  # stops the kernels, then the server
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        for pid in seen_children:  # kernels live in sessions of their own
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------- tests

def test_jupyterlab_renders_a_notebook_of_the_series(lab, browser, tmp_path):
    before = tree_digest(ROOT / "notebooks")
    title, images = first_heading(LAB_NOTEBOOK), png_outputs(LAB_NOTEBOOK)
    browser.get(f"{lab['url']}/lab/tree/notebooks/{LAB_NOTEBOOK.name}?token={lab['token']}")
    state = wait_for(browser, """
        const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
        if (!panel) return null;
        const h1 = panel.querySelector('.jp-MarkdownCell h1');
        const imgs = [...panel.querySelectorAll('.jp-OutputArea-output img')];
        const bar = document.querySelector('#jp-main-statusbar');
        const s = {title: h1 ? h1.textContent : null,
                   images: imgs.map(i => i.complete ? i.naturalWidth : -1),
                   status: bar ? bar.innerText : ''};
        s.ok = s.title !== null && s.title.startsWith(arguments[0]) && imgs.length === arguments[1]
               && s.images.every(w => w > 0) && /Python 3 \\(ipykernel\\) \\| Idle/.test(s.status);
        return s;
    """, f"the notebook's title {title!r}, {images} loaded output images and an idle Python 3 kernel",
        title, images)
    assert state["title"].startswith(title)

    problems = browser.execute_script("""
        const bad = '.jp-Dialog, .Toastify__toast--error, .jp-Notebook .jp-mod-error';
        return [...document.querySelectorAll(bad)]
            .map(e => e.className + ': ' + e.innerText.slice(0, 200));""")
    assert problems == [], f"error dialog or banner: {problems}"

    # the kernel JupyterLab started is this environment's Python
    kernels = [pid for pid in child_pids(lab["pid"]) if "ipykernel_launcher" in " ".join(cmdline(pid))]
    lab["children"].update(kernels)
    if Path("/proc").is_dir():
        assert kernels, "JupyterLab started no ipykernel"
        assert Path(cmdline(kernels[0])[0]).parent.parent.resolve() == Path(sys.prefix).resolve()

    shot = tmp_path / "lab.png"
    assert browser.save_screenshot(str(shot))
    check_screenshot(shot)
    assert tree_digest(ROOT / "notebooks") == before, "notebooks/ was modified"


def test_html_report_index_links_resolve_to_pages_with_their_titles(browser, tmp_path):
    built, copied = tmp_path / "built", tmp_path / "elsewhere" / "report"
    er.export(ROOT / "notebooks", built)
    shutil.copytree(built, copied)  # the folder must work wherever it is copied
    shutil.rmtree(built)

    browser.get((copied / "index.html").as_uri())
    links = browser.execute_script(
        "return [...document.querySelectorAll('ol a')].map(a => [a.href, a.textContent]);")
    assert [Path(href).name for href, _ in links] == [p.stem + ".html" for p in NOTEBOOKS]
    assert [text for _, text in links] == [first_heading(p).replace("`", "") for p in NOTEBOOKS]

    for i, (href, text) in enumerate(links):
        browser.get(href)
        state = wait_for(browser, """
            if (document.readyState !== 'complete') return null;
            const imgs = [...document.images];
            const outside = performance.getEntriesByType('resource').map(r => r.name)
                .filter(n => !n.startsWith('file:') && !n.startsWith('data:'));
            const h1 = document.querySelector('h1');
            const next = document.querySelector('.report-nav .report-next');
            return {ok: imgs.every(im => im.complete), title: document.title, h1: h1 && h1.textContent,
                    images: imgs.map(im => im.naturalWidth), outside: outside,
                    math: document.querySelectorAll('math').length, next: next && next.href};
        """, f"{href} to load")
        assert state["title"] == text and state["h1"].startswith(text), (href, state["title"], state["h1"])
        nb = NOTEBOOKS[i]
        assert len(state["images"]) == png_outputs(nb) + markdown_images(nb), (href, state["images"])
        assert all(w > 0 for w in state["images"]), (href, state["images"])
        assert state["outside"] == [], f"{href} loaded {state['outside']}"
        assert state["next"] == (links[i + 1][0] if i + 1 < len(links) else None)
        if nb.name.startswith("02_"):
            assert state["math"] > 20, "formulas rendered as MathML"

    browser.get(links[0][0])
    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot))
    check_screenshot(shot)
