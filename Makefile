# The two commands a user needs: `make up` runs the pipeline, `make test` runs every test.
.PHONY: up test test-superset bootstrap test-tools unit lint bench demo status clean

# Ports of `make up`, from the command line or the environment: make up PORT=8081 POSTGRES_PORT=5434
PORT ?= 8080
KAFKA_PORT ?= 9092
CONTROLLER_PORT ?= 9093
POSTGRES_PORT ?= 5433
SUPERSET_PORT ?= 8088

up: bootstrap
	.venv/bin/pillarstream up --port $(PORT) --kafka-port $(KAFKA_PORT) --controller-port $(CONTROLLER_PORT) \
		--postgres-port $(POSTGRES_PORT) $(if $(SUPERSET),--superset --superset-port $(SUPERSET_PORT))

# Two stages: everything but Superset, then the Superset stage (its own virtualenv and Chromium).
test: test-tools
	.venv/bin/python -m pytest -m "not superset"
	.venv/bin/python -m pytest -m superset

test-superset: test-tools
	.venv/bin/python -m pytest -m superset

bootstrap:
	@bash scripts/bootstrap.sh

# What only the tests need (checkov), on top of bootstrap.
test-tools:
	@bash scripts/bootstrap.sh --test-tools

unit: test-tools
	.venv/bin/python -m pytest -m unit

lint: bootstrap
	.venv/bin/ruff check .
	.venv/bin/mypy pillarstream adapters launcher

bench: bootstrap
	.venv/bin/python bench/receiver_bench.py
	.venv/bin/python bench/warehouse_bench.py
	.venv/bin/python bench/replay_bench.py
	.venv/bin/python bench/backfill_bench.py
	.venv/bin/python bench/metrics_bench.py
	.venv/bin/python bench/archive_dedupe_bench.py
	.venv/bin/python bench/worker_resume_bench.py
	.venv/bin/python bench/dashboard_bench.py

demo:
	.venv/bin/pillarstream demo

status:
	.venv/bin/pillarstream status --json

# As root, a Postgres cluster may live outside .local (see README, Local services): remove it too.
clean:
	if [ -L .local/postgres/cluster ]; then rm -rf "$$(readlink .local/postgres/cluster)"; fi
	rm -rf .local
