"""Expected answers of notebook 06 (the latent space)."""

import numpy as np

from .compare import Code, Value
from .nb05 import nearest_labels

IMAGES = 1000  # exercise 06.3: the first this many test images


def _interpolation(z_start, z_end, steps):
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return (1.0 - t) * np.asarray(z_start, np.float64) + t * np.asarray(z_end, np.float64)


def _interpolation_cases():
    rng = np.random.default_rng(110)
    return [((rng.standard_normal(d).astype("float32"), rng.standard_normal(d).astype("float32"), steps),
             f"random codes of size {d} and steps={steps}") for d, steps in ((3, 11), (20, 4), (2, 2))]


def _neighbour_agreement(mu, mu_train, data):
    landed = nearest_labels(mu[:IMAGES], mu_train, np.asarray(data.y_train))
    return float(np.mean(landed == np.asarray(data.y_test[:IMAGES])))


ANSWERS = {
    "06.1": Code(_interpolation, _interpolation_cases, what="interpolation"),
    "06.2": Value(lambda mu, data: mu[data.y_test == 0].mean(axis=0), tolerance=1e-4),
    # A near-tie between two nearest codes (float32 against float64) moves the fraction by 0.001.
    "06.3": Value(_neighbour_agreement, tolerance=0.0015),
}
