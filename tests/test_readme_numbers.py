"""The numbers of the README and of the docs pages it sends readers to come from something committed.

``tests/test_claims.py`` holds each notebook's prose to that notebook's
outputs; this test does the same for README.md and for the pages of ``docs/``
that hold what the README used to (``PAGES``: the results, running the series,
the checks, the grid on a cluster, exercises, the site) and for the summary
that opens ``docs/performance.md``. Their numbers are quoted from several
places. Every result-like number of those pages must be

* printed in the outputs of a committed notebook (``notebooks/*.ipynb``, all
  of them), rounded to the precision the page writes ("about 47 nats" is
  backed by a printed 46.51, "143.23" only by 143.23);
* or, in a paragraph that links to ``docs/tuning.md`` (a Markdown link, not a mention), a number
  of that page;
* or one of ``CONSTANTS`` (published results, theory, bars), each with its reason;
* or one of ``NOT_COMMITTED``: numbers of runs whose outputs are not in the
  repository (the Fashion-MNIST run, the K = 5000 likelihood run, the CI run),
  each saying where it comes from, so that a reader knows what this test
  cannot check;
* or one of ``DERIVED``: a number the page computes from other numbers
  (a difference, a ratio), checked by recomputing it from operands that are
  themselves backed.

The three lists are kept per page: an entry backs a number of its own page only.

A paragraph that links ``docs/performance.md``, and the summary at the top of
that page (its section "In short"), quote the last benchmark run: their
numbers must be in that page's section "The last measured run" or "The
experiment grid on Dask" (or the lists), not merely in some notebook's output,
which would back a drifted ratio by chance (1.18× by a standard deviation that
notebook 06 prints). The rest of ``docs/performance.md`` and ``docs/tuning.md``
are the committed record themselves: ``bench/train_speed.py`` prints its
numbers, and ``bench/tuning.py`` writes tuning.md from runs cached in
``build/``, which is not committed.

Every entry of the three lists must still be a number of its page, so a
listed number that drifts fails twice: as a new number nobody backs, and as
an entry that is no longer used.

**Which numbers count** (after removing code blocks, inline code, link
targets and text in double quotes, which quotes prose and is not a claim):

1. a number directly followed by a result unit: "nats", "%", "×" (a ratio,
   not the "2 × 200" of a product), "times", "s", "seconds", "min",
   "minutes", "GFLOP/s", "TFLOP", "GB", "MB"; in a range "4.7 to 6.4 nats"
   both ends;
2. a number after "≤" or "≥" (a bar) or "±" / "plus or minus" (a spread);
3. every decimal number in a prose sentence that names a result: nats, %,
   ×, ELBO, BCE, KL, log p(x), likelihood, GFLOP, TFLOP, or a time in
   seconds or minutes;
4. every decimal number in the body of a results table (a table whose header
   or row labels name −ELBO, BCE, KL or log p(x)), outside the first column,
   which labels the row (latent size, model, quantity); the header row names
   the settings (the β values).

**Which numbers do not count, by rule:**

* settings: a number after "β =", "β₂ =", "beta =", "K =", "k =", "z =",
  with the list that follows it ("β = 0.25, 0.5 and 1", "z = 3 … 200");
  whole numbers without a result unit (epochs, latent and layer sizes,
  batch sizes, counts of images, runs, models, samples, tests and lines, the
  digits named in the figures' descriptions), and the tables that are not
  results tables (the notebooks with their run times, the parameters with
  their defaults);
* versions (a number after Python, TensorFlow, Keras, NumPy, torch or JAX),
  dates (2026-11-30), years in parentheses ("(2015)") and IP addresses
  ("127.0.0.1");
* run-time estimates: a time written with "~", "about", "under" or "up to"
  ("~10 s", "about 10 minutes"), or as a range ("60 to 80 seconds");
* formulas and commands (inline code, code blocks).

**The generated parts.** The headline of README.md and the sweep tables of ``docs/results.md`` are
written by ``tools/results_pages.py`` from notebooks 03's and 07's outputs, each cell from its own run
and column; ``tests/test_results_pages.py`` checks that the committed pages are what it writes.

A sentence about this run that names the lowest β must name the β that
notebook 07 printed as lowest (the rule of ``tests/test_claims.py``).
"""

import json
import operator
import re
from pathlib import Path

from test_claims import ABOUT_THIS_RUN, LOWEST_BETA, NOTEBOOKS, PRINTED_LOWEST, _numbers, _outputs, _shown

ROOT = Path(__file__).resolve().parent.parent
PERFORMANCE = ROOT / "docs" / "performance.md"
TUNING = ROOT / "docs" / "tuning.md"
# The README and the pages its sections moved to (paths relative to the repository root).
PAGES = ["README.md", "docs/results.md", "docs/running.md", "docs/checks.md", "docs/cluster.md",
         "docs/exercises.md", "docs/site.md", "CONTRIBUTING.md", "CHANGELOG.md"]
# docs/performance.md: only its summary quotes; the rest is the benchmark's record.
PERFORMANCE_PAGE = "docs/performance.md"
PERFORMANCE_SUMMARY = "## In short"
# The sections of docs/performance.md that back a quoted benchmark number.
PERFORMANCE_SECTIONS = ("### The last measured run", "## The experiment grid on Dask")

# Numbers no re-run changes: published results, theory and bars; per page.
CONSTANTS = {
    "docs/results.md": {
        "86.76": "Burda, Grosse & Salakhutdinov (2015), Table 1: VAE, one stochastic layer, K = 5000",
        "85.33": "Burda et al. (2015), Table 1: VAE with two stochastic layers",
        "84.78": "Burda et al. (2015), Table 1: IWAE (k = 50), one stochastic layer",
        "82.90": "Burda et al. (2015), Table 1: IWAE (k = 50), two stochastic layers",
        "95": "the circle that holds 95 % of the 2-D prior, radius sqrt(-2 log 0.05), by construction",
        "147": "the K = 5000 likelihood bar, LIKELIHOOD_BAR = -147.0 in notebook 03's code; the committed "
               "run (K = 100) does not assert it, so it prints no number for it",
    },
}

# Numbers of runs whose outputs are not committed: this test cannot check them; per page.
NOT_COMMITTED = {
    "docs/results.md": {
        "259.13": "Fashion-MNIST run (make run DATASET=fashion_mnist): test negative ELBO, printed by its "
                  "03_training; its executed notebooks were written to build/ and not committed",
        "252.70": "Fashion-MNIST run: test BCE (build/, not committed)",
        "6.43": "Fashion-MNIST run: test KL (build/, not committed)",
        "258.29": "Fashion-MNIST run: -log p(x), K = 100 (build/, not committed)",
        "64.8": "Fashion-MNIST run: nearest-centre accuracy, printed by its 06_latent_space (build/, "
                "not committed)",
        "141.64": "K = 5000 run of 2026-12-04 (tools/run_series.py --only 03 -p IWAE_K 5000): log p(x) "
                  "printed by its 03_training (written to /tmp, not committed)",
        "143.37": "K = 5000 run: the ELBO of the same samples, printed beside it (not committed)",
        "756": "K = 5000 run: the importance-weighted estimate took 755.8 s (not committed)",
        "12.6": "K = 5000 run: 755.8 s in minutes (not committed)",
    },
    "docs/running.md": {
        "639": "notebook 07's bundle of its default run's 43 runs (2026-12-07): tools/bundle_runs.py 07 "
               "printed 639.1 MB (not committed)",
        "693": "the same bundle unpacked: 693.3 MB (not committed)",
        "54": "notebook 07 run from that bundle in an empty folder: papermill wall 54.3 s (not committed)",
        "2665": "notebook 07's default run that trained those runs: run_series printed 'Done in 2665.0 s' "
                "(build/notebooks, not committed)",
        "1377": "notebook 10 run from scratch in /tmp/series10 (2026-12-07): the sum of its eight runs' "
                 "'trained in' times, 132+162+115+111+206+186+148+317 s (not committed)",
    },
    "docs/checks.md": {
        "29": ".ci/run of commit b0539a1 on a clean clone here: 1722 s (Chromium already installed)",
        "27.3": ".ci/run of commit b0539a1: pytest's time for its 670 tests, 1637.16 s",
        "7.0": ".ci/run of commit b0539a1: test_grading_every_notebook_of_the_series, 421.51 s",
    },
}

# Numbers a page computes: claim -> (a, operator, b, decimals the result is rounded to, reason); per page.
# Both operands must be written on the page and, if they have decimals, be backed like any other number.
DERIVED = {
    "docs/results.md": {
        "4": ("90.67", "-", "86.76", 0, "our binarized latent-20 -log p(x) behind Burda et al.'s VAE"),
        "160": ("3280", "/", "20", -1, "Burda et al.'s 3,280 passes against our 20 epochs ('about 160 "
                "times')"),
    },
}
OPERATORS = {"-": operator.sub, "/": operator.truediv}

N = r"\d+(?:,\d{3})*(?:\.\d+)?"
SIGNED = rf"[−-]?{N}"
TIME = r"(?:s|seconds?|min|minutes?)\b"
CODE_BLOCK = re.compile(r"^```.*?^```", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK_TARGET = re.compile(r"\]\([^)\s]*\)")
QUOTED = re.compile(r'"[^"]*"|“[^”]*”')
SETTING = re.compile(rf"(?:β₂?|\bbeta|\bK|\bk|\bz)\s*=\s*{SIGNED}(?:\s*(?:,|and|to|…)\s*{SIGNED})*")
VERSION = re.compile(r"\b(?:Python|TensorFlow|Keras|NumPy|torch|JAX)\s+(?:older than\s+|≥\s*)?"
                     r"\d+(?:\.(?:\d+|x))*(?:\s*[–/]\s*\d+(?:\.\d+)*)?")
DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\((?:19|20)\d{2}\)")
ADDRESS = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])")  # 127.0.0.1
ESTIMATE = re.compile(rf"(?:~\s*|\babout\s+|\bunder\s+|\bup to\s+){N}(?:\s+to\s+{N})?\s*{TIME}"
                      rf"|(?<![\w.]){N}\s+to\s+{N}\s+{TIME}")
UNIT_NUMBER = re.compile(rf"(?<![\w.])(?:({N})\s+to\s+)?({N})(?:\s?(?:nats\b|%|×(?!\s*\d))"
                         rf"|\s+(?:times\b|{TIME}|GFLOP/s|TFLOP\b|GB\b|MB\b))")
BAR_OR_SPREAD = re.compile(rf"(?:[≤≥]|±|\bplus or minus)\s*[−-]?({N})")
DECIMAL = re.compile(r"(?<![\w.])\d+(?:,\d{3})*\.\d+")
RESULT_SENTENCE = re.compile(rf"nats|%|×|ELBO|BCE|\bKL\b|log p\(x\)|likelihood|GFLOP|TFLOP|{N}\s+{TIME}")
RESULT_TABLE = re.compile(r"ELBO|BCE|\bKL\b|log p\(x\)")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _prose(text: str) -> str:
    """Text a reader reads as prose: no inline code, no link targets, no quotations."""
    return QUOTED.sub(" ", LINK_TARGET.sub("]", INLINE_CODE.sub(" ", text)))


def _without_excluded(text: str) -> str:
    """``_prose`` without the numbers excluded by rule: versions, dates, addresses, settings, estimates."""
    for pattern in (VERSION, DATE, ADDRESS, SETTING, ESTIMATE):
        text = pattern.sub(" ", text)
    return text


def _unit_claims(text: str) -> list[str]:
    found = [n for match in UNIT_NUMBER.finditer(text) for n in match.groups() if n]
    return found + BAR_OR_SPREAD.findall(text)


def _blocks(text: str) -> list[tuple[int, list[str]]]:
    """A page's paragraphs, lists and tables outside code blocks, each with its first line number."""
    text = CODE_BLOCK.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    blocks, current, start = [], [], 0
    for number, line in enumerate(text.split("\n"), 1):
        if line.strip():
            if not current:
                start = number
            current.append(line)
        elif current:
            blocks.append((start, current))
            current = []
    if current:
        blocks.append((start, current))
    return blocks


def claims(block: list[str]) -> list[str]:
    """The result-like numbers of one block (see the module docstring), each once, as written."""
    if all(line.lstrip().startswith("|") for line in block):  # a table: header, separator, body
        rows = [[_without_excluded(_prose(cell)) for cell in line.strip().strip("|").split("|")]
                for line in block[2:]]
        results = RESULT_TABLE.search(_prose(block[0])) or any(RESULT_TABLE.search(row[0]) for row in rows)
        found = []
        for row in rows:
            for cell in row[1:]:
                found += (DECIMAL.findall(cell) if results else []) + _unit_claims(cell)
    else:
        text = _without_excluded(_prose(" ".join(line.strip() for line in block)))
        found = _unit_claims(text)
        for sentence in SENTENCE_END.split(text):
            if RESULT_SENTENCE.search(sentence):
                found += DECIMAL.findall(sentence)
    return list(dict.fromkeys(found))


def _links(raw: str, page: str) -> bool:
    """Whether a block has a Markdown link to ``page`` of docs/ (from the README or from docs/)."""
    return re.search(rf"\]\((?:docs/)?{re.escape(page)}(?:#[^)]*)?\)", raw) is not None


def _line_of(claim: str, start: int, block: list[str]) -> int:
    pattern = re.compile(rf"(?<![\w.,]){re.escape(claim)}(?![\d,]|\.\d)")
    return next((start + i for i, line in enumerate(block) if pattern.search(line)), start)


def _section(text: str, heading: str) -> str:
    """The section of ``text`` under ``heading``, up to the next heading of its level or higher."""
    if "\n" + heading not in text:
        return ""
    section = text.split("\n" + heading, 1)[1]
    level = len(heading.split()[0])
    end = re.search(rf"^#{{1,{level}}} ", section, re.M)
    return section[:end.start()] if end else section


def _performance_numbers(text: str) -> list[float]:
    """The numbers of the benchmark's record that a quoted benchmark number may come from."""
    return [n for heading in PERFORMANCE_SECTIONS for n in _numbers(_section(text, heading))]


def performance_summary(text: str) -> str:
    """docs/performance.md with only its summary left (every other line blank, so line numbers hold)."""
    lines = text.split("\n")
    start = lines.index(PERFORMANCE_SUMMARY) if PERFORMANCE_SUMMARY in lines else len(lines)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(("# ", "## "))), len(lines))
    return "\n".join(line if start <= i < end else "" for i, line in enumerate(lines))


def _derivation_problems(page: str, text: str, backed: list[float]) -> list[str]:
    problems = []
    written = {n.replace(",", "") for n in re.findall(N, text)}
    for claim, (a, op, b, decimals, _reason) in DERIVED.get(page, {}).items():
        formula = f"{a} {op} {b}"
        for operand in (a, b):
            if operand not in written:
                problems.append(f"DERIVED[{page!r}][{claim!r}] = {formula}: {page} does not write {operand}")
            elif "." in operand and operand not in CONSTANTS.get(page, {}) and not _shown(operand, backed):
                problems.append(f"DERIVED[{page!r}][{claim!r}] = {formula}: {operand} is not backed")
        value = OPERATORS[op](float(a), float(b))
        if round(value, decimals) != float(claim):
            problems.append(f"DERIVED[{page!r}][{claim!r}] = {formula} = {value:g}, which does not round "
                            f"to {claim}")
    return problems


def page_problems(page: str, text: str, notebook_outputs: dict[str, str], performance: str,
                  tuning: str) -> list[str]:
    """Every number of one page that nothing backs, every unused list entry of the page, and a wrong
    'lowest β'. ``text`` is the page (for docs/performance.md: :func:`performance_summary`)."""
    printed = [n for output in notebook_outputs.values() for n in _numbers(output)]
    benchmark = _performance_numbers(performance)
    listed = {**CONSTANTS.get(page, {}), **NOT_COMMITTED.get(page, {})}
    lowest = PRINTED_LOWEST.findall(notebook_outputs.get("07_experiments", ""))
    problems, used = [], set()
    for start, block in _blocks(text):
        raw = "\n".join(block)
        if page == PERFORMANCE_PAGE or _links(raw, "performance.md"):  # the benchmark's numbers only
            backed = benchmark
        else:
            backed = printed + (_numbers(tuning) if _links(raw, "tuning.md") else [])
        for claim in claims(block):
            key = claim.replace(",", "")
            used.add(key)
            if key in DERIVED.get(page, {}) or key in listed or _shown(claim, backed):
                continue
            problems.append(f"{page} line {_line_of(claim, start, block)}: {claim!r} is not in a committed "
                            "notebook's outputs, the linked docs or the lists of this test")
        for sentence in SENTENCE_END.split(_prose(" ".join(block))):
            if not ABOUT_THIS_RUN.search(sentence) or "would" in sentence:
                continue
            for match in LOWEST_BETA.finditer(sentence):
                said = match.group(1) or match.group(2)
                if lowest and not any(float(said) == float(b) for b in lowest):
                    line = next((start + i for i, line in enumerate(block) if said in line and
                                 ("lowest" in line or "best" in line)), start)
                    problems.append(f"{page} line {line}: says β = {said} is lowest in this run, "
                                    f"notebook 07 printed β = {lowest[0]}")
    for name, entries in (("CONSTANTS", CONSTANTS), ("NOT_COMMITTED", NOT_COMMITTED), ("DERIVED", DERIVED)):
        problems += [f"{name}[{page!r}][{key!r}] is no longer a number of {page}"
                     for key in entries.get(page, {}) if key not in used]
    return problems + _derivation_problems(page, text, printed + _numbers(performance))


def pages() -> dict[str, str]:
    """The pages this test holds, by path: the README, the docs pages of ``PAGES`` and the summary of
    docs/performance.md."""
    texts = {page: (ROOT / page).read_text() for page in PAGES}
    texts[PERFORMANCE_PAGE] = performance_summary(PERFORMANCE.read_text())
    return texts


def problems(texts: dict[str, str], notebook_outputs: dict[str, str], performance: str,
             tuning: str) -> list[str]:
    """:func:`page_problems` of every page, and list entries of pages this test does not read."""
    found = []
    for page, text in texts.items():
        found += page_problems(page, text, notebook_outputs, performance, tuning)
    for name, entries in (("CONSTANTS", CONSTANTS), ("NOT_COMMITTED", NOT_COMMITTED), ("DERIVED", DERIVED)):
        found += [f"{name}[{page!r}]: {page} is not a page this test reads"
                  for page in entries if page not in texts]
    return found


def _sources() -> tuple[dict[str, str], str, str]:
    outputs = {path.stem: _outputs(json.loads(path.read_text())) for path in NOTEBOOKS}
    return outputs, PERFORMANCE.read_text(), TUNING.read_text()


def test_numbers_of_the_readme_and_docs_come_from_committed_sources():
    assert problems(pages(), *_sources()) == []


def test_every_page_the_readme_moved_to_is_read():
    """The pages of docs/ that the README links, and CONTRIBUTING.md and CHANGELOG.md, are all held here,
    except the committed records (performance.md: its summary only; tuning.md) and the instructor's guide."""
    readme = (ROOT / "README.md").read_text()
    linked = set(re.findall(r"\]\(((?:docs/)?[\w./-]+\.md)(?:#[\w-]*)?\)", readme))
    assert linked - set(PAGES) == {"docs/performance.md", "docs/tuning.md", "docs/teaching.md"}
    assert all((ROOT / page).is_file() for page in PAGES)


def test_the_check_catches_a_drifted_number():
    """The real pages with one number changed at a time: each change must be reported."""
    texts = pages()
    sources = _sources()
    assert problems(texts, *sources) == []

    def drifted(page: str, old: str, new: str) -> list[str]:
        assert texts[page].count(old) == 1, old
        return problems({**texts, page: texts[page].replace(old, new)}, *sources)

    def line_of(page: str, text: str) -> int:
        return 1 + texts[page][:texts[page].index(text)].count("\n")

    results = "docs/results.md"
    # A results-table cell: 142.75 -> 142.80, which no notebook printed (tools/results_pages.py would also
    # write it back: tests/test_results_pages.py).
    line = line_of(results, "| −ELBO | 797.88")
    cell = "| −ELBO | 797.88 ± 457.44 | 142.75 ±"
    assert drifted(results, cell, cell.replace("142.75", "142.80")) == [
        f"{results} line {line}: '142.80' is not in a committed notebook's outputs, the linked docs "
        "or the lists of this test"]
    # Benchmark ratios in the summary of docs/performance.md (notebook 06 prints a 1.18, which must not
    # count).
    for old, new in (("4.11× faster", "4.21× faster"), ("1.08× the float32", "1.18× the float32")):
        found = drifted(PERFORMANCE_PAGE, old, new)
        assert len(found) == 1 and found[0].startswith(f"{PERFORMANCE_PAGE} line ")
        assert f"{new.split('×')[0]!r} is not in" in found[0]
    # A number of a run that is not committed: the entry no longer matches, and the new number is unbacked.
    found = drifted(results, "ELBO 259.13 nats", "ELBO 259.31 nats")
    assert len(found) == 2 and "'259.31' is not in" in found[0]
    assert found[1] == f"NOT_COMMITTED[{results!r}]['259.13'] is no longer a number of {results}"
    # A derived number: "our 4 nats behind them" -> 6, which a rounded printed KL (6.32) would back.
    assert drifted(results, "our 4 nats behind", "our 6 nats behind") == [
        f"DERIVED[{results!r}]['4'] is no longer a number of {results}"]
    # The sentence that names the lowest beta of the committed runs.
    found = drifted(results, "runs β = 0.5 comes out lowest", "runs β = 1 comes out lowest")
    assert len(found) == 1
    assert found[0].endswith("says β = 1 is lowest in this run, notebook 07 printed β = 0.5")
    # The README's headline result.
    headline = "Test negative ELBO **143.34 nats**"
    line = line_of("README.md", headline)
    assert drifted("README.md", headline, headline.replace("143.34", "143.43")) == [
        f"README.md line {line}: '143.43' is not in a committed notebook's outputs, the linked docs "
        "or the lists of this test"]
    # A listed number backs only its own page: the Fashion-MNIST result of docs/results.md, quoted in
    # the README.
    found = drifted("README.md", "about\n2 minutes;", "about\n2 minutes; Fashion-MNIST: 259.13 nats;")
    assert len(found) == 1 and "'259.13' is not in" in found[0]


def test_what_counts_as_a_number():

    """The rules of the module docstring on made-up blocks."""
    assert claims(["Test −ELBO 143.23 nats (BCE 136.91 + KL 6.32); the bar is ≤ 153 nats."]) == [
        "143.23", "153", "136.91", "6.32"]
    assert claims(["It takes ~10 s, about 10 minutes or 60 to 80 seconds; this one took 9.4 minutes."]) == [
        "9.4"]
    assert claims(["With K = 100 and β = 0.25, 0.5 and 1, 20 epochs on 55,000 images (Keras 3.15)."]) == []
    assert claims(['It said "about 44 nats" (2026-11-30); `make run IWAE_K=5000` took 1.5 s.']) == ["1.5"]
    assert claims(["the KL rises from about 4.7 to 6.4 nats; a 2 × 200 MLP is 1.08× the limit"]) == [
        "4.7", "6.4", "1.08"]
    assert claims(["| β | 0.25 | 0.5 |", "|---|---|---|", "| −ELBO | 142.14 | 142.48 |"]) == [
        "142.14", "142.48"]
    assert claims(["| parameter | default |", "|---|---|", "| BETA | 1.0 |", "| x | ~10 s |"]) == []
