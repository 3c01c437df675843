"""Expected answers of notebook 03 (training)."""

import numpy as np

import vae_helpers as vh

from .compare import Code, Value


def _log_mean_exp_cases():
    a = 3.0 * np.random.default_rng(9).standard_normal((3, 5))
    b = 40.0 * np.random.default_rng(109).standard_normal((4, 6)) - 300.0
    return ([((a, axis), f"a random array of shape (3, 5) and axis={axis}") for axis in (-1, 0)]
            + [((b, axis), f"a random array of shape (4, 6) around -300 and axis={axis}")
               for axis in (1, -2)])


def _bce_per_kl_nat(history):
    """Nats of validation BCE gained per nat of validation KL spent, from the first epoch to the last."""
    bce, kl = history["val_reconstruction_loss"], history["val_kl_loss"]
    return (bce[0] - bce[-1]) / (kl[-1] - kl[0])


def _log_px_by_k(model, data, seed):
    return [vh.iwae_log_likelihood(model, data.x_val[:500], k=k, seed=seed)["log_px"] for k in (1, 10, 100)]


ANSWERS = {
    "03.1": Code(vh.log_mean_exp, _log_mean_exp_cases),
    # 0.15: what computing from the printed values (rounded to 0.01 nats) can change, for a KL rise of
    # about 1.8 nats; the wrong readings (the loss for the BCE, the highest KL for the last, the training
    # values) are further away.
    "03.2": Value(_bce_per_kl_nat, tolerance=0.15),
    "03.3": Value(_log_px_by_k),
    "03.4": Value(lambda history: 3.0 * history["val_kl_loss"][-1], tolerance=0.02),
}
