"""Real-browser checks: the series in JupyterLab and the documentation site, in headless Chromium.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them);
skipped when no Chromium is installed. JupyterLab runs on a free localhost port
with a token, on a temporary copy of notebooks/ and imgs/, with its settings,
workspaces and runtime files in a temporary folder too, so neither the
repository nor the user's Jupyter state is touched. Server, kernels and browser
are always shut down.

The documentation site (tools/build_site.py, both flavours) is built into a
temporary folder and served from 127.0.0.1; the browser that loads it resolves
no other host name, and every request it makes is read from its DevTools
network log: a failed request, an error status or a request to any other
address fails the test.
"""

import contextlib
import functools
import hashlib
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from vae_tools import badges, series
from vae_tools import build_site as bs
from vae_tools.screenshot_explorer import (  # docs' screenshot tool
    child_pids,
    free_port,
    lab_command,
    lab_environment,
)
from vae_tools.screenshot_explorer import wait_for as poll_page

ROOT = Path(__file__).resolve().parent.parent

NOTEBOOKS = series.notebooks()
LAB_NOTEBOOK = ROOT / "notebooks" / "01_data.ipynb"
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--window-size=1280,1400"]
# The site's browser: every host name but 127.0.0.1 fails to resolve.
OFFLINE_FLAGS = ["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
SITE_PAGES = (["index.html"] + [f"notebooks/{p.stem}.html" for p in NOTEBOOKS]
              + [f"{page}.html" for page in bs.DOC_PAGES] + ["search.html", "genindex.html"])
SOLUTION = "fraction_zero = float(np.mean(data.x_train == 0))"  # notebook 01, exercise 1
SOLUTION_OUTPUT = "of the training pixels are exactly 0"
WAIT = 60  # seconds, for the slowest step (JupyterLab's first render on a busy 2-core machine)

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium installed (apt-get install chromium chromium-driver): real-browser tests skipped",
)]


def first_heading(path: Path) -> str:
    return json.loads(path.read_text())["cells"][0]["source"][0].lstrip("#").strip()


def png_outputs(path: Path) -> int:
    """PNG outputs that JupyterLab shows: not those of collapsed cells (the exercises' answer cells)."""
    cells = json.loads(path.read_text())["cells"]
    return sum("image/png" in o.get("data", {}) for c in cells for o in c.get("outputs", [])
               if not c["metadata"].get("jupyter", {}).get("outputs_hidden"))


def markdown_images(path: Path) -> int:
    cells = json.loads(path.read_text())["cells"]
    markdown = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    markdown = badges.BADGE.sub("", markdown)  # the site leaves the Colab badge out (it has launch buttons)
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
    """The screenshot tool's wait_for (poll a JavaScript function body until it returns a truthy value);
    the test fails naming `what` and the last value."""
    try:
        return poll_page(driver, script, what, *args, timeout=timeout)
    except RuntimeError as error:
        pytest.fail(str(error))


# --------------------------------------------------------------------------- fixtures

@contextlib.contextmanager
def chromium(extra_flags=(), network_log=False):
    if CHROMEDRIVER is None:
        pytest.fail(f"Chromium is installed ({CHROMIUM}) but chromedriver is not: "
                    "apt-get install chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in [*CHROMIUM_FLAGS, *extra_flags]:
        options.add_argument(flag)
    if network_log:  # DevTools Network.* events, read with driver.get_log("performance")
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    options.binary_location = CHROMIUM  # with the driver's path given too, Selenium Manager downloads nothing
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        yield driver


@pytest.fixture(scope="module")
def offline_browser():
    """Chromium that reaches 127.0.0.1 only and logs its network events."""
    with chromium(OFFLINE_FLAGS, network_log=True) as driver:
        yield driver


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab as `make lab` starts it (this environment's `jupyter lab`), on a copy of the series."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    shutil.copytree(ROOT / "notebooks", root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copytree(ROOT / "imgs", root / "imgs")
    env = lab_environment(base)
    token, port = secrets.token_hex(16), free_port()
    cmd = lab_command(root, port, token)
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


# --------------------------------------------------------------------------- the documentation site

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no line per request on stderr
        pass


@pytest.fixture(scope="module")
def site(built_site):
    """Both flavours of the site (built once per session: tests/conftest.py), served over HTTP from
    127.0.0.1, as a web server would (the search page loads its index with a script; file:// works too,
    but a course publishes the folder on a server)."""
    out = built_site["out"]
    handler = functools.partial(_QuietHandler, directory=out)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{server.server_address[1]}", "out": out}
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class Network:
    """What the browser requested, from its DevTools network log (the performance log)."""

    def __init__(self, driver, origin: str):
        self.driver, self.origin = driver, origin
        self.urls: dict[str, str] = {}  # requestId -> URL
        self.finished: set[str] = set()
        self.problems: list[str] = []

    def poll(self) -> None:
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            method, params = message["method"], message.get("params", {})
            rid = params.get("requestId")
            if method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                self.urls[rid] = url
                if not url.startswith((self.origin + "/", "data:", "blob:", "about:")):
                    self.problems.append(f"request to outside the site: {url}")
            elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
                self.problems.append(f"HTTP {params['response']['status']}: {params['response']['url']}")
            elif method == "Network.loadingFinished":
                self.finished.add(rid)
            elif method == "Network.loadingFailed":
                self.finished.add(rid)
                self.problems.append(f"failed ({params.get('errorText')}): {self.urls.get(rid, rid)}")

    def pending(self) -> list[str]:
        return [url for rid, url in self.urls.items()
                if rid not in self.finished and not url.startswith("data:")]


PAGE_STATE = """
    const math = [...document.querySelectorAll('.math')];
    const imgs = [...document.images];
    const h1 = document.querySelector('main h1, article h1, h1');
    const s = {ready: document.readyState, fonts: document.fonts.status,
               h1: h1 ? h1.textContent.replace('#', '').trim() : null,
               math: math.length, typeset: math.filter(m => m.querySelector('mjx-container')).length,
               mathErrors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
               images: imgs.map(i => i.complete ? i.naturalWidth : -1),
               localImages: imgs.filter(i => i.src.includes('/_images/')).length};
    s.ok = s.ready === 'complete' && s.fonts === 'loaded' && s.typeset === s.math
           && s.images.every(w => w >= 0);
    return s;
"""


def load(driver, network: Network, url: str) -> dict:
    """Open url; wait until it is loaded, its math typeset and every request it made has ended."""
    driver.get(url)
    deadline, state = time.monotonic() + WAIT, None
    while time.monotonic() < deadline:
        state = driver.execute_script(PAGE_STATE)
        network.poll()
        if state["ok"] and not network.pending():
            time.sleep(0.3)  # anything started by the last script (MathJax's fonts) shows up now
            network.poll()
            if not network.pending():
                return state
        time.sleep(0.3)
    pytest.fail(f"{url} did not finish loading in {WAIT} s: {state}; pending requests {network.pending()}")


def exercise_pngs(path: Path, flavour: str) -> int:
    """PNG outputs a flavour shows for a notebook: the student's exercise cells have none."""
    cells = json.loads(path.read_text())["cells"]
    return sum("image/png" in o.get("data", {}) for c in cells for o in c.get("outputs", [])
               if flavour == "instructor" or "exercise" not in c["metadata"].get("tags", []))


@pytest.mark.parametrize("flavour", bs.FLAVOURS)
def test_site_loads_every_page_offline_with_rendered_math(site, offline_browser, flavour):
    driver, base = offline_browser, f"{site['url']}/{flavour}"
    network = Network(driver, site["url"])
    network.poll()  # drop earlier pages' events
    for page in SITE_PAGES:
        state = load(driver, network, f"{base}/{page}")
        assert network.problems == [], f"{page}: {network.problems}"
        assert all(w > 0 for w in state["images"]), f"{page}: an image did not load: {state['images']}"
        assert state["mathErrors"] == 0, f"{page}: MathJax could not typeset {state['mathErrors']} formulas"
        if page.startswith("notebooks/"):
            nb = ROOT / "notebooks" / Path(page).with_suffix(".ipynb").name
            assert state["h1"].startswith(first_heading(nb).replace("`", "")), (page, state["h1"])
            extra = 1 if nb.name.startswith("06_") else 0  # the explorer's screenshot
            assert state["localImages"] == exercise_pngs(nb, flavour) + markdown_images(nb) + extra, page
        if page == "notebooks/02_model.html":
            assert state["math"] > 20 and state["typeset"] == state["math"]
            raw = driver.execute_script("""
                return [...document.querySelectorAll('.math')]
                    .filter(m => /\\\\\\(|\\\\\\[/.test(m.textContent)
                        && !m.querySelector('mjx-container')).length;""")
            assert raw == 0, "formulas left as TeX"
            width = driver.execute_script(
                "return document.querySelector('mjx-container').getBoundingClientRect().width;")
            assert width > 0
            loaded = list(network.urls.values())
            assert any(u.endswith(f"/{flavour}/_static/mathjax/tex-chtml-full.js") for u in loaded)
            assert any(u.endswith(".woff") for u in loaded), "MathJax's fonts, from the site"


def test_site_network_watch_catches_a_request_to_outside(site, offline_browser):
    """The checks above are only as good as the network log: a request to a CDN is seen, and fails."""
    driver = offline_browser
    network = Network(driver, site["url"])
    load(driver, network, f"{site['url']}/student/index.html")
    cdn = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"
    driver.execute_script("fetch(arguments[0]).catch(() => null);", cdn)
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and len(network.problems) < 2:
        network.poll()
        time.sleep(0.2)
    assert network.problems[:1] == [f"request to outside the site: {cdn}"]
    assert "ERR_NAME_NOT_RESOLVED" in network.problems[1], network.problems


def test_site_search_finds_a_term(site, offline_browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = offline_browser
    network = Network(driver, site["url"])
    load(driver, network, f"{site['url']}/student/index.html")
    driver.find_element(By.CSS_SELECTOR, ".bd-sidebar-primary .search-button__button").click()
    field = wait_for(driver, """
        const f = document.querySelector('#pst-search-dialog input[name="q"]');
        return f && f.offsetParent !== null ? f : null;""", "the search field to open")
    field.send_keys("reparameterisation", Keys.ENTER)
    results = wait_for(driver, """
        const summary = document.querySelector('#search-results .search-summary');
        const links = [...document.querySelectorAll('#search-results ul.search li a')];
        return summary && /Search finished/.test(summary.textContent) ?
            {ok: true, links: links.map(a => a.getAttribute('href')), summary: summary.textContent} : null;
    """, "the search results")
    assert "search.html?q=reparameterisation" in driver.current_url
    assert any(link.startswith("notebooks/02_model.html") for link in results["links"]), results
    network.poll()
    assert network.problems == []


def test_site_solution_absent_for_students_and_folded_for_instructors(site, offline_browser, tmp_path):
    from selenium.webdriver.common.by import By

    driver = offline_browser
    network = Network(driver, site["url"])

    load(driver, network, f"{site['url']}/student/notebooks/01_data.html")
    text = driver.execute_script("return document.documentElement.textContent;")
    assert SOLUTION not in text and SOLUTION_OUTPUT not in text and "Our explanation" not in text
    assert "fraction_zero = None" in text and "# YOUR CODE HERE" in text
    driver.execute_script("document.getElementById('exercises').scrollIntoView();")
    shot = tmp_path / "student_site.png"
    assert driver.save_screenshot(str(shot))
    check_screenshot(shot)

    load(driver, network, f"{site['url']}/instructor/notebooks/01_data.html")
    assert SOLUTION in driver.execute_script("return document.documentElement.textContent;")
    visible = driver.execute_script("return document.body.innerText;")  # what is shown, not what is folded
    assert SOLUTION not in visible and SOLUTION_OUTPUT not in visible
    toggle = driver.execute_script("""
        return [...document.querySelectorAll('details.hide')].find(d => d.textContent.includes(arguments[0]));
    """, SOLUTION)
    assert toggle is not None and toggle.get_attribute("open") is None
    code = toggle.find_element(By.CSS_SELECTOR, "pre")
    summary = toggle.find_element(By.TAG_NAME, "summary")
    assert not code.is_displayed() and "Show our solution" in summary.text
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", summary)
    summary.click()
    wait_for(driver, "const e = arguments[0]; return e.offsetParent && getComputedStyle(e).opacity === '1';",
             "the solution to open", code)
    visible = driver.execute_script("return document.body.innerText;")
    assert SOLUTION in visible and SOLUTION_OUTPUT in visible and "Hide our solution" in summary.text

    explanation = driver.execute_script("""
        return [...document.querySelectorAll('details:not(.hide)')]
            .find(d => d.querySelector('summary').textContent.startsWith('Our explanation'));""")
    paragraph = explanation.find_element(By.TAG_NAME, "p")
    assert explanation.get_attribute("open") is None and not paragraph.is_displayed()
    explanation.find_element(By.TAG_NAME, "summary").click()
    wait_for(driver, "return arguments[0].offsetParent !== null;", "the explanation to open", paragraph)
    assert "pure background" in paragraph.text

    driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", toggle)
    driver.execute_script("window.scrollBy(0, -120);")
    shot = tmp_path / "instructor_site.png"
    assert driver.save_screenshot(str(shot))
    check_screenshot(shot)
    network.poll()
    assert network.problems == []
