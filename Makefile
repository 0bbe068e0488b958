# The two commands of the README: `make demo` and `make test`. Each builds .venv from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
# TEST_WORKERS: pytest-xdist workers of `make test`: one a core and one more (many tests wait on processes,
# browsers and timers; each test file runs on one worker)
# ARGS: flags of `sightline demo`, e.g. make demo ARGS="--port 8001 --days 3"

# The portal's bundle (src/sightline/portal/static/, not committed): npm installs portal/package-lock.json,
# esbuild bundles portal/src/; rebuilt when a source is newer than the bundle.
PORTAL_BUNDLE := src/sightline/portal/static/index.html
PORTAL_MODULES := portal/node_modules/.installed
PORTAL_SOURCES := $(shell find portal/src -type f) portal/build.mjs

.PHONY: demo test lint format docs bench clean portal

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

$(PORTAL_MODULES): portal/package.json portal/package-lock.json
	cd portal && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

$(PORTAL_BUNDLE): $(PORTAL_MODULES) $(PORTAL_SOURCES)
	cd portal && node build.mjs

portal: $(PORTAL_BUNDLE)

demo: $(STAMP) $(PORTAL_BUNDLE)
	$(BIN)/sightline demo $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint $(PORTAL_BUNDLE)
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

docs: $(STAMP)
	$(BIN)/sightline docs

bench: $(STAMP) $(PORTAL_BUNDLE)
	$(BIN)/python bench/ingest_bulk.py

clean:
	rm -rf $(VENV) sightline-data .mypy_cache .ruff_cache .pytest_cache portal/node_modules src/sightline/portal/static
