"""The "Open in Colab" badges of the notebooks and the README, from the one repository URL and release.

The URL is ``[project.urls] Repository`` in pyproject.toml and the release is its ``version``, tagged
``v<version>`` in the repository. This tool writes both into the notebooks' setup cell
(``helpers = "git+<URL>@v<version>"``), which installs exactly that release of the helpers where they
are missing (Colab, a JupyterHub). Each badge opens the notebook's **student edition** of that
release, ``editions/student/notebooks/<notebook>.ipynb`` at the tag (written by ``tools/editions.py
student``): a student on Colab gets the exercises, not our worked solutions, with the helpers they
were written for. Colab opens notebooks from GitHub, so a repository elsewhere, or none, gets no
badge (and this tool removes old ones).

    python tools/badges.py           # write the badges into notebooks/*.ipynb and README.md
    python tools/badges.py --check   # exit 1, naming the files, if a badge is missing or stale

Run it, then ``python tools/editions.py student``, after changing the URL or the version (a release:
CONTRIBUTING.md); tests/test_editions.py checks that both are up to date.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

import nbformat

from vae_tools.series import notebooks

ROOT = Path(__file__).resolve().parent.parent
STUDENT_EDITION = "editions/student/notebooks"  # in the repository, what the badges open
COLAB = "https://colab.research.google.com/github"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE = re.compile(r"^\[!\[Open In Colab\]\(.*\)\]\(.*\)\n?", re.MULTILINE)
README_START, README_END = "<!-- badges: start -->", "<!-- badges: end -->"
HELPERS_LINE = re.compile(r'^helpers = "[^"]*"', re.MULTILINE)  # in the setup cell


def repository_url(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """pyproject.toml's ``[project.urls] Repository``, or "" when it is not set."""
    data = tomllib.loads(pyproject.read_text())
    url = data.get("project", {}).get("urls", {}).get("Repository", "")
    return url.strip().rstrip("/").removesuffix(".git")


def release_tag(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The git tag of the release that the badges open and the setup cell installs: ``v<version>``."""
    return f"v{tomllib.loads(pyproject.read_text())['project']['version']}"


def colab_url(repository: str, notebook: str, tag: str) -> str | None:
    """The Colab address of ``notebook``'s student edition at ``tag`` in ``repository`` (None: not on
    GitHub)."""
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+)", repository)
    if match is None:
        return None
    owner, name = match.groups()
    return f"{COLAB}/{owner}/{name}/blob/{tag}/{STUDENT_EDITION}/{notebook}"


def badge(url: str | None) -> str:
    """The Markdown of one badge, or "" for no badge."""
    return f"[![Open In Colab]({BADGE_IMAGE})]({url})" if url else ""


def notebook_with_badge(nb: nbformat.NotebookNode, line: str) -> nbformat.NotebookNode:
    """``nb`` with ``line`` (a badge, or "" for none) right below the title of its first cell."""
    first = nb.cells[0]
    title, _, rest = BADGE.sub("", first.source).partition("\n")
    rest = rest.lstrip("\n")
    first.source = f"{title}\n\n{line}\n\n{rest}" if line else f"{title}\n\n{rest}"
    return nb


def notebook_installing_from(nb: nbformat.NotebookNode, repository: str, tag: str) -> nbformat.NotebookNode:
    """``nb`` with its setup cell installing the release ``tag`` of the helpers from ``repository``
    (unchanged when no repository is set)."""
    if repository:
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.source.startswith("# Setup:"):
                cell.source = HELPERS_LINE.sub(f'helpers = "git+{repository}@{tag}"', cell.source)
    return nb


def readme_with_badge(text: str, line: str) -> str:
    """README.md with ``line`` between its badge markers."""
    if README_START not in text or README_END not in text:
        raise SystemExit(f"README.md needs the lines {README_START} and {README_END}: the badge goes between")
    head, _, rest = text.partition(README_START)
    _, _, tail = rest.partition(README_END)
    middle = f"\n{line} Open the series in Colab: each notebook has its own badge.\n" if line else "\n"
    return f"{head}{README_START}{middle}{README_END}{tail}"


def updated(root: Path = ROOT, repository: str | None = None) -> dict[Path, str]:
    """Every file whose badges differ from what the repository URL gives, with its new text."""
    repository = repository_url(root / "pyproject.toml") if repository is None else repository
    tag = release_tag(root / "pyproject.toml")
    changes = {}
    for path in notebooks(root / "notebooks"):
        old = path.read_text()
        nb = notebook_with_badge(nbformat.reads(old, as_version=4),
                                 badge(colab_url(repository, path.name, tag)))
        nb = notebook_installing_from(nb, repository, tag)
        new = nbformat.writes(nb) + "\n"
        if new != old:
            changes[path] = new
    readme = root / "README.md"
    first = notebooks(root / "notebooks")[0].name
    text = readme_with_badge(readme.read_text(), badge(colab_url(repository, first, tag)))
    if text != readme.read_text():
        changes[readme] = text
    return changes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if a file needs new badges")
    args = parser.parse_args(argv)
    changes = updated()
    if args.check:
        for path in changes:
            print(f"stale Colab badge: {path.relative_to(ROOT)} (run python tools/badges.py)",
                  file=sys.stderr)
        return 1 if changes else 0
    for path, text in changes.items():
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        tmp.replace(path)  # atomically
    url = repository_url()
    print(f"Colab badges from {url or 'no repository URL (none written)'} at {release_tag()}: "
          f"{len(changes)} files updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
