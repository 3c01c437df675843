"""The README's numbers come from something committed.

``tests/test_claims.py`` holds each notebook's prose to that notebook's
outputs; this test does the same for README.md, whose numbers are quoted from
several places. Every result-like number of the README must be

* printed in the outputs of a committed notebook (``notebooks/*.ipynb``, all
  of them), rounded to the precision the README writes ("about 47 nats" is
  backed by a printed 46.51, "143.23" only by 143.23);
* or, in a paragraph that links ``docs/tuning.md``, a number of that page;
* or one of ``CONSTANTS`` (published results, theory, bars), each with its reason;
* or one of ``NOT_COMMITTED``: numbers of runs whose outputs are not in the
  repository (the Fashion-MNIST run, the K = 5000 likelihood run, the CI run,
  the sweep's wall time), each saying where it comes from, so that a reader
  knows what this test cannot check;
* or one of ``DERIVED``: a number the README computes from other numbers
  (a difference, a ratio), checked by recomputing it from operands that are
  themselves backed.

A paragraph that links ``docs/performance.md`` quotes the last benchmark
run: its numbers must be in that page's section "The last measured run" (or
the lists), not merely in some notebook's output, which would back a drifted
ratio by chance (1.18× by a standard deviation that notebook 06 prints).
Neither docs page is backed by a committed results file:
``bench/train_speed.py`` prints its numbers, and ``bench/tuning.py`` writes
tuning.md from runs cached in ``build/``, which is not committed; the two
pages are the committed record.

Every entry of the three lists must still be a number of the README, so a
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
  dates (2026-11-30) and years in parentheses ("(2015)");
* run-time estimates: a time written with "~", "about", "under" or "up to"
  ("~10 s", "about 10 minutes"), or as a range ("60 to 80 seconds");
* formulas and commands (inline code, code blocks).

**The sweep tables, cell by cell.** Any printed number backs any README
number, so a cell that slips to a neighbour's value (143.20, the validation
loss, for 143.23) would pass; the README's three sweep tables (latent size,
β, and our row of the published comparison) are therefore also compared with
notebook 07's printed results table, each cell with its own run and column.

A sentence about this run that names the lowest β must name the β that
notebook 07 printed as lowest (the rule of ``tests/test_claims.py``).
"""

import json
import operator
import re
from pathlib import Path

from test_claims import ABOUT_THIS_RUN, LOWEST_BETA, NOTEBOOKS, PRINTED_LOWEST, _numbers, _outputs, _shown

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PERFORMANCE = ROOT / "docs" / "performance.md"
TUNING = ROOT / "docs" / "tuning.md"
PERFORMANCE_SECTION = "### The last measured run"

# Numbers no re-run changes: published results, theory and bars.
CONSTANTS = {
    "86.76": "Burda, Grosse & Salakhutdinov (2015), Table 1: VAE, one stochastic layer, K = 5000",
    "85.33": "Burda et al. (2015), Table 1: VAE with two stochastic layers",
    "84.78": "Burda et al. (2015), Table 1: IWAE (k = 50), one stochastic layer",
    "82.90": "Burda et al. (2015), Table 1: IWAE (k = 50), two stochastic layers",
    "95": "the circle that holds 95 % of the 2-D prior, radius sqrt(-2 log 0.05), by construction",
    "147": "the K = 5000 likelihood bar, LIKELIHOOD_BAR = -147.0 in notebook 03's code; the committed "
           "run (K = 100) does not assert it, so it prints no number for it",
}

# Numbers of runs whose outputs are not committed: this test cannot check them.
NOT_COMMITTED = {
    "259.13": "Fashion-MNIST run (make run DATASET=fashion_mnist): test negative ELBO, printed by its "
              "03_training; its executed notebooks were written to build/ and not committed",
    "252.70": "Fashion-MNIST run: test BCE (build/, not committed)",
    "6.43": "Fashion-MNIST run: test KL (build/, not committed)",
    "258.29": "Fashion-MNIST run: -log p(x), K = 100 (build/, not committed)",
    "64.8": "Fashion-MNIST run: nearest-centre accuracy, printed by its 06_latent_space (build/, "
            "not committed)",
    "141.45": "K = 5000 run (make run IWAE_K=5000): log p(x) printed by its 03_training (build/, "
              "not committed)",
    "408": "K = 5000 run: the importance-weighted estimate took 408.3 s (build/, not committed)",
    "6.8": "K = 5000 run: 408.3 s in minutes (build/, not committed)",
    "5.5": "CI run on a clean clone (commit 7c40947): wall time of .ci/run; its log is not committed",
    "4.6": "CI run on a clean clone (commit 7c40947): pytest's time for its 313 tests (the suite has grown "
           "since); its log is not committed",
    "150": "the autoencoder's codes spread over about ±150 (07's prose says so too): read off the axes of "
           "imgs/autoencoder_vs_vae.png; notebook 07 prints only their standard deviations (33.9, 28.2)",
}

# Numbers the README computes: claim -> (a, operator, b, decimals the result is rounded to, reason).
# Both operands must be written in the README and, if they have decimals, be backed like any other number.
DERIVED = {
    "4": ("90.67", "-", "86.76", 0, "our binarized latent-20 -log p(x) behind Burda et al.'s VAE"),
    "160": ("3280", "/", "20", -1, "Burda et al.'s 3,280 passes against our 20 epochs ('about 160 times')"),
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
    """``_prose`` without the numbers excluded by rule: versions, dates, settings, run-time estimates."""
    for pattern in (VERSION, DATE, SETTING, ESTIMATE):
        text = pattern.sub(" ", text)
    return text


def _unit_claims(text: str) -> list[str]:
    found = [n for match in UNIT_NUMBER.finditer(text) for n in match.groups() if n]
    return found + BAR_OR_SPREAD.findall(text)


def _blocks(readme: str) -> list[tuple[int, list[str]]]:
    """The README's paragraphs, lists and tables outside code blocks, each with its first line number."""
    readme = CODE_BLOCK.sub(lambda m: "\n" * m.group(0).count("\n"), readme)
    blocks, current, start = [], [], 0
    for number, line in enumerate(readme.split("\n"), 1):
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


def _line_of(claim: str, start: int, block: list[str]) -> int:
    pattern = re.compile(rf"(?<![\w.,]){re.escape(claim)}(?![\d,]|\.\d)")
    return next((start + i for i, line in enumerate(block) if pattern.search(line)), start)


def _performance_numbers(text: str) -> list[float]:
    section = text.split(PERFORMANCE_SECTION, 1)[-1].split("\n### ", 1)[0]
    return _numbers(section)


def _derivation_problems(readme: str, backed: list[float]) -> list[str]:
    problems = []
    written = {n.replace(",", "") for n in re.findall(N, readme)}
    for claim, (a, op, b, decimals, _reason) in DERIVED.items():
        formula = f"{a} {op} {b}"
        for operand in (a, b):
            if operand not in written:
                problems.append(f"DERIVED[{claim!r}] = {formula}: the README does not write {operand}")
            elif "." in operand and operand not in CONSTANTS and not _shown(operand, backed):
                problems.append(f"DERIVED[{claim!r}] = {formula}: {operand} is not backed")
        value = OPERATORS[op](float(a), float(b))
        if round(value, decimals) != float(claim):
            problems.append(f"DERIVED[{claim!r}] = {formula} = {value:g}, which does not round to {claim}")
    return problems


def sweep_results(outputs: str) -> dict[str, dict[str, float]]:
    """Notebook 07's printed results table: run (or setting) name -> column -> value. A cell
    "mean ± std" (the means over the seeds) gives the mean under the column's name and the
    standard deviation under ``<column>_std``."""
    lines = outputs.split("\n")
    for i, line in enumerate(lines):
        header = line.split()
        if header[:1] in (["run"], ["setting"]) and "test_neg_elbo" in header:
            results = {}
            for row in lines[i + 2:]:
                cells = re.split(r"\s{2,}", row.strip())  # columns are 2+ spaces apart
                if len(cells) != len(header):
                    break
                values = {}
                for key, value in zip(header[1:], cells[1:]):
                    mean, _, std = value.partition(" ± ")
                    values[key] = float(mean)
                    if std:
                        values[f"{key}_std"] = float(std)
                results[cells[0]] = values
            return results
    return {}


def _cells(line: str) -> list[str]:
    return [cell.strip().replace("**", "") for cell in line.strip().strip("|").split("|")]


def sweep_table_problems(readme: str, results: dict[str, dict[str, float]]) -> list[str]:
    """The README's three sweep tables, cell by cell, against notebook 07's results table.

    Matching every cell against every printed number would let a cell take a neighbour's value (143.20,
    the validation loss, for 143.23): each cell here must be its own run's own column.
    """
    problems, seen = [], set()

    def check(line: int, written: str, run: str, column: str) -> None:
        mean, _, std = written.partition(" ± ")  # a cell "mean ± std" checks both
        if std:
            check(line, std, run, f"{column}_std")
        written = mean
        if run not in results:
            problems.append(f"README line {line}: notebook 07 printed no run {run}")
        elif not _shown(written.lstrip("−-"), [abs(results[run][column])]):
            problems.append(f"README line {line}: {written!r} is not {run}'s {column}, "
                            f"{results[run][column]:.2f}")

    elbo = re.compile(rf"({N}) \(({N}) \+ ({N})\)")  # "143.23 (136.91 + 6.32)"
    columns = ("test_neg_elbo", "test_bce", "test_kl")
    for start, block in _blocks(readme):
        if not all(line.lstrip().startswith("|") for line in block):
            continue
        header, body = _cells(block[0]), [(start + 2 + i, _cells(line)) for i, line in enumerate(block[2:])]
        if header[0] == "latent size":  # grey-level and binarized: -ELBO (BCE + KL) | ± std | -log p(x)
            seen.add("latent size")
            for line, row in body:
                if len(row) != 7:
                    problems.append(f"README line {line}: expected 7 cells, found {len(row)}")
                    continue
                for run, cell, std, log_px in ((f"beta1_latent{row[0]}", *row[1:4]),
                                               (f"beta1_latent{row[0]}_binarized", *row[4:7])):
                    match = elbo.fullmatch(cell)
                    if not match:
                        problems.append(f"README line {line}: {cell!r} is not '-ELBO (BCE + KL)'")
                        continue
                    for written, column in zip(match.groups(), columns):
                        check(line, written, run, column)
                    check(line, std, run, "test_neg_elbo_std")
                    check(line, log_px, run, "test_log_px")
        elif header[0] == "β":  # one column per beta at latent size 2, one row per quantity
            seen.add("β")
            rows = {"−ELBO": "test_neg_elbo", "BCE": "test_bce", "KL": "test_kl", "−log p(x)": "test_log_px"}
            betas = [float(re.match(N, cell).group(0)) for cell in header[1:]]
            for line, row in body:
                if row[0] not in rows:
                    problems.append(f"README line {line}: no column of notebook 07's table for {row[0]!r}")
                    continue
                for beta, written in zip(betas, row[1:]):
                    check(line, written, f"beta{beta:g}_latent2", rows[row[0]])
        elif header[-1] == "test −log p(x)":  # the published comparison: our row
            for line, row in body:
                latent, log_px, elbo_ = (re.search(r"z = (\d+)", row[0]), re.match(N, row[-1]),
                                         re.search(rf"ELBO ({N})", row[-1]))
                if row[0].startswith("ours") and latent and log_px and elbo_:
                    seen.add("ours")
                    run = f"beta1_latent{latent.group(1)}" + ("_binarized" if "binarized" in row[1] else "")
                    check(line, log_px.group(0), run, "test_log_px")
                    check(line, elbo_.group(1), run, "test_neg_elbo")
    for table in sorted({"latent size", "β", "ours"} - seen):
        problems.append(f"README: the sweep table of {table!r} is gone or reworded; "
                        "update sweep_table_problems")
    return problems


def readme_problems(readme: str, notebook_outputs: dict[str, str], performance: str,
                    tuning: str) -> list[str]:
    """Every README number nothing backs, every unused list entry, and a wrong 'lowest β'."""
    printed = [n for text in notebook_outputs.values() for n in _numbers(text)]
    listed = {**CONSTANTS, **NOT_COMMITTED}
    lowest = PRINTED_LOWEST.findall(notebook_outputs.get("07_experiments", ""))
    problems, used = [], set()
    for start, block in _blocks(readme):
        raw = "\n".join(block)
        if "docs/performance.md" in raw:  # the benchmark's numbers, and only those
            backed = _performance_numbers(performance)
        else:
            backed = printed + (_numbers(tuning) if "docs/tuning.md" in raw else [])
        for claim in claims(block):
            key = claim.replace(",", "")
            used.add(key)
            if key in DERIVED or key in listed or _shown(claim, backed):
                continue
            problems.append(f"README line {_line_of(claim, start, block)}: {claim!r} is not in a committed "
                            "notebook's outputs, the linked docs or the lists of this test")
        for sentence in SENTENCE_END.split(_prose(" ".join(block))):
            if not ABOUT_THIS_RUN.search(sentence) or "would" in sentence:
                continue
            for match in LOWEST_BETA.finditer(sentence):
                said = match.group(1) or match.group(2)
                if lowest and not any(float(said) == float(b) for b in lowest):
                    line = next((start + i for i, text in enumerate(block) if said in text and
                                 ("lowest" in text or "best" in text)), start)
                    problems.append(f"README line {line}: says β = {said} is lowest in this run, "
                                    f"notebook 07 printed β = {lowest[0]}")
    for name, entries in (("CONSTANTS", CONSTANTS), ("NOT_COMMITTED", NOT_COMMITTED), ("DERIVED", DERIVED)):
        problems += [f"{name}[{key!r}] is no longer a number of the README"
                     for key in entries if key not in used]
    problems += sweep_table_problems(readme, sweep_results(notebook_outputs.get("07_experiments", "")))
    return problems + _derivation_problems(readme, printed + _numbers(performance))


def _sources() -> tuple[dict[str, str], str, str]:
    outputs = {path.stem: _outputs(json.loads(path.read_text())) for path in NOTEBOOKS}
    return outputs, PERFORMANCE.read_text(), TUNING.read_text()


def test_readme_numbers_come_from_committed_sources():
    assert readme_problems(README.read_text(), *_sources()) == []


def test_the_check_catches_a_drifted_readme_number():
    """The real README with one number changed at a time: each change must be reported."""
    readme = README.read_text()
    sources = _sources()
    assert readme_problems(readme, *sources) == []

    def drifted(old: str, new: str) -> list[str]:
        assert readme.count(old) == 1, old
        return readme_problems(readme.replace(old, new), *sources)

    # A results-table cell: 142.75 -> 142.80, which no notebook printed and which is not beta = 0.25's mean.
    line = 1 + readme[:readme.index("| −ELBO | 797.88")].count("\n")
    assert drifted("| −ELBO | 797.88 ± 457.44 | 142.75 ±", "| −ELBO | 797.88 ± 457.44 | 142.80 ±") == [
        f"README line {line}: '142.80' is not in a committed notebook's outputs, the linked docs "
        "or the lists of this test",
        f"README line {line}: '142.80' is not beta0.25_latent2's test_neg_elbo, 142.75"]
    # A standard deviation that takes another setting's value (0.88 for 0.53).
    assert drifted("| 142.19 ± 0.53 |", "| 142.19 ± 0.88 |") == [
        f"README line {line}: '0.88' is not beta0.5_latent2's test_neg_elbo_std, 0.53"]
    # A cell that takes a neighbour's printed value (142.53 is seed 43's own run): only the
    # cell-by-cell comparison with notebook 07's table can tell.
    line = 1 + readme[:readme.index("| 2 | 142.74 (136.37")].count("\n")
    assert drifted("| 2 | 142.74 (136.37", "| 2 | 142.53 (136.37") == [
        f"README line {line}: '142.53' is not beta1_latent2's test_neg_elbo, 142.74"]
    # Benchmark ratios quoted from docs/performance.md (notebook 06 prints a 1.18, which must not count).
    for old, new in (("4.11× faster", "4.21× faster"), ("1.08× the float32", "1.18× the float32")):
        problems = drifted(old, new)
        assert len(problems) == 1 and f"{new.split('×')[0]!r} is not in" in problems[0]
    # A number of a run that is not committed: the entry no longer matches, and the new number is unbacked.
    problems = drifted("ELBO 259.13 nats", "ELBO 259.31 nats")
    assert len(problems) == 2 and "'259.31' is not in" in problems[0]
    assert problems[1] == "NOT_COMMITTED['259.13'] is no longer a number of the README"
    # A derived number: "our 4 nats behind them" -> 6, which a rounded printed KL (6.32) would back.
    assert drifted("our 4 nats behind", "our 6 nats behind") == [
        "DERIVED['4'] is no longer a number of the README"]
    # The sentence that names the lowest beta of the committed runs.
    problems = drifted("runs β = 0.5 comes out lowest", "runs β = 1 comes out lowest")
    assert len(problems) == 1
    assert problems[0].endswith("says β = 1 is lowest in this run, notebook 07 printed β = 0.5")


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
