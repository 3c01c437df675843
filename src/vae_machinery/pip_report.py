"""One line on what pip changed when a notebook's setup cell installed the helpers (Colab, a hub).

The setup cell runs ``pip install --quiet --report - <release>``: pip writes a JSON report of what it
installed to standard output (pip 22.2 or later). :func:`describe_install` turns it into one line:
what was installed, what was upgraded or downgraded (a hosted runtime ships its own versions), and
whether the kernel must restart because one of the changed packages was already imported at its
old version (a running Python keeps the module it loaded: ipywidgets, matplotlib, keras...).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from importlib import metadata

ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): ``Keras`` and ``keras``, ``ipy_events``
    and ``ipy-events`` are the same."""
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_distributions(modules: Collection[str]) -> set[str]:
    """The canonical names of the distributions that provide one of ``modules`` (``sys.modules``)."""
    provided = metadata.packages_distributions()
    tops = {name.partition(".")[0] for name in modules}
    return {canonical(dist) for top in tops for dist in provided.get(top, [])}


def describe_install(report: str, before: Mapping[str, str], modules: Collection[str]) -> str:
    """One line from pip's JSON ``report`` (``--report -``), the versions installed ``before`` pip ran
    (by distribution name, as the setup cell records them before this package exists) and the modules
    imported in this kernel (``sys.modules``)."""
    before = {canonical(name): version for name, version in before.items()}
    try:  # in a Jupyter kernel pip colours its JSON (the kernel asks tools for colour): drop the colours
        items = json.loads(ANSI_COLOUR.sub("", report))["install"]
    except (ValueError, KeyError, TypeError):
        return ("pip installed the helpers (it gave no report of what it changed: "
                "pip 22.2 or later gives one).")
    added, changed = [], []
    for item in items:
        name, version = item["metadata"]["name"], item["metadata"]["version"]
        old = before.get(canonical(name))
        if old is None or old == version:  # pip lists only what it installs: new, or the same reinstalled
            added.append(f"{name} {version}" + (" (reinstalled)" if old else ""))
        else:
            changed.append((canonical(name), f"{name} {old} -> {version}"))
    if not added and not changed:
        return "pip changed nothing: every package was already installed."
    parts = [f"pip installed {', '.join(added)}"] if added else []
    if changed:
        parts.append(f"changed {', '.join(text for _, text in changed)}")
    line = "; ".join(parts) + "."
    stale = sorted(name for name, _ in changed if name in imported_distributions(modules))
    if stale:
        which = (f"{stale[0]} was already imported at its old version" if len(stale) == 1
                 else f"{', '.join(stale)} were already imported at their old versions")
        line += (" Restart the kernel (on Colab: Runtime > Restart session), then run the notebook again: "
                 f"{which}.")
    return line


__all__ = ["canonical", "describe_install", "imported_distributions"]
