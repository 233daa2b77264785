"""Test helpers shared by integration and end-to-end tests: real processes, signed posts, polling."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import psycopg2
import requests

from devstack.process import Child, free_port, wait_until
from devstack.stack import child_env, http_ok, spawn_receiver, spawn_worker
from pillarstream.signature import sign

FIXTURES = Path(__file__).parent / "fixtures"
T = TypeVar("T")


def fixture_bytes(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes()


def eventually(probe: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.2,
               what: str = "condition") -> T:
    """Poll until ``probe`` returns something truthy; returns it. Fails the test on timeout."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value {last!r}")


def signed_headers(secret: str, body: bytes, event: str, delivery_id: str | None = None,
                   content_type: str = "application/json") -> dict[str, str]:
    return {
        "Content-Type": content_type,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "292430182",
        "X-Hub-Signature-256": sign(secret, body),
        "User-Agent": "GitHub-Hookshot/test",
    }


def query(dsn: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    conn.close()
    return rows


@dataclass
class Pipeline:
    """A receiver and/or workers as real subprocesses, configured like `pillarstream up` does."""

    root: Path
    env: dict[str, str]
    secret: str
    port: int = 0
    children: dict[str, Child] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_receiver(self, workers: int = 1, threads: int = 8) -> None:
        self.port = free_port()
        child = spawn_receiver(self.env, self.port, self.root / "receiver.log", workers=workers, threads=threads)
        self.children["receiver"] = child
        wait_until(lambda: http_ok(f"{self.url}/healthz"), timeout=30, what="receiver /healthz", child=child)

    def start_worker(self, role: str, name: str | None = None) -> Child:
        name = name or role
        child = spawn_worker(self.env, role, self.root / f"worker-{name}.log")
        self.children[name] = child
        return child

    def post(self, event: str, body: bytes, delivery_id: str | None = None, **kw: object) -> requests.Response:
        headers = signed_headers(self.secret, body, event, delivery_id)
        return requests.post(f"{self.url}/webhooks/github", data=body, headers=headers, timeout=15, **kw)

    def stop(self) -> None:
        for child in reversed(list(self.children.values())):
            child.stop()
        self.children.clear()


def pipeline_env(*, bootstrap: str, topic: str, dsn: str, archive_url: str, secret_file: Path,
                 group: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = child_env(kafka_bootstrap=bootstrap, raw_topic=topic, database_url=dsn, archive_url=archive_url,
                    webhook_secret_file=str(secret_file), consumer_group_prefix=group, topic_partitions="3",
                    log_format="text", worker_batch_seconds="0.2")
    env.update(extra or {})
    return env


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 20.0) -> list[object]:
    """All records of a topic (from the beginning) once ``expected`` have arrived, as kafka-python gives them."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=[bootstrap], auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=500)
    records: list[object] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            records.extend(consumer)
    finally:
        consumer.close()
    return records


def warehouse_dump(dsn: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every warehouse table, sorted, without bookkeeping columns that say *when* or *from where
    in Kafka* a row was written (defaults of now(), Kafka coordinates): what must be equal after any replay."""
    tables = query(dsn, """SELECT table_name FROM information_schema.tables
                           WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
                             AND table_name NOT IN ('schema_migrations') ORDER BY 1""")
    dump = {}
    for (table,) in tables:
        columns = [c for (c,) in query(dsn, """
            SELECT column_name FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name = %s
              AND coalesce(column_default, '') NOT LIKE '%%now()%%'
              AND column_name NOT IN ('kafka_partition', 'kafka_offset')
            ORDER BY ordinal_position""", (table,))]
        select = ", ".join(f'"{c}"::text' for c in columns)
        dump[str(table)] = sorted(query(dsn, f'SELECT {select} FROM public."{table}"'),  # noqa: S608
                                  key=lambda row: tuple("" if v is None else str(v) for v in row))
    return dump
