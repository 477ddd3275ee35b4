# The README's two commands: `make up` (the service with demo data) and `make test` (the suite).
# Everything is installed and started by the project's own scripts: no Docker engine needed.

VENV ?= .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: up down test install services bench-ingest bench-api schema

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

install: $(INSTALLED)

# Reinstall only when the dependencies change; a fresh clone gets a fresh virtualenv.
$(INSTALLED): pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[test]'
	@touch $@

services:
	@scripts/services.sh start

schema: install
	$(PYTHON) -m app.schema_export > schema.graphql

bench-ingest: install services
	$(PYTHON) bench/ingest.py

bench-api: install services
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)
	$(PYTHON) bench/api.py
