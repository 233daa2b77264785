"""The warehouse sink: one Postgres transaction per batch, every statement idempotent."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import psycopg2
from psycopg2.extras import execute_values

from pillarstream.errors import WarehouseError
from stream_processors.archiver import Consumed

log = logging.getLogger(__name__)

_INSERT_DELIVERIES = """
    INSERT INTO deliveries (delivery_id, event, action, source, received_at, org, repo_id, repo_full_name,
                            hook_id, payload_bytes, kafka_partition, kafka_offset)
    VALUES %s
    ON CONFLICT (delivery_id) DO NOTHING
"""


def write_batch(cur: psycopg2.extensions.cursor, records: Sequence[Consumed]) -> None:
    """Everything one batch changes, inside the caller's transaction."""
    rows = {}
    for r in records:  # a batch may hold the same delivery twice (redelivery); keep the first
        e = r.envelope
        rows.setdefault(e.delivery_id, (
            e.delivery_id, e.event, e.action, e.source, e.received_at, e.org, e.repo_id, e.repo_full_name,
            e.hook_id, len(e.payload), r.partition, r.offset))
    execute_values(cur, _INSERT_DELIVERIES, list(rows.values()), page_size=1000)


class PostgresSink:
    """Holds one connection; a lost connection is dropped and reopened on the next batch."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: psycopg2.extensions.connection | None = None

    def write(self, records: Sequence[Consumed]) -> None:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg2.connect(self._dsn, connect_timeout=5)
            with self._conn, self._conn.cursor() as cur:
                write_batch(cur, records)
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            self.close()
            raise WarehouseError(f"Postgres unavailable: {str(exc).strip()}") from exc
        except psycopg2.Error as exc:
            error = WarehouseError(f"Postgres refused the batch: {str(exc).strip()}")
            error.retriable = False
            raise error from exc

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
