"""Expected answers of notebook 10 (posterior collapse)."""

import numpy as np

from .compare import Code, Value


def _free_bits_kl(z_mean, z_log_var, free_bits):
    m, v = np.asarray(z_mean, np.float64), np.asarray(z_log_var, np.float64)
    per_dim = np.mean(0.5 * (m**2 + np.exp(v) - 1.0 - v), axis=0)  # batch mean, one per dimension
    return np.sum(np.maximum(per_dim, free_bits))


def _free_bits_cases():
    cases = []
    for seed, shape in enumerate([(8, 5), (16, 32), (4, 3), (32, 50)], start=100):
        rng = np.random.default_rng(seed)
        lam = 0.1 + 0.1 * (seed % 3)
        cases.append(((*(rng.standard_normal(shape).astype("float32") for _ in range(2)), lam),
                      f"random z_mean and z_log_var of shape {shape} and free_bits={lam:g}"))
    return cases


def _half_share(by_name, run="β = 1, free bits"):
    """The share of the run's test KL carried by the half of its dimensions with the smallest KL."""
    kl = np.sort(np.asarray(by_name[run]["kl_per_dim"], np.float64))
    return float(kl[: len(kl) // 2].sum() / kl.sum())


def _mean_bce(model, x, z_mean, batch_size=1000):
    logits = model.decoder.predict(z_mean, batch_size=batch_size, verbose=0).astype(np.float64)
    return float(np.mean((np.logaddexp(0.0, logits) - x * logits).sum(axis=-1)))  # softplus(l) - x l


def _bce_rise(models, by_name, data, run="β = 1"):
    """How much the mean test BCE of decoding the mean codes rises when the unit with the largest KL is
    set to 0 (the prior's mean) in every code."""
    model, x = models[run], np.asarray(data.x_test, np.float32)
    z_mean = model.encoder.predict(x, batch_size=1000, verbose=0)[0]
    without = z_mean.copy()
    without[:, int(np.argmax(by_name[run]["kl_per_dim"]))] = 0.0
    return _mean_bce(model, x, without) - _mean_bce(model, x, z_mean)


ANSWERS = {
    "10.1": Code(_free_bits_kl, _free_bits_cases, what="KL term"),
    "10.2": Value(_half_share, tolerance=0.002),
    # Logits or clipped probabilities, float32 or float64: a few thousandths of a nat apart.
    "10.3": Value(_bce_rise, tolerance=0.02),
}
