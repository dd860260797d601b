# Everything starts here. Unset DATABASE_URL / REDIS_URL / KAFKA_BOOTSTRAP_SERVERS get embedded
# services under var/ (see brokerage/devstack.py); set ones are used as they are.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt 2>/dev/null | cut -c1-12)
DEVSTACK := $(PY) -m brokerage.devstack
PYTEST_ARGS ?=
# Static analysis imports the settings module but never connects: give it well-formed URLs.
LINT_ENV := DATABASE_URL=postgres://lint@127.0.0.1:1/lint REDIS_URL=redis://127.0.0.1:1/0 KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:1

.PHONY: install run test lint bench up down status clean

$(STAMP): requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel
	$(PY) -m pip install -q -r requirements.txt
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

run: install
	$(DEVSTACK) run --bootstrap -- $(VENV)/bin/honcho -f Procfile start

test: install lint
	$(DEVSTACK) run -- $(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(LINT_ENV) $(VENV)/bin/mypy .

bench: install
	@test -n "$(SCENARIO)" || { $(PY) -m tests.benchmarks --list; exit 2; }
	$(DEVSTACK) run -- $(PY) -m tests.benchmarks $(SCENARIO)

up: install
	$(DEVSTACK) up

down:
	$(DEVSTACK) down

status:
	$(DEVSTACK) status

clean: down
	rm -rf var
