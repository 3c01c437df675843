"""Check that this Python and the installed TensorFlow, Keras and NumPy are
versions the series supports, without importing TensorFlow (an old one may
crash on import). Used by the test suite before anything runs, and runnable:

    python tools/check_environment.py
"""

from __future__ import annotations

import sys
from importlib import metadata

FIX = "Install the pinned versions into a fresh environment: make test (or pip install -r requirements.txt)."


def installed_version(package: str) -> tuple[int, ...] | None:
    try:
        text = metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
    return tuple(int(part) for part in text.split(".")[:2] if part.isdigit())


def environment_problems(python: tuple[int, ...], keras: tuple[int, ...] | None,
                         tensorflow: tuple[int, ...] | None, numpy: tuple[int, ...] | None) -> list[str]:
    """What is wrong with these versions for this series (empty if nothing)."""
    problems = []
    if not (3, 11) <= python[:2] <= (3, 13):
        problems.append(f"Python {python[0]}.{python[1]} is not supported (use 3.11-3.13)")
    if keras is None or keras < (3, 0):
        problems.append(f"Keras {keras and '.'.join(map(str, keras))} found; the series needs Keras 3")
    if tensorflow is None:
        problems.append("TensorFlow is not installed (the series needs TensorFlow >= 2.18)")
    elif tensorflow < (2, 18):
        problems.append(
            f"TensorFlow {'.'.join(map(str, tensorflow))} is too old: versions before 2.18 ship "
            "Keras 2 or fail with NumPy 2 ('compiled using NumPy 1.x'); the series needs >= 2.18")
    if numpy is None or numpy < (1, 26):
        problems.append("NumPy >= 1.26 is needed")
    return problems


def main() -> int:
    problems = environment_problems(sys.version_info[:2], installed_version("keras"),
                                    installed_version("tensorflow"), installed_version("numpy"))
    for problem in problems:
        print(f"unsupported: {problem}", file=sys.stderr)
    if problems:
        print(FIX, file=sys.stderr)
        return 1
    print("environment OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
