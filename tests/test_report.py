"""The HTML report (tools/export_report.py): one self-contained page per notebook and an index."""

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import export_report as er  # tools/, on sys.path through conftest.py
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parent.parent

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# a 2x2 PNG
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQED"
                       "asKb6QAAAABJRU5ErkJggg==")


class Page(HTMLParser):
    """Every tag with its attributes, the <title>, and the links of the index's list."""

    def __init__(self, path: Path):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.title = ""
        self.list_links: list[tuple[str, str]] = []  # (href, text) of <ol><li><a>
        self._in = {"title": False, "ol": False}
        self._a: list | None = None
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in self._in:
            self._in[tag] = True
        if tag == "a" and self._in["ol"]:
            self._a = [dict(attrs).get("href"), ""]

    def handle_endtag(self, tag):
        if tag in self._in:
            self._in[tag] = False
        if tag == "a" and self._a is not None:
            self.list_links.append((self._a[0], self._a[1].strip()))
            self._a = None

    def handle_data(self, data):
        if self._in["title"]:
            self.title += data
        if self._a is not None:
            self._a[1] += data

    def refs(self):
        return [(tag, name, value) for tag, attrs in self.tags for name, value in attrs.items()
                if name in ("src", "href") and value is not None]


def first_heading(path: Path) -> str:
    return json.loads(path.read_text())["cells"][0]["source"][0].lstrip("#").strip()


def expected_images(path: Path) -> int:
    """PNG outputs plus images that markdown cells show (both become data: URLs in the report)."""
    cells = json.loads(path.read_text())["cells"]
    outputs = sum("image/png" in o.get("data", {}) for c in cells for o in c.get("outputs", []))
    markdown = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return outputs + len(re.findall(r"!\[[^\]]*\]\(|<img\b", markdown))


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    written, _ = er.export(ROOT / "notebooks", out)
    assert written[0] == out / "index.html"
    return out


def test_index_links_every_notebook_in_order_with_its_title(report):
    index = Page(report / "index.html")
    assert [href for href, _ in index.list_links] == [p.stem + ".html" for p in NOTEBOOKS]
    assert [text for _, text in index.list_links] == [first_heading(p).replace("`", "") for p in NOTEBOOKS]
    for href, text in index.list_links:
        assert Page(report / href).title == text


def test_every_image_is_embedded_and_nothing_points_outside_the_folder(report):
    pages = {p.name for p in report.iterdir()}
    assert pages == {"index.html"} | {p.stem + ".html" for p in NOTEBOOKS}, "only the pages, no loose files"
    for nb in NOTEBOOKS:
        page = Page(report / (nb.stem + ".html"))
        imgs = [attrs.get("src", "") for tag, attrs in page.tags if tag == "img"]
        assert len(imgs) == expected_images(nb), nb.name
        assert all(src.startswith("data:image/") for src in imgs), nb.name
        for tag, name, value in page.refs():
            if value.startswith(("data:", "#")):
                continue
            if value.startswith(("http://", "https://")):
                assert (tag, name) == ("a", "href"), f"{nb.name}: <{tag} {name}> loads {value} from the web"
                continue
            assert ":" not in value and not value.startswith(("/", "..")), f"{nb.name}: {value}"
            assert value.split("#")[0] in pages, f"{nb.name}: {value} is not a page of the report"
    assert "<script src=" not in "".join(p.read_text() for p in report.iterdir())


def test_links_between_notebooks_point_to_their_pages(report):
    # Every link (code may still mention notebook files, e.g. in 07's sweep).
    links = [value for page in report.glob("*.html")
             for _, name, value in Page(page).refs() if name == "href"]
    assert links and not [v for v in links if ".ipynb" in v]
    hrefs = {value for _, name, value in Page(report / "02_model.html").refs() if name == "href"}
    assert {"01_data.html", "03_training.html", "index.html"} <= hrefs


def test_math_becomes_mathml(report):
    text = (report / "02_model.html").read_text()
    assert text.count("<math ") > 20 and "mathjax" not in text.lower()


# --------------------------------------------------------------------------- small made-up series

def write_notebook(path: Path, first_cell: str, *cells, executed=True):
    code = new_code_cell("print('hi')", execution_count=1 if executed else None,
                         outputs=[new_output("stream", name="stdout", text="hi\n")] if executed else [])
    nb = new_notebook(cells=[new_markdown_cell(first_cell), code, *cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def series(tmp_path) -> Path:
    """notebooks/01_a and 02_b next to imgs/fig.png, like the real series."""
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "fig.png").write_bytes(PNG)
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "01_a.ipynb", "# 1 · First `one`\n\n**Goal.** Say $x^2$ hi. Then more.\n",
                   new_markdown_cell("![a figure](../imgs/fig.png) and "
                                     "<img src=\"../imgs/fig.png\" width=\"9\">\n\n"
                                     "Next: [02](02_b.ipynb#Part-2), code in [helpers](../src/x.py), "
                                     "<a href=\"02_b.ipynb\">raw link</a>, [web](https://example.org)."))
    write_notebook(folder / "02_b.ipynb", "# 2 · Second\n\nBack to [01_a.ipynb](01_a.ipynb).")
    return folder


def test_markdown_images_are_embedded_and_links_rewritten(series, tmp_path):
    out = tmp_path / "out"
    er.export(series, out, run_dir=series)
    page = (out / "01_a.html").read_text()
    data = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert page.count(data) == 2, "markdown image and raw <img> both embedded"
    assert 'href="02_b.html#Part-2"' in page and 'href="02_b.html"' in page
    assert "../" not in "".join(v for _, _, v in Page(out / "01_a.html").refs())
    assert "helpers" in page and "x.py\"" not in page, "a repository file is named, not linked"
    assert 'href="https://example.org"' in page
    assert 'href="01_a.html"' in (out / "02_b.html").read_text()
    index = Page(out / "index.html")
    assert index.list_links == [("01_a.html", "1 · First one"), ("02_b.html", "2 · Second")]
    assert "<math " in (out / "index.html").read_text(), "the description's $x^2$ is MathML"
    assert "Then more" not in (out / "index.html").read_text(), "one sentence of description"
    assert sorted(p.name for p in out.iterdir()) == ["01_a.html", "02_b.html", "index.html"], "no temp files"


def test_re_export_removes_pages_of_notebooks_that_are_gone(series, tmp_path):
    out = tmp_path / "out"
    er.export(series, out, run_dir=series)
    (series / "02_b.ipynb").unlink()
    first = series / "01_a.ipynb"
    first.write_text(first.read_text().replace("02_b.ipynb", "01_a.ipynb"))
    er.export(series, out, run_dir=series)
    assert sorted(p.name for p in out.iterdir()) == ["01_a.html", "index.html"]


def test_link_to_a_notebook_outside_the_exported_folder_becomes_text(series, tmp_path):
    """`make report FROM=build/notebooks` after `make run`: a link to a notebook that exists in
    notebooks/ but was not run into build/notebooks (07) is plain text, with a warning."""
    run_folder = tmp_path / "build" / "notebooks"
    run_folder.mkdir(parents=True)
    (series / "01_a.ipynb").rename(run_folder / "01_a.ipynb")
    written, warnings = er.export(run_folder, tmp_path / "out", run_dir=series)
    assert [p.name for p in written] == ["index.html", "01_a.html"]
    assert warnings == ["01_a.ipynb: 02_b.ipynb#Part-2 is not in this report; its link is plain text",
                        "01_a.ipynb: 02_b.ipynb is not in this report; its link is plain text"]
    assert "02_b" not in "".join(v for _, _, v in Page(tmp_path / "out" / "01_a.html").refs())


def test_widgets_show_their_static_image_or_a_note(series, tmp_path):
    view = {"application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2}}
    nb_path = series / "02_b.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    png = base64.b64encode(PNG).decode()
    nb.cells[1].outputs = [new_output("display_data", data={**view, "text/plain": "interactive(...)"}),
                           new_output("display_data", data={**view, "image/png": png})]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nbformat.write(nb, nb_path)
    er.export(series, tmp_path / "out", run_dir=series)
    page = (tmp_path / "out" / "02_b.html").read_text()
    assert "Interactive widget: open this notebook in JupyterLab" in page
    assert "data:image/png;base64," + png in page
    assert "widget-view+json" not in page and "widget-state" not in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("never_executed", "01_a.ipynb was never executed. Execute the series first: `make run`"),
        ("error_output", "cell [1] ended with ValueError: bad value"),
        ("missing_image", "image ../imgs/missing.png not found"),
        ("unknown_notebook", "link to 09_z.ipynb, which is not a notebook of the series"),
        ("no_heading", "must start with a `# Title` heading"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(series, tmp_path, capsys, change, message):
    nb_path = series / "01_a.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    if change == "never_executed":
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.execution_count, cell.outputs = None, []
    elif change == "error_output":
        nb.cells[1].outputs = [new_output("error", ename="ValueError", evalue="bad value", traceback=[])]
    elif change == "missing_image":
        nb.cells.append(new_markdown_cell("![x](../imgs/missing.png)"))
    elif change == "unknown_notebook":
        nb.cells.append(new_markdown_cell("See [09](09_z.ipynb)."))
    elif change == "no_heading":
        nb.cells[0].source = "Just text."
    nbformat.write(nb, nb_path)
    out = tmp_path / "out"
    assert er.main(["--from", str(series), "--out", str(out), "--run-dir", str(series)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert not out.exists(), "nothing is written when the input is bad"


def test_missing_folder_says_run_make_run(tmp_path, capsys):
    assert er.main(["--from", str(tmp_path / "build" / "notebooks"), "--out", str(tmp_path / "out")]) == 1
    assert "does not exist (run `make run` first)" in capsys.readouterr().err
