"""Archive layout and the batch write: deterministic, create-only, exact after any crash.

Objects are named by topic, partition and the offsets of their first and last record. Before writing, the
folder is listed for objects of the same partition, and records whose offsets are already covered are
dropped: a batch re-read after a crash (possibly cut at other boundaries) writes only what is missing.
A redelivery (same delivery id, later offset) is dropped by the partition's :class:`DeliveryIndex`.
"""

from __future__ import annotations

import gzip
import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adapters.archive_store import ArchiveStore
from pillarstream.envelope import Envelope, from_record, to_archive_line
from stream_processors.archive_dedupe import DeliveryIndex

log = logging.getLogger(__name__)
_OBJECT = re.compile(r"\+(\d+)\+(\d{19})\+(\d{19})\.ndjson\.gz$")


@dataclass(frozen=True, slots=True)
class Consumed:
    """One record as read from Kafka."""

    topic: str
    partition: int
    offset: int
    envelope: Envelope


# What crosses to the normalising process: plain tuples pickle several times faster than dataclasses.
RawRecord = tuple[str, int, int, bytes, Any]  # topic, partition, offset, value, headers


def decode(records: Sequence[RawRecord]) -> list[Consumed]:
    return [Consumed(topic, partition, offset, from_record(value, headers))
            for topic, partition, offset, value, headers in records]


def folder_for(envelope: Envelope) -> str:
    t = envelope.received_at
    return (f"source={envelope.archive_source}/event={envelope.event}/"
            f"year={t.year:04d}/month={t.month:02d}/day={t.day:02d}/hour={t.hour:02d}")


def object_name(folder: str, topic: str, partition: int, first: int, last: int) -> str:
    return f"{folder}/{topic}+{partition}+{first:019d}+{last:019d}.ndjson.gz"


def covered_ranges(names: Sequence[str]) -> list[tuple[int, int]]:
    return sorted((int(m[2]), int(m[3])) for name in names if (m := _OBJECT.search(name)))


def _chunks(records: list[Consumed], covered: list[tuple[int, int]]) -> list[list[Consumed]]:
    """Records not yet archived, cut so that no new object's offset range straddles an existing one."""
    chunks: list[list[Consumed]] = []
    for record in records:
        if any(first <= record.offset <= last for first, last in covered):
            continue
        current = chunks[-1] if chunks else None
        if current and not any(current[-1].offset < first <= record.offset for first, _ in covered):
            current.append(record)
        else:
            chunks.append([record])
    return chunks


def archive_batch(store: ArchiveStore, records: Sequence[Consumed], index: DeliveryIndex) -> list[str]:
    """Write the batch; returns the object names created now (empty when all were there already).

    Replayed records are skipped: they came from the archive and are in it already. So are redeliveries
    of a delivery id the partition archived before (``index``, kept in the same store).
    """
    partitions: dict[tuple[str, int], list[Consumed]] = defaultdict(list)
    for record in records:
        if record.envelope.source != "replay":
            partitions[(record.topic, record.partition)].append(record)
    groups: dict[tuple[str, str, int], list[Consumed]] = defaultdict(list)
    for (topic, partition), part in partitions.items():
        for record in index.claim(topic, partition, part):
            groups[(folder_for(record.envelope), topic, partition)].append(record)
    written = []
    for (folder, topic, partition), group in groups.items():
        group.sort(key=lambda r: r.offset)
        covered = covered_ranges(store.list_names(f"{folder}/{topic}+{partition}+"))
        for chunk in _chunks(group, covered):
            name = object_name(folder, topic, partition, chunk[0].offset, chunk[-1].offset)
            # mtime=0 keeps the bytes identical for identical records, so a rewrite is indistinguishable.
            data = gzip.compress(b"".join(to_archive_line(r.envelope) for r in chunk), mtime=0)
            if store.put_if_absent(name, data):
                written.append(name)
            else:
                log.info("archive object already present", extra={"object": name})
    return written


def read_object(store: ArchiveStore, name: str) -> list[bytes]:
    """The record lines of one archive object."""
    return [line for line in gzip.decompress(store.get(name)).split(b"\n") if line]
