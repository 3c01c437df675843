"""Screenshot of notebook 06's interactive latent explorer in JupyterLab: docs/explorer_jupyterlab.png.

JupyterLab (this environment's, as ``make lab`` starts it) runs on a free
localhost port, without a token, on a temporary copy of the series
(``notebooks/``, ``imgs/`` and notebook 03's saved model from ``artifacts/``),
with its settings, workspaces and runtime files in that temporary folder too:
neither the checkout nor the user's Jupyter state is touched. Headless
Chromium opens ``notebooks/06_latent_space.ipynb`` with the file browser
beside it, runs the cells down to the explorer's (about 30 s with the model
present), clicks the latent map once and moves a slider, scrolls the
explorer, with its heading if it fits, into view and saves the screenshot (atomically,
so the old picture stays if anything fails). Server, kernel and browser are
always shut down.

Needs Chromium and chromedriver (Debian: ``apt-get install chromium
chromium-driver``), the venv's selenium, ipywidgets and ipyevents, notebook
03's model in ``artifacts/`` (``make run``; the script stops rather than train
one) and the MNIST files (``$VAE_DATA_DIR`` or the notebooks' default).

Usage, from the repository root::

    .venv/bin/python tools/screenshot_explorer.py
    .venv/bin/python tools/screenshot_explorer.py --out /tmp/lab.png --size 1280x1000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "06_latent_space.ipynb"
EXPLORER_CALL = "latent_explorer("  # the source of the cell that makes the explorer (as tools/build_site.py)
MODEL_FILES = ("run.json", "history.json", "vae.keras")  # what notebook 06 loads from ARTIFACTS_DIR
WAIT = 240  # seconds: starting JupyterLab and running 06's first cells on a busy 2-core machine
WINDOW = (1400, 900)  # a laptop screen
# Where the screenshot clicks the map, as fractions of the map image (the map's axes span x 0.11-0.74,
# y 0.07-0.91 of it, see vae_machinery.explorer): right of the middle, among the digits' clusters.
CLICK = (0.55, 0.42)
SLIDER_DRAG = -12  # px: how far the first slider's handle (z1) is moved after the click (about -0.8)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_pids(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc; empty elsewhere): the server's kernels."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def copy_series(root: Path) -> None:
    """The notebooks, the figures they write to and notebook 03's model, under ``root``."""
    missing = [name for name in MODEL_FILES if not (ROOT / "artifacts" / name).is_file()]
    if missing:
        sys.exit(f"artifacts/ has no trained model ({', '.join(missing)} missing): run notebook 03 first "
                 "(make run); this script does not train one.")
    shutil.copytree(ROOT / "notebooks", root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copytree(ROOT / "imgs", root / "imgs")
    (root / "artifacts").mkdir()
    for name in MODEL_FILES:
        shutil.copy2(ROOT / "artifacts" / name, root / "artifacts" / name)


def lab_environment(base: Path) -> dict[str, str]:
    """The environment of a JupyterLab of its own under ``base`` (config, data, runtime, settings,
    workspaces, IPython), its settings written: no virtual scrolling (every cell is rendered), no news
    pop-up."""
    settings = base / "settings"
    _write_json(settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings",
                {"windowingMode": "none"})
    _write_json(settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings",
                {"fetchNews": "false", "checkForUpdates": False})
    return {**os.environ,
            "JUPYTER_CONFIG_DIR": str(base / "config"), "JUPYTER_DATA_DIR": str(base / "data"),
            "JUPYTER_RUNTIME_DIR": str(base / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"), "IPYTHONDIR": str(base / "ipython")}


def lab_command(root: Path, port: int, token: str = "", *, expose_app: bool = False) -> list[str]:
    """This environment's ``jupyter lab`` (as ``make lab`` starts it) on 127.0.0.1:``port``, serving
    ``root``, with ``token`` ("" for none), no update checks; ``expose_app``: the app object in the page."""
    jupyter = Path(sys.executable).with_name("jupyter")
    cmd = [str(jupyter), "lab"] if jupyter.exists() else [sys.executable, "-m", "jupyterlab"]
    cmd += ["--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly"]
    if not token:
        cmd.append("--ServerApp.password=")
    if expose_app:
        cmd.append("--LabApp.expose_app_in_browser=True")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # Jupyter refuses root without it; containers and CI run as root
    return cmd


@contextlib.contextmanager
def jupyterlab(base: Path):
    """JupyterLab on ``base/root``; yields its URL. Its settings: no virtual scrolling (every cell is
    rendered), no news pop-up, the app object exposed to the page (to run cells by command)."""
    root = base / "root"
    env = lab_environment(base)
    port = free_port()
    cmd = lab_command(root, port, expose_app=True)
    url = f"http://127.0.0.1:{port}"
    log_path = base / "jupyter.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root,
                                start_new_session=True)
    kernels: set[int] = set()
    try:
        deadline = time.monotonic() + WAIT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n"
                                   + log_path.read_text()[-3000:])
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(url + "/api/status", timeout=5) as response:
                    if response.status == 200:
                        break
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter lab did not answer within {WAIT} s:\n"
                                   + log_path.read_text()[-3000:])
            time.sleep(0.3)
        yield url
    finally:
        kernels.update(child_pids(proc.pid))
        with contextlib.suppress(OSError):  # stops the kernels, then the server
            urllib.request.urlopen(urllib.request.Request(url + "/api/shutdown", method="POST"), timeout=10)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the server's own process group (start_new_session)
            proc.wait(timeout=5)
        for pid in kernels:  # a kernel lives in a session of its own; normally gone with the server
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def chromium(width: int, height: int):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    driver_path = shutil.which("chromedriver")
    if browser is None or driver_path is None:
        sys.exit("Needs Chromium and chromedriver (apt-get install chromium chromium-driver).")
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--force-device-scale-factor=1",
                 f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.binary_location = browser  # with the driver's path given too, Selenium Manager downloads nothing
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(WAIT)
    try:
        driver.set_window_size(width, height)
        # The window's size includes the (invisible) browser frame: grow it until the page has width x height.
        inner = driver.execute_script("return [window.innerWidth, window.innerHeight];")
        driver.set_window_size(2 * width - inner[0], 2 * height - inner[1])
        yield driver
    finally:
        driver.quit()


def wait_for(driver, script: str, what: str, *args, timeout: float = WAIT):
    """Poll a JavaScript function body until it returns a truthy value (a dict: with ``ok`` true)."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = driver.execute_script(script, *args)
        if value and (not isinstance(value, dict) or value.get("ok")):
            return value
        time.sleep(0.5)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}; last state: {value}")


# The explorer's cell, found by its source; the page's JupyterLab app is window.jupyterapp.
FIND_CELL = """
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    if (!panel || !panel.content || !panel.content.widgets) return null;
    const notebook = panel.content;
    const index = notebook.widgets.findIndex(
        c => c.model.type === 'code' && c.model.sharedModel.getSource().includes(arguments[0]));
"""
# The cell above the explorer's (its heading and introduction) at the top of the notebook's window; if
# that leaves the explorer's bottom out of sight, the explorer's bottom at the bottom instead.
SHOW_EXPLORER = """
    const cell = notebook.widgets[index].node;
    (notebook.widgets[index - 1] || notebook.widgets[index]).node.scrollIntoView({block: 'start'});
    const view = notebook.node.getBoundingClientRect();
    if (cell.getBoundingClientRect().bottom > view.bottom) cell.scrollIntoView({block: 'end'});
"""
IDLE = ("/Python 3 \\(ipykernel\\) \\| Idle/"
        ".test((document.querySelector('#jp-main-statusbar') || {}).innerText)")


def take_screenshot(url: str, out: Path, width: int, height: int) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    with chromium(width, height) as driver:
        driver.get(f"{url}/lab/tree/notebooks/{NOTEBOOK}")
        wait_for(driver, FIND_CELL + f"return index >= 0 && {IDLE};",
                 "the notebook open with an idle Python 3 kernel", EXPLORER_CALL)
        # Run the cells above the explorer's, then its own (the later ones keep their saved outputs).
        driver.execute_script(FIND_CELL + """
            notebook.activeCellIndex = index;
            const commands = window.jupyterapp.commands;
            commands.execute('notebook:run-all-above').then(() => commands.execute('notebook:run-cell'));
        """, EXPLORER_CALL)
        state = wait_for(driver, FIND_CELL + f"""
            const cell = notebook.widgets[index];
            const prompt = cell.node.querySelector('.jp-InputPrompt').innerText;
            const errors = [...notebook.node.querySelectorAll(
                '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]')];
            const images = [...cell.node.querySelectorAll('.jp-OutputArea-output img')];
            const s = {{prompt: prompt, errors: errors.map(e => e.innerText.slice(0, 500)),
                        images: images.map(i => i.complete ? i.naturalWidth : -1)}};
            s.ok = /\\[\\d+\\]/.test(prompt) && {IDLE} && images.length >= 3 && s.images.every(w => w > 0);
            s.ok = s.ok || errors.length > 0;
            return s;
        """, "the explorer's cell to run and show its widgets", EXPLORER_CALL)
        if state["errors"]:
            raise RuntimeError("a cell of the notebook failed:\n" + "\n".join(state["errors"]))

        # The explorer in view, for the clicks.
        driver.execute_script(FIND_CELL + SHOW_EXPLORER, EXPLORER_CALL)
        cell = driver.execute_script(FIND_CELL + "return notebook.widgets[index].node;", EXPLORER_CALL)
        texts = "[...arguments[0].querySelectorAll('.widget-html-content')].map(e => e.innerText).join('|')"
        before = driver.execute_script(f"return {texts};", cell)
        the_map = cell.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output img")[0]
        size = the_map.size
        dx, dy = (CLICK[0] - 0.5) * size["width"], (CLICK[1] - 0.5) * size["height"]  # from its centre
        ActionChains(driver).move_to_element_with_offset(the_map, int(dx), int(dy)).click().perform()
        wait_for(driver, f"return arguments[1] !== {texts};", "the explorer to answer the click",
                 cell, before, timeout=60)
        handles = cell.find_elements(By.CSS_SELECTOR, ".widget-slider .noUi-handle")
        if handles:
            drag = ActionChains(driver).click_and_hold(handles[0]).move_by_offset(SLIDER_DRAG, 0).release()
            drag.perform()
        time.sleep(3)  # the decoded digit follows the slider: one round trip to the kernel
        driver.execute_script(FIND_CELL + SHOW_EXPLORER, EXPLORER_CALL)
        time.sleep(1)
        png = driver.get_screenshot_as_png()

    from vae_machinery.files import atomic_write

    atomic_write(out, lambda path: path.write_bytes(png))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "explorer_jupyterlab.png",
                        help="where to save the PNG (default: docs/explorer_jupyterlab.png)")
    parser.add_argument("--size", default=f"{WINDOW[0]}x{WINDOW[1]}",
                        help="browser window, WIDTHxHEIGHT in px (default: %(default)s)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="screenshot-explorer-") as tmp:
        base = Path(tmp)
        copy_series(base / "root")
        with jupyterlab(base) as url:
            take_screenshot(url, args.out.resolve(), width, height)
    print(f"Saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
