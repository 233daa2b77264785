# The two commands a user needs: `make up` runs the pipeline, `make test` runs every test.
.PHONY: up test test-superset bootstrap unit lint bench demo status clean

up: bootstrap
	.venv/bin/pillarstream up $(if $(SUPERSET),--superset)

# Two stages: everything but Superset, then the Superset stage (its own virtualenv and Chromium).
test: bootstrap
	.venv/bin/python -m pytest -m "not superset"
	.venv/bin/python -m pytest -m superset

test-superset: bootstrap
	.venv/bin/python -m pytest -m superset

bootstrap:
	@bash scripts/bootstrap.sh

unit: bootstrap
	.venv/bin/python -m pytest -m unit

lint: bootstrap
	.venv/bin/ruff check .
	.venv/bin/mypy pillarstream

bench: bootstrap
	.venv/bin/python bench/receiver_bench.py
	.venv/bin/python bench/warehouse_bench.py
	.venv/bin/python bench/replay_bench.py
	.venv/bin/python bench/backfill_bench.py
	.venv/bin/python bench/dashboard_bench.py

demo:
	.venv/bin/pillarstream demo

status:
	.venv/bin/pillarstream status --json

clean:
	rm -rf .local
