"""Deployment statuses are keyed by node id (migration 008): statuses stored before it keep their rows and are
taken over, not doubled, when they arrive again -- from webhooks or REST (with a status id) or from the
GraphQL backfill (node id only). Real Postgres."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from devstack.postgres import ADMIN
from pillarstream.envelope import from_payload
from stream_processors.archiver import Consumed
from stream_processors.migrations import MIGRATIONS_DIR, migrate
from stream_processors.warehouse import write_batch
from tests.harness import query
from tests.scenario import build_scenario

pytestmark = pytest.mark.integration
STATUS_COLUMNS = ("status_id, deployment_id, repo_id, org, state, environment, is_production, sha, created_at, "
                  "creator_login, creator_is_bot")


def status_deliveries(*, graphql: bool) -> list[Consumed]:
    """The scenario's deployment statuses as webhooks, or as the GraphQL backfill publishes them (no ``id``)."""
    scenario = build_scenario()
    found = []
    for offset, (event, delivery_id, body) in enumerate(scenario.deliveries):
        if event != "deployment_status":
            continue
        payload = json.loads(body)
        if graphql:
            del payload["deployment_status"]["id"]
            delivery_id = f"graphql-{delivery_id}"
        raw = json.dumps(payload).encode()
        envelope = from_payload(delivery_id=delivery_id, event=event, payload=raw, parsed=payload,
                                source="backfill" if graphql else "webhook",
                                received_at=scenario.sent_at[delivery_id.removeprefix("graphql-")],
                                headers={"X-GitHub-Event": event})
        found.append(Consumed("github.events", 0, offset, envelope))
    return found


def write(dsn: str, records: list[Consumed]) -> None:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            write_batch(cur, records)
    finally:
        conn.close()


@pytest.fixture()
def legacy_dsn(services, db, tmp_path: Path):
    """A warehouse migrated up to 007 holding the statuses a writer before 008 stored, then migrated on."""
    write(db.admin_dsn, status_deliveries(graphql=False))
    before = query(db.admin_dsn, f"SELECT {STATUS_COLUMNS} FROM deployment_statuses")  # noqa: S608
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = services.postgres.admin_connect()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = services.postgres.dsn(ADMIN, name)
    old = tmp_path / "migrations"
    old.mkdir()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if int(path.name.split("_")[0]) < 8:
            shutil.copy(path, old / path.name)
    try:
        migrate(dsn, old)
        with psycopg2.connect(dsn) as legacy, legacy.cursor() as cur:
            cur.executemany(f"INSERT INTO deployment_statuses ({STATUS_COLUMNS}) "  # noqa: S608
                            f"VALUES ({', '.join(['%s'] * 11)})", before)
        legacy.close()
        migrate(dsn)
        yield dsn
    finally:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.close()


def statuses(dsn: str) -> list[tuple[object, ...]]:
    return sorted(query(dsn, f"SELECT node_id, {STATUS_COLUMNS} FROM deployment_statuses"),  # noqa: S608
                  key=str)


def test_migration_keeps_every_status_row_under_a_placeholder(db, legacy_dsn):
    write(db.admin_dsn, status_deliveries(graphql=False))
    migrated, current = statuses(legacy_dsn), statuses(db.admin_dsn)
    assert len(migrated) == len(current) > 0
    assert [row[1:] for row in migrated] == [row[1:] for row in current]  # every value as it was
    assert all(str(row[0]) == f"legacy:{row[1]:019d}" for row in migrated)


@pytest.mark.parametrize("graphql", [False, True], ids=["webhooks or REST", "GraphQL"])
def test_a_stored_status_arriving_again_is_taken_over_not_doubled(db, legacy_dsn, graphql):
    write(db.admin_dsn, status_deliveries(graphql=False))
    write(legacy_dsn, status_deliveries(graphql=graphql))
    # One row per status with its real node id, and the status id the old row had (GraphQL brings none).
    assert statuses(legacy_dsn) == statuses(db.admin_dsn)


def test_graphql_and_webhook_deliveries_of_a_status_make_one_row(db):
    write(db.admin_dsn, status_deliveries(graphql=True))
    assert {row[1] for row in statuses(db.admin_dsn)} == {None}  # GraphQL has no database id for a status
    write(db.admin_dsn, status_deliveries(graphql=False))
    graphql_first = statuses(db.admin_dsn)
    assert all(row[1] is not None for row in graphql_first)
    assert len(graphql_first) == len({row[0] for row in graphql_first})
