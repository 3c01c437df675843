"""Training-speed benchmark for the VAE series, measured in one run on one machine.

    python bench/train_speed.py             # full: 20 epochs, reference, JAX, whole series
    python bench/train_speed.py --quick     # under a minute: small subset, few epochs

It prints a table and one JSON line with

* ``epoch_s`` – median epoch time of the series' default training (warm-up
  epoch excluded; an epoch trains on the 55,000 training images and
  evaluates the 5,000 validation images), with images/s and the test
  negative ELBO it reaches;
* ``limit_s`` – the compute limit: the model's matrix-multiply FLOPs per epoch
  divided by the float32 matmul throughput measured with the same backend in
  the same run, and ``ratio_to_limit = epoch_s / limit_s``;
* ``reference_epoch_s`` – the same architecture trained like the classic
  keras.io VAE example (custom ``train_step`` with ``tf.GradientTape``, data
  from NumPy arrays, its batch size 128 and Adam's default learning rate),
  ``speedup_vs_reference``, and the test negative ELBO the reference reaches
  in the same number of epochs (``reference_test_neg_elbo``), with float32
  products as in the example; the same loop at
  our batch size and learning rate gives ``same_batch_reference_epoch_s``,
  which separates what the loop costs from what the batch size saves;
* ``series_s`` – wall time of the whole series with default parameters
  (``make run``-equivalent; null under ``--quick``) and ``peak_rss_mb`` of the
  training process;
* the same measurements on Keras' JAX backend when JAX is installed
  (``pip install -r bench/requirements.txt``).

Each backend runs in its own subprocess (Keras picks its backend at import).
Data comes from ``$VAE_DATA_DIR`` or the Keras download, as in the notebooks,
and the training settings from the parameters cell of ``03_training.ipynb``.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The classic keras.io VAE example: vae.compile(optimizer=keras.optimizers.Adam()),
# vae.fit(mnist_digits, epochs=30, batch_size=128).
CLASSIC = dict(batch_size=128, learning_rate=1e-3)


def notebook_defaults(notebook: Path = ROOT / "notebooks" / "03_training.ipynb") -> dict:
    """The training settings of the series: the parameters cell of the
    training notebook, so the benchmark measures what a learner runs."""
    import nbformat

    cell = next(c for c in nbformat.read(notebook, as_version=4).cells
                if "parameters" in c.metadata.get("tags", []))
    values = {}
    for node in ast.parse(cell.source).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = ast.literal_eval(node.value)
    return dict(latent_dim=values["LATENT_DIM"], hidden_dim=values["HIDDEN_DIM"],
                batch_size=values["BATCH_SIZE"], learning_rate=values["LEARNING_RATE"],
                lr_decay=values["LR_DECAY"], matmul_precision=values["MATMUL_PRECISION"],
                epochs=values["EPOCHS"], seed=values["SEED"])


# ----------------------------------------------------------------------------
# Worker: runs inside one backend
# ----------------------------------------------------------------------------
def matmul_flops_per_epoch(layer_shapes: list[tuple[int, int]], n_train: int, n_val: int) -> float:
    """Matrix-multiply FLOPs of one epoch: forward + backward on the training
    set (2 FLOPs per multiply-add; the backward pass computes the weight
    gradient of every layer and the input gradient of every layer but the
    first), plus the forward pass over the validation set (what
    ``train_vae`` evaluates after every epoch)."""
    forward = sum(2 * i * o for i, o in layer_shapes)
    weight_grads = forward
    input_grads = forward - 2 * layer_shapes[0][0] * layer_shapes[0][1]
    return n_train * (forward + weight_grads + input_grads) + n_val * forward


def model_layer_shapes(model) -> list[tuple[int, int]]:
    """(inputs, outputs) of every Dense kernel, in forward order."""
    return [tuple(w.shape) for w in model.trainable_weights if len(w.shape) == 2]


def matmul_throughput(dtype: str = "float32", n: int = 2048, seconds: float = 2.0, windows: int = 4) -> float:
    """FLOP/s of a large square matmul with the active Keras backend: the
    best of ``windows`` timing windows, since a peak is what a limit is made
    of (on a shared machine single windows dip to half speed). For
    ``"bfloat16"`` it is the product training uses with
    ``MATMUL_PRECISION = "bfloat16"``: bfloat16 inputs, float32 sums and
    result, compiled with XLA."""
    import numpy as np
    from keras import ops

    product = ops.matmul
    if dtype == "bfloat16":
        import keras

        from vae_machinery.bfloat16 import bfloat16_product

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            product = tf.function(bfloat16_product, jit_compile=True)
        else:
            import jax

            product = jax.jit(bfloat16_product)
    a = ops.convert_to_tensor(np.random.default_rng(0).standard_normal((n, n)), dtype="float32")
    b = ops.convert_to_tensor(np.random.default_rng(1).standard_normal((n, n)), dtype="float32")
    ops.convert_to_numpy(product(a, b))  # warm-up
    best = 0.0
    for _ in range(windows):
        reps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / windows:
            c = product(a, b)
            reps += 1
        ops.convert_to_numpy(c[:1, :1])  # wait for asynchronous backends
        best = max(best, reps * 2 * n**3 / (time.perf_counter() - start))
    return best


def train_reference(data, epochs: int, cfg: dict, batch_size: int,
                    learning_rate: float) -> tuple[list[float], float]:
    """Train the same architecture with the classic keras.io VAE training loop
    (TensorFlow only): a custom train_step with tf.GradientTape, Keras' fit on
    NumPy arrays, a constant learning rate. Returns the epoch times and the
    test negative ELBO at the end."""
    import keras
    import tensorflow as tf

    import vae_helpers as vh

    class ReferenceVAE(keras.Model):
        def __init__(self, encoder, decoder, **kwargs):
            super().__init__(**kwargs)
            self.encoder, self.decoder = encoder, decoder
            self.total_loss_tracker = keras.metrics.Mean(name="total_loss")

        def call(self, x, training=False):  # for the evaluation only
            z_mean, z_log_var = self.encoder(x)
            z = z_mean + tf.exp(0.5 * z_log_var) * tf.random.normal(tf.shape(z_mean))
            return self.decoder(z), z_mean, z_log_var

        def train_step(self, batch):
            with tf.GradientTape() as tape:
                z_mean, z_log_var = self.encoder(batch)
                eps = tf.random.normal(tf.shape(z_mean))
                z = z_mean + tf.exp(0.5 * z_log_var) * eps
                logits = self.decoder(z)
                bce = tf.reduce_sum(
                    tf.nn.sigmoid_cross_entropy_with_logits(labels=batch, logits=logits), axis=1)
                kl = -0.5 * tf.reduce_sum(1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var), axis=1)
                loss = tf.reduce_mean(bce + kl)
            grads = tape.gradient(loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.total_loss_tracker.update_state(loss)
            return {"loss": self.total_loss_tracker.result()}

    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    vh.set_seed(cfg["seed"])
    encoder = vh.build_encoder(784, cfg["hidden_dim"], cfg["latent_dim"])
    decoder = vh.build_decoder(cfg["latent_dim"], cfg["hidden_dim"], 784)
    model = ReferenceVAE(encoder, decoder)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    model.fit(data.x_train, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0,
              callbacks=[Timer()])
    return times, vh.evaluate_vae(model, data.x_test)["neg_elbo"]


def worker(args: argparse.Namespace) -> dict:
    import keras

    import vae_helpers as vh

    cfg = notebook_defaults()
    data = vh.load_dataset("mnist", os.environ.get("VAE_DATA_DIR"))
    if args.train_images:
        data = dataclasses.replace(data, x_train=data.x_train[: args.train_images],
                                   y_train=data.y_train[: args.train_images])
    epochs = args.epochs
    backend = keras.backend.backend()

    seconds = 1.0 if args.train_images else 4.0
    flops_f32 = matmul_throughput("float32", seconds=seconds)
    try:
        flops_bf16 = matmul_throughput("bfloat16", seconds=seconds)
    except Exception:  # not every backend has them (PyTorch)
        flops_bf16 = None

    vh.set_seed(cfg["seed"])
    model = vh.VAE(latent_dim=cfg["latent_dim"], hidden_dim=cfg["hidden_dim"], seed=cfg["seed"])
    start = time.perf_counter()
    history = vh.train_vae(model, data, epochs=epochs, batch_size=cfg["batch_size"],
                           learning_rate=cfg["learning_rate"], lr_decay=cfg["lr_decay"],
                           matmul_precision=cfg["matmul_precision"], seed=cfg["seed"], verbose=False)
    train_wall = time.perf_counter() - start
    steady = history["epoch_time_s"][1:] or history["epoch_time_s"]
    epoch_s = statistics.median(steady)
    test = vh.evaluate_vae(model, data.x_test)

    flops = matmul_flops_per_epoch(model_layer_shapes(model), len(data.x_train), len(data.x_val))
    limit_s = flops / flops_f32
    result = dict(
        backend=backend,
        epoch_s=round(epoch_s, 3),
        images_per_s=round(len(data.x_train) / epoch_s),
        train_wall_s=round(train_wall, 1),
        epochs=epochs,
        train_images=len(data.x_train),
        test_neg_elbo=round(test["neg_elbo"], 2),
        matmul_gflops_f32=round(flops_f32 / 1e9, 1),
        matmul_gflops_bf16=round(flops_bf16 / 1e9, 1) if flops_bf16 else None,
        gflop_per_epoch=round(flops / 1e9, 1),
        limit_s=round(limit_s, 3),
        ratio_to_limit=round(epoch_s / limit_s, 2),
        batch_size=cfg["batch_size"],
        matmul_precision=vh.matmul_precision(model),
        reference_epoch_s=None,
        speedup_vs_reference=None,
        reference_test_neg_elbo=None,
        reference_batch_size=None,
        same_batch_reference_epoch_s=None,
        speedup_vs_same_batch_reference=None,
    )
    if backend == "tensorflow" and not args.no_reference:
        # The classic recipe, as long as ours: its speed and the quality it reaches.
        times, ref_elbo = train_reference(data, epochs, cfg, **CLASSIC)
        ref_s = statistics.median(times[1:] or times)
        result.update(reference_epoch_s=round(ref_s, 3), speedup_vs_reference=round(ref_s / epoch_s, 2),
                      reference_test_neg_elbo=round(ref_elbo, 2), reference_batch_size=CLASSIC["batch_size"])
        # The classic loop with our batch size and peak learning rate: speed only.
        times, _ = train_reference(data, min(epochs, args.reference_epochs), cfg, cfg["batch_size"],
                                   cfg["learning_rate"])
        same_s = statistics.median(times[1:] or times)
        result.update(same_batch_reference_epoch_s=round(same_s, 3),
                      speedup_vs_same_batch_reference=round(same_s / epoch_s, 2))
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return result


# ----------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------
def run_worker(backend: str, args: argparse.Namespace) -> dict | None:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--epochs", str(args.epochs),
           "--train-images", str(args.train_images), "--reference-epochs", str(args.reference_epochs)]
    if args.no_reference:
        cmd.append("--no-reference")
    env = dict(os.environ, KERAS_BACKEND=backend)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        print(f"[{backend}] failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(lines[-1])


def series_wall_time() -> tuple[float, int]:
    """Run the six notebooks with defaults into a temporary folder (committed
    notebooks, artifacts and figures are not touched). Returns the wall time
    and the peak RSS (MB) of the largest process of the series (a kernel)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, str(ROOT / "tools" / "run_series.py"), "--output-dir", f"{tmp}/nb",
               "-p", "ARTIFACTS_DIR", f"{tmp}/artifacts", "-p", "IMGS_DIR", f"{tmp}/imgs"]
        # A small wrapper reports the peak RSS of the series' own processes
        # (RUSAGE_CHILDREN here would also count the benchmark's workers).
        wrapper = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
                   "capture_output=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", wrapper, *cmd], check=True, capture_output=True,
                              text=True)
        wall = time.perf_counter() - start
    return wall, round(int(proc.stdout.split()[-1]) / 1024)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> int:
    parser = argparse.ArgumentParser(description="VAE training-speed benchmark")
    parser.add_argument("--quick", action="store_true", help="small subset and few epochs, under a minute")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--train-images", type=int, default=0, help="0 = all 55,000")
    parser.add_argument("--reference-epochs", type=int, default=5)
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax"])
    parser.add_argument("--no-series", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.epochs is None:
        args.epochs = 2 if args.quick else notebook_defaults()["epochs"]
    if args.quick:  # one warm-up epoch and one measured epoch on half the data
        args.train_images = args.train_images or 24_000
        args.reference_epochs = min(args.reference_epochs, 2)

    if args.worker:
        print(json.dumps(worker(args)))
        return 0

    results = {}
    for backend in args.backends:
        if backend == "jax":
            try:
                import importlib.util

                if importlib.util.find_spec("jax") is None:
                    print("[jax] not installed (pip install -r bench/requirements.txt): skipped")
                    continue
            except ImportError:
                continue
        print(f"[{backend}] measuring ...", flush=True)
        res = run_worker(backend, args)
        if res:
            results[backend] = res
    if "tensorflow" not in results:
        print("the TensorFlow measurement failed", file=sys.stderr)
        return 1

    series_s = series_rss = None
    if not args.quick and not args.no_series:
        print("[series] running all six notebooks with defaults ...", flush=True)
        series_s, series_rss = series_wall_time()

    main_res = results["tensorflow"]
    device = f"CPU: {cpu_name()}, {os.cpu_count()} logical cores"
    print()
    print(f"{'backend':<11}{'epoch s':>9}{'img/s':>9}{'limit s':>9}{'ratio':>7}{'ref s':>8}"
          f"{'speedup':>9}{'-ELBO':>9}{'f32 GF/s':>10}{'bf16 GF/s':>10}")
    for name, r in results.items():
        ref = f"{r['reference_epoch_s']:.2f}" if r["reference_epoch_s"] else "-"
        spd = f"{r['speedup_vs_reference']:.2f}x" if r["speedup_vs_reference"] else "-"
        bf16 = f"{r['matmul_gflops_bf16']:.0f}" if r["matmul_gflops_bf16"] else "-"
        print(f"{name:<11}{r['epoch_s']:>9.2f}{r['images_per_s']:>9}{r['limit_s']:>9.2f}"
              f"{r['ratio_to_limit']:>7.2f}{ref:>8}{spd:>9}{r['test_neg_elbo']:>9.2f}"
              f"{r['matmul_gflops_f32']:>10.0f}{bf16:>10}")
    print(f"{main_res['epochs']} epochs on {main_res['train_images']:,} images, "
          f"batch {main_res['batch_size']}, "
          f"{main_res['matmul_precision']} matrix products in training steps; {device}")
    if main_res["reference_epoch_s"]:
        print(f"reference (classic keras.io loop), batch {main_res['reference_batch_size']}, "
              f"Adam {CLASSIC['learning_rate']:g}: "
              f"{main_res['reference_epoch_s']:.2f} s per epoch, "
              f"test -ELBO {main_res['reference_test_neg_elbo']:.2f} "
              f"after {main_res['epochs']} epochs; at our batch {main_res['batch_size']}: "
              f"{main_res['same_batch_reference_epoch_s']:.2f} s per epoch "
              f"({main_res['speedup_vs_same_batch_reference']:.2f}x)")
    if series_s is not None:
        print(f"whole series (defaults): {series_s:.1f} s wall, "
              f"peak RSS of its largest process {series_rss} MB")
    summary = dict(
        epoch_s=main_res["epoch_s"], limit_s=main_res["limit_s"], ratio_to_limit=main_res["ratio_to_limit"],
        reference_epoch_s=main_res["reference_epoch_s"],
        speedup_vs_reference=main_res["speedup_vs_reference"],
        reference_test_neg_elbo=main_res["reference_test_neg_elbo"],
        same_batch_reference_epoch_s=main_res["same_batch_reference_epoch_s"],
        speedup_vs_same_batch_reference=main_res["speedup_vs_same_batch_reference"],
        test_neg_elbo=main_res["test_neg_elbo"], series_s=round(series_s, 1) if series_s else None,
        peak_rss_mb=main_res["peak_rss_mb"], series_peak_rss_mb=series_rss,
        backend="tensorflow", device=device,
        epochs=main_res["epochs"], train_images=main_res["train_images"], batch_size=main_res["batch_size"],
        matmul_precision=main_res["matmul_precision"],
        reference_batch_size=main_res["reference_batch_size"],
        quick=args.quick, date=time.strftime("%Y-%m-%d"),
        other_backends={k: v for k, v in results.items() if k != "tensorflow"},
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
