"""`pillarstream replay`: archive → Kafka, as envelopes with source=replay.

Every sink is idempotent, so a replay into a full warehouse changes nothing, and into an empty one rebuilds
it; after a metric definition changes, the buckets the replayed events touch are recomputed. The archiver
skips replayed records, so the archive never grows from a replay.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from pillarstream.envelope import Envelope, from_archive_line
from receiver.publisher import Publisher
from stream_processors.archive_store import ArchiveStore
from stream_processors.archiver import read_object

_DAY = re.compile(r"^source=(?P<source>[a-z]+)/event=(?P<event>[a-z_]+)/year=(?P<y>\d{4})/month=(?P<m>\d{2})/"
                  r"day=(?P<d>\d{2})/")
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
    return [name for prefix in selection.prefixes() for name in store.list_names(prefix) if selection.wants(name)]


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


def replay(store: ArchiveStore, publisher: Publisher, selection: Selection) -> Progress:
    names = selected_objects(store, selection)
    progress = Progress(len(names))
    chunk: list[Envelope] = []
    current = None
    for name, envelope in archived_envelopes(store, names):
        if name != current:
            progress.update(objects=1 if current else 0)
            current = name
        chunk.append(envelope.as_replay())
        if len(chunk) >= CHUNK:
            progress.update(records=publisher.publish_many(chunk))
            chunk = []
    if chunk:
        progress.update(records=publisher.publish_many(chunk))
    progress.update(objects=1 if current else 0, final=True)
    return progress


def verify(store: ArchiveStore, selection: Selection, warehouse_ids: set[str]) -> tuple[set[str], set[str]]:
    """Delivery ids only in the archive, and only in the warehouse, for the selection."""
    archived = {env.delivery_id for _, env in archived_envelopes(store, selected_objects(store, selection))}
    return archived - warehouse_ids, warehouse_ids - archived


def warehouse_delivery_ids(dsn: str, selection: Selection) -> set[str]:
    import psycopg2

    sources = {"webhook": ["webhook"], "api": ["backfill"]}.get(selection.source or "", ["webhook", "backfill"])
    with psycopg2.connect(dsn, connect_timeout=10) as conn, conn.cursor() as cur:
        cur.execute(
            """SELECT delivery_id FROM deliveries
               WHERE (received_at AT TIME ZONE 'UTC')::date BETWEEN %s AND %s
                 AND source = ANY(%s) AND (%s::text IS NULL OR event = %s)""",
            (selection.first_day, selection.last_day, sources, selection.event, selection.event))
        found = {row[0] for row in cur.fetchall()}
    conn.close()
    return found
