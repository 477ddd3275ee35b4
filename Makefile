# The README's two commands: `make up` (the service with demo data) and `make test` (the suite).
# Everything is installed and started by the project's own scripts: no Docker engine needed.

VENV ?= .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: up down test test-fast install lock services bench-ingest bench-api bench-reattribution bench-live bench-compression bench-workers chaos schema

up: install
	@VENV=$(VENV) scripts/up.sh

down:
	@VENV=$(VENV) scripts/down.sh

test: install
	@scripts/services.sh start postgres kafka
	@scripts/pglite.sh restart  # a fresh in-memory TimescaleDB per run
	@command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose)
	@command -v openssl >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl)  # TLS test
	@command -v chromium >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)  # page tests
	$(PYTHON) -m pytest $(PYTEST_ARGS)

# The tests that need no service (no PostgreSQL, Kafka, PGlite or browser): seconds, not minutes.
test-fast: install
	$(PYTHON) -m pytest -m "not services" $(PYTEST_ARGS)

install: $(INSTALLED)

# Every dependency at the version uv.lock pins (with its hashes), from PyPI; reinstalled only
# when the dependencies change; a fresh clone gets a fresh virtualenv.
UV_VERSION := 0.13.9
UV := UV_PROJECT_ENVIRONMENT=$(VENV) $(VENV)/bin/uv
$(INSTALLED): pyproject.toml uv.lock
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet uv==$(UV_VERSION)
	$(UV) sync --frozen --extra test --inexact --quiet
	@touch $@

# `make lock`: the newest versions pyproject.toml allows, written to uv.lock (then `make test`).
lock:
	@test -x $(VENV)/bin/uv || (python3 -m venv $(VENV) && $(PYTHON) -m pip install --quiet uv==$(UV_VERSION))
	$(UV) lock --upgrade

services:
	@scripts/services.sh start

schema: install
	$(PYTHON) -m app.schema_export > schema.graphql

bench-ingest: install services
	$(PYTHON) bench/ingest.py

# 1 and 2 workers on the same topic, and PostgreSQL's CPU per 1,000 events (docs/capacity.md).
bench-workers: install services
	$(PYTHON) bench/workers.py

bench-reattribution: install services
	$(PYTHON) bench/reattribution.py

bench-api: install services
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)
	$(PYTHON) bench/api.py
	$(PYTHON) bench/api_calendar.py

bench-live: install services
	$(PYTHON) bench/live.py

# TimescaleDB's compression, measured on PGlite (the only TimescaleDB here).
bench-compression: install
	@scripts/pglite.sh start
	$(PYTHON) bench/compression.py

# Minutes long, and it stops and restarts PostgreSQL and Kafka: never beside `make test`.
chaos: install services
	$(PYTHON) bench/chaos.py
