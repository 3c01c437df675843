"""Expected answers of notebook 02 (the model)."""

import numpy as np
from keras import ops

import vae_helpers as vh

from .compare import Code, Value, random_cases


def _loss_cases():
    x = np.random.default_rng(107).random((4, 784), dtype=np.float32)
    rng = np.random.default_rng(108)
    logits, z_mean, z_log_var = (np.float32(2.0) * rng.standard_normal(s, dtype=np.float32)
                                 for s in ((4, 784), (4, 5), (4, 5)))
    return [((x, logits, z_mean, z_log_var, beta), f"4 random images and codes, beta={beta:g}")
            for beta in (1.0, 0.5, 4.0, 2.0, 0.25)]


def _extra_params(model):
    """Parameters added when the latent size of the notebook's network goes from 2 to 20."""
    def count(latent_dim):
        return vh.VAE(latent_dim=latent_dim, hidden_dim=model.hidden_dim, input_dim=model.input_dim,
                      hidden_layers=model.hidden_layers, activation=model.activation).count_params()
    return count(20) - count(2)


def _bce_average_ink(data):
    """Mean over the training images of the BCE of a decoder that predicts the mean training pixel
    everywhere: linear in x, so it is the pixel count times the binary entropy of that mean."""
    p = float(np.mean(data.x_train, dtype=np.float64))
    return -data.x_train.shape[1] * (p * np.log(p) + (1.0 - p) * np.log1p(-p))


def _kl(mean, log_var):
    kl = vh.kl_divergence(np.array([mean], "float32"), np.array([log_var], "float32"))
    return float(ops.convert_to_numpy(kl)[0])


ANSWERS = {
    "02.1": Code(vh.reparameterize, lambda: random_cases([(5, 2), (3, 20), (7, 3), (2, 50)], 3, seed=100),
                 what="z"),
    "02.2": Code(vh.kl_divergence, lambda: random_cases([(4, 3), (6, 20), (5, 7), (3, 50)], 2, seed=110),
                 what="KL"),
    "02.3": Code(vh.vae_loss, _loss_cases, what="loss"),
    "02.4": Value(lambda: _kl([1.0, 0.0], [0.0, 0.0]), tolerance=1e-4),
    "02.5": Value(_extra_params),
    "02.6": Value(_bce_average_ink, tolerance=0.05),
}
