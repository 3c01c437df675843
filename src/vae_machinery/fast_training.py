"""What makes training fast and resumable; none of it changes the maths.

* :func:`epoch_batches` – the input pipeline: each epoch's batches gathered
  with ``tf.data`` from one copy of the training images, in an order that
  depends only on the seed and the epoch (:func:`epoch_order`);
* :class:`ConstantThenLinearDecay` – the learning-rate schedule;
* :class:`EpochLogger` – one printed line per epoch, and a clear stop on NaN;
* :func:`save_checkpoint` / :func:`load_checkpoint` – the state after every
  epoch, so an interrupted run resumes with the weights of a straight one.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import ops

from .bfloat16 import matmul_precision, resolve_matmul_precision, set_matmul_precision, uses_xla
from .errors import ArtifactsError, ParameterError
from .files import atomic_write


class EpochLogger(keras.callbacks.Callback):
    """Print one short line per epoch (train and validation BCE, KL and total, and
    the learning rate the epoch started with) and stop with a clear message
    if the loss becomes NaN or infinite. A model whose reconstruction term is
    not the BCE names it in its ``reconstruction_label`` (notebook 07's Gaussian decoder),
    and a model whose loss is not in nats says so in its ``loss_unit`` ("": no unit)."""

    def __init__(self, epochs: int, verbose: bool = True) -> None:
        super().__init__()
        self.epochs = epochs
        self.verbose = verbose
        self.epoch_times: list[float] = []
        self.learning_rates: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()
        self.learning_rates.append(float(ops.convert_to_numpy(self.model.optimizer.learning_rate)))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        self.epoch_times.append(time.perf_counter() - self._start)
        if not all(math.isfinite(v) for v in logs.values()):
            self.model.stop_training = True
            shown = ", ".join(f"{k} {v:.4g}" for k, v in logs.items())
            raise FloatingPointError(
                f"The loss became NaN or infinite in epoch {epoch + 1} ({shown}). "
                "Lower LEARNING_RATE (e.g. by 10x) and train again; the last good "
                "checkpoint and artifacts were kept."
            )
        if self.verbose:
            w, name = len(str(self.epochs)), getattr(self.model, "reconstruction_label", "BCE")
            unit = getattr(self.model, "loss_unit", "nats")
            unit = f" {unit}" if unit else ""
            print(
                f"epoch {epoch + 1:>{w}}/{self.epochs}  "
                f"train: {name} {logs['reconstruction_loss']:7.2f}  KL {logs['kl_loss']:5.2f}  "
                f"loss {logs['loss']:7.2f} | "
                f"val: {name} {logs['val_reconstruction_loss']:7.2f}  KL {logs['val_kl_loss']:5.2f}  "
                f"loss {logs['val_loss']:7.2f}{unit} | lr {self.learning_rates[-1]:.1e} | "
                f"{self.epoch_times[-1]:.1f} s",
                flush=True,
            )


@keras.saving.register_keras_serializable(package="vae_helpers")
class ConstantThenLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate of training step ``step``: constant at
    ``learning_rate``, then falling linearly to 0 over the last
    ``decay_fraction`` of the ``total_steps`` (0 keeps it constant).

    The constant phase makes fast progress; the decay lets Adam settle
    into the minimum it has found instead of jittering around it.
    """

    def __init__(self, learning_rate: float, total_steps: int, decay_fraction: float = 0.25) -> None:
        self.learning_rate = float(learning_rate)
        self.total_steps = int(total_steps)
        self.decay_fraction = float(decay_fraction)

    def __call__(self, step: Any) -> Any:
        if self.decay_fraction == 0:
            return ops.convert_to_tensor(self.learning_rate, dtype="float32")
        steps_left = self.total_steps - ops.cast(step, "float32")
        return self.learning_rate * ops.clip(steps_left / (self.decay_fraction * self.total_steps), 0.0, 1.0)

    def get_config(self) -> dict[str, Any]:
        return dict(learning_rate=self.learning_rate, total_steps=self.total_steps,
                    decay_fraction=self.decay_fraction)


STEPS_PER_EXECUTION = 16  # training steps per call from Python into the compiled step


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The shuffled order of the training images in ``epoch``: a function of
    the seed and the epoch only, so a resumed run sees the same batches."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def epoch_batches(x_train: Any, order: np.ndarray, batch_size: int,
                  binarize_seed: int | None = None) -> Any:
    """One epoch of training batches: the rows of ``x_train`` in ``order``,
    ``batch_size`` at a time (the last batch may be smaller), as a
    ``tf.data.Dataset`` of 1-tuples, which ``model.fit`` accepts whatever the
    Keras backend (the benchmark trains with it on TensorFlow and on JAX).

    ``x_train`` should be a TensorFlow tensor made once per training run
    (``tf.constant(data.x_train)``): each batch is gathered from it, so no
    shuffled copy of the whole training set is made. A pair of tensors
    ``(images, labels)`` gives batches of pairs, with the same rows of both
    (a conditional VAE's input). With ``binarize_seed`` every pixel is drawn as
    Bernoulli(intensity), from a random stream keyed by the seed and the
    batch's position (dynamic binarization); labels are never binarized.

    tf.data's autotuning is turned off: when ``fit`` returns, TensorFlow
    waits for the autotuning thread to stop, which cost up to 1.3 s per epoch
    on a 2-core CPU; a fixed prefetch of two batches feeds training as fast.
    """
    import tensorflow as tf

    images, labels = x_train if isinstance(x_train, tuple) else (x_train, None)

    def inputs(x: Any, rows: Any) -> tuple[Any]:
        return (x if labels is None else (x, tf.gather(labels, rows)),)

    batches = tf.data.Dataset.from_tensor_slices(np.asarray(order, dtype=np.int64)).batch(batch_size)
    if binarize_seed is None:
        batches = batches.map(lambda rows: inputs(tf.gather(images, rows), rows))
    else:
        def binarized(i: Any, rows: Any) -> tuple[Any]:
            x = tf.gather(images, rows)
            key = tf.stack([tf.constant(binarize_seed, tf.int64), i])
            u = tf.random.stateless_uniform(tf.shape(x), seed=key)
            return inputs(tf.cast(u < x, x.dtype), rows)

        batches = batches.enumerate().map(binarized)
    options = tf.data.Options()
    options.autotune.enabled = False
    return batches.prefetch(2).with_options(options)


def binarize_seed(seed: int, epoch: int) -> int:
    """The random-stream key of an epoch's binarized training pixels."""
    return int(np.random.default_rng([seed, epoch, 1]).integers(2**62))


CHECKPOINT_FILE = "checkpoint.npz"


def run_identity(model: Any, data: Any, epochs: int, batch_size: int, learning_rate: float,
                 lr_decay: float, seed: int) -> dict:
    """The settings a checkpoint must share with a run that resumes from it
    (for models other than the VAE, e.g. notebook 09's, the sizes they have). ``epochs`` is one of
    them: the learning rate's schedule spans the run's epochs, so a run resumed with another number
    would follow another schedule than the one it started."""
    sizes = {name: getattr(model, name, None)
             for name in ("latent_dim", "hidden_dim", "hidden_layers", "activation", "input_dim", "beta")}
    model_class = {} if type(model).__name__ == "VAE" else {"model_class": type(model).__name__}
    return dict(dataset=data.name, binarize=data.binarize, **sizes, **model_class, epochs=epochs,
                batch_size=batch_size,
                learning_rate=float(learning_rate), lr_decay=float(lr_decay),
                matmul_precision=matmul_precision(model), seed=seed, validation_images=len(data.x_val))


def save_checkpoint(path: Path, model: Any, history: Mapping[str, Sequence[float]],
                    identity: Mapping[str, Any]) -> None:
    """Write the model's and the optimizer's variables, the history so far
    and the run's settings to one ``.npz`` file, atomically."""
    arrays = {f"model/{i}": ops.convert_to_numpy(v) for i, v in enumerate(model.variables)}
    arrays.update({f"optimizer/{i}": ops.convert_to_numpy(v)
                   for i, v in enumerate(model.optimizer.variables)})
    meta = json.dumps({"history": dict(history), "identity": dict(identity)})
    arrays["meta"] = np.frombuffer(meta.encode(), dtype=np.uint8)
    atomic_write(path, lambda p: np.savez(p, **arrays))


def load_checkpoint(path: Path, model: Any, identity: Mapping[str, Any]) -> dict[str, list[float]]:
    """Restore ``model`` (weights, noise-generator state, optimizer state)
    from :func:`save_checkpoint`'s file and return the history so far."""
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(f["meta"].tobytes().decode())
        if meta["identity"] != dict(identity):
            changed = {k: (meta["identity"].get(k), v) for k, v in identity.items()
                       if meta["identity"].get(k) != v}
            raise ArtifactsError(
                f"The checkpoint {str(path)!r} belongs to a run with other settings "
                f"(saved vs now: {changed}). Set RESUME = False to start afresh, or "
                "use the settings of the interrupted run."
            )
        model.optimizer.build(model.trainable_variables)
        for group, variables in (("model", model.variables), ("optimizer", model.optimizer.variables)):
            for i, variable in enumerate(variables):
                variable.assign(f[f"{group}/{i}"])
    return {k: list(v) for k, v in meta["history"].items()}


def restore_history(checkpoint: Path | None, model: Any, identity: Mapping[str, Any],
                    verbose: bool = True) -> dict[str, list[float]]:
    """For ``RESUME = True``: the history of the interrupted run, with the
    model and optimizer restored from ``checkpoint`` (an empty history when
    there is no checkpoint file yet)."""
    if checkpoint is None:
        raise ParameterError("RESUME = True needs a checkpoint folder (checkpoint_dir).")
    if not checkpoint.is_file():
        if verbose:
            print(f"No checkpoint in {checkpoint.parent}: training from the start")
        return {}
    history = load_checkpoint(checkpoint, model, identity)
    if verbose:
        print(f"Resuming after epoch {len(history.get('loss', []))} from {checkpoint}")
    return history


def training_tensors(data: Any, batch_size: int, labels: bool = False) -> tuple[Any, Any]:
    """The training images as one TensorFlow tensor (each epoch's batches
    are gathered from it) and the validation images as a ready-made
    ``tf.data`` pipeline of ``batch_size`` batches, both built once per run:
    from NumPy arrays, ``fit`` would build a new pipeline, with tf.data's
    autotuning, every epoch. With ``labels``, each is a pair (images, one-hot
    labels), the input of a conditional VAE."""
    import tensorflow as tf

    def tensors(x: np.ndarray, y: np.ndarray) -> Any:
        if not labels:
            return tf.constant(x)
        return tf.constant(x), tf.one_hot(y, len(data.class_names), dtype=tf.float32)

    x_val = tensors(data.x_val, data.y_val)
    return tensors(data.x_train, data.y_train), epoch_batches(x_val, np.arange(len(data.x_val)), batch_size)


def compile_fast(model: Any, optimizer: Any, matmul_precision: str = "auto",
                 steps_per_execution: int = STEPS_PER_EXECUTION, jit_compile: bool | None = None) -> None:
    """``model.compile(optimizer)`` with the settings that make training fast
    without changing what a step computes (docs/performance.md): XLA
    compilation on TensorFlow and JAX (``jit_compile=False`` turns it off:
    on a CPU, TensorFlow's own convolution kernels beat XLA's, notebook 09),
    ``steps_per_execution`` batches per call from Python (Keras' PyTorch
    backend runs one), and the number format of the training steps' matrix
    products (``MATMUL_PRECISION``)."""
    jit = uses_xla() if jit_compile is None else bool(jit_compile) and uses_xla()
    set_matmul_precision(model, resolve_matmul_precision(matmul_precision, jit))
    model.compile(optimizer=optimizer, jit_compile=jit,
                  steps_per_execution=steps_per_execution if keras.backend.backend() != "torch" else 1)
