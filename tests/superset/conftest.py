"""The Superset stage: Superset from PyPI in its own virtualenv, a warehouse holding the scenario, and
the bundle imported into a running Superset that reads it through the read-only role.

Nothing here skips: a Superset or Chromium that cannot be installed fails the stage (scripts/superset.sh
installs both; a test that silently did not run would prove nothing).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from dashboards.bundle import Bundle
from dashboards.client import SupersetClient
from devstack.process import free_port
from devstack.stack import LocalServices
from devstack.superset_server import SUPERSET_VENV, SupersetServer, ensure_installed
from pillarstream.envelope import from_payload
from stream_processors.archiver import Consumed
from stream_processors.warehouse import write_batch
from tests.conftest import REPO, Database, drop_database, new_database
from tests.scenario import Scenario, build_scenario

# Short, so the live-update test waits little; the shipped default is 30 s.
REFRESH_SECONDS = 10
ARTIFACTS = REPO / ".local" / "superset-test-artifacts"
def pytest_configure(config: pytest.Config) -> None:
    # Registered here as well as in pyproject.toml, so --strict-markers accepts it either way.
    config.addinivalue_line(
        "markers", "superset: the Superset stage: Superset (own virtualenv) and headless Chromium over a warehouse"
    )


@pytest.fixture(scope="session")
def superset_venv() -> Path:
    started = time.monotonic()
    ensure_installed(browser=True)  # raises when the install fails: the stage fails, never skips
    print(f"\nSuperset virtualenv ready in {time.monotonic() - started:.0f}s")
    return SUPERSET_VENV


def scenario_records(scenario: Scenario) -> list[Consumed]:
    records = []
    for offset, (event, delivery_id, body) in enumerate(scenario.deliveries):
        envelope = from_payload(
            delivery_id=delivery_id,
            event=event,
            payload=body,
            parsed=json.loads(body),
            source="webhook",
            received_at=scenario.sent_at[delivery_id],
            headers={"X-GitHub-Event": event, "X-GitHub-Delivery": delivery_id},
        )
        records.append(Consumed("github.events", 0, offset, envelope))
    return records


def scenario_warehouse(services: LocalServices) -> Database:
    """A new migrated warehouse database holding the scenario, written as the warehouse worker writes."""
    database = new_database(services)
    conn = psycopg2.connect(database.writer_dsn)
    with conn, conn.cursor() as cur:
        write_batch(cur, scenario_records(build_scenario()))
    conn.close()
    return database


@pytest.fixture(scope="session")
def warehouse(services: LocalServices) -> Iterator[Database]:
    database = scenario_warehouse(services)
    try:
        yield database
    finally:
        drop_database(services, database)


@pytest.fixture(scope="session")
def superset(superset_venv: Path, warehouse: Database) -> Iterator[SupersetServer]:
    """Superset on a port of its own, with the bundle imported and pointed at the scenario warehouse."""
    root = REPO / ".local" / f"test-superset-{os.getpid()}"
    server = SupersetServer(root, free_port(), warehouse.reader_dsn, refresh_seconds=REFRESH_SECONDS)
    started = time.monotonic()
    try:
        server.start()
        print(f"\nSuperset initialised, started and bundle imported in {time.monotonic() - started:.0f}s")
        yield server
    finally:
        server.stop()
        if server.log_path.exists():
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(server.log_path, ARTIFACTS / "superset.log")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def client(superset: SupersetServer) -> SupersetClient:
    return superset.client()


@pytest.fixture(scope="session")
def bundle() -> Bundle:
    return Bundle.load()


@pytest.fixture(scope="session")
def chart_ids(client: SupersetClient) -> dict[str, int]:
    """Superset's chart id for each chart UUID."""
    return {str(row["uuid"]): int(row["id"]) for row in client.list_all("chart", ["id", "uuid"])}


def dataset_columns(client: SupersetClient, dataset_id: int, cache: dict[int, set[str]]) -> set[str]:
    if dataset_id not in cache:
        result: dict[str, Any] = client.get(f"/api/v1/dataset/{dataset_id}")["result"]
        cache[dataset_id] = {column["column_name"] for column in result["columns"]}
    return cache[dataset_id]
