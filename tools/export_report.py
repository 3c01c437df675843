"""Export the executed notebook series as a self-contained HTML report.

Examples (from the repository root; ``make report`` calls the first)::

    python tools/export_report.py                          # committed notebooks -> build/report/
    python tools/export_report.py --from build/notebooks   # the outputs of a fresh `make run`
    python tools/export_report.py --out /tmp/vae-report

The report is one HTML page per notebook plus an ``index.html`` that links them
in order. It needs no Jupyter server and no network: output images are already
base64 in the notebooks, images that markdown cells reference (``../imgs/x.png``)
are embedded too, LaTeX is turned into MathML (which browsers render natively,
so no MathJax download), links between notebooks point to their pages, and links
to other repository files become plain text. Every ``src``/``href`` of every
page is checked to stay inside the report folder, so the folder can be copied
anywhere. Files are written atomically (temporary file, then rename).
"""

from __future__ import annotations

import argparse
import base64
import html
import mimetypes
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PATTERN = "[0-9][0-9]_*.ipynb"
SERIES_TITLE = "Variational autoencoders on MNIST — the notebook series"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# nbconvert's lab template, minus every script it would fetch from a CDN
# (require.js, MathJax, mermaid, the widget manager), plus a navigation bar.
TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}<style type="text/css">""" + """
.report-nav { display: flex; gap: 1.5em; padding: 0.6em 1em; margin-bottom: 1em;
  border-bottom: 1px solid var(--jp-border-color2, #ddd); font-size: var(--jp-ui-font-size1, 13px); }
.report-nav a { text-decoration: none; }
.report-nav .report-next { margin-left: auto; }
.report-widget-note { padding: 0.5em 1em; border-left: 3px solid var(--jp-brand-color1, #1976d2);
  background: var(--jp-layout-color2, #eee); }
math[display="block"] { margin: 0.8em 0; }
</style>{%- endblock extra_css -%}
{%- block body_header -%}{{ super() }}{{ resources.report_nav_top }}{%- endblock body_header -%}
{%- block body_footer -%}{{ resources.report_nav_bottom }}{{ super() }}{%- endblock body_footer -%}
"""
INDEX_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 52em;
  margin: 2em auto; padding: 0 1em; line-height: 1.5; color: #222; }
ol { padding-left: 0; list-style: none; }
li { margin: 0 0 1.1em 0; }
li a { font-size: 1.15em; font-weight: 600; text-decoration: none; }
li p { margin: 0.2em 0 0 0; color: #444; }
footer { margin-top: 2em; color: #666; font-size: 0.9em; }
"""


class ReportError(Exception):
    """A problem with the input notebooks or the report, explained for the user."""


@dataclass
class Entry:
    source: Path  # the .ipynb file
    page: str  # its page in the report, e.g. 01_data.html
    title: str  # plain text of the first heading, e.g. "1 · The data: MNIST digits"
    heading_md: str  # that heading's markdown
    description_md: str  # first sentence of the paragraph after it


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- reading the series

def find_notebooks(folder: Path) -> list[Path]:
    if not folder.is_dir():
        in_build = folder.name == "notebooks" and folder.parent.name == "build"
        hint = " (run `make run` first)" if in_build else ""
        raise ReportError(f"notebook folder {folder} does not exist{hint}")
    paths = sorted(folder.glob(PATTERN))
    if not paths:
        raise ReportError(f"no notebooks named like {PATTERN} in {folder}")
    return paths


def check_executed(path: Path, nb) -> None:
    """Refuse notebooks that were not run (completely and without error)."""
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    missing = [i for i, c in enumerate(code, 1) if c.get("execution_count") is None]
    if missing:
        what = "was never executed" if len(missing) == len(code) else (
            f"was only partly executed ({len(missing)} of {len(code)} code cells have no output, "
            f"the first is code cell {missing[0]})")
        raise ReportError(f"{path} {what}. Execute the series first: `make run`, then "
                          f"`make report FROM=build/notebooks` "
                          f"(maintainers: `make notebooks` refreshes notebooks/).")
    for cell in code:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                raise ReportError(f"{path}: cell [{cell.execution_count}] ended with "
                                  f"{out.get('ename')}: {out.get('evalue')}. Fix it and re-run the series.")


def _plain(markdown: str) -> str:
    """Markdown heading text to plain text for <title> and the index's link text."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    return re.sub(r"[`*_]", "", text).strip()


def _first_sentence(paragraph: str) -> str:
    """The paragraph's first sentence; a leading bold label such as **Goal.** is dropped."""
    paragraph = " ".join(paragraph.split())
    paragraph = re.sub(r"^\*\*[^*]{1,40}[.:]\*\*\s*", "", paragraph)
    masked = re.sub(r"\$[^$]*\$|`[^`]*`", lambda m: "x" * len(m.group()), paragraph)
    end = re.search(r"[.!?](?=\s+[A-Z(\[*`$])", masked)
    return paragraph[: end.end()] if end else paragraph


def describe(path: Path, nb) -> Entry:
    first = nb.cells[0] if nb.cells else None
    if first is None or first.cell_type != "markdown":
        raise ReportError(f"{path}: the first cell must be markdown that starts with a `# N · Title` heading")
    lines = first.source.strip().splitlines()
    if not lines or not re.match(r"#\s+\S", lines[0]):
        raise ReportError(f"{path}: the first cell must start with a `# Title` heading, found {lines[:1]}")
    heading = lines[0].lstrip("#").strip()
    paragraphs = [p.strip() for p in "\n".join(lines[1:]).split("\n\n") if p.strip()]
    description = _first_sentence(paragraphs[0]) if paragraphs else ""
    return Entry(path, path.with_suffix(".html").name, _plain(heading), heading, description)


# --------------------------------------------------------------------------- rendering

def _make_exporter(entries: list[Entry], run_dir: Path):
    """An nbconvert HTMLExporter whose markdown renderer embeds images, renders
    math as MathML and rewrites links (see the module docstring)."""
    from jinja2 import DictLoader, pass_context
    from latex2mathml.converter import convert as latex_to_mathml
    from nbconvert import HTMLExporter
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    series = {e.source.resolve(): e.page for e in entries}
    warnings: list[str] = []

    class ReportRenderer(IPythonRenderer):
        source: Path = Path()

        # Math: MathML instead of TeX for MathJax.
        def _math(self, tex: str, display: str) -> str:
            try:
                return latex_to_mathml(tex, display=display)
            except Exception as err:  # noqa: BLE001 - any converter failure: show the TeX instead
                warnings.append(f"{self.source.name}: could not convert ${tex}$ to MathML ({err}); "
                                "shown as TeX")
                return f"<code>{html.escape(tex)}</code>"

        def block_math(self, body):
            return self._math(body, "block")

        def inline_math(self, body):
            return self._math(body, "inline")

        def latex_environment(self, name, body):
            return self._math(f"\\begin{{{name}}}{body}\\end{{{name}}}", "block")

        # Links and images in markdown and in raw HTML inside markdown.
        def link(self, text, url, title=None):
            target = self._rewrite_href(url)
            if target is None:
                note = html.escape(f"{url} in the repository")
                return f'<span class="report-repo-link" title="{note}">{text}</span>'
            return super().link(text, target, title)

        def _embed_image_or_attachment(self, src):
            if src.startswith(("attachment:", "data:")) or _is_external(src):
                return super()._embed_image_or_attachment(src)
            return self._embed_file(src)

        def block_html(self, html_text):
            return super().block_html(self._rewrite_html(html_text))

        def inline_html(self, html_text):
            return super().inline_html(self._rewrite_html(html_text))

        def _rewrite_html(self, fragment: str) -> str:
            def img(m):
                src = self._embed_image_or_attachment(html.unescape(m.group(3)))
                return f"{m.group(1)}{m.group(2)}{src}{m.group(2)}"

            def href(m):
                target = self._rewrite_href(html.unescape(m.group(3)))
                target = html.escape(target if target is not None else "#")
                return f"{m.group(1)}{m.group(2)}{target}{m.group(2)}"

            flags = re.IGNORECASE | re.DOTALL
            fragment = re.sub(r'(<img\b[^>]*?\bsrc=)(["\'])(.*?)\2', img, fragment, flags=flags)
            return re.sub(r'(<a\b[^>]*?\bhref=)(["\'])(.*?)\2', href, fragment, flags=flags)

        def _rewrite_href(self, url: str) -> str | None:
            """Where a link should point in the report; None: nowhere (a repository file)."""
            if url.startswith(("#", "data:")) or _is_external(url):
                return url
            parts = urlsplit(url)
            fragment = f"#{parts.fragment}" if parts.fragment else ""
            if parts.path.endswith(".ipynb"):
                target = (self.source.parent / unquote(parts.path)).resolve()
                # links are relative to the series folder wherever the notebook was run from
                alt = (run_dir / unquote(parts.path)).resolve()
                for candidate in (target, alt):
                    if candidate in series:
                        return series[candidate] + fragment
                for path, page in series.items():
                    if path.name == Path(parts.path).name:
                        return page + fragment
                if target.is_file() or alt.is_file():  # e.g. 07 after a `make run` of 01-06
                    warnings.append(f"{self.source.name}: {url} is not in this report; "
                                    "its link is plain text")
                    return None
                raise ReportError(f"{self.source}: link to {url}, which is not a notebook of the series "
                                  f"({', '.join(p.name for p in series)})")
            return None

        def _embed_file(self, src: str) -> str:
            rel = unquote(urlsplit(src).path)
            for base in dict.fromkeys((run_dir, self.source.parent)):
                path = (base / rel).resolve()
                if path.is_file():
                    break
            else:
                raise ReportError(f"{self.source}: image {src} not found (looked in {run_dir}); "
                                  f"run the notebook that writes it, or fix the path")
            mime = mimetypes.guess_type(path.name)[0]
            if not mime or not mime.startswith("image/"):
                raise ReportError(f"{self.source}: {src} is used as an image but is not one")
            return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"

    class ReportExporter(HTMLExporter):
        current: Path = Path()

        @pass_context
        def markdown2html(self, context, source):
            cell = context.get("cell", {})
            renderer = ReportRenderer(escape=False, attachments=cell.get("attachments", {}),
                                      embed_images=True, path=str(run_dir),
                                      anchor_link_text=self.anchor_link_text,
                                      exclude_anchor_links=self.exclude_anchor_links)
            renderer.source = self.current
            return MarkdownWithMath(renderer=renderer).render(source)

    exporter = ReportExporter(template_name="lab", template_file="report.html.j2", embed_images=True,
                              extra_loaders=[DictLoader({"report.html.j2": TEMPLATE})])
    return exporter, warnings


def _is_external(url: str) -> bool:
    return bool(re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", url)) and not url.startswith("data:")


def _nav(entries: list[Entry], i: int) -> str:
    def a(e: Entry, cls: str, label: str) -> str:
        return f'<a class="{cls}" href="{html.escape(e.page)}">{label}{html.escape(e.title)}</a>'

    parts = ['<a class="report-index" href="index.html">Series index</a>']
    if i > 0:
        parts.append(a(entries[i - 1], "report-prev", "← "))
    if i + 1 < len(entries):
        parts.append(a(entries[i + 1], "report-next", "→ "))
    return f'<nav class="report-nav">{"".join(parts)}</nav>'


def _for_report(nb):
    """Widgets need a kernel: show their static fallback (an image or HTML) if the output has one,
    else a note saying where to use them. Only this in-memory copy changes, not the notebook."""
    note = ('<div class="report-widget-note">Interactive widget: open this notebook in JupyterLab '
            '(<code>make lab</code>) and run it to use it.</div>')
    static = ("image/png", "image/jpeg", "image/svg+xml", "text/html")
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
                if not any(mime in data for mime in static):
                    out["data"] = {"text/html": note}
    nb.metadata.pop("widgets", None)
    return nb


def render_page(exporter, entries: list[Entry], i: int, nb) -> str:
    entry = entries[i]
    nb.metadata["title"] = entry.title
    exporter.current = entry.source
    resources = {"metadata": {"name": entry.source.stem, "path": str(entry.source.parent)},
                 "report_nav_top": _nav(entries, i), "report_nav_bottom": _nav(entries, i)}
    body, _ = exporter.from_notebook_node(_for_report(nb), resources=resources)
    return body


def render_index(entries: list[Entry], exporter, source_label: str) -> str:
    items = []
    for e in entries:
        exporter.current = e.source
        # the same renderer as the pages: math, links and images in descriptions work alike
        renderer_html = exporter.markdown2html({}, e.description_md) if e.description_md else ""
        description = re.sub(r"^<p>|</p>\s*$", "", renderer_html.strip())
        description = re.sub(r"</?a\b[^>]*>", "", description)  # the title is the item's only link
        items.append(f'<li><a href="{html.escape(e.page)}">{html.escape(e.title)}</a>'
                     f"<p>{description}</p></li>")
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8" />\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1.0">\n'
            f"<title>{html.escape(SERIES_TITLE)}</title>\n<style>{INDEX_STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{html.escape(SERIES_TITLE)}</h1>\n<p>Read the notebooks in order; each page is the "
            f"notebook with its code and the outputs of one run.</p>\n<ol>\n" + "\n".join(items) +
            f"\n</ol>\n<footer>Exported from {html.escape(source_label)} with nbconvert. "
            f"To run the code yourself: <code>make lab</code> in the repository.</footer>\n"
            f"</body>\n</html>\n")


# --------------------------------------------------------------------------- checking the result

class _Refs(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, value)

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href", "srcset", "poster", "data") and value is not None:
                self.refs.append((tag, name, value))


def check_self_contained(pages: dict[str, str]) -> None:
    """Every page loads nothing from outside and links only to pages of the report (or the web)."""
    for name, text in pages.items():
        parser = _Refs()
        parser.feed(text)
        for tag, attr, value in parser.refs:
            if value.startswith(("data:", "#")) or not value:
                continue
            if _is_external(value):
                if tag == "a" and attr == "href":
                    continue  # a link the reader may follow; nothing loads it
                raise ReportError(f"{name}: <{tag} {attr}> loads {value[:80]} from outside the report")
            target = unquote(urlsplit(value).path)
            if target not in pages:
                raise ReportError(f"{name}: <{tag} {attr}=\"{value[:80]}\"> points outside the report folder")


# --------------------------------------------------------------------------- main

def export(source_dir: Path = NOTEBOOKS, out_dir: Path = ROOT / "build" / "report",
           run_dir: Path = NOTEBOOKS) -> tuple[list[Path], list[str]]:
    """Export every notebook of source_dir to out_dir; return the pages written (index first) and warnings."""
    paths = find_notebooks(source_dir)
    notebooks = []
    for path in paths:
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as err:  # any parse error: say which notebook
            raise ReportError(f"{path} is not a readable notebook: {err}") from err
        check_executed(path, nb)
        notebooks.append(nb)
    entries = [describe(p, nb) for p, nb in zip(paths, notebooks, strict=True)]
    exporter, warnings = _make_exporter(entries, run_dir.resolve())
    pages = {e.page: render_page(exporter, entries, i, nb)
             for i, (e, nb) in enumerate(zip(entries, notebooks, strict=True))}
    inside = source_dir.resolve().is_relative_to(ROOT)
    label = os.path.relpath(source_dir.resolve(), ROOT) if inside else str(source_dir)
    pages = {"index.html": render_index(entries, exporter, f"{label}/"), **pages}
    check_self_contained(pages)
    written = []
    for name, text in pages.items():
        _atomic_write(out_dir / name, text)
        written.append(out_dir / name)
    for stale in sorted(set(out_dir.glob("[0-9][0-9]_*.html")) - set(written)):
        stale.unlink()
    return written, warnings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", type=Path, default=NOTEBOOKS,
                        help="folder with the executed notebooks (default: notebooks/, the committed run; "
                             "build/notebooks after `make run`)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "report",
                        help="report folder (default: build/report)")
    parser.add_argument("--run-dir", type=Path, default=NOTEBOOKS,
                        help="folder the notebooks ran in, which relative image paths such as ../imgs/x.png "
                             "start from (default: notebooks/)")
    args = parser.parse_args(argv)
    try:
        written, warnings = export(args.source, args.out, args.run_dir)
    except ReportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    size = sum(p.stat().st_size for p in written) / 1e6
    print(f"Report: {len(written) - 1} notebook pages + index ({size:.1f} MB) in {args.out}")
    print(f"Open {(args.out / 'index.html').resolve().as_uri()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
