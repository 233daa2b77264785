"""The Faust apps: one per concern (archiver, warehouse), each its own consumer group.

Offsets are committed only for events acknowledged after their batch was written (``take_events`` acks a
batch when the loop body finishes), so a crash re-reads at most the batches since the last commit, and the
idempotent sinks absorb that.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import faust

from pillarstream.config import load_pillar_config
from pillarstream.envelope import from_record
from pillarstream.errors import PillarstreamError
from pillarstream.settings import Settings
from stream_processors.archive_store import open_store
from stream_processors.archiver import Consumed, archive_batch
from stream_processors.warehouse import PostgresSink

log = logging.getLogger(__name__)
ROLES = ("archiver", "warehouse")
MAX_BACKOFF_S = 10.0


async def write_until_done(write: Callable[[], Any], what: str) -> None:
    """Run a blocking write in a thread; retry retriable failures with capped backoff, forever.

    The stream does not move on while a sink is down, so nothing is skipped; a non-retriable error
    propagates and stops the worker loudly instead of committing past lost data.
    """
    delay = 0.2
    while True:
        try:
            await asyncio.to_thread(write)
            return
        except PillarstreamError as exc:
            if not exc.retriable:
                raise
            log.warning("sink write failed, retrying", extra={"sink": what, "error": str(exc), "retry_in_s": delay})
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)


def consumed(events: Sequence[Any]) -> list[Consumed]:
    return [Consumed(e.message.topic, e.message.partition, e.message.offset,
                     from_record(e.value, e.message.headers)) for e in events]


def faust_dir(settings: Settings, role: str) -> Path:
    """Faust's own scratch folder (no state we rely on: the sinks are the state)."""
    return (settings.data_dir / "faust" / role).resolve()


def create_app(settings: Settings, role: str) -> faust.App:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    app = faust.App(
        f"{settings.consumer_group_prefix}-{role}",
        broker=[f"kafka://{server.strip()}" for server in settings.kafka_bootstrap.split(",")],
        store="memory://",
        datadir=str(faust_dir(settings, role)),
        web_enabled=False,
        topic_replication_factor=settings.topic_replication,
        topic_partitions=settings.topic_partitions,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        broker_commit_every=settings.worker_batch_size,
        consumer_max_fetch_size=32 * 2**20,
        producer_acks=-1,
    )
    topic = app.topic(settings.raw_topic, key_type=bytes, value_type=bytes,
                      key_serializer="raw", value_serializer="raw")
    write: Callable[[list[Consumed]], Awaitable[None]]
    if role == "archiver":
        store = open_store(settings.archive)

        async def write(batch: list[Consumed]) -> None:
            await write_until_done(lambda: archive_batch(store, batch), "archive")
    else:
        # Loaded (and validated) at start-up, so a bad file stops the worker before it consumes anything.
        sink = PostgresSink(settings.dsn(), load_pillar_config(settings.pillars_config))

        async def write(batch: list[Consumed]) -> None:
            await write_until_done(lambda: sink.write(batch), "warehouse")

    @app.agent(topic, name=role, concurrency=1)
    async def process(stream: faust.StreamT[bytes]) -> None:
        take = stream.take_events  # type: ignore[attr-defined]  # faust-streaming has it; StreamT does not say so
        async for events in take(settings.worker_batch_size, within=settings.worker_batch_seconds):
            batch = consumed(events)
            await write(batch)
            log.debug("batch written", extra={"role": role, "records": len(batch)})

    return app


def run_worker(settings: Settings, role: str) -> None:
    """Blocks until SIGINT/SIGTERM; Faust then commits acknowledged offsets and leaves the group."""
    from faust.worker import Worker

    faust_dir(settings, role).mkdir(parents=True, exist_ok=True)
    app = create_app(settings, role)
    Worker(app, loglevel=settings.log_level.lower(), quiet=True, override_logging=False).execute_from_commandline()
