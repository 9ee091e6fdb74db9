# Every target the README quotes. `make test` bootstraps its own environment on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup test lint format demo clean-venv

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU build of torch 2.13.0 first, so the range in pyproject installs nothing larger.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check cyclegan_audio scripts tests
	$(VENV)/bin/ruff format --check cyclegan_audio scripts tests

format: setup
	$(VENV)/bin/ruff format cyclegan_audio scripts tests
	$(VENV)/bin/ruff check --fix cyclegan_audio scripts tests

demo: setup
	$(PY) scripts/demo.py

clean-venv:
	rm -rf $(VENV)
