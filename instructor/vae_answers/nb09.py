"""Expected answers of notebook 09 (the convolutional VAE)."""

import numpy as np

from .compare import Value


def _parameters_with_filters(conv_vae, size=5):
    """The parameter count of conv_vae with size x size filters in every convolution: each kernel
    (k, k, C_in, C_out) becomes (size, size, C_in, C_out); the biases and, with padding "same" (the
    maps keep their sizes), the dense layers stay as they are."""
    total = 0
    for layer in [*conv_vae.encoder.layers, *conv_vae.decoder.layers]:
        if hasattr(layer, "kernel_size"):
            kernel = tuple(layer.kernel.shape)
            total += size * size * int(np.prod(kernel[2:])) + int(np.prod(layer.bias.shape))
        else:
            total += layer.count_params()
    return total


def _multiply_adds(conv_vae):
    """Multiply-adds per image: each weight (no biases) once per position it is used at: a dense
    layer's once, a convolution's at every position of its output, a transposed convolution's at every
    position of its input."""
    total = 0
    for layer in [*conv_vae.encoder.layers, *conv_vae.decoder.layers]:
        if not hasattr(layer, "kernel"):
            continue
        weights = int(np.prod(layer.kernel.shape))
        if "Transpose" in type(layer).__name__:
            weights *= layer.input.shape[1] * layer.input.shape[2]
        elif hasattr(layer, "kernel_size"):
            weights *= layer.output.shape[1] * layer.output.shape[2]
        total += weights
    return total


ANSWERS = {
    "09.1": Value(_parameters_with_filters),
    # An exact count. 5,000 (under 0.1 %) lets "6.66e6" pass, and a count that adds the 3,349 biases
    # or leaves out the two 64-weight heads, but not a missing layer (the smallest has 6,272).
    "09.2": Value(_multiply_adds, tolerance=5000),
}
