"""Self-checks of notebook 01 (the data)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .engine import Mismatch, SelfCheck, array_of, number_in, one_of


def _fraction_zero(answer: Any, data: Any) -> None:
    value = number_in(answer, 0.0, 100.0, "a fraction of pixels")
    if value > 1.0:
        raise Mismatch(f"{value:g} looks like a percentage: give the fraction, a number between 0 and 1")
    if value in (0.0, 1.0):
        raise Mismatch(f"{value:g} would mean {'no' if value == 0.0 else 'every'} pixel is exactly 0; the "
                       "images have both background and ink (the smallest and largest values printed above)")


def _inkiest_class(answer: Any, data: Any) -> None:
    if isinstance(answer, (list, tuple, np.ndarray)):
        raise Mismatch("give one class name, not a list: the class whose images have the highest average "
                       "pixel value")
    one_of(answer, data.class_names, "a class name")


def _mean_three(answer: Any, data: Any) -> None:
    pixels = data.x_test.shape[1]
    image = array_of(answer, (pixels,), f"the average image ({pixels} values, one per pixel)")
    if image.min() < 0.0 or image.max() > 1.0:
        raise Mismatch("an average of images with pixels in [0, 1] has every value in [0, 1]")
    if np.all((image == 0.0) | (image == 1.0)):
        raise Mismatch("every value is 0 or 1: that is one image, not an average of many")
    if np.allclose(image, data.x_test.mean(axis=0), atol=1e-6):
        raise Mismatch("this is the average of all test images, of every class: keep only the 3s")


CHECKS = {
    "01.1": SelfCheck(
        "how empty is an image?", _fraction_zero, "a fraction between 0 and 1",
        hints=("Count the pixels that are exactly 0, over all training images, and divide by the number "
               "of pixels.",
               "Comparing an array with 0 gives an array of True/False; NumPy counts True as 1.")),
    "01.2": SelfCheck(
        "which class uses the most ink?", _inkiest_class, "one of the class names",
        hints=("For each class, select its training images with a boolean mask on data.y_train and average "
               "all their pixel values: one number per class.",
               "np.argmax gives the position of the largest of the ten averages; data.class_names turns a "
               "position into a name.")),
    "01.3": SelfCheck(
        "the average digit", _mean_three, "784 values between 0 and 1, an average of many images",
        hints=("Select the test images whose label is 3 (a boolean mask on the labels).",
               "Average the selected rows pixel by pixel: over the image axis, not over the pixels.")),
}
