"""One archive line per delivery id: which delivery ids a partition has archived already, kept in the store.

A delivery GitHub redelivers (its redeliver button, ``webhook redeliver``) keeps its delivery id and its
payload, so it carries the same partition key (the repository, else the organisation) and comes back on the
same partition as a new record at a later offset, possibly days later. Each partition therefore has an
index of ``delivery id -> offset of the record that claimed it``, stored next to the archive under
``_dedupe/<topic>+<partition>/<day>/``:

- ``s/<hour>/<first offset>+<last offset>.gz``: a *segment*, the claims of one archived batch, written create-only
  **before** the batch's archive objects. A record whose id is claimed at another offset is a redelivery
  and is dropped; a record that finds its own offset (a batch re-read after a crash) is archived as usual.
- ``c/<hour>_<segment name>``: a *compaction* of the segments since the previous one, up to that one, so a
  worker that takes over a partition reads a few hundred objects per day instead of one per batch.

Each batch first reads the segments written since the last one it saw (a listing that starts after that
name: ``start_offset`` in GCS, the current hour's folder in a local one).

Days are archiving days (UTC) and the index keeps ``DEDUPE_DAYS`` of them: GitHub redelivers for three
days, and a delivery redelivered later than the window may be archived again. The workers holding a
partition in turn (restarts, rebalances, more workers) all read and write the same index, so the guarantee
holds across batches, restarts and workers; it assumes the topic's partition count does not change.

Cost: one extra small object per batch and partition (never per delivery), one listing of what is new
per batch and partition, and in memory about 100 bytes per delivery archived in the window.
``bench/archive_dedupe_bench.py`` measures it against the archiver without the index. Workers whose clocks
disagree around an hour boundary can at worst let a redelivery be archived twice; nothing is ever dropped
that was not archived before.
"""

from __future__ import annotations

import gzip
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from adapters.archive_store import ArchiveStore

if TYPE_CHECKING:
    from stream_processors.archiver import Consumed

log = logging.getLogger(__name__)
PREFIX = "_dedupe"
DEDUPE_DAYS = 4
COMPACT_EVERY = 256  # segments per compaction: a day's cold read is ~segments/256 + 256 objects
READERS = 16  # objects read side by side when a partition's index is loaded


def _now() -> datetime:
    return datetime.now(UTC)


def encode(claims: dict[str, int]) -> bytes:
    return gzip.compress("".join(f"{d} {o}\n" for d, o in claims.items()).encode(), mtime=0)


def decode(data: bytes) -> dict[str, int]:
    claims = {}
    for line in gzip.decompress(data).decode().splitlines():
        delivery_id, _, offset = line.rpartition(" ")
        claims[delivery_id] = int(offset)
    return claims


@dataclass
class _Day:
    claims: dict[str, int] = field(default_factory=dict)
    last_seen: str | None = None  # the last segment name read from the store
    pending: dict[str, int] = field(default_factory=dict)  # claims since the last compaction
    pending_segments: int = 0
    own: set[str] = field(default_factory=set)  # segments this process wrote (in memory already)


class _Partition:
    def __init__(self, store: ArchiveStore, topic: str, partition: int) -> None:
        self.store = store
        self.base = f"{PREFIX}/{topic}+{partition}"
        self.days: dict[date, _Day] = {}
        self.refreshed: date | None = None
        # The worker writes several batches side by side; a partition's claims are made one batch at a time.
        self.lock = threading.Lock()

    def folder(self, day: date) -> str:
        return f"{self.base}/{day.isoformat()}"

    def lookup(self, delivery_id: str) -> int | None:
        for day in self.days.values():
            if (offset := day.claims.get(delivery_id)) is not None:
                return offset
        return None

    def refresh(self, today: date) -> None:
        """Read what other workers (or this one before a restart) added since the last look."""
        first = today - timedelta(days=DEDUPE_DAYS - 1)
        for old in [d for d in self.days if d < first]:
            del self.days[old]
        start = first if self.refreshed is None else max(first, self.refreshed)
        for offset in range((today - start).days + 1):
            self._read_day(start + timedelta(days=offset))
        self.refreshed = today

    def _read_day(self, day: date) -> None:
        state = self.days.get(day)
        folder = self.folder(day)
        if state is None:
            state = self.days[day] = _Day()
            compactions = self.store.list_names(f"{folder}/c/")
            for claims in self._read_all(compactions):
                state.claims.update(claims)
            if compactions:
                state.last_seen = f"{folder}/s/" + compactions[-1].rpartition("/")[2].replace("_", "/", 1)
        names = self.store.list_names(f"{folder}/s/", after=state.last_seen)
        if not names:
            return
        fresh = [name for name in names if name not in state.own]
        for claims in self._read_all(fresh):
            state.claims.update(claims)
            state.pending.update(claims)
        state.pending_segments += len(fresh)
        state.last_seen = names[-1]
        if state.pending_segments >= COMPACT_EVERY:
            # Compactions are create-only too; two workers compacting different spans only overlap.
            covered = state.last_seen.removeprefix(f"{folder}/s/").replace("/", "_", 1)
            self.store.put_if_absent(f"{folder}/c/{covered}", encode(state.pending))
            state.pending, state.pending_segments = {}, 0

    def _read_all(self, names: Sequence[str]) -> list[dict[str, int]]:
        if len(names) <= 1:
            return [decode(self.store.get(name)) for name in names]
        with ThreadPoolExecutor(min(READERS, len(names))) as pool:
            return list(pool.map(lambda name: decode(self.store.get(name)), names))

    def claim(self, now: datetime, records: Sequence[Consumed]) -> list[Consumed]:
        """The records to archive: first sightings (claimed now) and records re-read at their own offset."""
        with self.lock:
            return self._claim(now, records)

    def _claim(self, now: datetime, records: Sequence[Consumed]) -> list[Consumed]:
        today = now.date()
        self.refresh(today)
        keep: list[Consumed] = []
        new: dict[str, int] = {}
        for record in sorted(records, key=lambda r: r.offset):
            delivery_id = record.envelope.delivery_id
            claimed = new.get(delivery_id, self.lookup(delivery_id))
            if claimed is None:
                new[delivery_id] = record.offset
                keep.append(record)
            elif claimed == record.offset:
                keep.append(record)
            else:
                log.info("redelivery already archived, not archived again",
                         extra={"delivery_id": delivery_id, "offset": record.offset, "archived_offset": claimed})
        if new:
            offsets = sorted(new.values())
            name = f"{self.folder(today)}/s/{now.hour:02d}/{offsets[0]:019d}+{offsets[-1]:019d}.gz"
            if not self.store.put_if_absent(name, encode(new)):
                # Another worker wrote this span first (same records): its claims are the ones that count.
                self._record(today, decode(self.store.get(name)), name)
                return self._claim(now, records)
            self._record(today, new, name)
        return keep

    def _record(self, today: date, claims: dict[str, int], name: str) -> None:
        state = self.days.setdefault(today, _Day())
        state.claims.update(claims)
        state.pending.update(claims)
        state.pending_segments += 1
        state.own.add(name)


class DeliveryIndex:
    """The per-partition indexes of one archiver process (see the module docstring)."""

    def __init__(self, store: ArchiveStore, clock: Callable[[], datetime] = _now) -> None:
        self._store = store
        self._clock = clock
        self._partitions: dict[tuple[str, int], _Partition] = {}
        self._lock = threading.Lock()

    def claim(self, topic: str, partition: int, records: Sequence[Consumed]) -> list[Consumed]:
        with self._lock:
            index = self._partitions.get((topic, partition))
            if index is None:
                index = self._partitions[(topic, partition)] = _Partition(self._store, topic, partition)
        return index.claim(self._clock(), records)
