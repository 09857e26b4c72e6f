# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both build the project's own virtual environment first (Python 3.11+).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench-synth clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/ptb demo

test: $(BIN)/.installed
	$(BIN)/pytest

# The same three gates as .ci/run: lint rules, formatting, and types (mypy, configured in
# pyproject.toml, over features, training, serving and ptb).
lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) mlruns .pytest_cache
