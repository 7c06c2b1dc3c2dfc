# The two commands a newcomer needs: `make run` and `make test`. Every target installs what it
# needs first (a virtualenv in .venv with the project and its dev tools).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

WEB       := frontend
WEB_STAMP := $(WEB)/node_modules/.installed

.PHONY: run test lint typecheck unit integration e2e bench stress services clean demo \
	web web-client web-build browser chromium wrk

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

$(WEB_STAMP): $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## Serve the API on HOST:PORT (default 127.0.0.1:8000; embedded PostgreSQL unless DATABASE_URL)
## at once, and the web app on WEB_PORT (3000) once it is installed and built; demo tenants in dev.
run: $(STAMP)
	@bash infrastructure/scripts/run.sh

## The demo tenants, through the API that `make run` serves (README: "The web app").
demo: $(STAMP)
	CARETRAIL_ENV=$${CARETRAIL_ENV:-dev} $(BIN)/caretrail demo

## Lint, type-check and run every test against real PostgreSQL (containers of PostgreSQL, Kafka
## and Redis where a Docker engine answers: tests/containers.py); the web app checked, built and
## driven in Chromium.
test: $(STAMP) services lint typecheck web chromium
	$(BIN)/python -m pytest -q --containers
	cd $(WEB) && npm run -s browser-tests

## Regenerate the web app's typed client from the API's OpenAPI document.
web-client: $(STAMP) $(WEB_STAMP)
	CARETRAIL_ENV=dev $(BIN)/caretrail openapi 2>/dev/null >$(WEB)/.openapi.json
	cd $(WEB) && npx openapi-typescript .openapi.json -o src/api/schema.d.ts

## The web app: its typed client current with the API, type-checked, linted, built.
web: $(STAMP) $(WEB_STAMP)
	CARETRAIL_ENV=dev $(BIN)/caretrail openapi 2>/dev/null >$(WEB)/.openapi.json
	cd $(WEB) && npx openapi-typescript .openapi.json -o .schema.check.d.ts >/dev/null
	@cmp -s $(WEB)/.schema.check.d.ts $(WEB)/src/api/schema.d.ts || { \
	  echo "frontend/src/api/schema.d.ts differs from the API's OpenAPI: run make web-client"; \
	  exit 1; }
	cd $(WEB) && npx next typegen >/dev/null && npx tsc --noEmit && npx eslint . && npx next build

## The web app built, unless its build is newer than its sources (make run).
web-build: $(WEB_STAMP)
	@cd $(WEB) && if [ -f .next/BUILD_ID ] && [ -z "$$(find src public next.config.ts \
	  package-lock.json -newer .next/BUILD_ID -print -quit)" ]; then echo "web app: build current"; \
	  else npx next build; fi

## Debian's Chromium for the browser tests (playwright's own browser downloads do not work here).
chromium:
	@test -x /usr/bin/chromium || { apt-get update -qq && apt-get install -y -qq chromium; }

## The browser tests alone.
browser: web chromium services
	cd $(WEB) && npm run -s browser-tests

lint: $(STAMP)
	$(BIN)/ruff check backend projections bench migrations tests
	$(BIN)/ruff format --check backend projections bench migrations tests
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP) services
	$(BIN)/python -m pytest -q tests/integration

e2e: $(STAMP) services
	$(BIN)/python -m pytest -q tests/e2e

## Throughput against a raw-INSERT baseline measured side by side; prints BENCH lines.
## wrk from Debian's packages, the HTTP suite's load generator.
wrk:
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }

bench: $(STAMP) services wrk
	$(BIN)/python -m bench $(BENCH_ARGS)

## The Kafka crash test STRESS_RUNS times (20) beside STRESS_HOGS busy processes (2); stops at
## the first failure, logs in .data/stress.
stress: $(STAMP) services
	PYTHON=$(BIN)/python bash infrastructure/scripts/stress-crash.sh

## Start PostgreSQL and Redis on this machine if they are down.
services:
	@bash infrastructure/scripts/ensure-services.sh

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache $(WEB)/node_modules $(WEB)/.next
