"""The documentation site (tools/build_site.py, docs/conf.py), checked without a browser.

Both flavours are built once per test session from the committed notebooks (the fixture
``built_site`` in tests/conftest.py); tests/test_browser.py loads the same build in headless Chromium.
"""

import html
import json
import posixpath
import re
import runpy
import subprocess
import sys
import tomllib
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

from vae_tools import build_site as bs
from vae_tools import series

ROOT = Path(__file__).resolve().parent.parent
# The release the site's buttons and file links open (pyproject.toml's version, tagged v<version>).
TAG = f"v{tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']['version']}"
NOTEBOOKS = series.notebooks()
PAGES = (["index.html"] + [f"notebooks/{p.stem}.html" for p in NOTEBOOKS]
         + [f"{page}.html" for page in bs.DOC_PAGES])
MATHJAX = "_static/mathjax/tex-chtml-full.js"
SOLUTION_TOGGLE = re.compile(r'<details class="admonition hide above-input[^"]*">\s*<summary[^>]*>\s*'
                             r'<p class="collapsed admonition-title">Show our solution</p>')


# --------------------------------------------------------------------------- helpers

class Page(HTMLParser):
    """Tags with their attributes, <title>, the visible text (without <script>/<style>), and the
    text inside <pre> (code and outputs) apart from the prose."""

    def __init__(self, path: Path):
        super().__init__(convert_charrefs=True)
        self.path = path
        self.tags: list[tuple[str, dict]] = []
        self.title, self.text, self.prose = "", [], []
        self._stack: list[str] = []
        self.feed(path.read_text(encoding="utf-8"))
        self.text, self.prose = "".join(self.text), "".join(self.prose)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in ("meta", "link", "img", "br", "hr", "input", "source", "wbr"):
            self._stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self._stack:
            while self._stack.pop() != tag:
                pass

    def handle_data(self, data):
        if "title" in self._stack:
            self.title += data
        if not {"script", "style"} & set(self._stack):
            self.text.append(data)
            if not {"pre", "code"} & set(self._stack):
                self.prose.append(data)

    def refs(self):
        return [(tag, name, value) for tag, attrs in self.tags for name, value in attrs.items()
                if name in ("src", "href", "srcset", "poster", "data") and value]

    def links(self, rel):
        return [attrs["href"] for tag, attrs in self.tags if tag == "link" and attrs.get("rel") == rel]


def notebook(path: Path):
    return nbformat.read(path, as_version=4)


def tagged(nb, tag):
    return [c for c in nb.cells if tag in c.metadata.get("tags", [])]


def solution_lines(cell) -> list[str]:
    """The worked solution's lines of an answer cell (without comments and the student's stub)."""
    body = re.search(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.DOTALL)
    assert body, f"answer cell without a solution block: {cell.source[:80]}"
    return [line.strip() for line in body.group(1).splitlines()
            if len(line.strip()) > 12 and not line.strip().startswith("#")]


def explanation(cell) -> str:
    """The first sentence of our explanation inside <details>."""
    body = re.sub(r"<summary>.*?</summary>|</?details>", "", cell.source, flags=re.DOTALL).strip()
    return re.split(r"(?<=[.:;])\s", " ".join(body.split()))[0][:60]


def site_texts(folder: Path):
    """(file, text) for every text file of a site: pages as visible text, notebooks as their cells."""
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".html":
            yield path, Page(path).text
        elif path.suffix == ".ipynb":
            nb = json.loads(path.read_text())
            yield path, "\n".join("".join(c["source"]) + json.dumps(c.get("outputs", []))
                                  for c in nb["cells"])
        elif path.suffix in (".js", ".md", ".txt", ".json"):
            yield path, path.read_text(errors="replace")


def repository_url() -> str:
    with open(ROOT / "pyproject.toml", "rb") as f:
        url = tomllib.load(f).get("project", {}).get("urls", {}).get("Repository")
    return url.rstrip("/")


class Tags:
    def __init__(self, *names):
        self.names = set(names)

    def has(self, name):
        return name in self.names


HUB = "https://hub.university.example"  # what built_site (tests/conftest.py) sets, as make site would


@pytest.fixture
def site(built_site):
    """Both flavours, built once per session (tests/conftest.py), with SITE_JUPYTERHUB_URL = HUB."""
    assert built_site["facts"]["jupyterhub_url"] == HUB
    return built_site


def test_without_a_hub_there_is_no_jupyterhub_button(tmp_path):
    conf = runpy.run_path(str(ROOT / "docs" / "conf.py"), init_globals={"tags": Tags("student")})
    assert "jupyterhub_url" not in conf["html_theme_options"]["launch_buttons"]


# --------------------------------------------------------------------------- structure

@pytest.mark.slow
@pytest.mark.parametrize("flavour", bs.FLAVOURS)
def test_pages_in_order_with_their_titles_and_navigation(site, flavour):
    folder = site[flavour]
    order, page = [], "index.html"
    while page:  # follow each page's rel="next" link, as the "Next" button does
        order.append(page)
        nexts = Page(folder / page).links("next")
        page = posixpath.normpath(posixpath.join(posixpath.dirname(page), nexts[0])) if nexts else None
    assert order == PAGES
    # the sidebar of every page lists them all in that order (here: the search page's)
    sidebar = re.findall(r'<a class="reference internal[^"]*" href="([^"#]+)"',
                         (folder / "search.html").read_text())
    assert list(dict.fromkeys(sidebar)) == PAGES
    for path in NOTEBOOKS:
        heading = notebook(path).cells[0].source.splitlines()[0].lstrip("#").strip().replace("`", "")
        page = Page(folder / "notebooks" / f"{path.stem}.html")
        assert page.title.startswith(heading), (path.name, page.title)
    assert "reparameterisation" in (folder / "searchindex.js").read_text(), "the search index"


@pytest.mark.slow
def test_student_site_has_no_solutions_explanations_or_hidden_tests(site):
    secrets = ["BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "vae_answers", "Our explanation",
               "Rubric"]
    for path in NOTEBOOKS:
        nb = notebook(path)
        private = []
        for cell in tagged(nb, "exercise"):
            private += solution_lines(cell)
            private += [line.strip() for out in cell.outputs if out.get("output_type") == "stream"
                        for line in out.get("text", "").splitlines() if len(line.strip()) > 8]
        private += [explanation(cell) for cell in tagged(nb, "exercise-explanation")]
        # a line that the notebook also shows elsewhere (the exercise's question quotes it) is no secret
        # (the answer cells' lines outside the solution block are the student's too)
        public = "\n".join(
            re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION", "", c.source, flags=re.DOTALL)
            + ("" if "exercise" in c.metadata.get("tags", []) else json.dumps(c.get("outputs", [])))
            for c in nb.cells if "exercise-explanation" not in c.metadata.get("tags", []))
        secrets += [line for line in private if line not in public]
    assert "fraction_zero = float(np.mean(data.x_train == 0))" in secrets
    found = [(str(path.relative_to(site["student"])), s) for path, text in site_texts(site["student"])
             for s in secrets if s in text]
    assert found == []
    # what the student does get: the answer cells' stubs and the self-checks
    page = Page(site["student"] / "notebooks" / "01_data.html").text
    assert "fraction_zero = None" in page and "# YOUR CODE HERE" in page
    assert 'vh.check("01.1", fraction_zero, data=data)' in page
    assert not SOLUTION_TOGGLE.search((site["student"] / "notebooks" / "01_data.html").read_text())


@pytest.mark.slow
def test_instructor_site_folds_every_solution_and_explanation(site):
    for path in NOTEBOOKS:
        nb = notebook(path)
        source = (site["instructor"] / "notebooks" / f"{path.stem}.html").read_text()
        answers, explanations = tagged(nb, "exercise"), tagged(nb, "exercise-explanation")
        assert len(SOLUTION_TOGGLE.findall(source)) == len(answers), path.name
        assert len(re.findall(r"<details><summary><b>Our explanation</b>", source)) == len(explanations)
        assert "<details open" not in source and not re.search(r"<details[^>]*\sopen\b", source)
        # each solution is inside its toggle: between the toggle and the closing </details>
        folded = [html.unescape(re.sub(r"<[^>]+>", "", m.group(0)))
                  for m in re.finditer(r'<details class="admonition hide.*?</details>', source, re.DOTALL)]
        for cell in answers:
            lines = solution_lines(cell)
            assert any(all(line in block for line in lines) for block in folded), cell.source[:60]
        # the explanation's markdown is rendered inside <details> (math, emphasis), not shown as text
        for block in re.findall(r"<details><summary><b>Our explanation.*?</details>", source, re.DOTALL):
            assert "<p>" in block and "$" not in re.sub(r"<[^>]+>", "", block).replace("\\$", "")
    # the self-checks are shown as they are, hidden tests included
    assert 'vae_answers.grade("01.1", fraction_zero, data=data)' in Page(
        site["instructor"] / "notebooks" / "01_data.html").text


@pytest.mark.slow
@pytest.mark.parametrize("flavour", bs.FLAVOURS)
def test_math_uses_the_mathjax_shipped_with_the_site(site, flavour):
    folder = site[flavour]
    assert (folder / MATHJAX).is_file() and (folder / "_static" / "mathjax" / "LICENSE").is_file()
    assert list((folder / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    size = sum(p.stat().st_size for p in (folder / "_static" / "mathjax").rglob("*") if p.is_file())
    assert size < 4e6, f"only the MathJax parts the pages use: {size / 1e6:.1f} MB"
    for name in PAGES:
        page = Page(folder / name)
        scripts = [attrs["src"] for tag, attrs in page.tags if tag == "script" and attrs.get("src")]
        maths = [attrs for tag, attrs in page.tags if "math" in attrs.get("class", "").split()]
        if maths:
            assert [s for s in scripts if "mathjax" in s.lower()] == [
                "../" * name.count("/") + MATHJAX], name
        # no TeX left for the reader outside the math elements: $...$ was all parsed
        assert not re.search(r"\$[^$\s][^$]*\\[a-zA-Z]+", page.prose), name
    assert len([1 for _, a in Page(folder / "notebooks" / "02_model.html").tags
                if "math" in a.get("class", "").split()]) > 20


@pytest.mark.slow
@pytest.mark.parametrize("flavour", bs.FLAVOURS)
def test_launch_buttons_come_from_the_one_repository_setting(site, flavour):
    repo = repository_url()
    org, name = repo.split("/")[-2:]
    assert site["facts"]["repository_url"] == repo
    for path in NOTEBOOKS:
        # the student site's buttons open the committed student edition (no worked solutions)
        edition = "" if flavour == "instructor" else "editions/student/"
        rel = f"{edition}notebooks/{path.name}"
        assert (ROOT / rel).is_file()
        hrefs = {value for tag, attr, value in Page(site[flavour] / "notebooks" / f"{path.stem}.html").refs()
                 if tag == "a" and value.startswith("https://")}
        hub = site["facts"]["jupyterhub_url"]
        launch = {h for h in hrefs if h.startswith(("https://mybinder.org/", "https://colab.research", hub))}
        assert launch == {
            f"https://mybinder.org/v2/gh/{org}/{name}/{TAG}?urlpath=lab/tree/{rel}",
            f"https://colab.research.google.com/github/{org}/{name}/blob/{TAG}/{rel}",
            f"{hub}/hub/user-redirect/git-pull?repo={repo.replace('://', '%3A//')}"
            f"&urlpath=lab/tree/{name}/{rel}&branch={TAG}"}, path.name
        assert repo in hrefs, "the repository button"
    # pages that are not notebooks have no launch buttons; every link to GitHub that is not quoted
    # from the sources goes to the repository of the setting
    assert "mybinder" not in (site[flavour] / "docs" / "tuning.html").read_text()
    cited = "".join(p.read_text() for p in [*NOTEBOOKS, *(ROOT / "docs").glob("*.md")])  # sources' own links
    github = {value for p in site[flavour].rglob("*.html") for _, attr, value in Page(p).refs()
              if value.startswith("https://github.com/") and value not in cited}
    assert github and all(value == repo or value.startswith(repo + "/") for value in github), github


def test_the_repository_url_is_the_one_in_pyproject_and_unset_means_no_launch_buttons(tmp_path):
    conf = runpy.run_path(str(ROOT / "docs" / "conf.py"), init_globals={"tags": Tags("student")})
    assert conf["REPOSITORY_URL_SOURCE"] == "pyproject.toml [project.urls] Repository"
    assert conf["html_theme_options"]["path_to_docs"] == "editions/student"
    conf["repository_url"].__globals__["ROOT"] = tmp_path  # a checkout without the setting
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    url, why = conf["repository_url"]()
    assert url == "" and "no launch buttons" in why
    (tmp_path / "pyproject.toml").write_text('[project.urls]\nRepository = "https://github.com/a/b.git"\n')
    assert conf["repository_url"]() == ("https://github.com/a/b", "pyproject.toml [project.urls] Repository")


@pytest.mark.slow
@pytest.mark.parametrize("flavour", bs.FLAVOURS)
def test_page_06_shows_the_explorer_image_and_no_widget(site, flavour):
    folder = site[flavour]
    source = (folder / "notebooks" / "06_latent_space.html").read_text()
    # the explorer's cell: from its code to the next cell or paragraph
    cell = re.search(r'latent_explorer</span>.*?(?=<div class="cell[ "]|<p>|<section)', source, re.DOTALL)
    assert cell, "the explorer's cell"
    images = re.findall(r'<img [^>]*src="([^"]+)"', cell.group(0))
    assert len(images) == 1, images
    image = folder / "notebooks" / unquote(images[0])
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and image.stat().st_size > 20_000
    assert "explorer_jupyterlab.png" in source, "the screenshot of the interactive explorer"
    everything = "".join(p.read_text() for p in folder.rglob("*.html"))
    for widget in ("widget-view+json", "widget-state+json", "embed-amd", "require.min.js", "jupyter-widgets"):
        assert widget not in everything


@pytest.mark.slow
@pytest.mark.parametrize("flavour", bs.FLAVOURS)
def test_nothing_is_loaded_from_outside_and_every_local_link_resolves(site, flavour):
    folder, repo = site[flavour], repository_url()
    cited = "".join(p.read_text() for p in [*NOTEBOOKS, *sorted((ROOT / "docs").glob("*.md"))])
    launch_hosts = ("https://mybinder.org/", "https://colab.research.google.com/",
                    site["facts"]["jupyterhub_url"])
    for path in folder.rglob("*.html"):
        if path.parent.name == "_static":
            continue  # the theme's template fragments (webpack-macros.html), not pages
        for tag, attr, value in Page(path).refs():
            parts = urlsplit(value)
            if parts.scheme in ("http", "https") or value.startswith("//"):
                assert (tag, attr) == ("a", "href"), f"{path.name}: <{tag} {attr}> loads {value} from outside"
                assert (value == repo or value.startswith(repo + "/") or value.startswith(launch_hosts)
                        or value in cited), f"{path.name}: unexpected external link {value}"
                continue
            if parts.scheme in ("data", "mailto", "javascript") or value.startswith("#"):
                continue
            assert not parts.scheme, f"{path.name}: {value}"
            target = (path.parent / unquote(parts.path)).resolve()
            assert target.is_relative_to(folder.resolve()) and target.exists(), f"{path.name}: {value}"


@pytest.mark.slow
def test_build_makes_both_flavours_and_leaves_only_the_sites(site):
    assert set(site["facts"]["flavours"]) == set(bs.FLAVOURS)
    assert sorted(p.name for p in site["out"].iterdir()) == sorted(bs.FLAVOURS), "no temporary folders left"


# --------------------------------------------------------------------------- bad input

def copy_series(tmp_path, names=("01_data.ipynb", "02_model.ipynb")) -> Path:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes((ROOT / "notebooks" / name).read_bytes())
    return folder


def test_unexecuted_notebook_is_refused_with_the_command_to_run(tmp_path):
    folder = copy_series(tmp_path)
    nb = notebook(folder / "02_model.ipynb")
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.execution_count, cell.outputs = None, []
    nbformat.write(nb, folder / "02_model.ipynb")
    with pytest.raises(bs.SiteError, match=r"02_model.ipynb was never executed.*make run"):
        bs.build(source_dir=folder, out_dir=tmp_path / "out")
    assert not (tmp_path / "out" / "student").exists()


def test_missing_or_empty_folder_is_explained(tmp_path):
    with pytest.raises(bs.SiteError, match=r"build/notebooks does not exist \(run `make run` first\)"):
        bs.build(source_dir=tmp_path / "build" / "notebooks", out_dir=tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(bs.SiteError, match="No notebooks named like 01_data.ipynb"):
        bs.build(source_dir=tmp_path / "empty", out_dir=tmp_path / "out")
    with pytest.raises(bs.SiteError, match="unknown flavour 'teacher'"):
        bs.build(["teacher"], out_dir=tmp_path / "out")


@pytest.mark.slow
def test_a_broken_link_fails_the_build_and_keeps_the_last_site(tmp_path):
    """`make site FROM=build/notebooks` with two notebooks: the others' links go to the repository;
    then a link to a file that exists nowhere fails the build, naming notebook and cell, and the
    site built before stays as it was."""
    folder, out = copy_series(tmp_path), tmp_path / "out"
    bs.build(["student"], folder, out)
    page = (out / "student" / "notebooks" / "02_model.html").read_text()
    assert f'href="{repository_url()}/blob/{TAG}/notebooks/03_training.ipynb"' in page
    assert 'href="01_data.html"' in page
    before = (out / "student" / "index.html").read_bytes()
    nb = notebook(folder / "02_model.ipynb")
    nb.cells.insert(3, nbformat.v4.new_markdown_cell("See [the notes](../notes/missing.md)."))
    nbformat.write(nb, folder / "02_model.ipynb")
    with pytest.raises(bs.SiteError) as err:
        bs.build(["student"], folder, out)
    assert "02_model.ipynb, cell 4" in str(err.value) and "../notes/missing.md" in str(err.value)
    assert str(tmp_path) not in str(err.value).replace(str(folder), "<from>"), "no temporary paths"
    assert (out / "student" / "index.html").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["student"], "no temporary folder left"


def test_widget_outputs_keep_their_static_stand_in_or_get_a_note():
    view = {"application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2}}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("w", outputs=[
        nbformat.v4.new_output("display_data", data={**view, "text/plain": "interactive(...)"}),
        nbformat.v4.new_output("display_data", data={**view, "image/png": "iVBORw0KGgo="})])])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    outputs = bs.static_outputs(nb).cells[0].outputs
    assert list(outputs[0].data) == ["text/html"] and "needs a running kernel" in outputs[0].data["text/html"]
    assert list(outputs[1].data) == ["image/png"]
    assert "widgets" not in nb.metadata


def test_command_line_reports_errors_without_a_traceback(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py"), "--from",
                             str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith("error: notebook folder") and "Traceback" not in result.stderr
