"""Build the documentation site: the executed series as HTML pages, in a student and an instructor flavour.

Examples (from the repository root; ``make site`` calls the first)::

    python tools/build_site.py                          # both flavours -> build/site/{student,instructor}/
    python tools/build_site.py --flavour student        # one of them
    python tools/build_site.py --from build/notebooks   # the outputs of a fresh `make run`
    python tools/build_site.py --out /tmp/vae-site

The site is Sphinx with myst-nb and sphinx-book-theme (configured in docs/conf.py): the
front page (docs/index.md), notebooks 01-10 in order, then the pages of docs/ (DOC_PAGES:
running the series, results, the grid on a cluster, performance, tuning, exercises, the
instructor's guide, the site, the checks), with navigation, full-text
search, formulas rendered by a MathJax copy shipped inside the site, and launch buttons
(Binder, Colab, JupyterHub) built from the repository URL in pyproject.toml. The notebooks
are shown as executed and never run.

* **student**: each notebook as ``tools/editions.py`` makes it for students (nbgrader
  removes the worked solutions, our explanations and the hidden tests, and the exercise
  cells' outputs); every other output is kept.
* **instructor**: the committed notebooks; each answer cell, code and output, is folded
  under "Show our solution", and our explanations stay folded as in JupyterLab.

Both are built without network access, in a temporary folder beside the output that
replaces the old site only when the build succeeded (a failed build leaves the last site
as it was). Sphinx warnings (a broken link, a missing image) fail the build.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import runpy
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import nbformat

from vae_tools import badges, editions
from vae_tools.series import notebooks

ROOT = Path(__file__).resolve().parent.parent

NOTEBOOKS = ROOT / "notebooks"
DOCS = ROOT / "docs"
FLAVOURS = ("student", "instructor")
# Pages besides the notebooks: (source in the repository, path in the site's source tree).
# The pages in the order of docs/index.md's toctrees (the notebooks come between the front page and them).
DOC_PAGES = ["docs/running", "docs/results", "docs/cluster", "docs/performance", "docs/tuning",
             "docs/exercises", "docs/teaching", "docs/site", "docs/checks"]
DOC_FILES = ([("docs/index.md", "index.md")] + [(f"{page}.md", f"{page}.md") for page in DOC_PAGES]
             + [(f"docs/{name}", f"docs/{name}")
                for name in ("explorer_jupyterlab.png", "student_site.png", "instructor_site.png")])
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
STATIC_MIMES = ("image/png", "image/jpeg", "image/svg+xml", "text/html")
SOLUTION_PROMPTS = {"code_prompt_show": "Show our solution", "code_prompt_hide": "Hide our solution"}
EXPLORER_CALL = "latent_explorer("
EXPLORER_ALT = ("The interactive latent explorer in JupyterLab: the clickable latent map on the left; the "
                "decoded digit, the nearest test image and its reconstruction, and one slider per latent "
                "dimension on the right")
EXPLORER_NOTE = f"""\
On this page the explorer cannot run (there is no kernel behind a web page): the figure above is
the still image that stands in for it. In JupyterLab it is interactive, as in this screenshot;
launch the notebook with the rocket button at the top of the page to use it.

![{EXPLORER_ALT}](../docs/explorer_jupyterlab.png)
"""


class SiteError(Exception):
    """A problem with the input notebooks or the build, explained for the user."""


# --------------------------------------------------------------------------- reading the series

def find_notebooks(folder: Path) -> list[Path]:
    if not folder.is_dir():
        in_build = folder.name == "notebooks" and folder.parent.name == "build"
        hint = " (run `make run` first)" if in_build else ""
        raise SiteError(f"notebook folder {folder} does not exist{hint}")
    try:
        return notebooks(folder)
    except SystemExit as error:
        raise SiteError(str(error)) from None


def read_notebook(path: Path) -> nbformat.NotebookNode:
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # any parse error: say which notebook
        raise SiteError(f"{path} is not a readable notebook: {err}") from err
    first = nb.cells[0] if nb.cells else None
    if first is None or first.cell_type != "markdown" or not first.source.lstrip().startswith("# "):
        raise SiteError(f"{path}: the first cell must be markdown that starts with a `# N · Title` heading "
                        "(it is the page's title)")
    check_executed(path, nb)
    return nb


def check_executed(path: Path, nb) -> None:
    """Refuse notebooks that were not run (completely and without error): the site shows outputs."""
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    missing = [i for i, c in enumerate(code, 1) if c.get("execution_count") is None]
    if missing:
        what = "was never executed" if len(missing) == len(code) else (
            f"was only partly executed ({len(missing)} of {len(code)} code cells have no output, "
            f"the first is code cell {missing[0]})")
        raise SiteError(f"{path} {what}. Execute the series first: `make run`, then "
                        "`make site FROM=build/notebooks` "
                        "(maintainers: `make notebooks` refreshes notebooks/).")
    for cell in code:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                raise SiteError(f"{path}: cell [{cell.execution_count}] ended with "
                                f"{out.get('ename')}: {out.get('evalue')}. Fix it and re-run the series.")


# --------------------------------------------------------------------------- the two flavours

def _tags(cell) -> list[str]:
    return cell.metadata.setdefault("tags", [])


def static_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A web page has no kernel: a widget output shows its static stand-in (notebook 06's explorer
    has a PNG), or a note if it has none; the widget state is dropped, so no widget JavaScript loads."""
    note = ("<p><em>Interactive widget: it needs a running kernel. Launch the notebook (rocket button "
            "at the top) to use it.</em></p>")
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
                if not any(mime in data for mime in STATIC_MIMES):
                    out["data"] = {"text/html": note}
    nb.metadata.pop("widgets", None)
    return nb


def explorer_note(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """After the cell that makes the latent explorer (notebook 06), a note and the screenshot of the
    interactive explorer in JupyterLab (docs/explorer_jupyterlab.png)."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and EXPLORER_CALL in cell.source:
            nb.cells.insert(i + 1, nbformat.v4.new_markdown_cell(EXPLORER_NOTE))
            break
    return nb


def student_copy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student edition (tools/editions.py, nbgrader's own preprocessors) with the other outputs kept."""
    return editions.student_notebook(nb)


def instructor_copy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The committed notebook with each answer cell (tag `exercise`: the worked solution and its
    output) folded under "Show our solution" (myst-nb's `hide-cell`, an HTML <details> element).
    The explanations are already folded (<details> in their markdown); self-checks stay as they are."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.cell_type == "code" and "exercise" in cell.metadata.get("tags", []):
            _tags(cell).append("hide-cell")
            cell.metadata["mystnb"] = dict(SOLUTION_PROMPTS)
    return nb


def flavour_copy(nb: nbformat.NotebookNode, flavour: str) -> nbformat.NotebookNode:
    nb = student_copy(nb) if flavour == "student" else instructor_copy(nb)
    return explorer_note(static_outputs(nb))


# --------------------------------------------------------------------------- building

def write_sources(src: Path, notebooks: Sequence[tuple[Path, nbformat.NotebookNode]], flavour: str) -> None:
    """The site's source tree, laid out like the repository: index.md, notebooks/, docs/, imgs/."""
    for repo_path, site_path in DOC_FILES:
        source = ROOT / repo_path
        if not source.is_file():
            raise SiteError(f"{source} is missing: the site needs it")
        (src / site_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, src / site_path)
    if (ROOT / "imgs").is_dir():  # figures a markdown cell may show with ../imgs/x.png
        shutil.copytree(ROOT / "imgs", src / "imgs")
    (src / "notebooks").mkdir()
    for path, nb in notebooks:
        # No Colab badge on the site: its launch buttons do that, and its pages load nothing from outside.
        page = badges.notebook_with_badge(flavour_copy(nb, flavour), "")
        nbformat.write(page, src / "notebooks" / path.name)


def _readable(log: str, src: Path, notebooks: dict[str, Path]) -> str:
    """Sphinx's warnings about the temporary source tree, told about the files the user has:
    .../src/notebooks/07_experiments.ipynb:50004 -> notebooks/07_experiments.ipynb, cell 5."""
    def notebook(m: re.Match) -> str:
        path = notebooks.get(m.group(1), Path(m.group(1)))
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        return f"{shown}, cell {int(m.group(2)) // 10000}" if m.group(2) else str(shown)

    log = re.sub(re.escape(str(src)) + r"/notebooks/([^\s:]+\.ipynb)(?::(\d+))?", notebook, log)
    log = re.sub(re.escape(str(src)) + r"/index\.md", "docs/index.md", log)
    return log.replace(str(src) + "/", "").strip()


def sphinx_build(src: Path, out: Path, doctrees: Path, flavour: str, notebooks: dict[str, Path]) -> dict:
    """Run Sphinx (``sphinx-build``'s own entry point, in this process) with docs/conf.py; warnings are
    errors. Return facts about the build, read from the same configuration file."""
    from sphinx.cmd.build import build_main
    from sphinx.util.tags import Tags

    warnings_file = doctrees.parent / "sphinx-warnings.log"
    argv = ["--builder", "html", "--conf-dir", str(DOCS), "--doctree-dir", str(doctrees), "--fresh-env",
            "--write-all", "--fail-on-warning", "--no-color", "--quiet", "--warning-file", str(warnings_file),
            "--tag", flavour, str(src), str(out)]
    errors = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stderr(errors):
        # the theme's and MyST's use of APIs that Sphinx 11 removes: theirs to fix, not ours to show
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        status = build_main(argv)
    log = warnings_file.read_text(encoding="utf-8") if warnings_file.exists() else ""
    if status != 0 or log.strip():
        problem = ("was not built: Sphinx warned (warnings are errors here)" if log.strip()
                   else "could not be built")
        raise SiteError(f"the {flavour} site {problem}:\n"
                        f"{_readable(log or errors.getvalue(), src, notebooks)[-4000:]}")
    conf = runpy.run_path(str(DOCS / "conf.py"), init_globals={"tags": Tags([flavour])})
    return {"repository_url": conf["REPOSITORY_URL"], "repository_url_source": conf["REPOSITORY_URL_SOURCE"],
            "jupyterhub_url": conf["html_theme_options"]["launch_buttons"].get("jupyterhub_url", "")}


def build(flavours: Sequence[str] = FLAVOURS, source_dir: Path = NOTEBOOKS,
          out_dir: Path = ROOT / "build" / "site") -> dict:
    """Build the flavours of the site into out_dir/<flavour>/ (each replaced only if its build
    succeeds). Return facts about the build: the repository URL used and where it came from, the pages."""
    unknown = [f for f in flavours if f not in FLAVOURS]
    if unknown:
        raise SiteError(f"unknown flavour {unknown[0]!r}: use {' or '.join(FLAVOURS)}")
    notebooks = [(path, read_notebook(path)) for path in find_notebooks(source_dir)]
    out_dir.mkdir(parents=True, exist_ok=True)
    facts: dict = {"flavours": {}}
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".building-") as tmp:
        for flavour in flavours:
            start = time.perf_counter()
            work = Path(tmp) / flavour
            src, html = work / "src", work / "html"
            src.mkdir(parents=True)
            write_sources(src, notebooks, flavour)
            with contextlib.redirect_stdout(io.StringIO()):  # Sphinx's and myst-nb's progress lines
                facts.update(sphinx_build(src, html, work / "doctrees", flavour,
                                          {path.name: path for path, _ in notebooks}))
            _replace(html, out_dir / flavour)
            facts["flavours"][flavour] = {"path": out_dir / flavour, "seconds": time.perf_counter() - start}
    facts["pages"] = ["index", *(f"notebooks/{p.stem}" for p, _ in notebooks), *DOC_PAGES]
    return facts


def _replace(new: Path, target: Path) -> None:
    """Put the folder new where target is, replacing it with two renames (never a half-written site)."""
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        os.replace(target, old)
    os.replace(new, target)
    if old.exists():
        shutil.rmtree(old)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flavour", choices=(*FLAVOURS, "both"), default="both",
                        help="student (no solutions), instructor (solutions folded) or both (default)")
    parser.add_argument("--from", dest="source", type=Path, default=NOTEBOOKS,
                        help="folder with the executed notebooks (default: notebooks/, the committed run; "
                             "build/notebooks after `make run`)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site",
                        help="site folder (default: build/site); each flavour goes into a subfolder")
    args = parser.parse_args(argv)
    flavours = FLAVOURS if args.flavour == "both" else (args.flavour,)
    try:
        facts = build(flavours, args.source, args.out)
    except SiteError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"Repository URL for the launch buttons: {facts['repository_url']} "
          f"(from {facts['repository_url_source']})")
    print(f"JupyterHub button: {facts['jupyterhub_url']}" if facts["jupyterhub_url"] else
          "No JupyterHub button: set SITE_JUPYTERHUB_URL to your course's hub to have one")
    for flavour, info in facts["flavours"].items():
        print(f"{flavour:>10} site: {len(facts['pages'])} pages in {info['seconds']:.1f} s -> "
              f"{(info['path'] / 'index.html').resolve().as_uri()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
