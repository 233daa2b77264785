"""`pillarstream replay`: archive → Kafka, as envelopes with source=replay.

Every sink is idempotent, so a replay into a full warehouse changes nothing, and into an empty one rebuilds
it; after a metric definition changes, the buckets the replayed events touch are recomputed. The archiver
skips replayed records, so the archive never grows from a replay.
"""

from __future__ import annotations

import multiprocessing
import queue
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from multiprocessing.context import ForkContext, SpawnContext
from typing import Any

from adapters.archive_store import ArchiveStore
from adapters.kafka_publisher import Acks, PipelinedPublisher
from pillarstream.envelope import Envelope, Record, from_archive_line, replay_record
from pillarstream.errors import PillarstreamError
from stream_processors.archiver import read_object

_DAY = re.compile(r"^source=(?P<source>[a-z]+)/event=(?P<event>[a-z_]+)/year=(?P<y>\d{4})/month=(?P<m>\d{2})/"
                  r"day=(?P<d>\d{2})/(?:hour=(?P<h>\d{2})/)?")
CHUNK = 1000


@dataclass(frozen=True)
class Selection:
    first_day: date
    last_day: date
    event: str | None = None
    source: str | None = None  # archive folder: webhook | api

    def prefixes(self) -> list[str]:
        sources = [self.source] if self.source else ["webhook", "api"]
        return [f"source={s}/event={self.event}/" if self.event else f"source={s}/" for s in sources]

    def wants(self, name: str) -> bool:
        match = _DAY.match(name)
        if not match:
            return False
        day = date(int(match["y"]), int(match["m"]), int(match["d"]))
        return self.first_day <= day <= self.last_day


def selected_objects(store: ArchiveStore, selection: Selection) -> list[str]:
    """The selection's objects in the order their events happened (by the hour in their path), across event
    types and sources: pushes, reviews and deployments of one hour are published together, so the
    warehouse meets a history as it unfolded, not one event type's whole year after another's."""
    names = [name for prefix in selection.prefixes() for name in store.list_names(prefix) if selection.wants(name)]
    return sorted(names, key=_time_order)


def _time_order(name: str) -> tuple[str, str, str, str, str]:
    match = _DAY.match(name)
    assert match is not None  # selected names match
    return match["y"], match["m"], match["d"], match["h"] or "", name


def archived_envelopes(store: ArchiveStore, names: list[str]) -> Iterator[tuple[str, Envelope]]:
    for name in names:
        for line in read_object(store, name):
            yield name, from_archive_line(line)


@dataclass
class Progress:
    """One status line on stderr: objects, records, rate; rewritten in place on a terminal."""

    total_objects: int
    objects: int = 0
    records: int = 0
    started: float = field(default_factory=time.monotonic)
    _last: float = 0.0

    def update(self, *, objects: int = 0, records: int = 0, final: bool = False) -> None:
        self.objects += objects
        self.records += records
        now = time.monotonic()
        if not final and now - self._last < 0.5:
            return
        self._last = now
        rate = self.records / max(now - self.started, 1e-6)
        line = (f"replay: {self.objects}/{self.total_objects} objects, {self.records} records, "
                f"{rate:,.0f} records/s")
        end = "\n" if final or not sys.stderr.isatty() else "\r"
        print(line, end=end, file=sys.stderr, flush=True)


def publish_objects(store: ArchiveStore, publisher: PipelinedPublisher, names: list[str],
                    report: Callable[..., None]) -> None:
    """Publish the objects' records in chunks, one chunk in flight while the next is read and sent."""
    in_flight: Acks | None = None

    def send(chunk: list[Record]) -> None:
        nonlocal in_flight
        acks = publisher.send_records(chunk)
        if in_flight is not None:
            report(records=in_flight.wait())
        in_flight = acks

    chunk: list[Record] = []
    for name in names:
        for line in read_object(store, name):
            try:
                chunk.append(replay_record(line))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                # Not retriable: reading the same bytes again fails again (exit 1, not 69).
                raise PillarstreamError(f"damaged record in {name}: {exc}") from exc
            if len(chunk) >= CHUNK:
                send(chunk)
                chunk = []
        report(objects=1)
    if chunk:
        send(chunk)
    if in_flight is not None:
        report(records=in_flight.wait())


StoreFactory = Callable[[], ArchiveStore]
PublisherFactory = Callable[[], PipelinedPublisher]


def replay(open_store: StoreFactory, open_publisher: PublisherFactory, selection: Selection, *,
           processes: int = 1) -> Progress:
    """Replay the selection; with several processes, each publishes its share of the objects.

    kafka-python spends about 0.1 ms of Python per record, so one process tops out below what the broker
    takes. Every sink is idempotent and order-free, so order is not needed for the result, only for its
    cost: objects go out in time order (each process takes every n-th, so all move through the history
    together), and the warehouse recomputes each day's buckets a few times instead of once per event type.
    """
    store = open_store()
    names = selected_objects(store, selection)
    progress = Progress(len(names))
    shares = [names[i::processes] for i in range(min(processes, len(names)))]
    if len(shares) <= 1:
        publisher = open_publisher()
        try:
            publish_objects(store, publisher, names, progress.update)
        finally:
            publisher.close()
    else:
        _replay_in_processes(open_store, open_publisher, shares, progress)
    progress.update(final=True)
    return progress


def _replay_in_processes(open_store: StoreFactory, open_publisher: PublisherFactory, shares: list[list[str]],
                         progress: Progress) -> None:
    # fork is cheap and safe while this process has no other thread (no producer, no sender thread yet).
    context: ForkContext | SpawnContext
    if threading.active_count() == 1:
        context = multiprocessing.get_context("fork")
    else:
        context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    children = [context.Process(target=_replay_share, args=(open_store, open_publisher, share, messages),
                                daemon=True) for share in shares]
    for child in children:
        child.start()
    try:
        finished = 0
        while finished < len(children):
            try:
                kind, *values = messages.get(timeout=0.5)
            except queue.Empty:
                if all(not child.is_alive() for child in children):
                    break  # died without a word (killed): the exit codes below say so
                continue
            if kind == "failed":
                error = PillarstreamError(f"a replay process failed: {values[0]} (replaying again is safe)")
                error.retriable = values[1]  # a broker that was down is exit 69, like in one process
                raise error
            if kind == "done":
                finished += 1
            else:
                progress.update(objects=values[0], records=values[1])
        for child in children:
            child.join()
        failed = [child.exitcode for child in children if child.exitcode != 0]
        if failed:
            raise PillarstreamError(f"{len(failed)} replay process(es) died (exit {failed}); replaying again is safe")
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
            child.join()


def _replay_share(open_store: StoreFactory, open_publisher: PublisherFactory, names: list[str],
                  messages: multiprocessing.Queue[tuple[Any, ...]]) -> None:
    def report(objects: int = 0, records: int = 0) -> None:
        messages.put(("progress", objects, records))

    try:
        publisher = open_publisher()
        try:
            publish_objects(open_store(), publisher, names, report)
        finally:
            publisher.close()
        messages.put(("done",))
    except Exception as exc:  # noqa: BLE001 -- reported to the parent, which raises it
        messages.put(("failed", f"{type(exc).__name__}: {exc}", isinstance(exc, PillarstreamError) and exc.retriable))
        raise SystemExit(1) from None


def verify(store: ArchiveStore, selection: Selection, warehouse_ids: set[str]) -> tuple[set[str], set[str]]:
    """Delivery ids only in the archive, and only in the warehouse, for the selection."""
    archived = {env.delivery_id for _, env in archived_envelopes(store, selected_objects(store, selection))}
    return archived - warehouse_ids, warehouse_ids - archived


def warehouse_delivery_ids(dsn: str, selection: Selection) -> set[str]:
    from adapters.postgres import fetch_all

    sources = {"webhook": ["webhook"], "api": ["backfill"]}.get(selection.source or "", ["webhook", "backfill"])
    rows = fetch_all(dsn, """SELECT delivery_id FROM deliveries
                             WHERE (received_at AT TIME ZONE 'UTC')::date BETWEEN %s AND %s
                               AND source = ANY(%s) AND (%s::text IS NULL OR event = %s)""",
                     (selection.first_day, selection.last_day, sources, selection.event, selection.event))
    return {row[0] for row in rows}
