"""One archive line per delivery id: redeliveries at later offsets, across batches, restarts and workers."""

import threading
from datetime import UTC, date, datetime

import pytest

from adapters.archive_store import FileStore
from pillarstream.envelope import Envelope, from_archive_line
from stream_processors import archive_dedupe
from stream_processors.archive_dedupe import DeliveryIndex
from stream_processors.archiver import Consumed, archive_batch, read_object

pytestmark = pytest.mark.unit
TODAY = date(2026, 3, 4)


def record(offset, delivery_id, hour=9, partition=0, source="webhook"):
    env = Envelope(delivery_id=delivery_id, event="push", source=source,
                   received_at=datetime(2026, 3, 4, hour, 30, tzinfo=UTC), payload=b'{"n": %d}' % offset)
    return Consumed("raw", partition, offset, env)


def lines(store):
    return sorted((from_archive_line(line).delivery_id, name) for name in store.list_names("source=")
                  for line in read_object(store, name))


def ids(store):
    return sorted(d for d, _ in lines(store))


def index(store, day=TODAY, hour=10):
    return DeliveryIndex(store, clock=lambda: datetime(day.year, day.month, day.day, hour, tzinfo=UTC))


def test_redelivery_in_a_later_batch_after_a_restart_is_not_archived_again(tmp_path):
    store = FileStore(tmp_path)
    archive_batch(store, [record(0, "a"), record(1, "b")], index(store))
    # A new process (restart) reads the redelivery hours later at a later offset, in another folder.
    assert archive_batch(store, [record(7, "b", hour=14), record(8, "c", hour=14)], index(store))
    assert ids(store) == ["a", "b", "c"]
    [(_, name)] = [line for line in lines(store) if line[0] == "b"]
    assert "hour=09" in name  # the first copy is the one kept


def test_redelivery_in_the_same_batch_is_archived_once(tmp_path):
    store = FileStore(tmp_path)
    archive_batch(store, [record(3, "a"), record(4, "a", hour=10)], index(store))
    assert lines(store) == [("a", lines(store)[0][1])] and "hour=09" in lines(store)[0][1]


def test_a_batch_reread_after_a_crash_between_claim_and_object_is_archived(tmp_path, monkeypatch):
    """The claims are written first; a crash before the object must not make the records look redelivered."""
    store = FileStore(tmp_path)
    real_put = store.put_if_absent

    def crash_on_objects(name, data):
        if name.startswith("source="):
            raise OSError("killed")
        return real_put(name, data)

    monkeypatch.setattr(store, "put_if_absent", crash_on_objects)
    with pytest.raises(OSError):
        archive_batch(store, [record(0, "a"), record(1, "b")], index(store))
    monkeypatch.setattr(store, "put_if_absent", real_put)
    archive_batch(store, [record(0, "a"), record(1, "b"), record(2, "c")], index(store))
    assert ids(store) == ["a", "b", "c"]


def test_workers_taking_turns_on_a_partition_share_the_index(tmp_path):
    store = FileStore(tmp_path)
    first, second = index(store), index(store)
    archive_batch(store, [record(0, "a")], first)
    archive_batch(store, [record(5, "a"), record(6, "b")], second)  # rebalanced to the second worker
    archive_batch(store, [record(9, "b"), record(10, "a")], first)  # and back
    assert ids(store) == ["a", "b"]


def test_concurrent_batches_of_one_process_claim_one_at_a_time(tmp_path):
    store = FileStore(tmp_path)
    shared = index(store)
    batches = [[record(i * 10 + j, f"d{j}") for j in range(5)] for i in range(8)]
    threads = [threading.Thread(target=archive_batch, args=(store, batch, shared)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ids(store) == [f"d{j}" for j in range(5)]


def test_partitions_have_indexes_of_their_own(tmp_path):
    """The same id on two partitions cannot be a redelivery (same key, same partition): both are kept."""
    store = FileStore(tmp_path)
    archive_batch(store, [record(0, "a", partition=0), record(0, "a", partition=1)], index(store))
    assert ids(store) == ["a", "a"]


def test_compaction_keeps_every_claim_and_a_cold_start_reads_few_objects(tmp_path, monkeypatch):
    monkeypatch.setattr(archive_dedupe, "COMPACT_EVERY", 4)
    store = FileStore(tmp_path)
    worker = index(store)
    for i in range(10):
        archive_batch(store, [record(i, f"d{i}")], worker)
    assert store.list_names("_dedupe/raw+0/2026-03-04/c/")  # compacted at least once
    reads = []
    real_get = store.get
    monkeypatch.setattr(store, "get", lambda name: reads.append(name) or real_get(name))
    archive_batch(store, [record(20 + i, f"d{i}") for i in range(10)], index(store))
    index_reads = [name for name in reads if name.startswith("_dedupe/")]
    assert 0 < len(index_reads) < 10  # compactions plus the segments after the last one, not one per batch
    assert ids(store) == sorted(f"d{i}" for i in range(10))


def test_claims_older_than_the_window_are_forgotten(tmp_path):
    store = FileStore(tmp_path)
    archive_batch(store, [record(0, "a")], index(store, date(2026, 3, 1)))
    archive_batch(store, [record(5, "a")], index(store, date(2026, 3, 4)))  # day 4 of the window: still known
    assert ids(store) == ["a"]
    archive_batch(store, [record(9, "a")], index(store, date(2026, 3, 5)))  # past DEDUPE_DAYS
    assert ids(store) == ["a", "a"]


def test_segments_written_in_a_later_hour_by_another_worker_are_seen(tmp_path):
    store = FileStore(tmp_path)
    worker = index(store, hour=9)
    archive_batch(store, [record(0, "a")], worker)
    archive_batch(store, [record(1, "b")], index(store, hour=11))  # another worker, two hours later
    archive_batch(store, [record(5, "b"), record(6, "c")], worker)
    assert ids(store) == ["a", "b", "c"]
    assert store.list_names("_dedupe/raw+0/2026-03-04/s/11/")


def test_file_store_lists_after_a_name_across_folders(tmp_path):
    store = FileStore(tmp_path)
    for name in ("i/s/09/1", "i/s/09/2", "i/s/10/1", "i/c/x"):
        store.put_if_absent(name, b"x")
    assert store.list_names("i/s/", after="i/s/09/1") == ["i/s/09/2", "i/s/10/1"]
    assert store.list_names("i/s/", after="i/s/10/1") == []
    assert store.list_names("i/s/") == ["i/s/09/1", "i/s/09/2", "i/s/10/1"]


def test_replayed_records_claim_nothing(tmp_path):
    store = FileStore(tmp_path)
    archive_batch(store, [record(0, "a", source="replay")], index(store))
    archive_batch(store, [record(1, "a")], index(store))
    assert ids(store) == ["a"]
