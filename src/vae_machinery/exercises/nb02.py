"""Self-checks of notebook 02 (the model): three functions of the VAE and three numbers."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .engine import (
    Mismatch,
    SelfCheck,
    as_array,
    describe_inputs,
    expect_close,
    expect_finite,
    expect_shape,
    gradients,
    number,
    random_arrays,
    whole_number,
)

LOG_2 = math.log(2.0)


def _reparameterize(fn: Any) -> None:
    z_mean, z_log_var, eps = random_arrays((5, 2), (5, 2), (5, 2), seed=0)
    case = "random z_mean, z_log_var and eps of shape (5, 2)"
    z = expect_shape(fn(z_mean, z_log_var, eps), (5, 2), what="z", case=case,
                     why="one sample per element of z_mean, nothing summed")
    expect_close(fn(z_mean, z_log_var, eps), z, what="z", case=f"{case}, called twice with the same eps")
    zero = np.zeros_like(eps)
    expect_close(fn(z_mean, z_log_var, zero), z_mean, what="z",
                 case=f"{case} but eps = 0 (then z must be the mean)")
    expect_close(fn(z_mean, np.zeros_like(z_log_var), eps), z_mean + eps, what="z",
                 case=f"{case} but z_log_var = 0 (sigma = 1: then z is the mean plus eps)")
    # Many draws of eps for one (mu, sigma): z must have mean mu and standard deviation sigma.
    n = 200_000
    noise = np.random.default_rng(1).standard_normal((n, 1)).astype("float32")
    mu, sigma = 1.5, 0.5
    means, log_vars = np.full((n, 1), mu, "float32"), np.full((n, 1), 2 * math.log(sigma), "float32")
    draws = as_array(fn(means, log_vars, noise), "z")
    if abs(draws.mean() - mu) > 0.01 or abs(draws.std() - sigma) > 0.01:
        raise Mismatch(f"over {n:,} draws of eps with mean 1.5 and log-variance log(0.25), your z has mean "
                       f"{draws.mean():.3f} and standard deviation {draws.std():.3f}; a sample of "
                       f"N(1.5, 0.5^2) has mean 1.5 and standard deviation 0.5")
    grads = gradients(fn, [z_mean, z_log_var, eps], wrt=(0, 1))
    if grads is not None:
        for name, grad in zip(("z_mean", "z_log_var"), grads):
            if grad is None:
                raise Mismatch(f"no gradient flows from z back to {name}: training could not change it")
        expect_close(grads[0], np.ones_like(z_mean), what="gradient d(sum z)/dz_mean", case=case)


def _kl_divergence(fn: Any) -> None:
    known = [  # (z_mean, z_log_var, the KL of each row): points whose KL is known
        (np.zeros((2, 3), "float32"), np.zeros((2, 3), "float32"), [0.0, 0.0]),
        # mean and variance both away from the prior (a mean-only shift would be exercise 4's question)
        (np.array([[1.5, -1.0]], "float32"), np.array([[0.5, -0.5]], "float32"),
         [0.5 * (1.5**2 + 1.0 + math.exp(0.5) + math.exp(-0.5) - 2.0)]),
        (np.array([[0.0, 0.0]], "float32"), np.array([[2.0, 0.0]], "float32"), [0.5 * (math.exp(2) - 3)]),
    ]
    for z_mean, z_log_var, want in known:
        case = describe_inputs(z_mean=z_mean, z_log_var=z_log_var)
        expect_shape(fn(z_mean, z_log_var), (len(z_mean),), what="KL", case=case,
                     why="one KL per row (image), the latent dimensions combined")
        expect_close(fn(z_mean, z_log_var), want, what="KL", case=case)
    z_mean, z_log_var = random_arrays((6, 20), (6, 20), seed=2)
    kl = as_array(fn(z_mean, z_log_var), "KL")
    if np.any(kl < 0):
        raise Mismatch("for random z_mean and z_log_var of shape (6, 20) your KL is negative somewhere; "
                       "a KL divergence never is")
    halves = (as_array(fn(z_mean[:, :10], z_log_var[:, :10]), "KL")
              + as_array(fn(z_mean[:, 10:], z_log_var[:, 10:]), "KL"))
    expect_close(kl, halves, what="KL", case="random inputs of shape (6, 20): the KL of all 20 dimensions "
                                              "against the KLs of the first 10 and the last 10 added up")


def _vae_loss(fn: Any) -> None:
    pixels, images = 784, 3
    x = np.random.default_rng(7).random((images, pixels), dtype=np.float32)
    zero_logits = np.zeros((images, pixels), "float32")
    prior = np.zeros((images, 2), "float32")
    shifted = np.tile(np.array([[2.0, 0.0]], "float32"), (images, 1))  # KL 2 nats per image
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        case = "3 images, logits 0 (every pixel p = 0.5) and codes at the prior, beta=1"
        expect_shape(fn(x, zero_logits, prior, prior, 1.0), (images,), what="loss", case=case,
                     why="one loss per image: nothing averaged over the batch")
        expect_close(fn(x, zero_logits, prior, prior, 1.0), np.full(images, pixels * LOG_2), what="loss",
                     case=case + " (a decoder that says 0.5 everywhere costs log 2 per pixel)")
        for beta in (1.0, 0.5, 4.0):
            expect_close(fn(x, zero_logits, shifted, prior, beta),
                         np.full(images, pixels * LOG_2 + 2.0 * beta),
                         what="loss", case=f"logits 0 and codes with a KL of 2 nats, beta={beta:g}")
        sure = np.full((1, pixels), 10.0, "float32")
        softplus = math.log1p(math.exp(-10.0))  # -log sigmoid(10): the cost of ink at logit +10
        for ink, want in ((1.0, pixels * softplus), (0.0, pixels * (10.0 + softplus))):
            expect_close(fn(np.full((1, pixels), ink, "float32"), sure, prior[:1], prior[:1], 1.0), [want],
                         what="loss", rtol=1e-4,
                         case=f"every pixel {ink:g} and every logit +10 (the decoder sure of ink)")
        # Far out, a probability rounds to 1 in float32: only a loss computed from the logits stays right.
        case = "every pixel 0 and every logit +30 (the decoder wrongly sure of ink)"
        wrongly_sure = fn(np.zeros((1, pixels), "float32"), np.full((1, pixels), 30.0, "float32"), prior[:1],
                          prior[:1], 1.0)
        expect_finite(wrongly_sure, what="loss", case=case)
        expect_close(wrongly_sure, [pixels * (30.0 + math.log1p(math.exp(-30.0)))], what="loss", case=case,
                     rtol=1e-4)
    if any("produced by a Sigmoid" in str(w.message) for w in caught):
        raise Mismatch("you passed sigmoid probabilities where from_logits=True expects logits (Keras "
                       "noticed and used the logits, but not every backend does)")


def _kl_by_hand(answer: Any) -> None:
    if number(answer, "a KL in nats") < 0:
        raise Mismatch("a KL divergence is never negative")


LATENT_FROM, LATENT_TO = 2, 20  # exercise 5: the latent sizes compared


def _extra_params(answer: Any, model: Any) -> None:
    value = whole_number(answer, "a number of parameters")
    if value <= 0:
        raise Mismatch("a bigger latent space has more parameters, not fewer or as many: the layers that "
                       "take z in or give it out grow")
    added = LATENT_TO - LATENT_FROM
    if value % added:
        raise Mismatch(f"each of the {added} extra latent dimensions adds the same number of weights and "
                       f"biases, so the difference is a multiple of {added}; {value:,} is not")
    total = model.count_params()
    if value >= total:
        raise Mismatch(f"{value:,} is as many as the whole model above has ({total:,}) or more; the question "
                       "is how many parameters are added, not how many the bigger model has")


def _bce_average_ink(answer: Any, data: Any) -> None:
    value = number(answer, "a loss in nats per image")
    pixels = data.x_train.shape[1]
    if not np.isfinite(value):
        raise Mismatch(f"{value} is not a finite number: is a log(0) in your sum?")
    if value <= 0:
        raise Mismatch("a cross-entropy of pixels the decoder is not sure about is positive")
    if value <= LOG_2:
        raise Mismatch(f"{value:.4g} nats is less than a single pixel can cost at p = 0.5 (log 2 = 0.693): "
                       f"a loss per image is a sum over its {pixels} pixels, not a mean")
    if value > pixels * LOG_2:
        raise Mismatch(f"{value:.4g} nats is more than the decoder that says 0.5 everywhere pays "
                       f"({pixels} log 2 = {pixels * LOG_2:.1f} nats): a guess at the average pixel value "
                       "costs less than that on average over the training images")


CHECKS = {
    "02.1": SelfCheck(
        "the reparameterisation trick", _reparameterize,
        "z has the shape of z_mean, is the mean when eps = 0, has mean mu and spread sigma over many eps, "
        "and gradients flow back to z_mean and z_log_var",
        hints=("z must be a sample of N(mu, sigma^2) made from the eps you are given: draw no new noise.",
               "z_log_var is the log of the variance, not sigma: get the standard deviation from it first.",
               "Use keras.ops (ops.exp), not NumPy: NumPy turns tensors into plain arrays and "
               "backpropagation cannot pass through them."),
        code=True, library=("reparameterize",)),
    "02.2": SelfCheck(
        "the KL in code", _kl_divergence,
        "one value per image, 0 at the prior, the known values at two other points, never negative, and "
        "additive over dimensions",
        hints=("One KL per image: combine the latent dimensions, and keep each image its own row.",
               "z_log_var is the log of sigma^2: the variance is its exponential.",
               "Each dimension's term is 0 when mu = 0 and sigma = 1; the dimensions' terms add up."),
        code=True, library=("kl_divergence", "vae_loss", "kl_per_dimension")),
    "02.3": SelfCheck(
        "the loss of one image", _vae_loss,
        "one value per image, log 2 per pixel for a know-nothing decoder, beta times the KL on top, and the "
        "right cost for confident logits",
        hints=("The loss is the reconstruction term plus beta times the KL, one value per image, in nats.",
               "The cross-entropy is summed over the 784 pixels (a sum, not a mean), from the decoder's "
               "logits (from_logits=True), not from probabilities.",
               "Use your own KL from exercise 2; beta multiplies the KL term only."),
        code=True, library=("vae_loss", "kl_divergence", "reconstruction_bce")),
    "02.4": SelfCheck(
        "a KL by hand", _kl_by_hand, "a number of nats, not negative",
        hints=("The KL of independent dimensions is the sum of one term per dimension.",
               "A dimension that is exactly the prior (mu = 0, sigma = 1) costs nothing.")),
    "02.5": SelfCheck(
        "what a bigger latent space costs", _extra_params,
        "a positive whole number of parameters, smaller than the whole model",
        hints=("Only the layers whose size depends on the latent size change: find each Dense layer that "
               "has z (or z's mean or log-variance) as its input or its output.",
               "A Dense layer from a to b units has a * b weights and b biases: for each layer you found, "
               "which of the two grow with the latent size?",
               "The encoder has two heads, each from HIDDEN_DIM units to the latent size; the decoder's "
               "first layer goes from the latent size to HIDDEN_DIM units.")),
    "02.6": SelfCheck(
        "a decoder that knows only how much ink there is", _bce_average_ink,
        "a number of nats per image between one pixel's cost at p = 0.5 and 784 of them",
        hints=("p_bar is one number, the mean of data.x_train; the decoder predicts it for every pixel of "
               "every image.",
               "Compute the BCE of every training image (the sum over its pixels of the two log terms, with "
               "the minus sign) and average over the images; use natural logs (nats, not bits).",
               "The BCE is linear in x: averaged over the images, each pixel's cost needs only the average "
               "of x.")),
}
