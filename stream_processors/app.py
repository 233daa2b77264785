"""The Faust apps: one per concern (archiver, warehouse), each its own consumer group.

Offsets are committed only for events whose batch was written: ``take_events`` acks a batch when the loop
body finishes, and ``hold`` keeps one more reference on each message until the write is done, so the
loop may collect the next batch meanwhile (how, on Faust's internals: ``faust_internals.py``). A crash
re-reads at most the batches since the last commit, and the idempotent sinks absorb that.

A write that retrying cannot fix (a missing grant, the normalising process gone) stops the worker
process with a non-zero exit, so whatever supervises it sees a crash and restarts it with backoff:
Faust would otherwise restart the agent inside the same process, over and over, unseen.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import faust

from adapters.archive_store import open_store
from adapters.kafka_client import faust_credentials
from pillarstream.config import load_pillar_config
from pillarstream.errors import PillarstreamError
from pillarstream.settings import Settings
from stream_processors.archive_dedupe import DeliveryIndex
from stream_processors.archiver import RawRecord, archive_batch, decode
from stream_processors.dead_letters import report
from stream_processors.faust_internals import hold, release, take_batches, use_lean_drain
from stream_processors.group_writer import GroupWriter
from stream_processors.isolation import write_isolating
from stream_processors.prepare_process import PreparerProcess
from stream_processors.warehouse import PostgresSink, PreparedBatch
from stream_processors.window_maintainer import WindowMaintainer

log = logging.getLogger(__name__)
ROLES = ("archiver", "warehouse")
MAX_BACKOFF_S = 10.0
EXIT_WRITE_FAILED = 3  # the worker's exit status after a write it could not retry
STOP_GRACE_S = 30.0  # how long a graceful stop after such a write may take before the process just exits
# Batches between collected and written: one being written, one being normalised, two queued for the
# normalising process so it never waits for the next (2 -> 4 measured about 10% faster; runs vary by ±20%).
IN_FLIGHT = 4
# Writers of the warehouse, each with its connection and transactions, taking a batch's records by partition.
# Partitions are keyed by repository, so the lanes' transactions share no bucket and seldom a row. One writer
# was a bulk load's limit: its Postgres backend at a full core while the rest of the machine waited for it
# (bench/ingest_profile.py).
WRITER_LANES = 2


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
    kafka = settings.kafka()
    app = faust.App(
        f"{settings.consumer_group_prefix}-{role}",
        broker=[f"kafka://{server}" for server in kafka.servers],
        broker_credentials=faust_credentials(kafka),
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
        consumer_group_instance_id=settings.worker_instance_id,
    )
    use_lean_drain(app)
    topic = app.topic(settings.raw_topic, key_type=bytes, value_type=bytes,
                      key_serializer="raw", value_serializer="raw")
    write: Callable[[list[RawRecord]], Awaitable[None]]
    if role == "archiver":
        store = open_store(settings.archive)
        index = DeliveryIndex(store)

        async def write(records: list[RawRecord]) -> None:
            batch = decode(records)
            await write_until_done(lambda: archive_batch(store, batch, index), "archive")
    else:
        # Loaded (and validated) at start-up, so a bad file stops the worker before it consumes anything.
        config = load_pillar_config(settings.pillars_config)
        # The writers commit facts, buckets and the keys of the windows they change; the maintainer's own
        # connections rebuild those windows beside them (live keys and past ones apart), so windows never
        # hold up a write.
        preparer = PreparerProcess(config)
        maintainer = WindowMaintainer(settings.dsn())

        def lane_writer(sink: PostgresSink) -> GroupWriter[PreparedBatch]:
            async def write_together(batches: list[PreparedBatch]) -> None:
                maintainer.start()  # on the first write: the worker is running, not just built
                await write_until_done(lambda: sink.write_prepared(batches), "warehouse")
                maintainer.wake()
                report(batches)

            # Batches are prepared side by side but written one transaction at a time per lane; those that
            # queue up meanwhile share the lane's next one.
            return GroupWriter(write_together)

        lanes = [lane_writer(PostgresSink(settings.dsn(), windows=False, name=f"pillarstream writer lane {lane}"))
                 for lane in range(WRITER_LANES)]

        async def write_lane(lane: int, records: list[RawRecord]) -> None:
            async def submit(batch: PreparedBatch, alone: bool) -> None:
                await lanes[lane].submit(batch, alone=alone)

            await write_isolating(records, preparer.prepare, submit)

        async def write(records: list[RawRecord]) -> None:
            by_lane: dict[int, list[RawRecord]] = {}
            for record in records:
                by_lane.setdefault(record[1] % WRITER_LANES, []).append(record)
            await asyncio.gather(*(write_lane(lane, part) for lane, part in by_lane.items()))

        @app.task  # type: ignore[untyped-decorator]
        async def maintain_windows() -> None:
            maintainer.start()  # also with nothing to consume: keys left queued by a worker that was killed

    @app.agent(topic, name=role, concurrency=1)
    async def process(stream: faust.StreamT[bytes]) -> None:
        in_flight: deque[asyncio.Task[None]] = deque()
        async for events in take_batches(stream, settings.worker_batch_size, settings.worker_batch_seconds):
            batch = raw_records(events)
            hold(events)
            if len(in_flight) == IN_FLIGHT:
                await in_flight.popleft()
            task = asyncio.create_task(write_then_release(batch, events))
            task.add_done_callback(_log_failure)
            in_flight.append(task)

    async def write_then_release(batch: list[RawRecord], events: Sequence[Any]) -> None:
        if _failed:
            return  # stopping: write nothing more, commit nothing more
        try:
            await write(batch)
        except Exception as exc:  # noqa: BLE001 - retriable ones never get here (write_until_done)
            stop_after_failed_write(exc)
            return
        release(events)
        log.debug("batch written", extra={"role": role, "records": len(batch)})

    return app


_failed: list[BaseException] = []  # the write that stopped this worker, once one did


def stop_after_failed_write(exc: BaseException) -> None:
    """Stop the worker process: gracefully (Faust commits what was written and leaves the group, so the
    partitions move on at once), then exit with :data:`EXIT_WRITE_FAILED` (see :func:`run_worker`). The
    failed batch's offsets stay uncommitted, so it is read again by whichever worker takes over."""
    if _failed:
        return
    _failed.append(exc)
    log.critical("batch not written and not retriable; stopping the worker", exc_info=exc)
    # A stop that hangs must not keep a broken worker alive.
    deadline = threading.Timer(STOP_GRACE_S, os._exit, (EXIT_WRITE_FAILED,))
    deadline.daemon = True
    deadline.start()
    os.kill(os.getpid(), signal.SIGTERM)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:  # write_then_release catches; only a bug lands here
        log.error("batch not written; its offsets stay uncommitted", exc_info=task.exception())


def run_worker(settings: Settings, role: str, metrics_port: int | None = None) -> None:
    """Blocks until SIGINT/SIGTERM; Faust then commits acknowledged offsets and leaves the group."""
    from faust.worker import Worker

    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port)

    faust_dir(settings, role).mkdir(parents=True, exist_ok=True)
    app = create_app(settings, role)
    worker = Worker(app, loglevel=settings.log_level.lower(), quiet=True, override_logging=False)
    # Faust's progress spinner writes terminal control codes even to a file or pipe (at start-up's end and
    # at shutdown), which breaks one-JSON-object-per-line logs; nobody watches it anyway.
    worker.spinner = None
    try:
        worker.execute_from_commandline()
    finally:
        if _failed:  # Faust exits 0 after the graceful stop; the supervisor must see a failure
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_WRITE_FAILED)
