"""Write the results that README.md and docs/results.md quote, from the committed notebooks' outputs.

    python tools/results_pages.py            # rewrite the generated parts of the pages
    python tools/results_pages.py --check    # exit 1, naming each part, if a page is not what they give

A generated part of a page stands between two comment lines, ``<!-- results: NAME -->`` and
``<!-- /results -->``; the text around it is the maintainers'. The parts:

* ``headline`` (README.md) and ``default-model`` (docs/results.md): notebook 03's test negative ELBO,
  BCE, KL, importance-weighted log-likelihood, last validation loss and quality bar;
* ``latent-sweep``, ``published`` (our row beside the published ones) and ``beta-sweep``
  (docs/results.md): notebook 07's table of means and standard deviations over the seeds.

After re-running notebooks (``make notebooks``, ``run_series.py --inplace --only 07``), run this and
commit the pages with the notebooks; ``tests/test_results_pages.py`` fails while a page and the
committed outputs disagree.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat

from vae_machinery.files import atomic_write
from vae_tools.series import NOTEBOOKS, ROOT

PART = re.compile(r"^<!-- results: (?P<name>[\w-]+) -->\n(?P<body>.*?)^<!-- /results -->$", re.M | re.S)
NUMBER = r"-?\d+(?:,\d{3})*(?:\.\d+)?"


class ResultsError(Exception):
    """A committed notebook does not print what a page quotes, or a page lacks a part."""


def notebook_outputs(stem: str, folder: Path = NOTEBOOKS) -> str:
    """Everything the committed notebook ``stem`` printed, one output after another."""
    nb = nbformat.read(folder / f"{stem}.ipynb", as_version=4)
    texts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            texts.append("".join(output.get("text", "")))
            texts.append("".join(output.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


def _find(pattern: str, text: str, what: str) -> re.Match:
    match = re.search(pattern, text)
    if match is None:
        raise ResultsError(f"the committed notebook prints no {what} (looked for /{pattern}/); "
                           "re-run it, or update tools/results_pages.py to what it prints now")
    return match


def default_run(outputs: str) -> dict[str, float]:
    """Notebook 03's test results, as printed."""
    elbo = _find(rf"Test negative ELBO: ({NUMBER}) nats \(reconstruction BCE ({NUMBER}) nats "
                 rf"\+ KL ({NUMBER}) nats\)", outputs, "test negative ELBO")
    iwae = _find(rf"Importance-weighted log p\(x\), K = (\d+): ({NUMBER}) nats", outputs, "log p(x)")
    val = _find(rf"Last epoch's validation loss: ({NUMBER}) nats", outputs, "last validation loss")
    bar = _find(rf"Checked: quality bar: test negative ELBO <= ({NUMBER}) nats", outputs, "quality bar")
    return {"neg_elbo": float(elbo[1]), "bce": float(elbo[2]), "kl": float(elbo[3]), "k": int(iwae[1]),
            "log_px": float(iwae[2]), "val_loss": float(val[1]), "bar": float(bar[1])}


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


def sweep_setup(outputs: str) -> dict[str, int]:
    """Notebook 07's grid as it printed it: seeds per setting and epochs per run."""
    grid = _find(r"(\d+) runs \((\d+) settings x (\d+) seeds\) of (\d+) epochs", outputs, "grid line")
    return {"seeds": int(grid[3]), "epochs": int(grid[4])}


def _f(value: float) -> str:
    return f"{abs(value):.2f}"


def headline(r: dict[str, float]) -> str:
    return (f"Test negative ELBO **{_f(r['neg_elbo'])} nats** per image (reconstruction BCE {_f(r['bce'])} "
            f"+ KL {_f(r['kl'])}) and\nimportance-weighted test log-likelihood **−{_f(r['log_px'])} nats** "
            f"(K = {r['k']}), measured once, after\ntraining, on all 10,000 test images (the last epoch's "
            f"validation loss was {_f(r['val_loss'])}); the series\nasserts a negative ELBO ≤ {r['bar']:g} "
            "nats. More results: [docs/results.md](docs/results.md).\n")


def default_model(r: dict[str, float]) -> str:
    return (f"**Result of the committed run:** test negative ELBO **{_f(r['neg_elbo'])} nats** per image\n"
            f"(reconstruction BCE {_f(r['bce'])} + KL {_f(r['kl'])}) and importance-weighted test "
            f"log-likelihood\n**−{_f(r['log_px'])} nats** (K = {r['k']}), measured once, after training, "
            f"on all 10,000 test\nimages (the last epoch's validation loss was {_f(r['val_loss'])}); "
            f"the series asserts a\nnegative ELBO ≤ {r['bar']:g} nats.\n")


def _run(results: dict[str, dict[str, float]], name: str) -> dict[str, float]:
    if name not in results:
        raise ResultsError(f"notebook 07 printed no setting {name} (it printed {', '.join(results)})")
    return results[name]


def _latent_sizes(results: dict[str, dict[str, float]]) -> list[int]:
    sizes = {int(m[1]) for name in results if (m := re.fullmatch(r"beta1_latent(\d+)_binarized", name))}
    return sorted(size for size in sizes if f"beta1_latent{size}" in results)


def latent_sweep(results: dict[str, dict[str, float]]) -> str:
    rows = ["| latent size | grey-level MNIST: −ELBO (BCE + KL) | ± std | −log p(x) "
            "| binarized MNIST: −ELBO (BCE + KL) | ± std | −log p(x) |", "|---|---|---|---|---|---|---|"]
    for size in _latent_sizes(results):
        cells = [str(size)]
        for run in (_run(results, f"beta1_latent{size}"), _run(results, f"beta1_latent{size}_binarized")):
            cells += [f"{_f(run['test_neg_elbo'])} ({_f(run['test_bce'])} + {_f(run['test_kl'])})",
                      _f(run["test_neg_elbo_std"]), _f(run["test_log_px"])]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


# The published rows (Burda, Grosse & Salakhutdinov 2015, Table 1) beside ours: constants of the paper.
PUBLISHED = "".join(f"| {' | '.join(row)} |\n" for row in (
    ("Burda, Grosse & Salakhutdinov (2015), Table 1: VAE, 2 × 200 tanh units, z = 50",
     "dynamically binarized MNIST", "3,280 passes, batch 20", "86.76 (K = 5000)"),
    ("same paper: VAE with two stochastic layers (100 and 50 units)", "same", "same", "85.33"),
    ("same paper: IWAE (k = 50), one / two stochastic layers", "same", "same", "84.78 / 82.90"),
))


def published(results: dict[str, dict[str, float]], setup: dict[str, int], k: int, batch_size: int,
              train_images: str) -> str:
    size = max(_latent_sizes(results))
    ours = _run(results, f"beta1_latent{size}_binarized")
    return ("| model | data | training | test −log p(x) |\n|---|---|---|---|\n"
            f"| **ours**, MLP 784–512–512–z, SiLU, z = {size} | dynamically binarized MNIST | "
            f"{setup['epochs']} epochs on {train_images} images, batch {batch_size} | "
            f"**{_f(ours['test_log_px'])}** (K = {k}, mean of {setup['seeds']} seeds); "
            f"−ELBO {_f(ours['test_neg_elbo'])} |\n" + PUBLISHED)


def beta_sweep(results: dict[str, dict[str, float]]) -> str:
    betas = sorted((float(m[1]), name) for name in results
                   if (m := re.fullmatch(r"beta([\d.]+)_latent2", name)))
    header = ["β", *[f"{b:g} (autoencoder)" if b == 0 else f"{b:g}" for b, _ in betas]]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, column in (("−ELBO", "test_neg_elbo"), ("BCE", "test_bce"), ("KL", "test_kl"),
                          ("−log p(x)", "test_log_px")):
        cells = [f"{_f(results[name][column])} ± {_f(results[name][f'{column}_std'])}" for _, name in betas]
        rows.append("| " + " | ".join([label, *cells]) + " |")
    return "\n".join(rows) + "\n"


def parts(folder: Path = NOTEBOOKS) -> dict[str, dict[str, Callable[[], str]]]:
    """Page -> part name -> the function that writes it (from the notebooks in ``folder``)."""
    def run03() -> dict[str, float]:
        return default_run(notebook_outputs("03_training", folder))

    def run07() -> tuple[dict[str, dict[str, float]], dict[str, int]]:
        outputs = notebook_outputs("07_experiments", folder)
        results = sweep_results(outputs)
        if not results:
            raise ResultsError("the committed notebook 07 prints no results table (setting, test_neg_elbo)")
        return results, sweep_setup(outputs)

    def training_images() -> str:
        return _find(r"MNIST: ([\d,]+) training", notebook_outputs("03_training", folder), "data line")[1]

    def published_part() -> str:
        results, setup = run07()
        return published(results, setup, run03()["k"], _batch_size(folder), training_images())

    return {
        "README.md": {"headline": lambda: headline(run03())},
        "docs/results.md": {"default-model": lambda: default_model(run03()),
                            "latent-sweep": lambda: latent_sweep(run07()[0]),
                            "published": published_part,
                            "beta-sweep": lambda: beta_sweep(run07()[0])},
    }


def _batch_size(folder: Path) -> int:
    from vae_tools.bundle_runs import parameters_cell

    return int(parameters_cell(folder / "03_training.ipynb")["BATCH_SIZE"])


def rewritten(text: str, writers: dict[str, Callable[[], str]], page: str) -> str:
    """``text`` with each generated part written anew."""
    found = {match["name"] for match in PART.finditer(text)}
    missing = sorted(set(writers) - found)
    if missing:
        raise ResultsError(f"{page} has no part {', '.join(missing)} (<!-- results: NAME --> ... "
                           "<!-- /results -->)")
    unknown = sorted(found - set(writers))
    if unknown:
        raise ResultsError(f"{page} has a part this tool does not write: {', '.join(unknown)}")
    return PART.sub(lambda m: f"<!-- results: {m['name']} -->\n{writers[m['name']]()}<!-- /results -->", text)


def stale_pages(root: Path = ROOT) -> dict[Path, str]:
    """Every page whose generated parts differ from what the committed outputs give, with its new text."""
    changes = {}
    for page, writers in parts(root / "notebooks").items():
        path = root / page
        old = path.read_text()
        new = rewritten(old, writers, page)
        if new != old:
            changes[path] = new
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a page is stale")
    args = parser.parse_args(argv)
    try:
        changes = stale_pages()
    except ResultsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path, text in changes.items():
        if args.check:
            print(f"{path.relative_to(ROOT)} is stale: run python tools/results_pages.py", file=sys.stderr)
        else:
            atomic_write(path, lambda p, text=text: p.write_text(text))
            print(f"wrote {path.relative_to(ROOT)}")
    if not changes:
        print("README.md and docs/results.md agree with the committed notebooks")
    return 1 if changes and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
