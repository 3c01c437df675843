"""bfloat16 matrix products for the training steps, where the CPU has them.

This is performance engineering, not part of the VAE: ``docs/performance.md``
explains it. :func:`set_matmul_precision` lets the ``keras.layers.Dense``
layers of a model multiply ``inputs @ kernel`` in their training steps with
both factors rounded to bfloat16 and the sums in float32
(:func:`bfloat16_matmul`), which CPUs with AVX512-BF16 do about twice as
fast as float32; the layers stay Keras' own (the switch is set on each layer
object), so a saved model names no class of this package. Evaluation always
multiplies in float32. :func:`resolve_matmul_precision` says what
``MATMUL_PRECISION`` means here.
Keras has no backend-agnostic op for a product whose result type differs
from its inputs', so :func:`bfloat16_product` is the one place in the
series with a branch per backend (TensorFlow and JAX, under XLA).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
from keras import layers, ops

from .errors import ParameterError
from .parameters import check_parameters


def bfloat16_matmul_supported() -> bool:
    """Whether training can multiply in bfloat16 here, and gain from it: the
    TensorFlow or JAX backend on a CPU whose instruction set multiplies
    bfloat16 natively (AVX512-BF16 or AMX, read from ``/proc/cpuinfo``;
    recent AMD Ryzen/EPYC and Intel Xeon). Elsewhere (older CPUs emulate
    bfloat16 slowly; GPUs have their own fast formats) it is False."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            return False
    elif backend == "jax":
        import jax

        if jax.default_backend() != "cpu":
            return False
    else:
        return False
    try:
        words = Path("/proc/cpuinfo").read_text().split()
    except OSError:  # not Linux
        return False
    return "avx512_bf16" in words or "amx_bf16" in words


def uses_xla() -> bool:
    """Whether :func:`compile_vae` compiles training steps with XLA: on the
    TensorFlow and JAX backends (the PyTorch backend runs eagerly)."""
    return keras.backend.backend() in ("tensorflow", "jax")


def resolve_matmul_precision(precision: str, jit_compile: bool | None = None) -> str:
    """``"float32"`` or ``"bfloat16"``: what ``MATMUL_PRECISION = precision``
    means on this machine (``"auto"``: bfloat16 where
    :func:`bfloat16_matmul_supported`). bfloat16 products need XLA
    (``jit_compile``, by default as :func:`compile_vae` sets it), on
    TensorFlow or JAX."""
    check_parameters(MATMUL_PRECISION=precision)
    if jit_compile is None:
        jit_compile = uses_xla()
    if precision == "auto":
        return "bfloat16" if jit_compile and bfloat16_matmul_supported() else "float32"
    if precision == "bfloat16" and not (jit_compile and uses_xla()):
        raise ParameterError(
            "MATMUL_PRECISION = 'bfloat16' needs the TensorFlow or JAX backend with XLA "
            f"(jit_compile); this run has Keras backend {keras.backend.backend()!r} and "
            f"jit_compile={jit_compile}. Use MATMUL_PRECISION = 'float32' (or 'auto')."
        )
    return precision


def bfloat16_product(a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False) -> Any:
    """``a @ b`` (or with ``a``/``b`` transposed) of float32 matrices,
    rounded to bfloat16 on the way in and accumulated and returned in float32
    (a native instruction on CPUs with AVX512-BF16). Keras has no
    backend-agnostic op for a product whose result type differs from its
    inputs', hence one branch per backend (XLA on both).

    XLA's CPU backend multiplies bfloat16 natively only if the left operand
    is stored row by row; a transposed left operand (``x.T @ g``, the weight
    gradient) would silently be multiplied in float32. So ``a.T`` is made
    for real: flattened behind an optimization barrier, which XLA cannot
    see through and fold back into the product.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        from tensorflow.compiler.tf2xla.python import xla

        a = tf.cast(tf.transpose(a) if transpose_a else a, tf.bfloat16)
        if transpose_a:
            (flat,) = xla.optimization_barrier(tf.reshape(a, [-1]))
            a = tf.reshape(flat, tf.shape(a))
        return tf.raw_ops.BatchMatMulV3(x=a, y=tf.cast(b, tf.bfloat16), Tout=tf.float32, adj_y=transpose_b)
    import jax

    a = (a.T if transpose_a else a).astype("bfloat16")
    if transpose_a:
        a = jax.lax.optimization_barrier(a.reshape(-1)).reshape(a.shape)
    contract = ((1,), (1,) if transpose_b else (0,))
    return jax.lax.dot_general(a, b.astype("bfloat16"), (contract, ((), ())),
                               preferred_element_type="float32")


@ops.custom_gradient
def bfloat16_matmul(x: Any, kernel: Any) -> Any:
    """``x @ kernel`` with bfloat16 inputs and float32 accumulation, forward
    and backward: the two products of the gradient are bfloat16 products
    too (``dx = g @ kernel.T``, ``dkernel = x.T @ g``). TensorFlow and JAX,
    under XLA only."""

    def grad(*args: Any, upstream: Any = None) -> tuple[Any, Any]:
        if upstream is None:  # TensorFlow passes it positionally, JAX by name
            (upstream,) = args
        return (bfloat16_product(upstream, kernel, transpose_b=True),
                bfloat16_product(x, upstream, transpose_a=True))

    return bfloat16_product(x, kernel), grad


def _tensorflow_eager() -> bool:
    """True when this call runs eagerly on the TensorFlow backend."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return tf.executing_eagerly()


def _dense_call(layer: layers.Dense) -> Any:
    """``layer.call`` for a plain ``keras.layers.Dense`` that can multiply in bfloat16.

    With ``layer.bfloat16_training`` set (by :func:`set_matmul_precision`) the product
    ``inputs @ kernel`` of a training step rounds both to bfloat16 (8 bits of mantissa) and adds
    up in float32; weights, biases, activations, the loss and Adam stay float32. Evaluation and
    inference (``training=False``) always multiply in float32. It is set on the layer object,
    not on its class: the model a student reads and saves keeps Keras' own ``Dense``, and its
    ``.keras`` file names no class of this package.
    """
    plain = type(layer).call

    def call(inputs: Any, training: bool | None = None) -> Any:
        if not (training and layer.bfloat16_training) or _tensorflow_eager():
            # (TensorFlow has the float32-result bfloat16 product under XLA
            # only: an eager call, say model(x, training=True) in a cell,
            # multiplies in float32 instead of failing.)
            return plain(layer, inputs, training=training)
        y = bfloat16_matmul(inputs, ops.convert_to_tensor(layer.kernel))
        if layer.bias is not None:
            y = ops.add(y, layer.bias)
        return layer.activation(y) if layer.activation is not None else y

    return call


@keras.saving.register_keras_serializable(package="vae_helpers")
class Dense(layers.Dense):
    """The layer class of models saved before the series used Keras' own ``Dense``
    (their ``.keras`` files name ``vae_helpers>Dense``): kept, unchanged in what it
    computes, so that those files still load. New models never use it."""


def dense_layers(model: Any) -> list[layers.Dense]:
    """The ``Dense`` layers of a VAE's encoder and decoder."""
    return [layer for part in (model.encoder, model.decoder) for layer in part.layers
            if isinstance(layer, layers.Dense)]


def matmul_precision(model: Any) -> str:
    """``"bfloat16"`` if the model's training steps multiply in bfloat16,
    else ``"float32"``."""
    dense = dense_layers(model)
    return ("bfloat16" if dense and all(getattr(layer, "bfloat16_training", False) for layer in dense)
            else "float32")


def set_matmul_precision(model: Any, precision: str) -> None:
    """Make the training steps of ``model`` multiply in ``"float32"`` or ``"bfloat16"``."""
    if precision not in ("float32", "bfloat16"):
        raise ParameterError(f"matmul_precision must be 'float32' or 'bfloat16', not {precision!r}")
    for layer in dense_layers(model):
        if not hasattr(layer, "bfloat16_training"):  # the first time: give the layer its switchable call
            layer.call = _dense_call(layer)
        layer.bfloat16_training = precision == "bfloat16"
