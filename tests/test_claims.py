"""The notebooks' prose says only what their own outputs show.

A re-run changes the numbers; prose written for the run before goes stale
without anyone noticing (07 once said "β = 1 does come out lowest" above an
output that printed β = 0.5). This test reads every markdown cell of a
committed notebook and checks its result-like numbers against that notebook's
outputs:

* every decimal number in a sentence about nats or percentages, and every
  whole number directly followed by "nats" or "%", must equal a number printed
  in the notebook's outputs, rounded to the precision the prose uses; or appear
  in ``docs/tuning.md`` when the cell links to it; or be one of the notebook's
  ``CONSTANTS`` below, each with the reason it does not depend on the run;
* a sentence about this run ("our", "this run", "here", "committed"; not a
  hypothetical "would") that names the lowest or best β must name the β that
  the notebook printed as lowest.

Formulas (``$...$``) and run-time estimates are not checked.
"""

import json
import re
from pathlib import Path

import pytest

from vae_tools import series

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = series.notebooks()
TUNING = ROOT / "docs" / "tuning.md"

# Numbers the prose may use without an output behind them: theory, bars, published
# results and facts of the data, none of which a re-run can change.
CONSTANTS = {
    "01_data": {"11": "share of the digit 1 in the 55,000 training images (6,189), a fact of the data"},
    "02_model": {"0.5": "the KL of exercise 4, worked by hand",
                 "543.43": "784 log 2, exercise 6 worked by hand", "1.33": "parameters of 2 x 512 (millions)",
                 "1.61": "parameters of 1 x 1024 (millions)"},
    "03_training": {"0.5": "the slack the IWAE assert allows", "153": "the quality bar"},
    "05_sampling": {"5": "manifold grid from the 5 % quantile", "95": "... to the 95 % quantile",
                    "90": "the middle 90 % of the prior on each axis"},
    "06_latent_space": {"81": "prior mass in the manifold's window, 0.9^2", "10": "chance for ten classes"},
    "07_experiments": {"153": "the latent-size-2 quality bar", "100": "the latent-size-20 quality bar",
                       "95": "the circle that holds 95 % of the prior",
                       "86.76": "Burda et al. (2015), Table 1", "84.78": "Burda et al. (2015), Table 1",
                       "85.33": "Burda et al. (2015), Table 1", "82.90": "Burda et al. (2015), Table 1"},
    "09_conv_vae": {"146.95": "keras.io VAE example: its last epoch's training loss, as it reports it",
                    "140.15": "keras.io VAE example: its last epoch's reconstruction loss",
                    "6.80": "keras.io VAE example: its last epoch's KL"},
}

MATH = re.compile(r"\$\$.*?\$\$|\$[^$]*\$", re.S)
NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?")
UNIT_NUMBER = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)\s?(?:nats|%)")
LOWEST_BETA = re.compile(  # "β = 1 (does) come(s) out lowest", "lowest ... at β = 0.5"
    r"β\s*=\s*(\d+(?:\.\d+)?)\s+(?:does\s+|did\s+)?(?:comes?|came|is|was|gives?|gave|ends?|ended)\s+"
    r"(?:out\s+)?(?:the\s+)?(?:lowest|best)|\b(?:lowest|best)\s+(?:[\w-]+\s+){0,4}at\s+β\s*=\s*(\d+(?:\.\d+)?)")
ABOUT_THIS_RUN = re.compile(r"\b(?:our|this run|here|committed)\b", re.I)
PRINTED_LOWEST = re.compile(r"[Ll]owest[^\n]*?beta = (\d+(?:\.\d+)?)")


def _outputs(nb: dict) -> str:
    texts = []
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            texts.append("".join(output.get("text", "")))
            data = output.get("data", {})
            texts += ["".join(data.get(kind, "")) for kind in ("text/plain", "text/markdown")]
    return "\n".join(texts)


def _numbers(text: str) -> list[float]:
    return [abs(float(n.replace(",", ""))) for n in NUMBER.findall(text)]


def _shown(claim: str, printed: list[float]) -> bool:
    """Whether the number ``claim``, as written, is a printed number rounded to its precision."""
    decimals = len(claim.split(".")[1]) if "." in claim else 0
    value = float(claim.replace(",", ""))
    return any(round(n, decimals) == value for n in printed)


def _claims(markdown: str) -> list[str]:
    """The result-like numbers of a markdown cell (see the module docstring)."""
    text = MATH.sub(" ", markdown.replace("\\%", "%"))
    found = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n", text):
        if "nats" in sentence or "%" in sentence:
            found += [n for n in NUMBER.findall(sentence) if "." in n]
        found += UNIT_NUMBER.findall(sentence)
    return list(dict.fromkeys(found))  # each number once per cell


def stale_claims(nb: dict, name: str) -> list[str]:
    """Every claim of notebook ``nb`` that its outputs, docs/tuning.md and its constants do not back."""
    outputs = _outputs(nb)
    printed = _numbers(outputs)
    tuning = _numbers(TUNING.read_text()) if TUNING.is_file() else []
    constants = CONSTANTS.get(name, {})
    lowest = PRINTED_LOWEST.findall(outputs)
    problems = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        backed = printed + (tuning if "docs/tuning.md" in source else [])
        for claim in _claims(source):
            if claim.replace(",", "") not in constants and not _shown(claim, backed):
                problems.append(f"cell {i}: {claim!r} is not in this notebook's outputs")
        prose = MATH.sub(lambda m: m.group(0).strip("$").replace("\\beta", "β"), source)
        for sentence in re.split(r"(?<=[.!?])\s+|\n", prose):
            if not ABOUT_THIS_RUN.search(sentence) or "would" in sentence:
                continue
            for match in LOWEST_BETA.finditer(sentence):
                said = match.group(1) or match.group(2)
                if lowest and not any(float(said) == float(b) for b in lowest):
                    problems.append(f"cell {i}: says β = {said} is lowest, the output says β = {lowest[0]}")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_prose_numbers_come_from_the_outputs(path):
    assert stale_claims(json.loads(path.read_text()), path.stem) == []


def test_the_check_catches_stale_prose():
    """Made-up cells: a number the outputs do not show, and a wrong 'lowest β'."""
    nb = {"cells": [
        {"cell_type": "code", "source": "", "outputs": [
            {"output_type": "stream", "text": "Test negative ELBO: 143.23 nats\nLowest test negative ELBO at "
                                              "beta = 0.25: 142.14 nats\n"}]},
        {"cell_type": "markdown", "source": "The test loss ends around 143 nats, 143.2 to be exact."},
        {"cell_type": "markdown", "source": "It ends at 141.78 nats."},
        {"cell_type": "markdown", "source": "In our runs $\\beta = 1$ does come out lowest."},
        {"cell_type": "markdown", "source": "In our runs $\\beta = 0.25$ comes out lowest."},
    ]}
    assert stale_claims(nb, "made_up") == [
        "cell 2: '141.78' is not in this notebook's outputs",
        "cell 3: says β = 1 is lowest, the output says β = 0.25",
    ]
