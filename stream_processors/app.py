"""The Faust apps: one per concern (archiver, warehouse), each its own consumer group.

Offsets are committed only for events whose batch was written: ``take_events`` acks a batch when the loop
body finishes, and :func:`hold` keeps one more reference on each message until the write is done, so the
loop may collect the next batch meanwhile. A crash re-reads at most the batches since the last commit,
and the idempotent sinks absorb that.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import faust

from pillarstream.config import load_pillar_config
from pillarstream.errors import PillarstreamError
from pillarstream.settings import Settings
from stream_processors.archive_store import open_store
from stream_processors.archiver import RawRecord, archive_batch, decode
from stream_processors.group_writer import GroupWriter
from stream_processors.message_drain import use_lean_drain
from stream_processors.prepare_process import PreparerProcess
from stream_processors.warehouse import PostgresSink, PreparedBatch, prepare
from stream_processors.windows import SETTLE_SECONDS

log = logging.getLogger(__name__)
ROLES = ("archiver", "warehouse")
MAX_BACKOFF_S = 10.0
# Batches between collected and written: one being written, one being normalised, two queued for the
# normalising process so it never waits for the next (2 -> 4 measured about 10% faster; runs vary by ±20%).
IN_FLIGHT = 4


async def write_until_done(write: Callable[[], Any], what: str) -> None:
    """Run a blocking write in a thread; retry retriable failures with capped backoff, forever.

    While a sink is down the stream stops after ``IN_FLIGHT`` batches, so nothing is skipped; a non-retriable error
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


def raw_records(events: Sequence[Any]) -> list[RawRecord]:
    return [(e.message.topic, e.message.partition, e.message.offset, e.value, e.message.headers) for e in events]


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
        # One fetch can hold a whole backlog (zstd packs webhook JSON about 70:1); taking at most a batch of
        # records per poll keeps the rest compressed. Without it a 60k-event backlog held 1.2 GB, with it 350 MB.
        broker_max_poll_records=settings.worker_batch_size,
        producer_acks=-1,
    )
    use_lean_drain(app)
    topic = app.topic(settings.raw_topic, key_type=bytes, value_type=bytes,
                      key_serializer="raw", value_serializer="raw")
    write: Callable[[list[RawRecord]], Awaitable[None]]
    if role == "archiver":
        store = open_store(settings.archive)

        async def write(records: list[RawRecord]) -> None:
            batch = decode(records)
            await write_until_done(lambda: archive_batch(store, batch), "archive")
    else:
        # Loaded (and validated) at start-up, so a bad file stops the worker before it consumes anything.
        config = load_pillar_config(settings.pillars_config)
        preparer, sink = PreparerProcess(config), PostgresSink(settings.dsn())

        async def write_together(batches: list[PreparedBatch]) -> None:
            await write_until_done(lambda: sink.write_prepared(batches), "warehouse")

        # Batches are prepared side by side but written one transaction at a time; those that queue up
        # meanwhile share the next one.
        writer = GroupWriter(write_together)

        async def write(records: list[RawRecord]) -> None:
            await writer.submit(await preparer.prepare(records))

        @app.timer(interval=SETTLE_SECONDS / 2)  # type: ignore[untyped-decorator]
        async def settle_windows() -> None:
            # An empty batch: its transaction takes the window keys a backlog left queued (windows.py).
            await writer.submit(prepare([], config))

    @app.agent(topic, name=role, concurrency=1)
    async def process(stream: faust.StreamT[bytes]) -> None:
        take = stream.take_events  # type: ignore[attr-defined]  # faust-streaming has it; StreamT does not say so
        in_flight: deque[asyncio.Task[None]] = deque()
        async for events in take(settings.worker_batch_size, within=settings.worker_batch_seconds):
            batch = raw_records(events)
            hold(events)
            if len(in_flight) == IN_FLIGHT:
                await in_flight.popleft()
            task = asyncio.create_task(write_then_release(batch, events))
            task.add_done_callback(_log_failure)
            in_flight.append(task)

    async def write_then_release(batch: list[RawRecord], events: Sequence[Any]) -> None:
        await write(batch)
        release(events)
        log.debug("batch written", extra={"role": role, "records": len(batch)})

    return app


def _log_failure(task: asyncio.Task[None]) -> None:
    # The loop re-raises a failed write when the next batch arrives; say so at once, even if none does.
    if not task.cancelled() and task.exception() is not None:
        log.error("batch not written; its offsets stay uncommitted", exc_info=task.exception())


def hold(events: Sequence[Any]) -> None:
    """Keep the events' offsets uncommitted after ``take_events`` acks them, until :func:`release`.

    Faust commits an offset once every holder of its message has acked it; one more reference per
    message lets the loop collect the next batch while this one is written, and still commit only
    what is written. A crash before ``release`` leaves the offsets uncommitted: re-read, absorbed.
    """
    for event in events:
        event.message.incref()


def release(events: Sequence[Any]) -> None:
    for event in events:
        if event.ack():  # the final ack: what Stream.ack would tell the sensors (Faust's own monitor)
            message = event.message
            event.app.sensors.on_message_out(message.tp, message.offset, message)


def run_worker(settings: Settings, role: str) -> None:
    """Blocks until SIGINT/SIGTERM; Faust then commits acknowledged offsets and leaves the group."""
    from faust.worker import Worker

    faust_dir(settings, role).mkdir(parents=True, exist_ok=True)
    app = create_app(settings, role)
    Worker(app, loglevel=settings.log_level.lower(), quiet=True, override_logging=False).execute_from_commandline()
