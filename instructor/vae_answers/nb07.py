"""Expected answers of notebook 07 (experiments)."""

import math

from .compare import Value


def _exchange_rates(vae_rows):
    """Nats of mean test BCE gained per nat of mean test KL given up, between neighbouring betas."""
    rows = sorted(vae_rows, key=lambda row: row["BETA"])
    return [(b["test_bce"] - a["test_bce"]) / (a["test_kl"] - b["test_kl"]) for a, b in zip(rows, rows[1:])]


def _nats_per_dimension(by_dim):
    """Nats of mean test negative ELBO saved per added latent dimension, between neighbouring sizes."""
    sizes = sorted(by_dim)
    return [(by_dim[a]["test_neg_elbo"] - by_dim[b]["test_neg_elbo"]) / (b - a)
            for a, b in zip(sizes, sizes[1:])]


def _implied_sigma():
    """The sigma of a Gaussian decoder whose -log p(x|z) is the squared error averaged over the 784 pixels:
    1 / (2 sigma^2) = 1 / 784."""
    return math.sqrt(784 / 2)


ANSWERS = {
    # Ratios of differences of means: from the tables' two-decimal means they come out a few hundredths off.
    "07.1": Value(_exchange_rates, tolerance=0.05),
    "07.2": Value(_nats_per_dimension, tolerance=0.01),  # two-decimal means, over one dimension or more
    "07.3": Value(_implied_sigma, tolerance=0.01),
}
