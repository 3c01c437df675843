"""The sentence audit keeps the prose's results in step with what backs them.

``docs/audit/`` holds one YAML file per notebook, and one each for the README and the pages of
``docs/``. Each lists, as a fresh reader found them by reading the page against its
outputs and figures, every sentence that states a result (what a figure shows, what rose or fell,
what is better or the same, what the model keeps or cannot do, any number or time), with what
backs it:

* ``measured``: a printed measure states it; ``output`` quotes it (a string or a list), and each
  quote must occur in the outputs of the notebook (``from`` names another notebook, or a committed
  file such as ``docs/tuning.md``, which the quote must then occur in);
* ``recorded``: a measured number of a run whose outputs are not committed (the Fashion-MNIST
  run, the K = 5000 estimate); ``run`` gives the command that repeats it;
* ``figure``: the reader saw it in a committed figure; ``figure`` names the file in ``imgs/`` and
  ``seen`` says what was counted there;
* ``theory``: true of every VAE (or a fact of the data or of a definition); ``reason`` says why;
* ``explanation``: a hypothesis, and worded as one in the prose ("one reason is", "likely", ...);
  ``reason`` says what it explains;
* ``description``: a sentence the checks look at that says what the page contains or does, not a
  result ("01 data, 02 model, ..."); ``reason`` says so.

There is no verdict for a contradicted or unsupported sentence: the committed audit has none.
This test fails when an audited sentence no longer exists, when a quoted output is no longer
printed, when an explanation is stated as a fact, and when a sentence that ``test_prose`` or
``test_claims`` would look at (a descriptive sentence about the run, a number of nats, per cent,
seconds or minutes) is not in the audit.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from test_prose import descriptive, sentences

from vae_tools import series

ROOT = Path(__file__).resolve().parent.parent
AUDIT = ROOT / "docs" / "audit"
NOTEBOOKS = series.notebooks()
# The README and every page of docs/ (a page without a result sentence has an empty audit).
PAGES = {"README": ROOT / "README.md", **{page.stem: page for page in sorted((ROOT / "docs").glob("*.md"))}}
VERDICTS = {"measured", "recorded", "figure", "theory", "explanation", "description"}
# How the prose marks a hypothesis. The audit, not this list, decides what is an explanation: the list
# only checks that a sentence the reader judged a hypothesis does not read as a measured fact.
HEDGE = re.compile(r"\b(one reason|a reason|reasons?|likely|probably|perhaps|presumably|we expect|expected?|"
                   r"may|might|could|suggests?|plausible|one explanation|an explanation|explains?|"
                   r"our reading|we read|a guess|hypothes\w*|in theory|theory says|would)\b", re.I)
# A number that reads as a result: nats, bits, per cent, a time.
RESULT_NUMBER = re.compile(r"(?<![\w.$^])\d[\d,]*(?:\.\d+)?\s*(?:nats?\b|bits?\b|%|s\b|seconds?\b|min\b|"
                           r"minutes?\b|hours?\b|h\b)")


def flat(text: str) -> str:
    return " ".join(text.split())


def notebook_cells(path: Path) -> tuple[dict[str, str], str]:
    """The markdown cells of a notebook by id, and every output it printed, as one flat text."""
    nb = json.loads(path.read_text())
    markdown = {c["id"]: "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"}
    printed = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            printed.append("".join(out.get("text", "")))
            printed.append("".join(out.get("data", {}).get("text/plain", "")))
    return markdown, flat("\n".join(printed))


def unwrapped(markdown: str) -> str:
    """A page's paragraphs on one line each (a page wraps its lines; a notebook cell does not), so
    that a sentence split over lines is one sentence; list items, table rows and headings stay apart."""
    return re.sub(r"(?<=\S)\n(?=[ \t]*[^\s|#*>-])(?![ \t]*\d+\. )", " ", markdown)


def load_audit(name: str) -> dict:
    path = AUDIT / f"{name}.yml"
    assert path.exists(), f"{path.relative_to(ROOT)} is missing: every notebook and results page is audited"
    return yaml.safe_load(path.read_text())


def sentence_around(text: str, fragment: str) -> str:
    """The whole sentence of ``text`` that holds ``fragment`` (both flat)."""
    at = text.index(fragment)
    start = max(text.rfind(". ", 0, at), text.rfind("? ", 0, at), text.rfind("! ", 0, at)) + 1
    end = min(i for i in (text.find(". ", at + len(fragment)), len(text)) if i >= 0)
    return text[start:end + 1].strip()


def quoted_source(name: str, printed: dict[str, str]) -> str | None:
    """What a ``from`` may quote: a notebook's outputs by stem ('' for the notebook itself), or a
    committed text file's content by its path."""
    if name in printed:
        return printed[name]
    path = ROOT / name
    return flat(path.read_text()) if name and path.is_file() else None


def entry_problems(entry: dict, where: str, text: str, printed: dict[str, str]) -> list[str]:
    """What is wrong with one audit entry: ``text`` is the markdown it quotes from, ``printed`` the
    outputs of the notebooks it may quote by name."""
    said = flat(str(entry.get("text", "")))
    if not said:
        return [f"{where}: an entry without text"]
    if said not in text:
        return [f"{where}: no longer in the page: {said!r}"]
    verdict = entry.get("verdict")
    problems = []
    if verdict not in VERDICTS:
        problems.append(f"{where}: verdict {verdict!r} is not one of {sorted(VERDICTS)}: {said!r}")
    elif verdict == "measured":
        quotes = entry.get("output")
        quotes = [quotes] if isinstance(quotes, str) else quotes or []
        source = quoted_source(entry.get("from", ""), printed)
        if source is None:
            problems.append(f"{where}: 'from: {entry.get('from')}' names no notebook: {said!r}")
        elif not quotes:
            problems.append(f"{where}: measured, but no output quoted: {said!r}")
        problems += [f"{where}: the output {q!r} is no longer printed: {said!r}"
                     for q in quotes if source is not None and flat(str(q)) not in source]
    elif verdict == "recorded":
        if not entry.get("run"):
            problems.append(f"{where}: a recorded number needs the command of its run: {said!r}")
    elif verdict == "figure":
        figure = ROOT / "imgs" / str(entry.get("figure", ""))
        if not entry.get("figure") or not figure.is_file():
            problems.append(f"{where}: figure {entry.get('figure')!r} is not in imgs/: {said!r}")
        if not entry.get("seen"):
            problems.append(f"{where}: a figure entry must say what was seen or counted: {said!r}")
    else:  # theory, explanation, description
        if not entry.get("reason"):
            problems.append(f"{where}: a {verdict} entry needs its reason: {said!r}")
        if verdict == "explanation" and not HEDGE.search(sentence_around(text, said)):
            problems.append(f"{where}: an explanation worded as a fact (say 'one reason is', 'likely', ...): "
                            f"{sentence_around(text, said)!r}")
    return problems


def audit_problems(name: str, audit: dict, markdown: dict[str, str], printed: dict[str, str],
                   page: str | None = None) -> list[str]:
    """Every problem of one audit file: its entries, and the sentences it should list but does not.
    ``markdown`` maps a notebook's cell ids to their text; a page has one text, ``page``."""
    problems = []
    listed: dict[str, list[str]] = {}
    for k, entry in enumerate(audit.get("sentences") or []):
        cell = entry.get("cell")
        text = page if page is not None else markdown.get(cell)
        where = f"{name} entry {k}" + (f" (cell {cell})" if cell else "")
        if text is None:
            problems.append(f"{where}: no markdown cell with id {cell!r}")
            continue
        problems += entry_problems(entry, where, flat(text), printed)
        listed.setdefault(cell if page is None else "", []).append(flat(str(entry.get("text", ""))))
    texts = {"": page} if page is not None else markdown
    for cell, text in texts.items():
        audited = [flat(" ".join(sentences(t))) for t in listed.get(cell, [])]
        for sentence in sentences(text):
            needs = descriptive(sentence) or RESULT_NUMBER.search(sentence)
            if needs and not any(a and (a in flat(sentence) or flat(sentence) in a) for a in audited):
                problems.append(f"{name}" + (f" cell {cell}" if page is None else "")
                                + f": a result sentence the audit does not list: {sentence!r}")
    return problems


def all_outputs() -> dict[str, str]:
    return {path.stem: notebook_cells(path)[1] for path in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_result_sentence_of_a_notebook_is_audited_and_backed(path):
    markdown, printed = notebook_cells(path)
    outputs = {"": printed, **all_outputs()}
    assert audit_problems(path.stem, load_audit(path.stem), markdown, outputs) == []


@pytest.mark.parametrize("name", PAGES)
def test_every_result_sentence_of_a_results_page_is_audited_and_backed(name):
    page = unwrapped(PAGES[name].read_text())
    assert audit_problems(name, load_audit(name), {}, all_outputs(), page=page) == []


def _notebook(markdown: str, printed: str):
    return {"c1": markdown}, {"": flat(printed)}


def test_the_audit_fails_on_a_changed_sentence_a_lost_output_a_bare_explanation_and_a_missing_sentence():
    markdown, printed = _notebook(
        "The KL curve falls after epoch 1. One reason is the warm-up of the decoder. The loss is 143.3 nats.",
        "Checked: the KL curve falls after epoch 1: 4.6 -> 3.1 nats.\nTest loss 143.34 nats")
    good = {"sentences": [
        {"cell": "c1", "text": "The KL curve falls after epoch 1.", "verdict": "measured",
         "output": "Checked: the KL curve falls after epoch 1"},
        {"cell": "c1", "text": "One reason is the warm-up of the decoder.", "verdict": "explanation",
         "reason": "why the KL falls"},
        {"cell": "c1", "text": "The loss is 143.3 nats.", "verdict": "measured", "output": "143.34 nats"}]}
    assert audit_problems("nb", good, markdown, printed) == []

    changed = {"c1": markdown["c1"].replace("falls after", "rises after")}
    assert any("no longer in the page" in p for p in audit_problems("nb", good, changed, printed))
    assert any("no longer printed" in p for p in audit_problems("nb", good, markdown, {"": "Test loss 99"}))
    bare = {"c1": markdown["c1"].replace("One reason is the warm-up", "The cause is the warm-up")}
    bare_audit = {"sentences": [dict(e, text=e["text"].replace("One reason is", "The cause is"))
                                for e in good["sentences"]]}
    assert any("worded as a fact" in p for p in audit_problems("nb", bare_audit, bare, printed))
    missing = {"sentences": good["sentences"][1:]}
    assert any("does not list" in p and "KL curve falls" in p
               for p in audit_problems("nb", missing, markdown, printed))
    wrong = {"sentences": [dict(good["sentences"][0], verdict="contradicted")] + good["sentences"][1:]}
    assert any("is not one of" in p for p in audit_problems("nb", wrong, markdown, printed))
