"""Archive layout and exactness, on the in-process file store (pure logic + local files)."""

import gzip
from datetime import UTC, datetime

import pytest

from adapters.archive_store import FileStore
from pillarstream.envelope import Envelope, from_archive_line
from stream_processors.archive_dedupe import DeliveryIndex
from stream_processors.archiver import Consumed, covered_ranges, folder_for, read_object
from stream_processors.archiver import archive_batch as archive_with

pytestmark = pytest.mark.unit


def record(offset, event="push", hour=9, source="webhook", partition=0):
    env = Envelope(delivery_id=f"d{offset}", event=event, source=source,
                   received_at=datetime(2026, 3, 4, hour, 30, tzinfo=UTC), payload=b'{"n": %d}' % offset)
    return Consumed("raw", partition, offset, env)


def archive_batch(store, records):
    """One archiver process that has only this batch to write (a fresh index, read from the store)."""
    return archive_with(store, records, DeliveryIndex(store))


def archived_ids(store):
    return sorted(from_archive_line(line).delivery_id for name in store.list_names("source=")
                  for line in read_object(store, name))


def test_folder_layout_is_by_source_event_and_received_hour():
    assert folder_for(record(1).envelope) == "source=webhook/event=push/year=2026/month=03/day=04/hour=09"
    assert folder_for(record(1, source="backfill").envelope).startswith("source=api/")


def test_objects_are_gzip_ndjson_named_by_offsets(tmp_path):
    store = FileStore(tmp_path)
    [name] = archive_batch(store, [record(5), record(6), record(7)])
    assert name.endswith("/raw+0+0000000000000000005+0000000000000000007.ndjson.gz")
    lines = gzip.decompress((tmp_path / name).read_bytes()).splitlines()
    assert [from_archive_line(line).payload for line in lines] == [b'{"n": 5}', b'{"n": 6}', b'{"n": 7}']


def test_rewriting_the_same_batch_creates_nothing(tmp_path):
    store = FileStore(tmp_path)
    batch = [record(i, hour=9 + i % 2) for i in range(10)]
    assert len(archive_batch(store, batch)) == 2
    assert archive_batch(store, batch) == []
    assert archived_ids(store) == sorted(f"d{i}" for i in range(10))


def test_reread_with_other_boundaries_writes_only_the_missing_records(tmp_path):
    """After a crash the same offsets come back cut differently; nothing is duplicated or lost."""
    store = FileStore(tmp_path)
    archive_batch(store, [record(i) for i in range(0, 4)])
    archive_batch(store, [record(i) for i in range(4, 8)])
    written = archive_batch(store, [record(i) for i in range(0, 12)])
    assert written == ["source=webhook/event=push/year=2026/month=03/day=04/hour=09/"
                       "raw+0+0000000000000000008+0000000000000000011.ndjson.gz"]
    assert archived_ids(store) == sorted(f"d{i}" for i in range(12))


def test_gap_in_covered_ranges_is_filled_without_overlap(tmp_path):
    store = FileStore(tmp_path)
    archive_batch(store, [record(i) for i in range(3, 6)])
    archive_batch(store, [record(i) for i in range(0, 10)])
    ranges = covered_ranges(store.list_names("source="))
    assert ranges == [(0, 2), (3, 5), (6, 9)]
    assert archived_ids(store) == sorted(f"d{i}" for i in range(10))


def test_partitions_are_archived_separately(tmp_path):
    store = FileStore(tmp_path)
    written = archive_batch(store, [record(0, partition=0), record(0, partition=1)])
    assert len(written) == 2


def test_replayed_records_are_not_archived_again(tmp_path):
    store = FileStore(tmp_path)
    assert archive_batch(store, [record(1, source="replay")]) == []


def test_file_store_is_create_only(tmp_path):
    store = FileStore(tmp_path)
    assert store.put_if_absent("a/b.gz", b"first")
    assert not store.put_if_absent("a/b.gz", b"second")
    assert store.get("a/b.gz") == b"first"
    assert store.list_names("a/") == ["a/b.gz"]
    assert not list((tmp_path / "a").glob(".tmp-*"))
