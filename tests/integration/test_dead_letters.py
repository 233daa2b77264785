"""Dead letters against real Kafka and Postgres: a poison record is set aside and the rest written, the
offsets move on, `deadletters retry` lands a fixed record once, and an outage is never a dead letter."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import psycopg2
import pytest
from hypothesis import HealthCheck, given, settings

from adapters.kafka_publisher import KafkaPublisher
from adapters.postgres_errors import classify
from devstack.process import free_port
from pillarstream.config import PillarConfig
from pillarstream.envelope import Envelope, to_record
from stream_processors.archiver import Consumed, RawRecord
from stream_processors.group_writer import GroupWriter
from stream_processors.isolation import write_isolating
from stream_processors.warehouse import PostgresSink, PreparedBatch, prepare, prepare_raw
from tests.harness import eventually, fixture_bytes, query
from tests.hostile import enveloped, hostile_deliveries

pytestmark = pytest.mark.integration
CONFIG = PillarConfig()
PUSH = json.loads(fixture_bytes("webhooks/push/payload.json"))
LONG_REF = "refs/heads/" + os.urandom(6000).hex()  # passes the checks; too big for the pushes index (Postgres 54000)


def push(n: int, **repository: object) -> Envelope:
    body = json.loads(json.dumps(PUSH))
    body["after"] = f"{n:040x}"
    body["repository"].update(repository)
    if "ref" in repository:
        body["ref"] = body["repository"].pop("ref")
    payload = json.dumps(body).encode()
    envelope = enveloped(str(uuid.uuid4()), "push", payload, received_at=datetime.now(UTC))
    assert envelope is not None
    return envelope


def raw(envelopes: Sequence[Envelope]) -> list[RawRecord]:
    return [("t", 0, offset, value, headers)
            for offset, (_, value, headers) in enumerate(to_record(e) for e in envelopes)]


def execute(dsn: str, statement: str, params: tuple[object, ...] = ()) -> None:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement, params)
    finally:
        conn.close()


def ids_in(dsn: str, table: str) -> set[str]:
    return {row[0] for row in query(dsn, f"SELECT delivery_id FROM {table}")}  # noqa: S608 - fixed names


# --- classification -------------------------------------------------------------------------------

def _error_of(dsn: str, statement: str) -> psycopg2.Error:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement)
    except psycopg2.Error as exc:
        return exc
    finally:
        conn.close()
    raise AssertionError(f"{statement} did not fail")


def test_postgres_failures_are_told_apart(db):
    assert classify(_error_of(db.writer_dsn, "SELECT '9223372036854775808'::bigint")) == "data"
    assert classify(_error_of(db.writer_dsn, "SELECT '[\"\\u0000\"]'::jsonb ->> 0")) == "data"
    assert classify(_error_of(db.writer_dsn, "SELECT * FROM no_such_table")) == "fatal"
    assert classify(_error_of(db.writer_dsn, "DROP TABLE deliveries")) == "fatal"  # a grant, not the data
    assert classify(_error_of(db.writer_dsn, "SELECT pg_terminate_backend(pg_backend_pid())")) == "transient"
    with pytest.raises(psycopg2.OperationalError) as refused:
        psycopg2.connect(f"postgresql://x@127.0.0.1:{free_port()}/x", connect_timeout=2)
    assert classify(refused.value) == "transient"


# --- the writer -----------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(hostile_deliveries())
def test_hostile_records_are_written_or_dead_lettered_never_a_failed_batch(db, envelope):
    envelope = Envelope(**{**{f: getattr(envelope, f) for f in Envelope.__dataclass_fields__},
                           "delivery_id": str(uuid.uuid4())})
    sink = PostgresSink(db.writer_dsn)
    try:
        sink.write_prepared([prepare([Consumed("t", 0, 0, envelope)], CONFIG)])  # raises if Postgres refuses
    finally:
        sink.close()
    landed = query(db.writer_dsn, """SELECT (SELECT count(*) FROM deliveries WHERE delivery_id = %s),
                                            (SELECT count(*) FROM dead_letters WHERE delivery_id = %s)""",
                   (envelope.delivery_id, envelope.delivery_id))
    assert landed in ([(1, 0)], [(0, 1)])


def test_a_record_postgres_refuses_is_isolated_and_the_rest_of_the_batch_written(db):
    valid = [push(n) for n in range(40)]
    poison = push(99, ref=LONG_REF)
    records = raw(valid[:17] + [poison] + valid[17:])
    sink = PostgresSink(db.writer_dsn)

    async def prepare_batch(batch: Sequence[RawRecord]) -> PreparedBatch:
        return prepare_raw(batch, CONFIG)

    async def write(batches: list[PreparedBatch]) -> None:
        await asyncio.to_thread(sink.write_prepared, batches)

    writer = GroupWriter(write)

    async def submit(batch: PreparedBatch, alone: bool) -> None:
        await writer.submit(batch, alone=alone)

    try:
        asyncio.run(write_isolating(records, prepare_batch, submit))
    finally:
        sink.close()
    assert ids_in(db.writer_dsn, "deliveries") == {e.delivery_id for e in valid}
    assert query(db.writer_dsn, "SELECT count(*) FROM pushes") == [(40,)]
    [(delivery_id, event, error, offset)] = query(
        db.writer_dsn, "SELECT delivery_id, event, error, kafka_offset FROM dead_letters")
    assert (delivery_id, event, offset) == (poison.delivery_id, "push", 17)
    assert "index row" in error


# --- the worker -----------------------------------------------------------------------------------

def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "launcher", "deadletters", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_poison_records_mid_batch_are_dead_lettered_and_retry_lands_a_fixed_one_once(pipeline, db):
    valid = [push(n) for n in range(40)]
    late_timestamp, huge_id, long_ref = push(100, pushed_at=1e300), push(101, id=2**63), push(102, ref=LONG_REF)
    poison = [late_timestamp, huge_id, long_ref]
    stream = valid[:10] + [late_timestamp] + valid[10:20] + [huge_id] + valid[20:30] + [long_ref] + valid[30:]
    publisher = KafkaPublisher(pipeline.env["PILLARSTREAM_KAFKA_BOOTSTRAP"], pipeline.env["PILLARSTREAM_RAW_TOPIC"])
    try:
        publisher.publish_many(stream)
        worker = pipeline.start_worker("warehouse")
        eventually(lambda: len(ids_in(db.writer_dsn, "deliveries")) == 40
                   and len(ids_in(db.writer_dsn, "dead_letters")) == 3, timeout=120, what="valid rows and dead letters")
        assert ids_in(db.writer_dsn, "deliveries") == {e.delivery_id for e in valid}
        reasons = dict(query(db.writer_dsn, "SELECT delivery_id, error FROM dead_letters"))
        assert "pushed_at" in reasons[late_timestamp.delivery_id]
        assert "bigint" in reasons[huge_id.delivery_id]
        assert "index row" in reasons[long_ref.delivery_id]
        log = (pipeline.root / "worker-warehouse.log").read_text()
        assert all("record dead-lettered" in log and p.delivery_id in log for p in poison)
        assert PUSH["repository"]["full_name"] not in log.split("record dead-lettered", 1)[1].split("\n", 1)[0]
        worker.stop()

        # The offsets moved on: a restarted worker does not see the poison again.
        extra = push(200)
        publisher.publish_many([extra])
        pipeline.start_worker("warehouse", name="warehouse-2")
        eventually(lambda: extra.delivery_id in ids_in(db.writer_dsn, "deliveries"), timeout=120, what="one more")
    finally:
        publisher.close()
    assert query(db.writer_dsn, "SELECT DISTINCT attempts FROM dead_letters") == [(1,)]
    assert worker.proc.returncode == 0

    listed = cli(pipeline.env, "list")
    assert listed.returncode == 0 and all(p.delivery_id in listed.stdout for p in poison), listed.stderr
    shown = json.loads(cli(pipeline.env, "show", late_timestamp.delivery_id).stdout)
    assert json.loads(shown["payload"])["repository"]["pushed_at"] == 1e300

    # An operator corrects the payload; retry lands it, once, and a second retry changes nothing.
    fixed = json.loads(late_timestamp.payload)
    fixed["repository"]["pushed_at"] = 1_700_000_000
    execute(db.admin_dsn, "UPDATE dead_letters SET payload = %s WHERE delivery_id = %s",
          (json.dumps(fixed).encode(), late_timestamp.delivery_id))
    first = cli(pipeline.env, "retry", late_timestamp.delivery_id)
    again = cli(pipeline.env, "retry", late_timestamp.delivery_id)
    unfixed = cli(pipeline.env, "retry", huge_id.delivery_id)

    assert (first.returncode, first.stdout.strip()) == (0, f"{late_timestamp.delivery_id}: written"), first.stderr
    assert (again.returncode, again.stdout.strip()) == (0, f"{late_timestamp.delivery_id}: already resolved")
    assert unfixed.returncode == 1 and "still failing" in unfixed.stdout and "bigint" in unfixed.stdout
    assert query(db.writer_dsn, "SELECT count(*) FROM deliveries WHERE delivery_id = %s",
                 (late_timestamp.delivery_id,)) == [(1,)]
    assert query(db.writer_dsn, "SELECT count(*) FROM pushes WHERE after_sha = %s", (f"{100:040x}",)) == [(1,)]
    assert late_timestamp.delivery_id not in cli(pipeline.env, "list").stdout
    assert query(db.reader_dsn, "SELECT count(*) FROM reporting.dead_letters WHERE resolved_at IS NULL") == [(2,)]


def test_a_write_retrying_cannot_fix_stops_the_worker_process_and_loses_nothing(pipeline, db):
    execute(db.admin_dsn, "REVOKE INSERT ON deliveries FROM pillarstream_writer")
    sent = [push(n) for n in range(30)]
    publisher = KafkaPublisher(pipeline.env["PILLARSTREAM_KAFKA_BOOTSTRAP"], pipeline.env["PILLARSTREAM_RAW_TOPIC"])
    try:
        publisher.publish_many(sent)
    finally:
        publisher.close()
    worker = pipeline.start_worker("warehouse")
    eventually(lambda: not worker.alive(), timeout=90, what="the worker to exit")
    assert worker.proc.returncode == 3
    assert "stopping the worker" in (pipeline.root / "worker-warehouse.log").read_text()
    assert query(db.writer_dsn, "SELECT count(*) FROM dead_letters") == [(0,)]  # a grant is not the data's fault

    execute(db.admin_dsn, "GRANT INSERT ON deliveries TO pillarstream_writer")
    pipeline.start_worker("warehouse", name="warehouse-2")
    eventually(lambda: ids_in(db.writer_dsn, "deliveries") == {e.delivery_id for e in sent}, timeout=120,
               what="everything after the fix")
