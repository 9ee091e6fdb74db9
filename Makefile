# Every target the README quotes. `make test` bootstraps its own environment on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup test lint format demo clean-venv gpu-wheels

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
	$(VENV)/bin/ruff check cyclegan_audio scripts benchmarks tests
	$(VENV)/bin/ruff format --check cyclegan_audio scripts benchmarks tests

format: setup
	$(VENV)/bin/ruff format cyclegan_audio scripts benchmarks tests
	$(VENV)/bin/ruff check --fix cyclegan_audio scripts benchmarks tests

demo: setup
	$(PY) scripts/demo.py

# Wheels for an offline GPU machine whose Python 3.12 already has torch, Lightning, numpy,
# scipy, scikit-learn, numba and pillow: the audio I/O stack it lacks, into .whl/ (git-ignored).
# There: pip install --no-index --no-deps --target /tmp/site .whl/*.whl; export PYTHONPATH=/tmp/site
GPU_WHEELS ?= soundfile cffi pycparser librosa soxr audioread pooch decorator platformdirs
gpu-wheels:
	grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
	python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
	    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
	    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl $(GPU_WHEELS)

clean-venv:
	rm -rf $(VENV)
