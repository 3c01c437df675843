"""Benchmarks (``python bench/<name>.py``), importable as ``vae_bench.<name>`` from the installed
project (``make venv``: ``pip install -e .``), as the tests import them."""
