"""Every exercise's hidden test grades like a careful teaching assistant; its self-check gives nothing away.

For each exercise of the series (``vae_answers.ANSWERS``) this runs the worked
solution exactly as the notebook's answer cell has it (the code between
``### BEGIN SOLUTION`` and ``### END SOLUTION``), on small stand-ins for the
notebook's objects (random images, an untrained model, a made-up history),
and checks that

* the hidden test (``vae_answers.grade``) accepts the solution's answer, in the
  forms a student may write it: as the solution prints it ("80.9%", "543.43"),
  rounded to two or three decimals, as a string, as a NumPy scalar, an int for
  a class name; and the public self-check (``vh.check``) passes each of them;
* the hidden test rejects at least two plausible wrong answers (the usual
  mistakes: off by one, the wrong axis, the other class, the value from the
  mean), and the self-check's words on them never contain the right answer.

Code exercises are graded by behaviour (tests/test_code_exercises.py has
their detailed messages); here the notebook's own solution must pass and two
usual mistakes must fail, through the same ``vh.check`` / ``vae_answers.grade`` calls
the notebooks make.
"""

import contextlib
import io
import math
import re
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import nbformat
import numpy as np
import pytest
import vae_answers
from keras import ops

import vae_helpers as vh
from vae_machinery.exercises import SELF_CHECKS

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from vae_tools import series

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)\n### END SOLUTION", re.S)
CHECK_CALL = re.compile(r'vh\.check\("(\d\d\.\d)", (\w+)((?:, \w+=[\w\[\].]+)*)\)')


def _exercise_cells() -> dict[str, tuple[str, str, dict[str, str]]]:
    """Exercise id -> (solution code, answer variable, {context keyword: notebook name})."""
    found = {}
    for path in series.notebooks():
        cells = nbformat.read(path, as_version=4).cells
        for answer, check in zip(cells, cells[1:]):
            if "exercise" not in answer.metadata.get("tags", []):
                continue
            exercise, variable, context = CHECK_CALL.search(check.source).groups()
            keywords = dict(pair.split("=", 1) for pair in context.split(", ") if pair)
            found[exercise] = (SOLUTION.search(answer.source).group(1), variable, keywords)
    return found


CELLS = _exercise_cells()


# --------------------------------------------------------------------------
# Stand-ins for the notebooks' objects
# --------------------------------------------------------------------------
def _images(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """Images like MNIST's: mostly exact 0s, strokes of 1s and grey pixels of any level,
    drawn around one random "digit" shape per class, so a model can learn them."""
    shapes = np.random.default_rng(99).random((10, 784)) < 0.2  # the same ten shapes every call
    stroke = shapes[labels] ^ (rng.random((len(labels), 784)) < 0.05)
    grey = rng.random((len(labels), 784), dtype=np.float32)
    return np.where(stroke, np.where(grey > 0.3, 1.0, grey), 0.0).astype("float32")


@pytest.fixture(scope="module")
def notebook_objects() -> dict:
    rng = np.random.default_rng(0)
    y_train = np.concatenate([np.repeat(np.arange(10), 200), np.ones(40, int)])  # "1" is the most common
    y_val, y_test = np.repeat(np.arange(10), 12), np.repeat(np.arange(10), 30)
    data = SimpleNamespace(x_train=_images(rng, y_train), y_train=y_train, x_val=_images(rng, y_val),
                           x_test=_images(rng, y_test), y_test=y_test,
                           class_names=[str(k) for k in range(10)])
    # A small model, trained a little: a sampled code then decodes worse than the mean (exercise 04.2).
    vh.set_seed(0)
    model = vh.compile_vae(vh.VAE(latent_dim=2, hidden_dim=32, seed=0), 3e-3, steps_per_execution=1)
    model.fit(data.x_train, epochs=8, batch_size=64, verbose=0)
    kl = [4.0, 4.6, 5.1, 5.5, 5.8, 6.3, 6.2, 6.1]  # highest in epoch 6
    history = {"val_kl_loss": kl, "val_loss": [150.0 - e for e in range(len(kl))]}
    history["val_reconstruction_loss"] = [loss - k for loss, k in zip(history["val_loss"], kl)]
    mu = rng.standard_normal((300, 2)).astype("float32") + np.repeat(np.arange(10), 30)[:, None] / 3
    mu_train = rng.standard_normal((len(y_train), 2)).astype("float32") + y_train[:, None] / 3
    nearest = np.repeat(np.arange(10), 30)
    nearest[30:45] = 7  # class 1: half its images go to the wrong centre
    nearest[0:3] = 5    # class 0: a few
    beta_rows = [{"BETA": b, "test_neg_elbo": e, "test_bce": e - 5, "test_kl": 5.0}
                 for b, e in [(0.0, 1383.9), (0.25, 141.2), (0.5, 140.6), (1.0, 141.8), (2.0, 146.1),
                              (4.0, 155.0)]]
    vae_rows = [{"BETA": b, "test_bce": bce, "test_kl": kl, "test_neg_elbo": bce + kl}
                for b, bce, kl in [(0.25, 130.0, 12.0), (0.5, 133.0, 9.5), (1.0, 136.9, 6.3),
                                   (2.0, 142.0, 4.1), (4.0, 150.0, 2.0)]]
    by_dim = {d: {"test_neg_elbo": e, "test_bce": b, "test_kl": k}
              for d, e, b, k in [(2, 143.23, 136.91, 6.32), (5, 113.47, 96.0, 17.47),
                                 (20, 96.72, 71.1, 25.62)]}
    # Notebook 08: both models' test numbers; the CVAE's codes, with only a little class left in them.
    results = {"VAE": {"neg_elbo": 142.51, "bce": 136.09, "kl": 6.42, "log_px": -140.93},
               "conditional VAE": {"neg_elbo": 128.49, "bce": 123.72, "kl": 4.77, "log_px": -127.64}}
    mu_cvae = rng.standard_normal((300, 2)).astype("float32") + np.repeat(np.arange(10), 30)[:, None] / 20
    # Notebook 09: seconds per epoch of both architectures at two latent sizes.
    conv_rows = [{"run": f"{arch.lower()}_latent{d}", "model": arch, "LATENT_DIM": d, "s_per_epoch": t}
                 for d, arch, t in [(2, "MLP", 1.1), (2, "conv", 19.3), (20, "MLP", 1.3), (20, "conv", 19.9)]]
    # Notebook 10: six runs; the best log p(x) is not the run with the most active units.
    collapse_rows = [{"run": name, "active": active, "test_neg_elbo": elbo, "test_log_px": log_px}
                     for name, active, elbo, log_px in [
                         ("β = 1", 15, 96.1, -93.3), ("β = 1, warm-up", 25, 97.9, -94.1),
                         ("β = 1, free bits", 32, 97.6, -93.8), ("β = 4", 7, 113.9, -106.2),
                         ("β = 4, warm-up", 14, 111.2, -101.0), ("β = 4, free bits", 31, 118.0, -104.3)]]
    by_name = {r["run"]: dict(r) for r in collapse_rows}
    by_name["β = 1"].update(kl_per_dim=[2.1, 1.5, 1.0, 0.3, 0.002, 0.001, 0.0005, 0.0],
                            mu_variance=[1.2, 0.8, 0.5, 0.02, 0.005, 0.001, 0.0, 0.0])
    by_name["β = 1, free bits"].update(kl_per_dim=[3.1, 2.2, 1.4, 0.9, 0.26, 0.25, 0.25, 0.25])
    return dict(data=data, model=model, history=history, mu=mu, mu_train=mu_train, vae_rows=vae_rows,
                by_beta=sorted(vae_rows, key=lambda r: r["BETA"]), parameters={"EPOCHS": 1}, nearest=nearest,
                beta_rows=beta_rows,
                by_dim=by_dim, samples=rng.random((64, 784), dtype=np.float32), EPOCHS=len(kl), SEED=0,
                LATENT_DIM=2, BETAS=[0.25, 0.5, 1.0, 2.0, 4.0], LATENT_DIMS=[2, 5, 20], results=results,
                mu_cvae=mu_cvae, conv_rows=conv_rows, CONV_LATENT_DIMS=[2, 20],
                by_run={(r["model"], r["LATENT_DIM"]): r for r in conv_rows}, collapse_rows=collapse_rows,
                by_name=by_name, THRESHOLD=0.01, FREE_BITS=0.25)


def _run_solution(exercise: str, objects: dict) -> tuple[object, str, dict]:
    """Run the notebook's worked solution, after those of the notebook's earlier exercises (03's
    loss uses 02's KL): (the answer, what it printed, the check's context)."""
    code, variable, keywords = CELLS[exercise]
    # default_run=False: stand-ins are not the committed run; the text's claims are reported, not asserted
    namespace = {"np": np, "vh": vh, "ops": ops, "plt": plt, "default_run": False, **objects}
    earlier = [e for e in CELLS if e[:2] == exercise[:2] and e < exercise and CELLS[e][0].startswith("def ")]
    with contextlib.redirect_stdout(io.StringIO()):
        for other in earlier:  # the functions written before this one
            exec(CELLS[other][0], namespace)  # noqa: S102 - the notebook's own solution code
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(code, namespace)  # noqa: S102 - the notebook's own solution code
    plt.close("all")
    context = {keyword: eval(expression, namespace) for keyword, expression in keywords.items()}  # noqa: S307
    return namespace[variable], printed.getvalue(), context


def _verdict(exercise: str, answer: object, context: dict) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        vh.check(exercise, answer, **context)
    return out.getvalue()


def _graded(exercise: str, answer: object, context: dict) -> bool:
    try:
        vae_answers.grade(exercise, answer, **context)
    except AssertionError:
        return False
    return True


# --------------------------------------------------------------------------
# Right answers in their usual forms
# --------------------------------------------------------------------------
NUMBER = re.compile(r"-?\d+(?:\.\d+)?%?")


def _as_printed(value: float, printed: str) -> list[str]:
    """The numbers the solution printed that are ``value`` at the precision printed."""
    forms = []
    for text in NUMBER.findall(printed):
        number = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
        places = len(text.rstrip("%").partition(".")[2]) + (2 if text.endswith("%") else 0)
        if abs(value) < 10.0 ** (1 - places) and number != value:  # too few digits: "000" is not 0.213
            continue
        if round(value, places) == round(number, places) and text not in forms:
            forms.append(text)
    return forms


def _usual_forms(value: object, printed: str) -> list[object]:
    if isinstance(value, str):
        return [value, f" {value} ", int(value)] if value.isdigit() else [value]
    if isinstance(value, (int, np.integer)):
        return [int(value), np.int64(value), float(value), str(int(value))]
    if isinstance(value, (float, np.floating)):
        value = float(value)
        forms: list[object] = [value, np.float32(value), np.float64(value), repr(value)]
        for places in (2, 3):  # rounded, as long as two significant digits are left
            if abs(value) >= 10.0 ** (1 - places):
                text = f"{value:.{places}f}"  # "0.80": a float 0.8 would have lost the written zero
                forms += [text] + ([round(value, places)] if repr(round(value, places)) == text else [])
        return forms + _as_printed(value, printed)
    array = np.asarray(value, dtype=float)
    if array.ndim == 1 and array.size <= 5:  # a short list, as printed: each number rounded
        return [array.tolist(), np.round(array, 2).tolist(), [f"{v:.2f}" for v in array]]
    return [array, array.astype("float32"), array.tolist()]


# These need a trained model of their notebook's own kind (the conditional, the convolutional VAE, the
# six collapse runs): tests/test_beyond.py runs their worked solutions and hidden tests on real small runs.
REAL_RUNS_ONLY = {"08.2", "09.1", "09.2", "10.3"}
VALUE_EXERCISES = [e for e, spec in vae_answers.ANSWERS.items()
                   if isinstance(spec, vae_answers.Value) and e not in REAL_RUNS_ONLY]
CODE_EXERCISES = [e for e, spec in vae_answers.ANSWERS.items() if isinstance(spec, vae_answers.Code)]
PASSES = "Passes the self-check"


@pytest.mark.parametrize("exercise", VALUE_EXERCISES)
def test_the_worked_solution_passes_in_every_usual_form(exercise, notebook_objects):
    answer, printed, context = _run_solution(exercise, notebook_objects)
    forms = _usual_forms(answer, printed)
    for form in forms:
        assert _verdict(exercise, form, context).startswith(PASSES), f"{exercise}: {form!r} rejected"
        assert _graded(exercise, form, context), f"{exercise}: hidden test fails {form!r}"
    if isinstance(answer, float):
        assert _as_printed(answer, printed), f"{exercise}: the solution prints no form of its answer"


# --------------------------------------------------------------------------
# Plausible wrong answers: two or more for every exercise
# --------------------------------------------------------------------------
def _decode(model, point):
    return model.decode(np.asarray([point], "float32"))[0]


def _bce_from_mean(o):
    x = o["data"].x_test[:1000]
    z_mean, _ = o["model"].encoder(x)
    return float(np.mean(vh.reconstruction_bce(x, o["model"].decoder(z_mean))))


def _bce_per_kl(history, bce_key, last):
    bce, kl = history[bce_key], history["val_kl_loss"]
    return (bce[0] - bce[last]) / (kl[last] - kl[0])


def _half_share(kl_per_dim):
    kl = np.sort(np.asarray(kl_per_dim, float))
    return float(kl[: len(kl) // 2].sum() / kl.sum())


def _ink(o):
    d = o["data"]
    return [d.x_train[d.y_train == k].mean() for k in range(10)]


def _background_term(x):
    """The BCE of predicting the mean pixel p everywhere, without the ink's term: -784 (1 - p) log(1 - p)."""
    p = float(np.mean(x))
    return -x.shape[1] * (1 - p) * math.log(1 - p)


def _error_rates(o):
    d = o["data"]
    return [np.mean(o["nearest"][d.y_test == k] != k) for k in range(10)]


WRONG = {  # exercise -> [(mistake, wrong answer from the objects o and the right answer v)]
    "01.1": [("non-zero pixels", lambda o, v: 1 - v),
             ("pixels below 0.5", lambda o, v: float(np.mean(o["data"].x_train < 0.5))),
             ("a count, not a fraction", lambda o, v: int(np.sum(o["data"].x_train == 0)))],
    "01.2": [("least ink", lambda o, v: str(int(np.argmin(_ink(o))))),
             ("the most images", lambda o, v: str(int(np.argmax(np.bincount(o["data"].y_train))))),
             ("the ink, not the class", lambda o, v: float(np.max(_ink(o))))],
    "01.3": [("all test images", lambda o, v: o["data"].x_test.mean(axis=0)),
             ("training images of class 3",
              lambda o, v: o["data"].x_train[o["data"].y_train == 3].mean(axis=0)),
             ("as a 28 x 28 image", lambda o, v: v.reshape(28, 28))],
    "02.4": [("without the 1/2", lambda o, v: 2 * v), ("zero", lambda o, v: 0.0),
             ("mu only", lambda o, v: 1.0)],
    "02.5": [("weights only", lambda o, v: v - 18 * 2),
             ("the two heads only", lambda o, v: 18 * 2 * (o["model"].hidden_dim + 1)),
             ("the whole model", lambda o, v: o["model"].count_params()),
             ("per latent dimension", lambda o, v: v // 18)],
    "02.6": [("a decoder that says 0.5", lambda o, v: 784 * math.log(2)), ("per pixel", lambda o, v: v / 784),
             ("in bits", lambda o, v: v / math.log(2)),
             ("the background term only", lambda o, v: _background_term(o["data"].x_train))],
    "03.2": [("the inverse", lambda o, v: 1 / v),
             ("the loss in place of the BCE", lambda o, v: _bce_per_kl(o["history"], "val_loss", -1)),
             ("the highest KL in place of the last",
              lambda o, v: _bce_per_kl(o["history"], "val_reconstruction_loss",
                                       int(np.argmax(o["history"]["val_kl_loss"]))))],
    "03.3": [("reversed", lambda o, v: v[::-1]), ("the ELBO three times", lambda o, v: [v[0]] * 3),
             ("a constant guess", lambda o, v: [round(v[2])] * 3)],
    "03.4": [("the KL itself", lambda o, v: v / 3), ("4 x KL", lambda o, v: 4 * v / 3),
             ("3 x the loss", lambda o, v: 3 * o["history"]["val_loss"][-1])],
    "04.1": [("the best reconstruction", lambda o, v: int(np.argmin(vh.reconstruction_bce(
                 o["data"].x_test, o["model"].decoder(o["model"].encoder(o["data"].x_test)[0]))))),
             ("counted from 1", lambda o, v: v + 1)],
    "04.2": [("from the mean", lambda o, v: _bce_from_mean(o)), ("summed over images", lambda o, v: 1000 * v),
             ("per pixel", lambda o, v: v / 784)],
    "05.1": [("logits, not probabilities", lambda o, v: np.asarray(
                 o["model"].decoder(np.zeros((1, 2), "float32")))[0]),
             ("z = (1, 1)", lambda o, v: _decode(o["model"], [1.0, 1.0])),
             ("shape (1, 784)", lambda o, v: v[None])],
    "05.2": [("z = (-6, -6)", lambda o, v: _decode(o["model"], [-6.0, -6.0])),
             ("z = (6, 0)", lambda o, v: _decode(o["model"], [6.0, 0.0])),
             ("the centre", lambda o, v: _decode(o["model"], [0.0, 0.0]))],
    "06.2": [("median", lambda o, v: np.median(o["mu"][o["data"].y_test == 0], axis=0)),
             ("class 1", lambda o, v: o["mu"][o["data"].y_test == 1].mean(axis=0)),
             ("all codes", lambda o, v: o["mu"].mean(axis=0))],
    "06.3": [("disagreement", lambda o, v: 1 - v), ("the codes themselves", lambda o, v: 1.0),
             ("a percentage as a plain number", lambda o, v: round(100 * v, 1))],
    "04.3": [("sorted", lambda o, v: sorted(v)), ("per pixel", lambda o, v: [b / 784 for b in v]),
             ("classes reversed", lambda o, v: list(v)[::-1])],
    "05.3": [("uniform", lambda o, v: [0.1] * 10),
             ("the data's shares", lambda o, v: (np.bincount(o["data"].y_train, minlength=10)
                                                 / len(o["data"].y_train)).tolist()),
             ("counts, not shares", lambda o, v: [round(1000 * x) for x in v])],
    "07.1": [("KL per BCE", lambda o, v: [1 / r for r in v]), ("negated", lambda o, v: [-r for r in v]),
             ("the betas themselves", lambda o, v: [0.5, 1.0, 2.0, 4.0])],
    "07.3": [("the variance, not sigma", lambda o, v: v ** 2), ("the square root of 784", lambda o, v: 28.0),
             ("sigma = 1", lambda o, v: 1.0), ("one over it", lambda o, v: 1 / v)],
    "08.3": [("the error rate", lambda o, v: 1 - v), ("chance", lambda o, v: 0.1),
             ("a percentage as a plain number", lambda o, v: round(100 * v, 1))],
    "10.2": [("the larger half", lambda o, v: 1 - v), ("as a percentage", lambda o, v: round(100 * v, 1)),
             ("the run without free bits", lambda o, v: _half_share(o["by_name"]["β = 1"]["kl_per_dim"]))],
    "07.2": [("not divided by the step", lambda o, v: [by_step * (b - a) for by_step, (a, b)
                                                       in zip(v, [(2, 5), (5, 20)])]),
             ("negated", lambda o, v: [-x for x in v]),
             ("the total saving",
              lambda o, v: o["by_dim"][2]["test_neg_elbo"] - o["by_dim"][20]["test_neg_elbo"])],
}


@pytest.mark.parametrize("exercise", VALUE_EXERCISES)
def test_plausible_wrong_answers_are_rejected(exercise, notebook_objects):
    answer, _, context = _run_solution(exercise, notebook_objects)
    mistakes = WRONG[exercise]
    assert len(mistakes) >= 2, f"{exercise}: at least two wrong answers must be tried"
    for mistake, wrong in mistakes:
        value = wrong(notebook_objects, answer)
        verdict = _verdict(exercise, value, context)
        assert not _graded(exercise, value, context), f"{exercise}: hidden test passes '{mistake}'"
        if isinstance(answer, float) and abs(answer) >= 0.01:
            for places in (2, 3):
                assert f"{answer:.{places}f}" not in verdict, f"{exercise}: the self-check shows the answer"


@pytest.mark.parametrize("exercise", VALUE_EXERCISES + CODE_EXERCISES)
def test_an_untouched_answer_is_not_answered_yet_and_scores_nothing(exercise, notebook_objects):
    context = _run_solution(exercise, notebook_objects)[2]
    assert _verdict(exercise, None, context).startswith("Not answered yet")
    assert not _graded(exercise, None, context)


# --------------------------------------------------------------------------
# Code exercises, through the notebooks' calls
# --------------------------------------------------------------------------
def _kl_dims(z_mean, z_log_var):
    return 0.5 * (ops.square(z_mean) + ops.exp(z_log_var) - 1.0 - z_log_var)


def _sum_z(z_mean, z_log_var, eps):
    return ops.sum(z_mean + ops.exp(0.5 * z_log_var) * eps, axis=-1)


CODE_WRONG = {
    "02.1": [lambda m, v, e: m + v * e, lambda m, v, e: m + ops.exp(v) * e, _sum_z],
    "02.2": [lambda m, v: -ops.sum(1.0 + v - ops.square(m) - ops.exp(v), axis=-1),
             lambda m, v: -0.5 * ops.mean(1.0 + v - ops.square(m) - ops.exp(v), axis=-1)],
    "02.3": [lambda x, lg, m, v, b: vh.reconstruction_bce(x, lg) + vh.kl_divergence(m, v),
             lambda x, lg, m, v, b: ops.mean(vh.reconstruction_bce(x, lg) + b * vh.kl_divergence(m, v))],
    "03.1": [lambda a, axis=-1: np.log(np.mean(np.exp(a), axis=axis)),
             lambda a, axis=-1: np.mean(a, axis=axis)],
    "06.1": [lambda a, b, n: np.linspace(a, b, n, endpoint=False),
             lambda a, b, n: np.linspace(b, a, n)],
    "08.1": [lambda z, d: ops.concatenate([ops.one_hot(d, 10), z], axis=-1),
             lambda z, d: ops.concatenate([z, ops.expand_dims(ops.cast(d, "float32"), -1)], axis=-1),
             lambda z, d: ops.concatenate([z, ops.one_hot(d, 10)], axis=0)],
    "10.1": [lambda m, v, lam: ops.mean(ops.sum(ops.maximum(_kl_dims(m, v), lam), axis=-1)),
             lambda m, v, lam: ops.maximum(ops.sum(ops.mean(_kl_dims(m, v), axis=0)), lam),
             lambda m, v, lam: ops.mean(ops.maximum(ops.mean(_kl_dims(m, v), axis=0), lam))],
}


@pytest.mark.parametrize("exercise", CODE_EXERCISES)
def test_code_exercises_pass_the_notebooks_solution_and_fail_usual_mistakes(exercise, notebook_objects):
    solution, _, context = _run_solution(exercise, notebook_objects)
    assert _verdict(exercise, solution, context).startswith(PASSES)
    assert _graded(exercise, solution, context)
    assert len(CODE_WRONG[exercise]) >= 2
    for wrong in CODE_WRONG[exercise]:
        assert _verdict(exercise, wrong, context).startswith("Not quite")
        assert not _graded(exercise, wrong, context)


def test_every_exercise_has_its_tests_and_its_cells():
    assert set(WRONG) == set(VALUE_EXERCISES)
    assert set(CODE_WRONG) == set(CODE_EXERCISES)
    assert set(CELLS) == set(vae_answers.ANSWERS), "every exercise in vae_answers has cells in a notebook"
    assert REAL_RUNS_ONLY <= set(CELLS)
    assert set(SELF_CHECKS) == set(vae_answers.ANSWERS), "a self-check for every exercise"


def test_the_hidden_test_of_code_exercises_tries_more_inputs():
    """A function that is right only on the public check's inputs fails the hidden test."""
    seen = []

    def right_on_small_inputs(z_mean, z_log_var, eps):
        seen.append(np.shape(z_mean))
        if np.shape(z_mean)[-1] > 20:
            return z_mean
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    assert _verdict("02.1", right_on_small_inputs, {}).startswith(PASSES)
    assert not _graded("02.1", right_on_small_inputs, {})
    assert (2, 50) in seen
