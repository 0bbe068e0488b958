# The two commands of the README: `make demo` and `make test`. Each builds .venv from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
# ARGS: flags of `sightline demo`, e.g. make demo ARGS="--port 8001 --days 3"

.PHONY: demo test lint format docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sightline demo $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

docs: $(STAMP)
	$(BIN)/sightline docs

bench: $(STAMP)
	$(BIN)/python bench/ingest_bulk.py

clean:
	rm -rf $(VENV) sightline-data .mypy_cache .ruff_cache .pytest_cache
