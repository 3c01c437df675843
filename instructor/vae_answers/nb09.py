"""Expected answers of notebook 09 (the convolutional VAE)."""

import numpy as np

from .compare import Value

TRAIN_SUBSET = 5000  # exercise 2: the first 5,000 training images, as many as the validation images


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


def _mean_bce(model, x, batch_size=1000):
    """Mean BCE (nats per image) of the images x decoded from their mean codes mu(x)."""
    x = np.asarray(x, np.float32)
    z_mean, _ = model.encoder.predict(x, batch_size=batch_size, verbose=0)
    logits = model.decoder.predict(z_mean, batch_size=batch_size, verbose=0).astype(np.float64)
    return float(np.mean((np.logaddexp(0.0, logits) - x * logits).sum(axis=-1)))  # softplus(l) - x l


def _generalisation_gaps(models, data, latent_dim):
    """[MLP, conv]: mean BCE on the validation images minus that on the first 5,000 training images."""
    return [_mean_bce(models[arch, latent_dim], data.x_val)
            - _mean_bce(models[arch, latent_dim], data.x_train[:TRAIN_SUBSET]) for arch in ("MLP", "conv")]


ANSWERS = {
    "09.1": Value(_parameters_with_filters),
    # Logits or clipped probabilities, float32 or float64: a few thousandths of a nat apart.
    "09.2": Value(_generalisation_gaps, tolerance=0.02),
}
