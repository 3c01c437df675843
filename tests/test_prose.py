"""Every sentence that says what this run's figures or results show is checked by code beside it.

``tests/test_claims.py`` keeps the prose's *numbers* honest. This test keeps its *words* honest:
a sentence that describes a result ("the codes form clusters", "the KL falls", "free bits switch
on every dimension") is a claim about this run, and a re-run can make it false. So every such
sentence in a markdown cell must sit beside a check: a code cell near it (up to three cells
before, two after) ran ``vh.claim(holds, statement, measure, ...)``, which in the default run
asserts ``holds`` and prints ``Checked: <statement>: <measure>.``, and that printed statement
shares the sentence's descriptive word. The test reads the committed outputs, so a check counts
only if it ran and held in the default run. A sentence in a Summary section may lean on any check
of its notebook. A sentence whose descriptive word is negated where the check's is not (or the
other way round: "no gaps" beside a check of "gaps") is reported as a contradiction.

Which sentences count as descriptive: one with a word of ``DESCRIBES`` (what a figure or a result
looks like: clusters, gaps, blur, rises, better, collapse, ...) that is about this run (a word of
``ABOUT_RUN``: the figure, the codes, the samples, this run, above, below, ...) and is not a
hypothetical ("would", "if", "try", ...). A sentence that is true of every VAE (theory), or that
tells the reader what to look at without saying what is there, is listed in ``NOT_ABOUT_THIS_RUN``
with the reason it needs no check; the list is short on purpose and the test fails when an entry
no longer matches a sentence, so it cannot grow stale.
"""

import json
import re
from pathlib import Path

import pytest

from vae_tools import series

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = series.notebooks()

MATH = re.compile(r"\$\$.*?\$\$|\$[^$]*\$", re.S)
CODE = re.compile(r"`[^`]*`")
LINK = re.compile(r"\]\([^)]*\)")
TAG = re.compile(r"</?[A-Za-z!][^>]*>")
DESCRIBES = re.compile(
    r"\b(clusters?|clustered|gaps?|overlap\w*|separat\w*|blurr?\w*|sharp\w*|smooth\w*|spread\w*|"
    r"rises?|rising|rose|falls?|falling|fell|drops?|dropped|grows?|grew|shrinks?|shrank|"
    r"better|worse|higher|lower(?! bound)|highest|lowest|collaps\w*|faint\w*|thick\w*|crisp\w*|fuzz\w*|"
    r"hug\w*|uniform|plausible|recogni[sz]able|legible|resembl\w*|blend\w*|mixed|confus\w*|"
    r"switch\w* on|unused|inactive|recover\w*|distinct)\b", re.I)
ABOUT_RUN = re.compile(
    r"\b(figure|plot|picture|map|scatter|panels?|rows?|columns?|grid|above|below|left|right|here|"
    r"this run|our runs?|these runs|the runs|committed|default run|shows?|shown|look\w*|"
    r"printed|prints|table|curves?|codes|samples|reconstructions|cloud)\b", re.I)
HYPOTHETICAL = re.compile(r"\b(would|could|might|can|may|if|try|predict\w*|expect\w*|suppose|imagine)\b",
                          re.I)
NEGATION = re.compile(r"\b(no|not|without|never|none|nor|neither|cannot|isn't|aren't|doesn't|don't|"
                      r"few|rare|rarely|seldom|hardly|barely)\b", re.I)
CHECKED = re.compile(r"^Checked: (.*)$", re.M)

# Sentences of the DESCRIBES/ABOUT_RUN kind that need no check: notebook ("*": every one) -> {start: reason}.
NOT_ABOUT_THIS_RUN: dict[str, dict[str, str]] = {
    "*": {"The notebooks as committed in the repository are the *instructor edition*":
          "how the editions differ ('collapsed' answer cells), not a result",
          "The self-check looks only at": "what the self-check does, not a result",
          "Goal.": "the notebook's plan, not a result", "You will learn": "the notebook's plan, not a result",
          "Run time.": "how long the notebook takes, not a result"},
    "02_model": {
        "is there to explore the trade-off on purpose": "what β does in general (theory); 07 checks it"},
    "03_training": {
        "The effect is small: after a nearly flat epoch 15": "read off the printed epoch lines above it "
        "(validation loss 146.59 at epoch 15, 145.67 and 144.69 at 16 and 17; docs/audit/03_training.yml); "
        "one run decides nothing, docs/tuning.md compares the schedules over three seeds",
        "Notebook 07 trains exactly this model": "checked in 07 (the mean rate (KL) falls and the mean "
        "distortion (BCE) rises as beta grows)"},
    "05_sampling": {
        "A plain autoencoder has no such term": "notebook 07's plain autoencoder, not this run: its samples "
        "are in 07's figure imgs/autoencoder_vs_vae.png"},
    "07_experiments": {
        "A rate above  b  means the smaller β": "what a rate outside [a, b] means (theory)",
        "For each pair of neighbouring weights": "exercise 1's instructions, not a result"},
    "09_conv_vae": {
        "Count one multiply-add for each weight": "how to count multiply-adds (definition)"},
}


def sentences(markdown: str) -> list[str]:
    """The sentences of a markdown cell, with formulas, code spans, links' targets and tags removed."""
    text = MATH.sub(lambda m: " " + m.group(0).strip("$") + " ", markdown)
    text = TAG.sub(" ", LINK.sub("]", CODE.sub(" ", text)))
    parts = re.split(r"(?<=[.!?])\s+|\n+", text)
    return [p.strip(" *#-") for p in parts if p.strip(" *#-")]


def stems(text: str) -> dict[str, bool]:
    """The descriptive words of ``text`` (their first five letters) -> whether each is negated: a
    negation or a word like "few" or "rare" among the four words before it or the three after it."""
    found = {}
    for match in DESCRIBES.finditer(text):
        around = text[:match.start()].split()[-4:] + text[match.end():].split()[:3]
        found[match.group(1).lower()[:5]] = bool(NEGATION.search(" ".join(around)))
    return found


def checked_statements(cell: dict) -> list[str]:
    """What the ``vh.claim`` calls of a code cell printed as checked (its committed outputs)."""
    text = "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))
    return CHECKED.findall(text)


def descriptive(sentence: str) -> bool:
    if sentence.startswith("Rubric") or sentence.endswith("?"):  # what an answer must say; a question
        return False
    sentence = re.sub(r"\((?:lower|higher) is better\)", "", sentence)  # how to read a column, not a result
    if re.search(r"Dask|worker|scheduler", sentence):  # a cluster of computers, not of codes
        sentence = re.sub(r"\bclusters?\b", "", sentence)
    return bool(DESCRIBES.search(sentence) and ABOUT_RUN.search(sentence)
                and not HYPOTHETICAL.search(sentence))


def unbacked_sentences(nb: dict, name: str) -> list[str]:
    """Every descriptive sentence of ``nb`` without a claim beside it, or contradicting it."""
    cells = nb["cells"]
    exempt = {**NOT_ABOUT_THIS_RUN["*"], **NOT_ABOUT_THIS_RUN.get(name, {})}
    everywhere = [s for c in cells if c["cell_type"] == "code" for s in checked_statements(c)]
    problems = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        near = [c for c in cells[max(0, i - 3):i + 3] if c["cell_type"] == "code"]
        statements = everywhere if source.lstrip().startswith("## Summary") or "\n## Summary" in source \
            else [s for c in near for s in checked_statements(c)]
        for sentence in sentences("".join(cell["source"])):
            if not descriptive(sentence) or any(sentence.startswith(start) for start in exempt):
                continue
            said = stems(sentence)
            checks = [stems(s) for s in statements]
            shared = [(word, check[word]) for check in checks for word in said if word in check]
            if not shared:
                problems.append(f"cell {i}: no check beside it: {sentence!r}")
            elif all(said[word] != negated for word, negated in shared):
                problems.append(f"cell {i}: contradicts the check beside it: {sentence!r}")
    return problems


def stale_exemptions(nb: dict, name: str) -> list[str]:
    every = [s for c in nb["cells"] if c["cell_type"] == "markdown" for s in sentences("".join(c["source"]))]
    return [start for start in NOT_ABOUT_THIS_RUN.get(name, {})
            if not any(s.startswith(start) and descriptive(s) for s in every)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_descriptive_sentence_has_a_check_beside_it(path):
    nb = json.loads(path.read_text())
    assert unbacked_sentences(nb, path.stem) == []
    assert stale_exemptions(nb, path.stem) == [], "exemptions that match no descriptive sentence any more"


def _markdown(text):
    return {"cell_type": "markdown", "source": text}


def _code(source, printed=""):
    return {"cell_type": "code", "source": source, "outputs": [{"output_type": "stream", "text": printed}]}


def test_the_check_catches_a_planted_contradiction_and_an_unbacked_sentence():
    """06's old contradiction, planted: a sentence says "no gaps" beside a check of gaps."""
    check = _code('vh.claim(empty > 0.05, "the codes leave gaps where the prior has mass", ...)',
                  "Checked: the codes leave gaps where the prior has mass: 7% of prior draws far from "
                  "every code.\n")
    nb = {"cells": [
        _markdown("In the map above the codes leave gaps between the classes."),
        check,
        _markdown("The codes above fill the prior's disc with no empty gaps."),
        _code("print(1)"),
        _markdown("The samples below are blurry."),
        _code("print(2)"),
        _markdown("A VAE would blur its samples if the decoder were weak."),
    ]}
    assert unbacked_sentences(nb, "made_up") == [
        "cell 2: contradicts the check beside it: "
        "\"The codes above fill the prior's disc with no empty gaps.\"",
        "cell 4: no check beside it: 'The samples below are blurry.'",
    ]


def test_a_check_that_did_not_hold_backs_nothing():
    """Outside the default run vh.claim prints whether the claim holds, not "Checked:": no backing."""
    nb = {"cells": [
        _markdown("In the figure above the samples are blurry."),
        _code("vh.claim(...)",
              "Claim of the text (about the default run): the samples are blurry: holds in this run."),
    ]}
    assert unbacked_sentences(nb, "made_up") == [
        "cell 0: no check beside it: 'In the figure above the samples are blurry.'"]


def _planted(stem: str, cell: int, old: str, new: str) -> list[str]:
    path = next(p for p in NOTEBOOKS if p.stem == stem)
    nb = json.loads(path.read_text())
    source = "".join(nb["cells"][cell]["source"])
    assert old in source, f"{stem} cell {cell} no longer says {old!r}: update the planted sentence"
    nb["cells"][cell]["source"] = source.replace(old, new)
    return unbacked_sentences(nb, stem)


def test_the_check_catches_the_old_contradictions_planted_back_into_the_committed_notebooks():
    """06 once said the codes "form separate clusters with gaps between them" above a map whose codes
    leave few gaps; 10 said free bits "switch on every dimension" while most sat at the floor."""
    found = _planted("06_latent_space", 10, "Empty gaps are rare",
                     "The codes of the test images form separate clusters with gaps between them, and "
                     "empty gaps are everywhere")
    assert any(p.startswith("cell 10: contradicts the check beside it:") and "gaps" in p for p in found)
    found = _planted("10_posterior_collapse", 19, "Free bits make every unit pass the active-unit threshold",
                     "Free bits switch on every dimension in the figure above")
    assert any(p.startswith("cell 19: no check beside it:") and "switch on every" in p for p in found)
