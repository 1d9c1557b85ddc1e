# ledgerstream: the two commands are `make run` and `make test`.
PY := .venv/bin/python

.PHONY: setup run lint test test-long test-unit up down status logs bench

setup:            ## install whatever is missing (Debian packages, .venv, Connect jars)
	@bash dev/stack/setup.sh

run: setup        ## stack + worker + demo ledger; Ctrl-C stops what it started
	@$(PY) -m dev.stack.run

lint: setup       ## ruff (style, imports, bugbear, private access) and mypy, as configured in pyproject.toml
	@status=0; $(PY) -m ruff check . || status=1; $(PY) -m mypy || status=1; exit $$status

test: setup       ## the test suite: unit, then integration and e2e on a real local stack (all but the long tier)
	@$(PY) -m pytest -m "not long"

test-long: setup  ## the long tier: the hot-key scale test (200,000 postings), then the crash and failover kill tests
	@$(PY) -m pytest -m long

test-unit: setup  ## unit tests only (no processes, no network)
	@$(PY) -m pytest tests/unit

up: setup         ## start the local stack (broker, PostgreSQL, Kafka Connect + Debezium)
	@$(PY) -m dev.stack up

down: setup       ## stop the local stack
	@$(PY) -m dev.stack down

status: setup
	@$(PY) -m dev.stack status

logs: setup
	@$(PY) -m dev.stack logs

bench: setup      ## ledgerstream against Quix Streams, Bytewax and a bare consumer; report under results/
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt -c requirements.lock
	@$(PY) -m dev.bench.run
