# The VAE tutorial series: `make run` trains and produces every figure,
# `make test` checks it. Both create the virtual environment when missing.
#
#   make run                      # all six notebooks, default parameters
#   make run EPOCHS=5 LATENT_DIM=10
#   make test                     # unit tests + pytest --nbval on the notebooks
#   make notebooks                # maintainers: re-execute notebooks/ in place

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Every NAME=value on the command line except PYTHON and VENV is a notebook
# parameter for papermill (`make run EPOCHS=5`); the runner rejects names no
# notebook has, so a typo is an error, not a silent default.
MAKE_VARS := PYTHON VENV
CLI_PARAMS := $(filter-out $(addsuffix =%,$(MAKE_VARS)),$(-*-command-variables-*-))
PM_ARGS := $(foreach a,$(CLI_PARAMS),-p $(subst =, ,$(a)))
PYTEST_NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: help venv run test unit nbval notebooks clean

help:
	@sed -n '1,8p' Makefile | sed 's/^# \{0,1\}//'

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; \
	  sys.exit(0 if (3, 10) <= v <= (3, 13) else \
	  f"Python {v[0]}.{v[1]} is not supported: use 3.10-3.13, e.g. make run PYTHON=python3.12")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

venv: $(VENV)/.installed

run: venv
	$(PY) tools/run_series.py $(PM_ARGS)

test: venv
	$(PY) -m pytest $(PYTEST_NBVAL) notebooks tests

unit: venv
	$(PY) -m pytest tests

nbval: venv
	$(PY) -m pytest $(PYTEST_NBVAL) notebooks

notebooks: venv
	$(PY) tools/run_series.py --inplace

clean:
	rm -rf build artifacts .pytest_cache
