"""Notebook 05's exercises 1 and 2 ask for the image decoded at a given point. The self-check, which
never knows the answer, accepts a decoded image in the forms a student may compute it, rejects what is
no decoded image (logits, a batch, an image of the data) and says that the point is checked at grading;
the hidden test then rejects the image of any other point."""

import contextlib
import io

import numpy as np
import pytest
import vae_answers
from keras import ops

import vae_helpers as vh


@pytest.fixture(scope="module")
def model():
    return vh.VAE(latent_dim=2, hidden_dim=32, seed=0)


def _verdict(exercise, answer, model):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        vh.check(exercise, answer, model=model)
    return out.getvalue()


def _decode(model, point, dtype="float32"):
    return model.decode(np.asarray([point], dtype))[0]


@pytest.mark.parametrize("exercise, value", [("05.1", 0.0), ("05.2", 6.0)])
def test_the_image_decoded_at_the_asked_point_passes_in_its_usual_forms(exercise, value, model):
    point = [value, value]
    by_hand = np.asarray(ops.sigmoid(model.decoder(np.full((1, 2), value, "float32"))))[0]
    for answer in (_decode(model, point), _decode(model, point, "float64"), _decode(model, point).tolist(),
                   _decode(model, point).astype("float64"), by_hand):
        verdict = _verdict(exercise, answer, model)
        assert verdict.startswith("Passes the self-check"), exercise
        assert "which point you decoded is checked at grading" in verdict
        vae_answers.grade(exercise, answer, model=model)  # silent: right


@pytest.mark.parametrize("exercise, value, others", [
    ("05.1", 0.0, [[1.0, 1.0], [0.0, 0.5], [6.0, 6.0]]),
    ("05.2", 6.0, [[-6.0, -6.0], [6.0, 0.0], [0.0, 0.0], [5.0, 5.0]])])
def test_the_image_of_another_point_passes_the_form_and_fails_the_grading(exercise, value, others, model):
    right = _decode(model, [value, value])
    for point in others:
        wrong = _decode(model, point)
        assert np.abs(wrong - right).max() > 1e-3, "the stand-in model must draw different images here"
        assert _verdict(exercise, wrong, model).startswith("Passes the self-check"), "the form is right"
        with pytest.raises(AssertionError, match="wrong value"):
            vae_answers.grade(exercise, wrong, model=model)


@pytest.mark.parametrize("exercise, value", [("05.1", 0.0), ("05.2", 6.0)])
def test_what_is_no_decoded_image_fails_the_self_check(exercise, value, model):
    logits = np.asarray(model.decoder(np.full((1, 2), value, "float32")))[0]
    assert _verdict(exercise, logits, model).startswith("Not quite")
    assert _verdict(exercise, _decode(model, [value, value])[None], model).startswith(
        "Not quite: your array has shape (1, 784)")
    assert _verdict(exercise, (np.arange(784) % 2).astype("float32"), model).startswith(
        "Not quite: every value is exactly 0 or 1")
