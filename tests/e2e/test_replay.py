"""Replay from the archive rebuilds an empty warehouse exactly, and changes nothing in a full one."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.archive_store import open_store
from adapters.kafka_publisher import ensure_topic
from tests.conftest import drop_database, new_database
from tests.harness import eventually, fixture_bytes, query, warehouse_dump

pytestmark = pytest.mark.e2e
DELIVERIES = [
    ("push", "push/payload.json"), ("push", "push/with-organization.payload.json"),
    ("pull_request", "pull_request/opened.payload.json"), ("pull_request", "pull_request/closed.payload.json"),
    ("pull_request_review", "pull_request_review/submitted.payload.json"),
    ("check_run", "check_run/completed.payload.json"), ("check_suite", "check_suite/completed.payload.json"),
    ("workflow_run", "workflow_run/completed.payload.json"), ("deployment", "deployment/payload.json"),
    ("deployment_status", "deployment_status/payload.json"), ("issues", "issues/opened.payload.json"),
    ("issues", "issues/labeled.payload.json"), ("ping", "ping/payload.json"),
    ("release", "release/published.payload.json"),
]


def count(dsn: str) -> int:
    return int(query(dsn, "SELECT count(*) FROM deliveries")[0][0])


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "launcher", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_replay_rebuilds_and_is_idempotent(pipeline, db, services, gcs_bucket):
    pipeline.start_receiver()
    pipeline.start_worker("archiver")
    pipeline.start_worker("warehouse")
    for event, path in DELIVERIES:
        assert pipeline.post(event, fixture_bytes(f"webhooks/{path}")).status_code == 202
    eventually(lambda: count(db.writer_dsn) == len(DELIVERIES), timeout=60, what="all deliveries")
    store = open_store(gcs_bucket)
    eventually(lambda: len(store.list_names("source=webhook/")) >= 1, what="archive objects")
    eventually(lambda: sum(1 for _ in _records(store)) == len(DELIVERIES), what="all archived")
    # Past days' windows follow the writer within seconds (the worker's window maintainer).
    eventually(lambda: query(db.writer_dsn, "SELECT count(*) FROM metric_windows_pending")[0][0] == 0,
               timeout=60, what="every window settled")
    original = warehouse_dump(db.writer_dsn)
    objects_before = store.list_names("source=")
    today = datetime.now(UTC).date().isoformat()

    # 1. Into an empty warehouse, through a topic and consumer group of its own.
    empty = new_database(services)
    try:
        topic2 = f"replay.{uuid.uuid4().hex[:8]}"
        ensure_topic(services.kafka.bootstrap, topic2, 3, 1)
        env2 = dict(pipeline.env, PILLARSTREAM_RAW_TOPIC=topic2, PILLARSTREAM_DATABASE_URL=empty.writer_dsn,
                    PILLARSTREAM_CONSUMER_GROUP_PREFIX=f"replay-{uuid.uuid4().hex[:6]}")
        replayed = run_cli(env2, "replay", "--from", today, "--to", today)
        assert replayed.returncode == 0, replayed.stderr
        assert f"{len(objects_before)}/{len(objects_before)} objects, {len(DELIVERIES)} records" in replayed.stderr
        worker_env = dict(env2)
        from devstack.stack import spawn_worker

        rebuild = spawn_worker(worker_env, "warehouse", Path(pipeline.root) / "rebuild.log")
        try:
            eventually(lambda: count(empty.writer_dsn) == len(DELIVERIES), timeout=60, what="rebuilt warehouse")
            eventually(lambda: warehouse_dump(empty.writer_dsn) == original, timeout=30, what="identical tables")
        finally:
            rebuild.stop()
        sources = {r[0] for r in query(empty.writer_dsn, "SELECT DISTINCT source FROM deliveries")}
        assert sources == {"webhook"}  # where each delivery first came from, not how it was rebuilt
    finally:
        drop_database(services, empty)

    # 2. Into the full warehouse it came from: nothing changes, and the archive does not grow.
    again = run_cli(pipeline.env, "replay", "--from", today, "--to", today, "--event", "push", "--processes", "1")
    assert again.returncode == 0, again.stderr
    assert "2 records" in again.stderr
    verify = run_cli(pipeline.env, "replay", "--from", today, "--to", today, "--verify")
    assert verify.returncode == 0 and "only in the archive: 0" in verify.stdout, verify.stdout
    pipeline.post("push", fixture_bytes("webhooks/push/payload.json"))  # a marker behind the replayed records
    eventually(lambda: count(db.writer_dsn) == len(DELIVERIES) + 1, what="marker delivery")
    after = warehouse_dump(db.writer_dsn)
    after["deliveries"] = [row for row in after["deliveries"] if row in original["deliveries"]]
    assert {t: rows for t, rows in after.items() if t != "deliveries"}.keys() == original.keys() - {"deliveries"}
    assert after["deliveries"] == original["deliveries"]


def _records(store):
    from stream_processors.archiver import read_object

    for name in store.list_names("source="):
        yield from read_object(store, name)
