"""Environment faults: unsupported versions are refused early and clearly."""

import subprocess
import sys
from pathlib import Path

import pytest

from vae_tools.check_environment import environment_problems

ROOT = Path(__file__).resolve().parent.parent


def test_supported_environment_has_no_problems():
    assert environment_problems((3, 11), (3, 15), (2, 21), (2, 4)) == []
    assert environment_problems((3, 13), (3, 15), (2, 21), (2, 4)) == []


@pytest.mark.parametrize(
    ("versions", "message"),
    [
        (((3, 14), (3, 15), (2, 21), (2, 4)), "Python 3.14 is not supported"),
        (((3, 10), (3, 12), (2, 21), (2, 2)), r"Python 3.10 is not supported \(use 3.11-3.13\)"),
        (((3, 11), (2, 15), (2, 15), (1, 26)), "Keras 2.15 found; the series needs Keras 3"),
        (((3, 12), (3, 3), (2, 17), (2, 0)), "TensorFlow 2.17 is too old.*NumPy 1.x"),
        (((3, 11), (3, 15), None, (2, 4)), "TensorFlow is not installed"),
    ],
)
def test_unsupported_versions_are_named(versions, message):
    import re

    problems = environment_problems(*versions)
    assert any(re.search(message, p) for p in problems), problems


@pytest.mark.parametrize("log_level", [None, "0"], ids=["quiet", "TF_CPP_MIN_LOG_LEVEL=0"])
def test_importing_the_helpers_with_keras_2_fails_with_advice(tmp_path, log_level):
    fake = tmp_path / "keras"
    fake.mkdir()
    (fake / "__init__.py").write_text('__version__ = "2.15.0"\n')
    # With TensorFlow's log level set by the user Keras is imported without
    # capturing its start-up output; the version is checked all the same.
    env = {"PYTHONPATH": f"{tmp_path}:{ROOT / 'src'}", "PATH": "/usr/bin:/bin"}
    if log_level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = log_level
    result = subprocess.run(
        [sys.executable, "-c", "import vae_helpers"],
        env=env,
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "needs Keras 3, but Keras 2.15.0 is installed" in result.stderr
    assert "pip install -r requirements.txt" in result.stderr
