"""The "write the code" exercises: the self-check accepts the worked solution,
written as a student would (keras.ops / NumPy), and rejects the usual
mistakes with a message that says what went wrong, judging behaviour at known
points and invariants only (it has no reference implementation); the hidden
test (instructor/vae_answers) rejects them too; neither accepts the series'
own function, wrapped or not."""

import ast
from pathlib import Path

import keras
import numpy as np
import pytest
import vae_answers
from keras import ops

import vae_helpers as vh
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

CHECKS = [  # (exercise, worked solution, wrong implementations)
    ("02.1", reparameterize, WRONG_REPARAMETERIZE),
    ("02.2", kl_divergence, WRONG_KL),
    ("02.3", vae_loss, WRONG_VAE_LOSS),
    ("03.1", log_mean_exp, WRONG_LOG_MEAN_EXP),
    ("06.1", interpolate_latent, WRONG_INTERPOLATION),
    ("08.1", condition, WRONG_CONDITION),
    ("10.1", free_bits_kl, WRONG_FREE_BITS),
]
WRONG = [pytest.param(exercise, wrong, id=f"{exercise}-{name}")
         for exercise, _, wrongs in CHECKS for name, wrong, _ in wrongs]
IDS = [exercise for exercise, *_ in CHECKS]
LIBRARY = {"02.1": vh.reparameterize, "02.2": vh.kl_divergence, "02.3": vh.vae_loss, "03.1": vh.log_mean_exp}


@pytest.fixture(autouse=True)
def first_attempt():
    """Every test starts at the first hint."""
    exercises.reset_attempts()


def check(exercise, fn):
    return exercises.check(exercise, fn)


@pytest.mark.parametrize("exercise, solution", [(c[0], c[1]) for c in CHECKS], ids=IDS)
def test_the_worked_solution_passes_the_self_check_and_the_hidden_test(exercise, solution, capsys):
    assert check(exercise, solution) is True
    assert capsys.readouterr().out.splitlines()[-1].startswith("Passes the self-check: ")
    assert vae_answers.verdict(exercise, solution) is None


def test_log_mean_exp_written_as_log_sum_exp_minus_log_k_is_correct_too(capsys):
    def with_logsumexp(a, axis=-1):  # another way a student may write it
        m = np.max(a, axis=axis)
        return m + np.log(np.sum(np.exp(a - np.expand_dims(m, axis)), axis=axis)) - np.log(a.shape[axis])

    assert check("03.1", with_logsumexp) is True
    assert vae_answers.verdict("03.1", with_logsumexp) is None


def test_linspace_between_arrays_is_correct(capsys):
    assert check("06.1", lambda a, b, n: np.linspace(a, b, n)) is True


@pytest.mark.parametrize("exercise, wrong", WRONG)
def test_a_wrong_implementation_is_rejected_with_a_concrete_message(exercise, wrong, capsys):
    assert check(exercise, wrong) is False
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("Not quite: ") and lines[1].startswith("Hint 1: "), lines
    assert any(word in lines[0] for word in ("for ", "your ", "gradient", "sigmoid")), lines[0]
    assert vae_answers.verdict(exercise, wrong) is not None


@pytest.mark.parametrize("exercise", IDS)
def test_hints_grow_with_each_wrong_attempt_and_never_give_the_formula(exercise, capsys):
    spec = exercises.SELF_CHECKS[exercise]
    wrong = next(w for e, _, wrongs in CHECKS if e == exercise for _, w, _ in wrongs[:1])
    for attempt in range(1, len(spec.hints) + 2):
        check(exercise, wrong)
        hints = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Hint ")]
        assert len(hints) == min(attempt, len(spec.hints)), (attempt, hints)
    formulas = ["exp(0.5", "0.5 *", "1/2", "z_mean +", "+ beta *", "linspace(0, 1", "m + log", "one_hot("]
    for hint in spec.hints:
        assert not any(f in hint for f in formulas), hint


@pytest.mark.parametrize("exercise", IDS)
def test_none_means_not_answered_yet(exercise, capsys):
    assert check(exercise, None) is None
    assert capsys.readouterr().out.startswith("Not answered yet: put your own function")
    assert vae_answers.verdict(exercise, None) == "not answered"


@pytest.mark.parametrize("exercise", IDS)
def test_an_exception_is_reported_not_raised(exercise, capsys):
    def broken(*args, **kwargs):
        raise ValueError("shapes do not match")

    assert check(exercise, broken) is False
    out = capsys.readouterr().out
    assert "Not quite: your function raised ValueError: shapes do not match." in out
    assert "Hint 1: " in out


@pytest.mark.parametrize("exercise", IDS)
def test_forgetting_return_is_named(exercise, capsys):
    assert check(exercise, lambda *args: None) is False
    assert "returned None" in capsys.readouterr().out


@pytest.mark.parametrize("exercise", sorted(LIBRARY))
def test_the_series_own_function_is_no_answer_however_it_is_passed(exercise, capsys):
    import functools

    own = LIBRARY[exercise]
    from vae_helpers import kl_divergence as imported_kl

    disguises = [own, functools.partial(own), lambda *args: own(*args), lambda *args: 1.0 * own(*args)]
    if exercise == "02.2":
        disguises.append(lambda m, v: imported_kl(m, v))
    for fn in disguises:
        assert check(exercise, fn) is False
        assert f"your function uses the series' own vh.{own.__name__}" in capsys.readouterr().out
        assert "uses the series' own" in vae_answers.verdict(exercise, fn)


def _disguised(exercise: str) -> dict[str, object]:
    """The series' own function for ``exercise``, passed off by routes its code does not show."""
    import functools
    import types

    own = LIBRARY[exercise]
    name = own.__name__
    helpers = vh  # a module alias
    stored = {"f": own}

    def closure():
        inner = own
        return lambda *args: inner(*args)

    class Caller:  # a callable object
        def __call__(self, *args):
            return getattr(helpers, name)(*args)

    def helper_of_mine(*args):  # the answer calls a helper of the student's, which calls the series'
        return vars(vh)[name](*args)

    return {
        "its code object rebuilt": types.FunctionType(own.__code__, own.__globals__, "mine",
                                                      own.__defaults__),
        "getattr": lambda *args: getattr(vh, name)(*args),
        "vars(vh)": lambda *args: vars(vh)[name](*args),
        "a module alias": lambda *args: helpers.__dict__[name](*args),
        "a closure": closure(),
        "a stored reference": lambda *args: stored["f"](*args),
        "a callable object": Caller(),
        "a helper of the student's": lambda *args: helper_of_mine(*args),
        "functools.partial of getattr": functools.partial(lambda *args: getattr(vh, name)(*args)),
    }


@pytest.mark.parametrize("exercise", sorted(LIBRARY))
@pytest.mark.parametrize("route", list(_disguised("02.1")))
def test_the_series_own_function_scores_nothing_by_any_route(exercise, route, capsys):
    """A disguised reference function fails the self-check and the hidden test, with a message that
    says why (its code is the series' function's, or it calls it while it is checked)."""
    fn = _disguised(exercise)[route]
    own = f"vh.{LIBRARY[exercise].__name__}"
    assert check(exercise, fn) is False
    printed = capsys.readouterr().out
    assert f"the series' own {own}" in printed and f"{own}," not in printed, printed  # only the one it calls
    verdict = vae_answers.verdict(exercise, fn)
    assert verdict is not None and f"the series' own {own}" in verdict, verdict


def _numpy_kl(z_mean, z_log_var):
    z_mean, z_log_var = np.asarray(z_mean), np.asarray(z_log_var)
    return -0.5 * np.sum(1.0 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=-1)


def _tf_kl(z_mean, z_log_var):
    import tensorflow as tf

    return 0.5 * tf.reduce_sum(tf.square(z_mean) + tf.exp(z_log_var) - 1.0 - z_log_var, axis=-1)


def _tf_log_mean_exp(a, axis=-1):
    import tensorflow as tf

    a = tf.convert_to_tensor(a, tf.float64)
    return (tf.reduce_logsumexp(a, axis=axis) - tf.math.log(tf.cast(tf.shape(a)[axis], tf.float64))).numpy()


RIGHT_OTHER_WAYS = [
    ("02.1", "keras.ops, sqrt of exp", lambda m, v, e: m + ops.sqrt(ops.exp(v)) * e),
    ("02.2", "keras.ops, another order",
     lambda m, v: 0.5 * ops.sum(ops.exp(v) + ops.square(m) - 1.0 - v, axis=-1)),
    ("03.1", "NumPy with logaddexp.reduce", lambda a, axis=-1: np.logaddexp.reduce(a, axis=axis)
     - np.log(np.shape(a)[axis])),
]
if TENSORFLOW:
    RIGHT_OTHER_WAYS += [("02.2", "TensorFlow", _tf_kl), ("03.1", "TensorFlow", _tf_log_mean_exp)]


@pytest.mark.parametrize("exercise, how, fn", RIGHT_OTHER_WAYS,
                         ids=[f"{exercise} {how}" for exercise, how, _ in RIGHT_OTHER_WAYS])
def test_right_answers_written_other_ways_still_score(exercise, how, fn, capsys):
    """Watching for the series' functions does not catch a right answer: keras.ops, NumPy or TensorFlow."""
    assert check(exercise, fn) is True, capsys.readouterr().out
    assert vae_answers.verdict(exercise, fn) is None


def test_a_numpy_kl_is_judged_on_its_values_not_rejected_as_the_series_own():
    verdict = vae_answers.verdict("02.2", _numpy_kl)
    assert verdict is None or "series' own" not in verdict


def test_a_loss_built_on_the_students_own_kl_is_fine(capsys):
    def my_vae_loss(x, logits, z_mean, z_log_var, beta):
        return ops.sum(ops.binary_crossentropy(x, logits, from_logits=True), axis=-1) + beta * kl_divergence(
            z_mean, z_log_var)

    assert check("02.3", my_vae_loss) is True
    assert vae_answers.verdict("02.3", my_vae_loss) is None


def test_the_gradient_message_explains_numpy(capsys):
    if not TENSORFLOW:
        pytest.skip("the gradient check needs the TensorFlow backend")
    check("02.1", WRONG_REPARAMETERIZE[-1][1])
    assert "no gradient flows from z back to z_mean" in capsys.readouterr().out


def test_the_gradient_check_compares_values(capsys):
    if not TENSORFLOW:
        pytest.skip("the gradient check needs the TensorFlow backend")
    import tensorflow as tf

    @tf.custom_gradient
    def wrong_gradient(z_mean, z_log_var, eps):  # right values, gradient twice too large
        def grad(upstream):
            return 2 * upstream, upstream * eps * ops.exp(0.5 * z_log_var), None
        return z_mean + ops.exp(0.5 * z_log_var) * eps, grad

    assert check("02.1", wrong_gradient) is False
    assert "gradient d(sum z)/dz_mean" in capsys.readouterr().out


def test_the_self_checks_never_import_the_helpers_or_the_answers():
    """vae_helpers imports the checks (no cycle back), and the checks hold no answers (no
    vae_answers, no reference functions of the series)."""
    folder = Path(exercises.__file__).parent
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not any("vae_helpers" in name or "vae_answers" in name for name in names), path.name


def test_other_backends_skip_the_gradient_part_with_a_note(monkeypatch, capsys):
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    assert check("02.1", reparameterize) is True
    out = capsys.readouterr().out
    assert "Gradients not checked" in out and "jax" in out
    assert out.splitlines()[-1].startswith("Passes the self-check")
