# The two commands a newcomer needs: `make run` and `make test`. Every target installs what it
# needs first (a virtualenv in .venv with the project and its dev tools).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck unit integration e2e bench services clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

## Serve the API on HOST:PORT (default 127.0.0.1:8000); embedded PostgreSQL unless DATABASE_URL.
run: $(STAMP)
	CARETRAIL_ENV=$${CARETRAIL_ENV:-dev} $(BIN)/caretrail serve

## Lint, type-check and run every test against real PostgreSQL.
test: $(STAMP) services lint typecheck
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check backend projections migrations tests
	$(BIN)/ruff format --check backend projections migrations tests

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP) services
	$(BIN)/python -m pytest -q tests/integration

e2e: $(STAMP) services
	$(BIN)/python -m pytest -q tests/e2e

## Throughput against a raw-INSERT baseline measured side by side; prints BENCH lines.
bench: $(STAMP) services
	$(BIN)/python -m backend.bench $(BENCH_ARGS)

## Start PostgreSQL and Redis on this machine if they are down.
services:
	@bash infrastructure/scripts/ensure-services.sh

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
