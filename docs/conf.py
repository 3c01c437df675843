"""Sphinx configuration of the documentation site (``make site``, built by tools/build_site.py).

tools/build_site.py lays out a source tree that mirrors the repository (``index.md`` from
docs/index.md at its root, ``notebooks/NN_*.ipynb``, ``docs/*.md``) and runs Sphinx with this
file once per flavour, with the tag ``student`` or ``instructor`` (``sphinx-build -t``).

* **The one setting** is the repository's URL: ``[project.urls] Repository`` in pyproject.toml.
  The launch buttons (Binder, Colab, JupyterHub), the repository button and the links to
  repository files that are not pages of the site (``../src/vae_helpers.py``) are built from
  it; the build stops with a clear error if it is missing.
* **The notebooks are not executed**: their committed outputs are shown
  (``nb_execution_mode = "off"``).
* **Nothing is loaded from the network**: MathJax 3 comes from the ``django-static-mathjax``
  wheel (a plain copy of MathJax 3.2.2, Apache-2.0, no Django needed) and is copied into
  ``_static/mathjax/`` of the site; the theme ships its own fonts and scripts.
"""

from __future__ import annotations

import importlib.util
import os
import posixpath
import shutil
import tomllib
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform

ROOT = Path(__file__).resolve().parent.parent

# --------------------------------------------------------------------------- the one setting

# The release the launch buttons and file links open: the tag v<version> of pyproject.toml's version,
# the release the notebooks' setup cell installs (tools/badges.py writes both).
with open(ROOT / "pyproject.toml", "rb") as _pyproject:
    REPOSITORY_BRANCH = f"v{tomllib.load(_pyproject)['project']['version']}"
# The course's JupyterHub (with nbgitpuller, which the "JupyterHub" button's git-pull link needs):
# `make site SITE_JUPYTERHUB_URL=https://hub.your-university.edu`. Without it, no JupyterHub button.
JUPYTERHUB_URL = os.environ.get("SITE_JUPYTERHUB_URL", "").rstrip("/")
BINDERHUB_URL = "https://mybinder.org"
COLAB_URL = "https://colab.research.google.com"


def repository_url() -> tuple[str, str]:
    """(URL, where it came from): pyproject.toml's [project.urls] Repository; ("", why) when unset."""
    try:
        with open(ROOT / "pyproject.toml", "rb") as f:
            url = tomllib.load(f).get("project", {}).get("urls", {}).get("Repository", "")
    except (OSError, tomllib.TOMLDecodeError):
        url = ""
    if url:
        return url.rstrip("/").removesuffix(".git"), "pyproject.toml [project.urls] Repository"
    return "", "pyproject.toml has no [project.urls] Repository: no launch buttons, no repository links"


REPOSITORY_URL, REPOSITORY_URL_SOURCE = repository_url()

# --------------------------------------------------------------------------- the flavour

INSTRUCTOR = tags.has("instructor")  # noqa: F821 - Sphinx puts `tags` into this file's namespace
if not INSTRUCTOR and not tags.has("student"):  # noqa: F821
    raise RuntimeError("build the site with tools/build_site.py (it passes -t student or -t instructor)")
FLAVOUR = "instructor" if INSTRUCTOR else "student"

# --------------------------------------------------------------------------- Sphinx

project = "Variational autoencoders on MNIST"
author = "the authors of the VAE notebook series"
copyright = "the authors of the VAE notebook series"
html_title = f"VAE on MNIST · {FLAVOUR} edition"
language = "en"

extensions = ["myst_nb", "sphinx.ext.mathjax"]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# MyST: $...$ and $$...$$ as in Jupyter; anchors for links such as README.md#performance.
# <img> tags in markdown become images Sphinx copies. `$$...$$` inside a paragraph or a list item
# is display math, as in Jupyter (else MyST reads it as $ + inline math + $).
myst_enable_extensions = ["dollarmath", "amsmath", "html_image"]
myst_dmath_double_inline = True
myst_heading_anchors = 3

# myst-nb: show the committed outputs, run nothing, load no widget JavaScript from a CDN.
nb_execution_mode = "off"
nb_merge_streams = True
nb_ipywidgets_js = {}
nb_output_stderr = "show"

# MathJax 3 from the django-static-mathjax wheel, copied into _static/mathjax/ (see setup()).
# tex-chtml-full has every TeX package built in, so no extension is fetched on demand.
mathjax_path = "mathjax/tex-chtml-full.js"
# (MathJax finds its fonts beside the script; MyST adds its processHtmlClass option to this dict.)
mathjax3_config = {"options": {}}
MATHJAX_FILES = ["tex-chtml-full.js", "output/chtml/fonts/woff-v2", "ui", "a11y", "adaptors"]

html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"  # else browsers ask for /favicon.ico, which the site has not
html_show_sphinx = False
html_show_copyright = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    "repository_url": REPOSITORY_URL,
    "repository_branch": REPOSITORY_BRANCH,
    # The site's source tree mirrors the repository, so a page's path is its file's path; the student
    # site's launch buttons open the student edition (editions/student/notebooks/, tools/editions.py).
    "path_to_docs": "" if INSTRUCTOR else "editions/student",
    "use_repository_button": bool(REPOSITORY_URL),
    "use_download_button": True,
    "use_fullscreen_button": False,
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "navigation_with_keys": False,
    # Set explicitly: pydata-sphinx-theme 0.20 otherwise adds a second header with another search
    # field above sphinx-book-theme's layout (sphinx-book-theme issue #986).
    "navbar_persistent": [],
    # No repository URL, no launch buttons: they would open a repository that is not there.
    "launch_buttons": {
        "binderhub_url": BINDERHUB_URL,
        "colab_url": COLAB_URL,
        **({"jupyterhub_url": JUPYTERHUB_URL} if JUPYTERHUB_URL else {}),
        "notebook_interface": "jupyterlab",
    } if REPOSITORY_URL else {},
    "extra_footer": "",
}
html_context = {"site_flavour": FLAVOUR, "default_mode": "auto"}


def _mathjax_source() -> Path:
    spec = importlib.util.find_spec("mathjax")
    folder = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" if spec else None
    if folder is None or not (folder / "es5" / "tex-chtml-full.js").is_file():
        raise RuntimeError("MathJax not found: pip install -r requirements.txt "
                           "(it pins django-static-mathjax)")
    return folder


def copy_mathjax(app, exception) -> None:
    """Copy the part of MathJax the pages use (about 2.5 MB) and its licence into _static/mathjax."""
    if exception is not None or app.builder.format != "html":
        return
    source, target = _mathjax_source(), Path(app.outdir) / "_static" / "mathjax"
    for name in MATHJAX_FILES:
        if (source / "es5" / name).is_dir():
            shutil.copytree(source / "es5" / name, target / name, dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / "es5" / name, target / name)
    shutil.copy2(source / "LICENSE", target / "LICENSE")


class RepositoryFileLinks(SphinxPostTransform):
    """A markdown link to a repository file that is not a page of the site (``../src/vae_helpers.py``,
    ``../README.md#performance``) becomes a link to that file in the repository. Runs before
    MyST's resolver (priority 9), which would otherwise warn "cross-reference target not found"."""

    default_priority = 8

    def run(self, **kwargs) -> None:
        for node in list(self.document.findall(addnodes.pending_xref)):
            if node.get("reftype") != "myst" or node.get("refdomain") not in (None, ""):
                continue
            target = node["reftarget"]
            path, _, fragment = target.partition("#")
            if not path or "://" in path:
                continue
            refdoc = node.get("refdoc", self.env.docname)
            repo_path = posixpath.normpath(posixpath.join(posixpath.dirname(refdoc), path))
            if repo_path.startswith("..") or not (ROOT / repo_path).exists():
                continue
            kind = "tree" if (ROOT / repo_path).is_dir() else "blob"
            url = f"{REPOSITORY_URL}/{kind}/{REPOSITORY_BRANCH}/{repo_path}"
            url += f"#{fragment}" if fragment else ""
            ref = nodes.reference("", "", internal=False, refuri=url, classes=["repository-file"])
            content = node[0].deepcopy() if len(node) else nodes.literal(path, path)
            if not content.astext():
                content = nodes.literal(path, path)
            ref.append(content)
            node.replace_self(ref)


def setup(app):
    _mathjax_source()  # fail at the start, not after the build, when MathJax is not installed
    app.add_post_transform(RepositoryFileLinks)
    app.connect("build-finished", copy_mathjax)
    app.add_config_value("site_repository_url_source", REPOSITORY_URL_SOURCE, "env")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
