"""The series' commands (``python tools/<name>.py``), importable as ``vae_tools.<name>`` from the
installed project (``make venv``: ``pip install -e .``), as the tests and ``bench/`` import them."""
