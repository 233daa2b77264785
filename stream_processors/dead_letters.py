"""Dead letters: the records the warehouse left out, how they are reported, and how they are retried.

The worker stores a dead letter in the same transaction as the rest of its batch (``warehouse.py``), and
only then counts and logs it (delivery id, event, reason; never the payload). ``pillarstream deadletters``
lists and shows them, and ``retry`` takes them back through the same prepare-and-write path as the
worker, directly into Postgres: the record is decoded from the stored Kafka record, normalised with the
code and configuration deployed now, and written in one transaction with the dead letter's resolution.
So a retry after a fix lands the record once; a second retry finds it resolved; a retry that fails
again leaves the dead letter open with the new reason.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg2
from prometheus_client import Counter

from adapters.postgres import connect
from adapters.postgres_errors import warehouse_error
from pillarstream.config import PillarConfig
from pillarstream.envelope import ENVELOPE_HEADER
from pillarstream.normalise import HANDLED_EVENTS
from stream_processors.warehouse import PreparedBatch, prepare_raw, write_prepared

log = logging.getLogger(__name__)
DEAD_LETTERS = Counter("pillarstream_dead_letters", "Records the warehouse left out and stored as dead letters",
                       ["event"])


def report(batches: Sequence[PreparedBatch]) -> None:
    """Count and log the dead letters of batches just committed."""
    for batch in batches:
        for letter in batch.dead_letters:
            # Events outside the handled set share one label: the event name comes from the sender.
            DEAD_LETTERS.labels(letter.event if letter.event in HANDLED_EVENTS else "other").inc()
            log.warning("record dead-lettered", extra={
                "delivery_id": letter.delivery_id, "event": letter.event, "reason": letter.error})


@dataclass(frozen=True, slots=True)
class Letter:
    delivery_id: str
    event: str | None
    error: str
    first_seen: datetime
    last_seen: datetime
    attempts: int
    resolved_at: datetime | None
    kafka: str  # topic/partition@offset the record was read from
    envelope: bytes = b""
    payload: bytes = b""


_COLUMNS = """delivery_id, event, error, first_seen, last_seen, attempts, resolved_at,
              kafka_topic || '/' || kafka_partition || '@' || kafka_offset"""


def list_letters(dsn: str, *, include_resolved: bool = False, limit: int = 100) -> list[Letter]:
    conn = connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(f"""SELECT {_COLUMNS} FROM dead_letters
                            WHERE %s OR resolved_at IS NULL ORDER BY first_seen, delivery_id LIMIT %s""",
                        (include_resolved, limit))
            return [Letter(*row) for row in cur.fetchall()]
    except psycopg2.Error as exc:
        raise warehouse_error(exc) from exc
    finally:
        conn.close()


def show_letter(dsn: str, delivery_id: str) -> Letter | None:
    conn = connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(f"SELECT {_COLUMNS}, envelope, payload FROM dead_letters WHERE delivery_id = %s",
                        (delivery_id,))
            row = cur.fetchone()
            if row is None:
                return None
            (delivery_id, event, error, first_seen, last_seen, attempts, resolved_at, kafka, envelope,
             payload) = row
            return Letter(delivery_id, event, error, first_seen, last_seen, attempts, resolved_at, kafka,
                          bytes(envelope), bytes(payload))
    except psycopg2.Error as exc:
        raise warehouse_error(exc) from exc
    finally:
        conn.close()


@dataclass(frozen=True, slots=True)
class RetryOutcome:
    delivery_id: str
    outcome: str  # "written", "still failing", "already resolved", "not found"
    reason: str = ""


def retry(dsn: str, delivery_ids: Sequence[str], config: PillarConfig) -> list[RetryOutcome]:
    """Each dead letter written to the warehouse and resolved in one transaction, or left open with the
    reason it still fails. Idempotent: a resolved dead letter is not written again."""
    conn = connect(dsn)
    try:
        return [_retry_one(conn, delivery_id, config) for delivery_id in delivery_ids]
    finally:
        conn.close()


def open_ids(dsn: str) -> list[str]:
    return [letter.delivery_id for letter in list_letters(dsn, limit=1_000_000)]


def _retry_one(conn: psycopg2.extensions.connection, delivery_id: str, config: PillarConfig) -> RetryOutcome:
    try:
        with conn, conn.cursor() as cur:
            # FOR UPDATE: two retries of the same dead letter run one after the other, the second finds it resolved.
            cur.execute("""SELECT kafka_topic, kafka_partition, kafka_offset, payload, envelope, resolved_at
                           FROM dead_letters WHERE delivery_id = %s FOR UPDATE""", (delivery_id,))
            row = cur.fetchone()
            if row is None:
                return RetryOutcome(delivery_id, "not found")
            topic, partition, offset, payload, envelope, resolved_at = row
            if resolved_at is not None:
                return RetryOutcome(delivery_id, "already resolved")
            batch = prepare_raw([(topic, partition, offset, bytes(payload), [(ENVELOPE_HEADER, bytes(envelope))])],
                                config)
            if batch.dead_letters:
                reason = batch.dead_letters[0].error
                cur.execute("""UPDATE dead_letters SET error = %s, last_seen = now(), attempts = attempts + 1
                               WHERE delivery_id = %s""", (reason, delivery_id))
                return RetryOutcome(delivery_id, "still failing", reason)
            write_prepared(cur, [batch])
            cur.execute("UPDATE dead_letters SET resolved_at = now() WHERE delivery_id = %s", (delivery_id,))
            return RetryOutcome(delivery_id, "written")
    except psycopg2.Error as exc:
        error = warehouse_error(exc)
        if error.retriable:
            raise error from exc
        # Postgres refused the record itself (or the write): the dead letter stays open with the reason.
        _note_failure(conn, delivery_id, str(error))
        return RetryOutcome(delivery_id, "still failing", str(error))


def _note_failure(conn: psycopg2.extensions.connection, delivery_id: str, reason: str) -> None:
    try:
        with conn, conn.cursor() as cur:
            cur.execute("""UPDATE dead_letters SET error = %s, last_seen = now(), attempts = attempts + 1
                           WHERE delivery_id = %s""", (reason[:1000], delivery_id))
    except psycopg2.Error as exc:
        raise warehouse_error(exc) from exc

