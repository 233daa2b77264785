"""Faust workers against real Kafka, Postgres and the GCS emulator: exact after crashes and rebalances."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.archive_store import open_store
from adapters.kafka_publisher import KafkaPublisher
from devstack.postgres import ADMIN, WRITER, PostgresServer
from devstack.process import free_port
from pillarstream.envelope import from_archive_line, from_payload
from stream_processors.archiver import read_object
from stream_processors.migrations import migrate
from tests.conftest import REPO
from tests.harness import eventually, query

pytestmark = pytest.mark.integration


def envelopes(count: int, repos: int = 9):
    """Deliveries of an event type the metrics ignore, spread over repositories (so over partitions)."""
    now = datetime.now(UTC)
    for i in range(count):
        repo = i % repos
        body = json.dumps({"action": "created", "repository": {"id": 1000 + repo, "full_name": f"org/r{repo}",
                                                               "owner": {"login": "org"}}, "n": i}).encode()
        yield from_payload(delivery_id=str(uuid.uuid4()), event="star", payload=body, parsed=json.loads(body),
                           source="webhook", received_at=now)


def publish(pipeline, sent: list, count: int) -> None:
    publisher = KafkaPublisher(pipeline.env["PILLARSTREAM_KAFKA_BOOTSTRAP"], pipeline.env["PILLARSTREAM_RAW_TOPIC"])
    batch = list(envelopes(count))
    publisher.publish_many(batch)
    publisher.close()
    sent.extend(e.delivery_id for e in batch)


def delivery_count(dsn: str) -> int:
    return int(query(dsn, "SELECT count(*) FROM deliveries")[0][0])


def archived_ids(archive_url: str) -> list[str]:
    store = open_store(archive_url)
    return [from_archive_line(line).delivery_id for name in store.list_names("source=")
            for line in read_object(store, name)]


def _stat(pid: int) -> list[str] | None:
    """State and parent of a process from /proc (the fields after the command name), or None if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def children_of(pid: int) -> list[int]:
    return [int(p.name) for p in Path("/proc").glob("[0-9]*") if (_stat(int(p.name)) or ["", ""])[1] == str(pid)]


def running(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"  # a killed child may linger as a zombie until reaped


def test_kill_9_mid_stream_loses_and_doubles_nothing(pipeline, db, gcs_bucket):
    sent: list[str] = []
    publish(pipeline, sent, 3000)
    archiver = pipeline.start_worker("archiver")
    warehouse = pipeline.start_worker("warehouse")
    eventually(lambda: delivery_count(db.writer_dsn) >= 300, timeout=90, what="first batches")
    normaliser = children_of(warehouse.pid)
    assert normaliser, "the warehouse worker runs its normalising process"
    archiver.kill()
    warehouse.kill()
    eventually(lambda: not any(running(pid) for pid in normaliser), timeout=10,
               what="the normalising process to die with its worker")
    mid_rows = delivery_count(db.writer_dsn)
    publish(pipeline, sent, 1000)

    pipeline.start_worker("archiver", name="archiver-2")
    pipeline.start_worker("warehouse", name="warehouse-2")
    eventually(lambda: delivery_count(db.writer_dsn) == len(sent), timeout=120, what="all deliveries")
    eventually(lambda: len(archived_ids(gcs_bucket)) >= len(sent), timeout=120, what="all archived")

    assert 0 < mid_rows < len(sent)
    rows = {r[0] for r in query(db.writer_dsn, "SELECT delivery_id FROM deliveries")}
    assert rows == set(sent)
    archived = archived_ids(gcs_bucket)
    assert sorted(archived) == sorted(sent)  # each record exactly once across all objects


def latest_assignment(pipeline, name: str) -> set[int]:
    """Partitions of the test's topic in the worker's latest assignment, from its log."""
    topic = pipeline.env["PILLARSTREAM_RAW_TOPIC"]
    lines = [line for line in (pipeline.root / f"worker-{name}.log").read_text().splitlines()
             if "newly assigned partitions" in line]
    if not lines:
        return set()
    return {int(p) for p in re.findall(rf"topic='{re.escape(topic)}', partition=(\d+)", lines[-1])}


def test_two_workers_share_partitions_and_hand_over(pipeline, db):
    sent: list[str] = []
    first = pipeline.start_worker("warehouse", name="wh-a")
    pipeline.start_worker("warehouse", name="wh-b")
    def split() -> tuple[set[int], set[int]] | None:
        a, b = latest_assignment(pipeline, "wh-a"), latest_assignment(pipeline, "wh-b")
        return (a, b) if a and b and not a & b and a | b == {0, 1, 2} else None

    shares = eventually(split, timeout=90, what="both workers assigned")
    publish(pipeline, sent, 2000)
    eventually(lambda: delivery_count(db.writer_dsn) == len(sent), timeout=120, what="first wave")
    first.stop()  # its partitions move to the other worker
    publish(pipeline, sent, 2000)
    eventually(lambda: delivery_count(db.writer_dsn) == len(sent), timeout=120, what="second wave")
    assert {r[0] for r in query(db.writer_dsn, "SELECT delivery_id FROM deliveries")} == set(sent)
    assert all(shares), f"each worker held partitions: {shares}"
    assert latest_assignment(pipeline, "wh-b") == {0, 1, 2}
    partitions = {r[0] for r in query(db.writer_dsn, "SELECT DISTINCT kafka_partition FROM deliveries")}
    assert partitions == {0, 1, 2}


def test_postgres_restart_under_load(pipeline, services):
    """The warehouse worker waits for Postgres to come back and resumes with nothing lost or doubled."""
    root = REPO / ".local" / f"pg-restart-{uuid.uuid4().hex[:8]}"
    server = PostgresServer(root, free_port(), durable=False)
    server.start()
    try:
        migrate(server.dsn(ADMIN))
        pipeline.env["PILLARSTREAM_DATABASE_URL"] = server.dsn(WRITER)
        sent: list[str] = []
        pipeline.start_worker("warehouse")
        publish(pipeline, sent, 1500)
        eventually(lambda: delivery_count(server.dsn(WRITER)) > 0, timeout=90, what="first rows")
        server.stop()
        publish(pipeline, sent, 1500)  # arrives while the database is down
        server.start()
        eventually(lambda: delivery_count(server.dsn(WRITER)) == len(sent), timeout=120, what="all rows")
        rows = query(server.dsn(WRITER), "SELECT count(DISTINCT delivery_id), count(*) FROM deliveries")
        assert rows == [(len(sent), len(sent))]
        assert query(server.dsn(WRITER), "SELECT count(*) FROM dead_letters") == [(0,)]  # an outage is no dead letter
        assert "sink write failed, retrying" in (pipeline.root / "worker-warehouse.log").read_text()
    finally:
        pipeline.stop()
        server.stop()
        server.remove()  # a cluster relocated for root lives outside root
        shutil.rmtree(root, ignore_errors=True)
