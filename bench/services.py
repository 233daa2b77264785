"""Kafka and Postgres of a benchmark's own, on free ports, under .local; removed afterwards."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from adapters.kafka_publisher import KafkaPublisher, ensure_topic
from devstack.postgres import ADMIN, WRITER, PostgresServer
from devstack.process import free_port, wait_until
from devstack.stack import LocalServices, child_env, http_ok, spawn_receiver, spawn_worker
from pillarstream.envelope import Envelope, from_payload
from stream_processors.archiver import Consumed
from stream_processors.migrations import migrate
from tests.history import Delivery

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def bench_services(name: str, **options: Any) -> Iterator[tuple[Path, LocalServices]]:
    root = REPO / ".local" / f"{name}-{uuid.uuid4().hex[:8]}"
    services = LocalServices(root, kafka_port=free_port(), controller_port=free_port(), pg_port=free_port(),
                             **options)
    try:
        services.start()
        yield root, services
    finally:
        services.stop()
        services.remove()


def keep_logs(root: Path, name: str) -> Path:
    """Copy the services' and workers' logs out of ``root`` (removed with the services) for a look after."""
    kept = REPO / ".local" / "bench-logs" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    kept.mkdir(parents=True, exist_ok=True)
    for log in root.glob("*.log"):
        shutil.copy(log, kept)
    return kept


@contextmanager
def scratch_warehouse() -> Iterator[PostgresServer]:
    """A throwaway Postgres of its own, migrated, for benches that call the writer directly; removed after."""
    root = REPO / ".local" / f"explain-{uuid.uuid4().hex[:6]}"
    pg = PostgresServer(root / "pg", free_port(), durable=False)
    pg.start()
    try:
        migrate(pg.dsn(ADMIN))
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def live_pipeline(services: LocalServices, root: Path, secret: str, settle_s: float) -> Iterator[str]:
    """A receiver and a warehouse worker on a topic of their own (a bulk load already in stays out of the
    figures); yields the webhook URL once the worker has had ``settle_s`` to join its group."""
    topic = f"fresh.{uuid.uuid4().hex[:6]}"
    ensure_topic(services.kafka.bootstrap, topic, 6, 1)
    env = child_env(kafka_bootstrap=services.kafka.bootstrap, raw_topic=topic,
                    database_url=services.postgres.dsn(WRITER), webhook_secrets=secret,
                    consumer_group_prefix=f"fresh-{uuid.uuid4().hex[:6]}", log_level="WARNING")
    port = free_port()
    receiver = spawn_receiver(env, port, root / "receiver.log")
    worker = spawn_worker(env, "warehouse", root / "fresh-worker.log")
    try:
        wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/readyz"), timeout=60, what="receiver", child=receiver)
        time.sleep(settle_s)
        yield f"http://127.0.0.1:{port}/webhooks/github"
    finally:
        worker.stop()
        receiver.stop()


def envelope_of(delivery: Delivery) -> Envelope:
    """A generated delivery as the receiver would have put it on the topic, a second after it was sent."""
    return from_payload(delivery_id=delivery.delivery_id, event=delivery.event, payload=delivery.body,
                        parsed=json.loads(delivery.body), source="webhook",
                        received_at=delivery.at + timedelta(seconds=1), headers={})


def consumed(items: Sequence[Delivery]) -> list[Consumed]:
    """Generated deliveries as a worker reads them (for benches that call the writer directly)."""
    return [Consumed("t", 0, i, envelope_of(d)) for i, d in enumerate(items)]


def publish_history(services: LocalServices, items: Sequence[Delivery], prefix: str) -> str:
    """Generated deliveries on a new topic of their own, in order, 5,000 per acknowledged send; its name."""
    topic = f"{prefix}.{uuid.uuid4().hex[:6]}"
    ensure_topic(services.kafka.bootstrap, topic, 6, 1)
    publisher = KafkaPublisher(services.kafka.bootstrap, topic, timeout_s=120)
    try:
        for start in range(0, len(items), 5000):
            publisher.publish_many([envelope_of(d) for d in items[start:start + 5000]])
    finally:
        publisher.close()
    return topic
