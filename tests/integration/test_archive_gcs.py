"""The gs:// archive store against fake-gcs-server over HTTP, create-only preconditions included."""

from datetime import UTC, datetime

import pytest

from adapters.archive_store import GcsStore, open_store
from pillarstream.envelope import Envelope, from_archive_line
from stream_processors.archive_dedupe import DeliveryIndex
from stream_processors.archiver import Consumed, archive_batch, read_object

pytestmark = pytest.mark.integration


def test_put_if_absent_never_overwrites(gcs_bucket):
    store = open_store(gcs_bucket)
    assert isinstance(store, GcsStore)
    assert store.put_if_absent("x/one.gz", b"first")
    assert not store.put_if_absent("x/one.gz", b"second")
    assert store.get("x/one.gz") == b"first"
    assert store.list_names("x/") == ["x/one.gz"]


def test_archive_batch_twice_on_gcs_is_exact(gcs_bucket):
    store = open_store(gcs_bucket)
    when = datetime(2026, 1, 2, 3, tzinfo=UTC)
    batch = [Consumed("raw", 0, i, Envelope(delivery_id=f"d{i}", event="push", source="webhook",
                                              received_at=when, payload=b"{}")) for i in range(5)]
    assert len(archive_batch(store, batch, DeliveryIndex(store))) == 1
    assert archive_batch(store, batch, DeliveryIndex(store)) == []
    [name] = store.list_names("source=webhook/")
    assert name.startswith("source=webhook/event=push/year=2026/month=01/day=02/hour=03/")
    assert [from_archive_line(line).delivery_id for line in read_object(store, name)] == [f"d{i}" for i in range(5)]


def test_listing_after_a_name_returns_only_later_names(gcs_bucket):
    """The archiver follows its dedupe index folder this way, without listing it whole each batch."""
    store = open_store(gcs_bucket)
    for name in ("i/s/1", "i/s/2", "i/s/3"):
        store.put_if_absent(name, b"x")
    assert store.list_names("i/s/", after="i/s/1") == ["i/s/2", "i/s/3"]
    assert store.list_names("i/s/", after="i/s/3") == []
