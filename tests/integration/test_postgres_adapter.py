"""The one Postgres adapter every deployable uses (the warehouse sink, the backfill cursors, the commands),
against the real server: a dropped connection is reopened on the next use, a failure becomes the project's
error with ``retriable`` set by one rule, and a database that was not migrated says so."""

from __future__ import annotations

import psycopg2
import pytest

from adapters.postgres import ReconnectingConnection, connect, fetch_all
from backfill.cursors import Cursor, PostgresCursorStore
from devstack.process import free_port
from pillarstream.errors import WarehouseDataError, WarehouseError

pytestmark = pytest.mark.integration


def _terminate_others(admin_dsn: str, database: str) -> None:
    """Ends every other session on the database, as a Postgres restart or a proxy timeout would."""
    conn = psycopg2.connect(admin_dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = %s AND pid <> pg_backend_pid()", (database,))
    finally:
        conn.close()


def _backend_pid(db: ReconnectingConnection) -> int:
    with db.transaction() as cur:
        cur.execute("SELECT pg_backend_pid()")
        row = cur.fetchone()
    assert row is not None
    return int(row[0])


def test_a_dropped_connection_fails_retriable_once_then_is_reopened(db):
    holder = ReconnectingConnection(db.writer_dsn)
    try:
        first = _backend_pid(holder)
        _terminate_others(db.admin_dsn, db.name)
        with pytest.raises(WarehouseError) as lost:
            _backend_pid(holder)
        assert lost.value.retriable and "Postgres unavailable" in str(lost.value)
        assert _backend_pid(holder) != first  # a fresh connection, without the caller doing anything
    finally:
        holder.close()


def test_a_transaction_that_raises_writes_nothing(db):
    holder = ReconnectingConnection(db.writer_dsn)
    try:
        with pytest.raises(WarehouseDataError), holder.transaction() as cur:
            cur.execute("INSERT INTO deliveries (delivery_id, event, source, received_at, payload_bytes, "
                        "kafka_partition, kafka_offset) VALUES ('adapter-1', 'ping', 'webhook', now(), 1, 0, 0)")
            cur.execute("SELECT '9223372036854775808'::bigint")
        assert fetch_all(db.writer_dsn, "SELECT count(*) FROM deliveries WHERE delivery_id = %s",
                         ("adapter-1",)) == [(0,)]
        assert _backend_pid(holder) > 0  # a refused value keeps the connection
    finally:
        holder.close()


def test_an_unmigrated_database_is_not_retried_and_says_why(db):
    with pytest.raises(WarehouseError) as missing:
        fetch_all(db.writer_dsn, "SELECT 1 FROM no_such_table", ())
    assert not missing.value.retriable
    assert "did `pillarstream migrate` run?" in str(missing.value)


def test_the_backfill_cursors_fail_and_recover_like_every_other_user(db):
    store = PostgresCursorStore(db.writer_dsn)
    try:
        store.save(Cursor("acme", "api", "pulls", marks={"until": "2024-01-01"}))
        _terminate_others(db.admin_dsn, db.name)
        with pytest.raises(WarehouseError) as lost:
            store.load("acme", "api", "pulls")
        assert lost.value.retriable and str(lost.value).startswith("backfill cursors: ")
        assert store.load("acme", "api", "pulls").marks == {"until": "2024-01-01"}
    finally:
        store.close()


def test_a_server_that_does_not_answer_is_retriable_and_named():
    port = free_port()
    with pytest.raises(WarehouseError) as refused:
        connect(f"postgresql://nobody@127.0.0.1:{port}/x", connect_timeout=2)
    assert refused.value.retriable and "127.0.0.1" in str(refused.value) and str(port) in str(refused.value)


def test_a_connection_names_its_part_to_the_server(db):
    """What an operator sees in pg_stat_activity: which part of the worker each connection is."""
    holder = ReconnectingConnection(db.writer_dsn, application_name="pillarstream windows live")
    try:
        with holder.transaction() as cur:
            cur.execute("SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()")
            assert cur.fetchone() == ("pillarstream windows live",)
    finally:
        holder.close()
