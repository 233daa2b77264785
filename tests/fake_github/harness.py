"""Helpers for backfill integration tests: run ``python -m launcher.backfill`` against the fake, read what it
published from Kafka, and load it into a warehouse database with the warehouse worker's own batch writer."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg2

from adapters.kafka_publisher import KafkaPublisher
from devstack.process import Child
from devstack.stack import child_env
from pillarstream.envelope import Envelope, from_payload, from_record
from stream_processors.archiver import Consumed
from stream_processors.warehouse import write_batch
from tests.fake_github.server import FakeGitHub
from tests.harness import query

TOKEN = "test-token"


def backfill_env(*, bootstrap: str, topic: str, dsn: str, archive_url: str, fake: FakeGitHub,
                 token: str = TOKEN, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = child_env(kafka_bootstrap=bootstrap, raw_topic=topic, topic_partitions="3", database_url=dsn,
                    archive_url=archive_url, github_api_url=fake.url, github_token=token, log_format="text")
    env.update(extra or {})
    return env


def start_backfill(env: dict[str, str], args: Sequence[str], log: Path) -> Child:
    # No rate cap: the fake has no secondary limit to respect, and tests should be quick.
    return Child("backfill", [sys.executable, "-m", "launcher.backfill", "--progress", "lines", "--max-rate", "0",
                              *args],
                 log, env=env)


def run_backfill(env: dict[str, str], args: Sequence[str], log: Path, *, timeout: float = 120.0) -> int:
    child = start_backfill(env, args, log)
    deadline = time.monotonic() + timeout
    while child.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if child.alive():
        child.kill()
        raise AssertionError(f"backfill did not finish in {timeout}s:\n{child.tail()}")
    code = int(child.proc.returncode)
    child.stop()
    return code


def drain(bootstrap: str, topic: str, *, idle_s: float = 1.5, timeout: float = 60.0) -> list[Consumed]:
    """Every record of the topic from the beginning, stopping once nothing new came for ``idle_s``."""
    from kafka import KafkaConsumer

    # A fetch answer holds up to 1 MiB per partition plus framing: above kafka-python's 1,000,000-byte
    # default frame limit once a partition has that much.
    consumer = KafkaConsumer(topic, bootstrap_servers=[bootstrap], auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=int(idle_s * 1000),
                             receive_message_max_bytes=64 * 2**20)
    found: list[Consumed] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            before = len(found)
            found += [Consumed(r.topic, r.partition, r.offset, from_record(r.value, r.headers))
                      for r in consumer]
            if len(found) == before and consumer.assignment():
                break
    finally:
        consumer.close()
    return sorted(found, key=lambda c: (c.partition, c.offset))


def load(dsn: str, records: Sequence[Consumed], batch: int = 200) -> None:
    """Into the warehouse, in batches, one transaction each -- what the warehouse worker does."""
    conn = psycopg2.connect(dsn)
    try:
        for start in range(0, len(records), batch):
            with conn, conn.cursor() as cur:
                write_batch(cur, records[start:start + batch])
    finally:
        conn.close()


def webhook_envelopes(deliveries: Sequence[tuple[str, str, bytes]],
                      sent_at: dict[str, datetime]) -> list[Envelope]:
    return [from_payload(delivery_id=delivery_id, event=event, payload=body, parsed=json.loads(body),
                         source="webhook", received_at=sent_at[delivery_id],
                         headers={"X-GitHub-Event": event, "X-GitHub-Delivery": delivery_id})
            for event, delivery_id, body in deliveries]


def publish(bootstrap: str, topic: str, envelopes: Sequence[Envelope]) -> None:
    publisher = KafkaPublisher(bootstrap, topic, timeout_s=30)
    try:
        publisher.publish_many(envelopes)
    finally:
        publisher.close()


def metric_buckets(dsn: str) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """Every metric bucket: (repo, day, metric, org) → (value, numerator, denominator, samples, members)."""
    rows = query(dsn, """SELECT repo_id, day, metric, org, value, numerator, denominator, samples, members
                         FROM metric_buckets""")
    return {tuple(r[:4]): tuple(r[4:]) for r in rows}


def pillar_metrics(dsn: str) -> dict[tuple[Any, ...], float]:
    rows = query(dsn, "SELECT day, org, repo, metric, window_days, value FROM reporting.pillar_metrics")
    return {tuple(r[:5]): float(r[5]) for r in rows}  # type: ignore[arg-type]


def repeated_requests(served: Sequence[Any]) -> list[str]:
    """Requests that spent budget for something already fetched and answered 200 before (a repeat)."""
    seen: set[str] = set()
    repeats = []
    for s in served:
        if not s.counted:
            continue
        if s.key in seen:
            repeats.append(s.key)
        if s.status == 200:
            seen.add(s.key)
    return repeats


class ListPublisher:
    """Collects envelopes instead of sending them (for in-process runs)."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    def publish(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def publish_many(self, envelopes: Any) -> int:
        batch = list(envelopes)
        self.envelopes += batch
        return len(batch)

    def ready(self) -> bool:
        return True

    def close(self) -> None:
        pass


def backfill_in_process(fake: FakeGitHub, archive_root: Path, *, owner: str = "acme", kind: str = "org",
                        resources: Sequence[str] | None = None, cursors: Any = None,
                        pool: Any = None, graphql: bool = True) -> list[Envelope]:
    """A whole backfill in this process (memory cursors, file archive): the baseline a test compares to.
    Pass the same ``cursors`` (a MemoryCursorStore) to several calls for a run and its re-runs, and a
    ``pool`` (TokenPool) for other credentials or to read the budget afterwards."""
    from adapters.archive_store import FileStore
    from backfill.archive import PageArchive
    from backfill.cursors import MemoryCursorStore
    from backfill.github_api import GitHubApi, Stats
    from backfill.progress import Progress
    from backfill.ratelimit import TokenPool
    from backfill.resources import select
    from backfill.runner import Options
    from backfill.runner import run_backfill as run

    stats = Stats()
    pool = pool or TokenPool([fake.tokens[0]], reserve=0)
    publisher = ListPublisher()
    run(Options(owner, "user" if kind == "user" else "org", select(resources), graphql=graphql),
        api=GitHubApi(fake.url, pool, stats=stats),
        archive=PageArchive(FileStore(archive_root)), publisher=publisher,
        cursors=MemoryCursorStore() if cursors is None else cursors,
        progress=Progress(stats, pool, mode="none"))
    return publisher.envelopes
