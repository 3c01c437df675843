"""The hidden tests compare like a careful teaching assistant (vae_answers.same_answer): right
answers in any of their usual forms pass, wrong ones (including rounded-away ones) fail."""

import numpy as np
import pytest
from vae_answers import same_answer

LN2_784 = 784 * np.log(2)  # 543.4273...


@pytest.mark.parametrize("answer, expected, tolerance", [
    (543.4, LN2_784, 0.01),            # 02 ex. 3, written as the notebook prints it
    (543.43, LN2_784, 0.0),
    (float(LN2_784), LN2_784, 0.0),
    (0.81, 0.8088, 1e-3),              # 01 ex. 1, rounded to two places
    (0.809, 0.8088, 0.0),
    ("0.81", 0.8088, 0.0),             # a numeric string means the same number
    (np.float64(0.8088), 0.8088, 0.0),
    (1, "1", 0.0),                     # 01 / 06 ex. 2: the class name given as its number
    (np.int64(7), "7", 0.0),
    (" Lower ", "lower", 0.0),
    (46.51, 143.2270 - 96.7168, 1e-6),  # 07 ex. 2: a difference of two printed numbers
    (1_333_012, 1_333_012, 0.0),
    ([-143.3, -142.0, -141.6], [-143.27, -141.96, -141.62], 0.0),  # a list, each rounded
    (np.array([0.25, 0.5]), np.array([0.25, 0.5]), 0.0),
])
def test_right_answers_in_their_usual_forms_pass(answer, expected, tolerance):
    assert same_answer(answer, expected, tolerance=tolerance) is True


@pytest.mark.parametrize("answer, expected, tolerance", [
    (0.8, 0.8088, 0.0),                # rounded to one significant digit: too coarse to tell
    (1, 0.8088, 0.0),
    (543.0, LN2_784, 0.01),            # written with a decimal place, so held to it
    (544, LN2_784, 0.0),
    (2, "1", 0.0),
    ("one", "1", 0.0),
    (True, 1.0, 0.0),                  # a bool is no number
    ("0.6", 0.5, 0.0),
    ([-143.3, -142.0], [-143.27, -141.96, -141.62], 0.0),  # wrong length
    ([-140.0, -140.0, -140.0], [-143.27, -141.96, -141.62], 0.0),  # a constant guess
    ([-141.6, -142.0, -143.3], [-143.27, -141.96, -141.62], 0.0),  # the right numbers, wrong order
    (np.zeros(3), np.ones(3), 1e-4),
])
def test_wrong_answers_fail(answer, expected, tolerance):
    assert same_answer(answer, expected, tolerance=tolerance) is False


def test_an_unanswered_exercise_is_wrong():
    assert same_answer(None, 0.0) is False
