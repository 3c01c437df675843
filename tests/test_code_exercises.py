"""The "write the code" self-checks: each accepts the worked solution, written
as a student would (keras.ops / NumPy), and rejects the usual mistakes with
a message that says what went wrong."""

import ast
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from vae_machinery import exercises

TENSORFLOW = keras.backend.backend() == "tensorflow"


# --------------------------------------------------------------------------
# Worked solutions, as they appear in the notebooks
# --------------------------------------------------------------------------
def reparameterize(z_mean, z_log_var, eps):
    sigma = ops.exp(0.5 * z_log_var)  # z_log_var is log sigma^2
    return z_mean + sigma * eps


def kl_divergence(z_mean, z_log_var):
    return -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)


def vae_loss(x, logits, z_mean, z_log_var, beta):
    bce = ops.sum(ops.binary_crossentropy(x, logits, from_logits=True), axis=-1)
    kl = -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)
    return bce + beta * kl


def log_mean_exp(a, axis=-1):
    m = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.mean(np.exp(a - m), axis=axis))


def interpolate_latent(z_start, z_end, steps):
    t = np.linspace(0.0, 1.0, steps)[:, None]  # (steps, 1): 0, ..., 1, both ends included
    return (1.0 - t) * z_start + t * z_end


def kl_per_dim(z_mean, z_log_var):
    return -0.5 * (1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))


def condition(z, digits):  # notebook 08
    return ops.concatenate([z, ops.one_hot(digits, 10)], axis=-1)


def free_bits_kl(z_mean, z_log_var, free_bits):  # notebook 10
    return ops.sum(ops.maximum(ops.mean(kl_per_dim(z_mean, z_log_var), axis=0), free_bits))


# --------------------------------------------------------------------------
# Wrong implementations: (name, function, words the message must contain)
# --------------------------------------------------------------------------
WRONG_REPARAMETERIZE = [
    ("log_var as sigma", lambda m, v, e: m + v * e, "your z is 0, expected 1"),
    ("forgot the 0.5", lambda m, v, e: m + ops.exp(v) * e, "z_log_var=2 and eps=0.5 your z is 4.695"),
    ("own noise", lambda m, v, e: m + ops.exp(0.5 * v) * keras.random.normal(ops.shape(m)), "expected 1"),
    ("sums z", lambda m, v, e: ops.sum(m + ops.exp(0.5 * v) * e, axis=-1), "has shape (1,), expected (1, 1)"),
]
if TENSORFLOW:
    WRONG_REPARAMETERIZE.append(
        ("numpy", lambda m, v, e: np.asarray(m) + np.exp(0.5 * np.asarray(v)) * np.asarray(e), "no gradient"))

WRONG_KL = [
    ("missing 1/2", lambda m, v: -ops.sum(1.0 + v - ops.square(m) - ops.exp(v), axis=-1),
     "your KL is [0, 2], expected [0, 1]"),
    ("sigma for log sigma^2", lambda m, v: -0.5 * ops.sum(1.0 + ops.exp(0.5 * v) - ops.square(m) - ops.exp(v),
                                                          axis=-1), "expected [0, 1]"),
    ("forgot exp for sigma^2", lambda m, v: -0.5 * ops.sum(1.0 + v - ops.square(m) - v, axis=-1),
     "your KL is [-1, 0], expected [0, 1]"),
    ("log_var taken as sigma", lambda m, v: -0.5 * ops.sum(1.0 + ops.log(ops.square(v)) - ops.square(m)
                                                           - ops.square(v), axis=-1), "inf"),
    ("mean over latent dims", lambda m, v: ops.mean(kl_per_dim(m, v), axis=-1), "your KL is [0, 0.5]"),
    ("wrong sign", lambda m, v: -ops.sum(kl_per_dim(m, v), axis=-1), "your KL is [0, -1]"),
    ("summed over the batch", lambda m, v: ops.sum(kl_per_dim(m, v)), "has shape ()"),
]


def bce_sum(x, logits):
    return ops.sum(ops.binary_crossentropy(x, logits, from_logits=True), axis=-1)


WRONG_VAE_LOSS = [
    ("mean over pixels", lambda x, lg, m, v, b: ops.mean(ops.binary_crossentropy(x, lg, from_logits=True),
                                                         axis=-1) + b * kl_divergence(m, v), "beta=1"),
    ("keras.losses mean", lambda x, lg, m, v, b: keras.losses.binary_crossentropy(x, lg, from_logits=True)
     + b * kl_divergence(m, v), "your loss is [15.25, 12.61, 18.7], expected [818.5, 860.4, 850.9]"),
    ("ignores beta", lambda x, lg, m, v, b: bce_sum(x, lg) + kl_divergence(m, v), "beta=0.5"),
    ("beta on both terms", lambda x, lg, m, v, b: b * (bce_sum(x, lg) + kl_divergence(m, v)), "beta=0.5"),
    ("batch mean", lambda x, lg, m, v, b: ops.mean(bce_sum(x, lg) + b * kl_divergence(m, v)), "shape ()"),
    ("sigmoid then from_logits", lambda x, lg, m, v, b: bce_sum(x, ops.sigmoid(lg)) + b * kl_divergence(m, v),
     "sigmoid probabilities"),
    ("hand-made sigmoid then from_logits", lambda x, lg, m, v, b: bce_sum(x, 1.0 / (1.0 + ops.exp(-lg)))
     + b * kl_divergence(m, v), "beta=1"),
    ("logits as probabilities", lambda x, lg, m, v, b: ops.sum(ops.binary_crossentropy(x, lg), axis=-1)
     + b * kl_divergence(m, v), "beta=1"),
]

WRONG_LOG_MEAN_EXP = [
    ("log-sum-exp", lambda a, axis=-1: log_mean_exp(a, axis) + np.log(a.shape[axis]), "expected 1.434"),
    ("mean of a", lambda a, axis=-1: np.mean(a), "shape ()"),
    ("mean of a along axis", lambda a, axis=-1: np.mean(a, axis=axis), "your result is 1, expected 1.434"),
    ("naive", lambda a, axis=-1: np.log(np.mean(np.exp(a), axis=axis)), "your result is inf, expected 1001"),
    ("max only", lambda a, axis=-1: np.max(a, axis=axis), "your result is 2, expected 1.434"),
    ("ignores axis", lambda a, axis=-1: log_mean_exp(a, -1), "axis=0"),
    ("keepdims", lambda a, axis=-1: log_mean_exp(a, axis)[..., None], "shape (1, 1)"),
]

WRONG_INTERPOLATION = [
    ("endpoint excluded", lambda a, b, n: np.linspace(a, b, n, endpoint=False),
     "expected [[0, 0], [0.5, 1], [1, 2]]"),
    ("reversed", lambda a, b, n: interpolate_latent(a, b, n)[::-1],
     "your interpolation is [[1, 2], [0.5, 1], [0, 0]]"),
    ("steps - 1 points", lambda a, b, n: interpolate_latent(a, b, n - 1),
     "has shape (2, 2), expected (3, 2)"),
    ("transposed", lambda a, b, n: interpolate_latent(a, b, n).T, "has shape (2, 3)"),
]

WRONG_CONDITION = [
    ("label first", lambda z, d: ops.concatenate([ops.one_hot(d, 10), z], axis=-1), "z comes first"),
    ("the digit itself", lambda z, d: ops.concatenate([z, ops.cast(ops.expand_dims(d, -1), "float32")], -1),
     "not the digit itself"),
    ("nine classes", lambda z, d: ops.concatenate([z, ops.one_hot(d, 9)], axis=-1),
     "has shape (1, 11), expected (1, 12)"),
    ("stacked as rows", lambda z, d: ops.concatenate([z, ops.one_hot(d, 10)], axis=0), "raised"),
]
if TENSORFLOW:
    WRONG_CONDITION.append(
        ("numpy", lambda z, d: np.concatenate([np.asarray(z), np.eye(10)[np.asarray(d)]], -1), "no gradient"))

WRONG_FREE_BITS = [
    ("floor per image", lambda m, v, lam: ops.mean(ops.sum(ops.maximum(kl_per_dim(m, v), lam), axis=-1)),
     "the floor is per dimension, not per image"),
    ("floor on the total", lambda m, v, lam: ops.maximum(ops.sum(ops.mean(kl_per_dim(m, v), axis=0)), lam),
     "your KL term is 0.5, expected 0.75"),
    ("mean over dimensions", lambda m, v, lam: ops.mean(ops.maximum(ops.mean(kl_per_dim(m, v), axis=0), lam)),
     "your KL term is 0.25, expected 0.5"),
    ("no batch mean", lambda m, v, lam: ops.sum(ops.maximum(kl_per_dim(m, v), lam), axis=-1),
     "has shape (1,), expected ()"),
    ("a ceiling", lambda m, v, lam: ops.sum(ops.minimum(ops.mean(kl_per_dim(m, v), axis=0), lam)),
     "your KL term is 0, expected 0.5"),
]

CHECKS = [
    (exercises.check_reparameterize, reparameterize, WRONG_REPARAMETERIZE, "exp(0.5 * z_log_var)"),
    (exercises.check_kl_divergence, kl_divergence, WRONG_KL, "axis=-1"),
    (exercises.check_vae_loss, vae_loss, WRONG_VAE_LOSS, "beta"),
    (exercises.check_log_mean_exp, log_mean_exp, WRONG_LOG_MEAN_EXP, "log mean exp"),
    (exercises.check_interpolation, interpolate_latent, WRONG_INTERPOLATION, "linspace"),
    (exercises.check_condition, condition, WRONG_CONDITION, "ops.concatenate([z, one_hot], axis=-1)"),
    (exercises.check_free_bits_kl, free_bits_kl, WRONG_FREE_BITS, "per dimension"),
]
WRONG = [pytest.param(check, wrong, words, id=f"{check.__name__}-{name}")
         for check, _, wrongs, _ in CHECKS for name, wrong, words in wrongs]
IDS = [check.__name__ for check, *_ in CHECKS]


@pytest.mark.parametrize("check, solution", [(c[0], c[1]) for c in CHECKS], ids=IDS)
def test_the_worked_solution_is_correct(check, solution, capsys):
    assert check(solution) is True
    assert capsys.readouterr().out.splitlines()[-1] == "Correct!"


def test_log_mean_exp_written_as_log_sum_exp_minus_log_k_is_correct_too(capsys):
    def with_logsumexp(a, axis=-1):  # another way a student may write it
        m = np.max(a, axis=axis)
        return m + np.log(np.sum(np.exp(a - np.expand_dims(m, axis)), axis=axis)) - np.log(a.shape[axis])

    assert exercises.check_log_mean_exp(with_logsumexp) is True


def test_linspace_between_arrays_is_correct(capsys):
    assert exercises.check_interpolation(lambda a, b, n: np.linspace(a, b, n)) is True


@pytest.mark.parametrize("check, wrong, words", WRONG)
def test_a_wrong_implementation_is_rejected_with_a_concrete_message(check, wrong, words, capsys):
    assert check(wrong) is False
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[0].startswith("Not quite: ") and lines[-1].startswith("Hint: ") and len(lines) == 2, out
    assert words in out, out


@pytest.mark.parametrize("check", [c[0] for c in CHECKS], ids=IDS)
def test_none_means_not_answered_yet(check, capsys):
    assert check(None) is None
    assert capsys.readouterr().out.startswith("Not answered yet: write your own ")


@pytest.mark.parametrize("check", [c[0] for c in CHECKS], ids=IDS)
def test_an_exception_is_reported_not_raised(check, capsys):
    def broken(*args, **kwargs):
        raise ValueError("shapes do not match")

    assert check(broken) is False
    out = capsys.readouterr().out
    assert "Not quite: your function raised ValueError: shapes do not match." in out
    assert "Hint: " in out


@pytest.mark.parametrize("check", [c[0] for c in CHECKS], ids=IDS)
def test_forgetting_return_is_named(check, capsys):
    assert check(lambda *args: None) is False
    assert "returned None" in capsys.readouterr().out


def test_the_hint_is_specific_to_the_exercise(capsys):
    for check, _, wrongs, words in CHECKS:
        check(wrongs[0][1])
        assert words in capsys.readouterr().out, check.__name__


def test_the_gradient_message_explains_numpy(capsys):
    if not TENSORFLOW:
        pytest.skip("the gradient check needs the TensorFlow backend")
    exercises.check_reparameterize(WRONG_REPARAMETERIZE[-1][1])
    out = capsys.readouterr().out
    assert "no gradient flows from z back to z_mean" in out and "np.asarray" in out


def test_the_gradient_check_compares_values(capsys):
    if not TENSORFLOW:
        pytest.skip("the gradient check needs the TensorFlow backend")
    import tensorflow as tf

    @tf.custom_gradient
    def wrong_gradient(z_mean, z_log_var, eps):  # right values, gradient twice too large
        def grad(upstream):
            return 2 * upstream, upstream * eps * ops.exp(0.5 * z_log_var), None
        return z_mean + ops.exp(0.5 * z_log_var) * eps, grad

    assert exercises.check_reparameterize(wrong_gradient) is False
    assert "gradient d(sum z)/dz_mean" in capsys.readouterr().out


def test_the_checks_do_not_import_vae_helpers_at_module_level():
    """vae_helpers imports exercises: importing it back at the top would be circular."""
    tree = ast.parse(Path(exercises.__file__).read_text())
    top_level = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = [a.name for n in top_level for a in n.names] + [n.module for n in top_level
                                                             if isinstance(n, ast.ImportFrom)]
    assert not any(name and "vae_helpers" in name for name in names)


def test_other_backends_skip_the_gradient_part_with_a_note(monkeypatch, capsys):
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    assert exercises.check_reparameterize(reparameterize) is True
    out = capsys.readouterr().out
    assert "Gradients not checked" in out and "jax" in out and out.splitlines()[-1] == "Correct!"
