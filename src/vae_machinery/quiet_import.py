"""Import Keras without TensorFlow's C++ start-up chatter in the notebooks."""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

# TensorFlow's C++ runtime logs start-up chatter (CPU features, "could not
# find cuda drivers", "failed call to cuInit", "oneDNN custom operations are
# on") straight to file descriptor 2,
# where notebooks show it as red text. Keep it quiet unless the user set the
# level themselves (TF_CPP_MIN_LOG_LEVEL=0 shows everything); Python errors and
# warnings are not affected.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_NATIVE_NOISE = ("cudart_stub.cc", "All log messages before absl::InitializeLog()",
                 "cuda_platform.cc", "Unable to register cu",
                 "oneDNN custom operations are on")  # on CPUs with AVX-512


def import_keras_quietly() -> Any:
    """Import Keras (and its backend) with fd 2 captured; pass on every line
    except the known TensorFlow start-up noise, which is logged before the
    log level above takes effect."""
    import importlib

    if "keras" in sys.modules or os.environ["TF_CPP_MIN_LOG_LEVEL"] != "3":
        module = importlib.import_module("keras")
    else:
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                module = importlib.import_module("keras")
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                captured.seek(0)
                for line in captured.read().decode(errors="replace").splitlines():
                    if line.strip() and not any(n in line for n in _NATIVE_NOISE):
                        print(line, file=sys.stderr)
    if int(module.__version__.split(".")[0]) < 3:
        raise ImportError(
            f"This series needs Keras 3, but Keras {module.__version__} is installed. "
            "Install the pinned versions: pip install -r requirements.txt"
        )
    return module

