# Two commands, each doing its own set-up on a fresh machine:
#   make demo   create .venv, install mspt-pyiqa, score example faces with the shipped weights
#   make test   create .venv, install mspt-pyiqa with its test dependencies, run the tests
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Quiet installs: -q on every pip call, no pip version nag; the build itself prints no
# setuptools warnings (SPDX licence string, data folders listed as packages in setup.py).
PIP := $(PY) -m pip --disable-pip-version-check
# torch/torchvision as the project pins them (taken from local disk on our machines).
TORCH_PKGS ?= torch==2.14.1 torchvision==0.29.1
PYTEST_ARGS ?=

.PHONY: venv demo test test-fast efficiency clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.torch: | $(PY)
	$(PIP) install -q $(TORCH_PKGS)
	touch $@

venv: $(VENV)/.torch

demo: venv
	$(PIP) install -q .
	cd /tmp && $(abspath $(PY)) -m mspt_pyiqa.demo

test: venv
	$(PIP) install -q -e ".[test]"
	$(PY) -m pytest -q -rs $(PYTEST_ARGS)

test-fast: venv
	$(PY) -m pytest -q -rs -m "not slow" $(PYTEST_ARGS)

efficiency: venv
	$(PY) eval/efficiency.py --out eval/reports

clean:
	rm -rf $(VENV) build dist *.egg-info
