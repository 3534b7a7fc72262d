# synapsenet: `make train` sets up and runs the main job, `make test` sets up and runs the tests.
# Needs Python >= 3.11 on PATH as python3 (override with PYTHON=...).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: train test test-slow bench lint clean

$(BIN)/activate:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "synapsenet needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# setup.py and the C source are prerequisites too: the compiled engine is rebuilt when they change
$(VENV)/.installed: pyproject.toml setup.py $(wildcard src/synapsenet/_accel/*) | $(BIN)/activate
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml setup.py $(wildcard src/synapsenet/_accel/*) | $(BIN)/activate
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(VENV)/.installed $@

train: $(VENV)/.installed
	$(BIN)/synapsenet train

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

test-slow: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -m slow

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_training.py --data-dir ../shared/data
	$(BIN)/python benchmarks/bench_hardware.py --data-dir ../shared/data
	$(BIN)/python benchmarks/bench_sklearn.py --data-dir ../shared/data

lint: $(VENV)/.installed-test
	$(BIN)/python -m pip install -q ruff
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
