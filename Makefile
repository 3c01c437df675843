# The VAE tutorial series: `make run` trains and produces every figure,
# `make test` checks it. Both create the virtual environment when missing.
#
#   make run                      # all six notebooks, default parameters
#   make run EPOCHS=5 LATENT_DIM=10
#   make test                     # everyday: ruff and the fast tests (a few minutes)
#   make check                    # everything: the slow tests and nbval of the notebooks too (CI runs this)
#   make lowest                   # the lowest versions pyproject.toml allows: fast tests, 01-03 (check runs it)
#   make experiments              # notebook 07: the beta / latent-size sweep, 3 seeds (hours on 2 cores)
#   make experiments EPOCHS=1     # a quick version of the sweep
#   make beyond                   # notebooks 08-10: conditional VAE, conv VAE, posterior collapse
#   make lab                      # open the series in JupyterLab (the venv's Python as kernel)
#   make site                     # the documentation site in build/site/{student,instructor}/
#   make site FROM=build/notebooks     # ... of the last `make run` instead of the committed run
#   make notebooks                # maintainers: re-execute notebooks/ in place

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Every NAME=value on the command line except PYTHON, VENV, FROM and SITE_JUPYTERHUB_URL is a notebook
# parameter for papermill (`make run EPOCHS=5`); the runner rejects names no
# notebook has, so a typo is an error, not a silent default.
MAKE_VARS := PYTHON VENV FROM SITE_JUPYTERHUB_URL
CLI_PARAMS := $(filter-out $(addsuffix =%,$(MAKE_VARS)),$(MAKEOVERRIDES))
PM_ARGS := $(foreach a,$(CLI_PARAMS),-p $(subst =, ,$(a)))
PYTEST_NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: help venv run experiments beyond test check lowest lint unit nbval notebooks lab site clean

help:
	@sed -n '1,15p' Makefile | sed 's/^# \{0,1\}//'

$(VENV)/.installed: requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; \
	  sys.exit(0 if (3, 11) <= v <= (3, 13) else \
	  f"Python {v[0]}.{v[1]} is not supported: use 3.11-3.13, e.g. make run PYTHON=python3.12")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@# The hidden tests' answers (instructor/vae_answers) are not part of the package students install:
	@# this environment, the instructor's, finds them through a .pth file.
	$(PY) -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()["purelib"], \
	  "vae_instructor.pth").write_text(str(pathlib.Path("instructor").resolve()) + "\n")'
	@touch $@

venv: $(VENV)/.installed

run: venv
	$(PY) tools/run_series.py $(PM_ARGS)

experiments: venv
	$(PY) tools/run_series.py --only 07 $(PM_ARGS)

# Notebooks 08-10, each alone (over 2 hours in all on a 2-core CPU, as their committed runs print:
# 08 six trainings of 2 to 3 minutes, 09 1.8 hours, 10 about 9 minutes; finished runs are reused).
beyond: venv
	$(PY) tools/run_series.py --from 08 $(PM_ARGS)

# Everyday: the tests not marked slow (a few minutes on 2 cores), no notebook executed.
test: venv lint
	$(PY) -m pytest -m "not slow" --durations=10 tests

# The full check (CI runs it): every test, the slow ones too, and nbval of the committed notebooks;
# then the same package on the lowest versions pyproject.toml allows (make lowest).
check: venv lint
	$(PY) -m pytest $(PYTEST_NBVAL) --durations=25 notebooks tests
	$(PY) tools/check_lowest.py

# The floors of pyproject.toml hold: .venv-lowest gets the lowest versions it allows (uv, from PyPI;
# a few seconds with uv's cache warm), then the fast tests of the package and notebooks 01-03 (EPOCHS=1).
lowest: venv
	$(PY) tools/check_lowest.py

# ruff's rules are in pyproject.toml; the notebooks are checked too.
lint: venv
	$(VENV)/bin/ruff check src tools bench tests notebooks conftest.py

unit: venv
	$(PY) -m pytest tests

nbval: venv
	$(PY) -m pytest $(PYTEST_NBVAL) notebooks

notebooks: venv
	$(PY) tools/run_series.py --inplace

# JupyterLab from the project's environment: its `python3` kernel is this venv's Python.
# (Jupyter refuses to run as root without --allow-root: containers often are root.)
lab: venv
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

# The documentation site (Sphinx, myst-nb, sphinx-book-theme; docs/conf.py): the executed notebooks
# as pages, never run, for students (no solutions) and instructors (solutions folded). Offline.
# A JupyterHub launch button: make site SITE_JUPYTERHUB_URL=https://hub.your-university.edu
FROM ?= notebooks
site: venv
	$(PY) tools/build_site.py --from $(FROM)

clean:
	rm -rf build artifacts .pytest_cache src/*.egg-info .venv-lowest
