# The two commands a user needs: `make up` runs the pipeline, `make test` runs every test.
.PHONY: up test bootstrap unit lint bench demo status clean

up: bootstrap
	.venv/bin/pillarstream up

test: bootstrap
	.venv/bin/python -m pytest

bootstrap:
	@bash scripts/bootstrap.sh

unit: bootstrap
	.venv/bin/python -m pytest -m unit

lint: bootstrap
	.venv/bin/ruff check .
	.venv/bin/mypy pillarstream

bench: bootstrap
	.venv/bin/python bench/receiver_bench.py

demo:
	.venv/bin/pillarstream demo

status:
	.venv/bin/pillarstream status --json

clean:
	rm -rf .local
