"""Re-measure the design choices of the tutorial on the VALIDATION images.

    python bench/tuning.py                 # 7 configurations x 3 seeds x 20 epochs -> docs/tuning.md
    python bench/tuning.py --quick         # smoke run: 1 epoch, 1 seed -> build/tuning/quick.md

The prose of notebooks 02 and 03 justifies five choices with loss numbers.
Each choice is compared with the series' default training (latent size 2,
2 x 512 SiLU, 20 epochs, batch 512, learning rate 4e-3, LR_DECAY 0.25,
Adam beta_2 0.99), changing one thing at a time:

1. two hidden layers of 512 vs one of 1024;
2. SiLU vs ReLU, both at latent size 20;
3. learning-rate decay over the last quarter vs a constant rate;
4. that decay vs a cosine decay over the whole run;
5. Adam beta_2 = 0.99 vs Keras' default 0.999.

The score of a run is the negative ELBO (BCE + KL, nats per image, from
``vh.evaluate_vae``) on the 5,000 validation images ``data.x_val`` after the
last epoch. The test images are never evaluated: tuning must not look at them.

Every finished run is cached as JSON in ``build/tuning/`` so that a restart
skips it; the report is written atomically to ``--out``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

# vae_helpers first: it imports Keras without TensorFlow's start-up chatter.
import vae_helpers as vh
from vae_machinery.bfloat16 import resolve_matmul_precision
from vae_machinery.fast_training import ConstantThenLinearDecay
from vae_machinery.notebook_setup import versions

# isort: split
import keras

from vae_bench.train_speed import cpu_name
from vae_machinery import fast_training
from vae_machinery.bfloat16 import uses_xla
from vae_machinery.files import atomic_write, write_json

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / "build" / "tuning"
DEFAULT_SEEDS = (42, 1, 2)
DEFAULT_EPOCHS = 20
BATCH_SIZE = 512
LEARNING_RATE = 4e-3
LR_DECAY = 0.25
KERAS_ADAM_BETA_2 = 0.999  # keras.optimizers.Adam's default


@dataclass(frozen=True)
class Config:
    """One training configuration; the defaults are the series' defaults."""

    key: str
    label: str
    latent_dim: int = 2
    hidden_dim: int = 512
    hidden_layers: int = 2
    activation: str = "silu"
    lr_decay: float = LR_DECAY  # ConstantThenLinearDecay's decay fraction (0: constant)
    schedule: str = "constant_then_linear"  # or "cosine": CosineDecay over the whole run
    beta_2: float = vh.ADAM_BETA_2

    def is_standard(self) -> bool:
        """Whether vh.compile_vae compiles it (otherwise a variant optimizer)."""
        return self.schedule == "constant_then_linear" and self.beta_2 == vh.ADAM_BETA_2


BASELINE = Config("default", "default: latent 2, 2 x 512 SiLU, LR_DECAY 0.25, beta_2 0.99")
LATENT20 = Config("latent20_silu", "latent 20, SiLU (default otherwise)", latent_dim=20)
CONFIGS: dict[str, Config] = {c.key: c for c in (
    BASELINE,
    replace(BASELINE, key="one_layer_1024", label="1 x 1024 hidden (latent 2)",
            hidden_layers=1, hidden_dim=1024),
    LATENT20,
    replace(LATENT20, key="latent20_relu", label="latent 20, ReLU", activation="relu"),
    replace(BASELINE, key="constant_lr", label="constant learning rate (LR_DECAY 0)", lr_decay=0.0),
    replace(BASELINE, key="cosine", label="cosine decay over the whole run", schedule="cosine", lr_decay=0.0),
    replace(BASELINE, key="beta2_0999", label="Adam beta_2 0.999 (Keras' default)", beta_2=KERAS_ADAM_BETA_2),
)}


@dataclass(frozen=True)
class Claim:
    """A sentence of the tutorial: the chosen configuration vs the alternative."""

    title: str
    chosen: str  # key in CONFIGS
    alternative: str  # key in CONFIGS
    prose: str  # what the text said, measured on the test images in the past


CLAIMS = (
    Claim("Two hidden layers of 512 vs one of 1024", "default", "one_layer_1024",
          "notebook 02: the deeper network reached a test loss about 9 nats lower"),
    Claim("SiLU vs ReLU at latent size 20", "latent20_silu", "latent20_relu",
          "notebook 02: SiLU trains to a loss about 3 nats lower than ReLU (larger latent spaces)"),
    Claim("Decay over the last quarter vs a constant learning rate", "default", "constant_lr",
          "notebook 03: the final test loss came out 1.5 to 2 nats lower than with a constant rate"),
    Claim("Decay over the last quarter vs cosine decay over the whole run", "default", "cosine",
          "notebook 03: cosine ended 1.6 nats higher"),
    Claim("Adam beta_2 0.99 vs Keras' default 0.999", "default", "beta2_0999",
          "notebook 03: with 0.99 the final test loss was 0.8 nats lower on average over four seeds"),
)


# ----------------------------------------------------------------------------
# Training one run
# ----------------------------------------------------------------------------
def total_steps(data: vh.Dataset, epochs: int, batch_size: int = BATCH_SIZE) -> int:
    """Training steps of the whole run, as train_vae counts them."""
    return epochs * math.ceil(len(data.x_train) / batch_size)


def compile_model(model: vh.VAE, config: Config, steps: int) -> None:
    """Compile like vh.compile_vae; the variant schedule or beta_2 where the
    configuration asks for one, with the same speed settings (compile_fast)."""
    if config.is_standard():
        vh.compile_vae(model, LEARNING_RATE, total_steps=steps, lr_decay=config.lr_decay)
        return
    schedule: Any = LEARNING_RATE
    if config.schedule == "cosine":
        schedule = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, decay_steps=steps)
    elif config.lr_decay > 0:
        schedule = ConstantThenLinearDecay(LEARNING_RATE, steps, config.lr_decay)
    fast_training.compile_fast(model, keras.optimizers.Adam(learning_rate=schedule, beta_2=config.beta_2))


def train_one(config: Config, seed: int, data: vh.Dataset, epochs: int) -> dict[str, Any]:
    """Train ``config`` with ``seed`` and return its validation scores."""
    keras.backend.clear_session()
    vh.set_seed(seed)
    model = vh.VAE(config.latent_dim, config.hidden_dim, hidden_layers=config.hidden_layers,
                   activation=config.activation, seed=seed)
    compile_model(model, config, total_steps(data, epochs))
    start = time.perf_counter()
    history = vh.train_vae(model, data, epochs, BATCH_SIZE, LEARNING_RATE, lr_decay=config.lr_decay,
                           seed=seed, verbose=False)
    seconds = time.perf_counter() - start
    val = vh.evaluate_vae(model, data.x_val)
    return {"config": asdict(config), "seed": seed, "epochs": epochs, "val_neg_elbo": val["neg_elbo"],
            "val_bce": val["bce"], "val_kl": val["kl"], "history_val_loss": history["val_loss"][-1],
            "learning_rates": history["learning_rate"], "train_seconds": seconds}


def cache_path(config: Config, seed: int, epochs: int) -> Path:
    return CACHE_DIR / f"{config.key}-seed{seed}-epochs{epochs}.json"


def cached_or_train(config: Config, seed: int, data: vh.Dataset, epochs: int) -> tuple[dict[str, Any], bool]:
    """The cached result of this run if there is one for the same settings,
    else train it and cache it. Returns (result, whether it was cached)."""
    path = cache_path(config, seed, epochs)
    if path.exists():
        result = json.loads(path.read_text())
        if result.get("config") == asdict(config):
            return result, True
    result = train_one(config, seed, data, epochs)
    write_json(path, result)
    return result, False


# ----------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------
def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (nan for fewer than 2 values)."""
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else math.nan


def verdict_line(chosen: list[float], alternative: list[float]) -> str:
    """The verdict under a claim's table, by the series' one rule (``vh.compare_seeds``)."""
    comparison = vh.compare_seeds(chosen, alternative)
    return f"Δ = mean(alternative) − mean(chosen) = {comparison}."


def claim_table(claim: Claim, scores: dict[str, list[float]], seeds: list[int]) -> list[str]:
    """Markdown for one claim: both configurations, their scores and the verdict."""
    lines = [f"### {claim.title}", "", f"Previously stated (test images): {claim.prose}.", "",
             "| configuration | " + " | ".join(f"seed {s}" for s in seeds)
             + (" | mean ± std |" if len(seeds) > 1 else " | mean |"),
             "|---|" + "---:|" * len(seeds) + "---:|"]
    for key in (claim.chosen, claim.alternative):
        mean, std = mean_std(scores[key])
        spread = f"{mean:.2f} ± {std:.2f}" if len(seeds) > 1 else f"{mean:.2f}"
        lines.append(f"| {CONFIGS[key].label} | " + " | ".join(f"{v:.2f}" for v in scores[key])
                     + f" | {spread} |")
    verdict = verdict_line(scores[claim.chosen], scores[claim.alternative])
    lines += ["", verdict, ""]
    return lines


def render(results: dict[tuple[str, int], dict[str, Any]], seeds: list[int], epochs: int,
           data: vh.Dataset, wall_seconds: float) -> str:
    """The whole Markdown report."""
    scores = {key: [results[key, s]["val_neg_elbo"] for s in seeds] for key in CONFIGS}
    train_total = sum(r["train_seconds"] for r in results.values())
    precision = resolve_matmul_precision("auto", uses_xla())
    lines = [
        "# Tuning the series' design choices on the validation images", "",
        "Written by `bench/tuning.py`. Each configuration differs from the series' default training "
        f"(latent size 2, 2 × 512 SiLU, {epochs} epochs, batch {BATCH_SIZE}, "
        f"learning rate {LEARNING_RATE:g}, LR_DECAY {LR_DECAY}, Adam β₂ {vh.ADAM_BETA_2}) in one thing only, "
        "except \"latent 20, ReLU\", which changes the latent size and the activation. "
        "The score is the negative ELBO (BCE + KL, nats per image, lower is better, "
        "one sample of z per image, `vh.evaluate_vae`) on the "
        f"{len(data.x_val):,} **validation** images held out from the training set "
        f"(`data.x_val`, VALIDATION_SEED {vh.VALIDATION_SEED}), after the last of {epochs} epochs on the "
        f"{len(data.x_train):,} remaining training images. The test images were not evaluated.", "",
        f"* Seeds: {', '.join(map(str, seeds))} (weights, shuffle order and z noise; "
        "`vh.set_seed(seed)` before building each model). The mean ± std is over seeds (sample std).",
        "* Verdict per claim: the series' one rule, `vh.compare_seeds`: with 3 or more seeds a side, "
        "Welch's t-test at the 5 % level (\"higher\" or \"lower\" only when p < 0.05, else \"not told apart "
        "by these seeds\"); with fewer seeds no test and no verdict.",
        f"* Date: {datetime.date.today().isoformat()}. Machine: {cpu_name()}, {os.cpu_count()} cores "
        f"(shared with other jobs, so times are noisy), {platform.system()} {platform.machine()}; "
        f"training products in {precision} (`MATMUL_PRECISION = \"auto\"`).",
        f"* {versions()}.",
        f"* {len(results)} runs; training time {train_total / 60:.1f} min in total "
        f"(this invocation's wall time {wall_seconds / 60:.1f} min, cached runs not retrained). "
        f"Data: {data.source}.", "",
        "## The claims", "",
    ]
    for claim in CLAIMS:
        lines += claim_table(claim, scores, seeds)
    return "\n".join(lines).rstrip() + "\n"


# ----------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help=f"seeds per configuration (default {' '.join(map(str, DEFAULT_SEEDS))})")
    parser.add_argument("--epochs", type=int, default=None, help=f"epochs per run (default {DEFAULT_EPOCHS})")
    parser.add_argument("--out", type=Path, default=None, help="report file (default docs/tuning.md)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 epoch, seed 42, report to build/tuning/quick.md")
    args = parser.parse_args(argv)
    args.seeds = args.seeds or ([DEFAULT_SEEDS[0]] if args.quick else list(DEFAULT_SEEDS))
    args.epochs = args.epochs or (1 if args.quick else DEFAULT_EPOCHS)
    args.out = args.out or (CACHE_DIR / "quick.md" if args.quick else ROOT / "docs" / "tuning.md")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    start = time.perf_counter()
    data = vh.load_dataset()
    results: dict[tuple[str, int], dict[str, Any]] = {}
    runs = [(config, seed) for seed in args.seeds for config in CONFIGS.values()]
    for i, (config, seed) in enumerate(runs, 1):
        result, cached = cached_or_train(config, seed, data, args.epochs)
        results[config.key, seed] = result
        took = "cached" if cached else f"{result['train_seconds']:.0f} s"
        print(f"[{i:>2}/{len(runs)}] {config.key:<15} seed {seed:>2}: "
              f"val -ELBO {result['val_neg_elbo']:7.2f} (BCE {result['val_bce']:7.2f}, "
              f"KL {result['val_kl']:5.2f}) {took}", flush=True)
    report = render(results, args.seeds, args.epochs, data, time.perf_counter() - start)
    atomic_write(args.out, lambda p: p.write_text(report))
    print(report)
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
