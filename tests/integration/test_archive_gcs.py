"""The gs:// archive store against fake-gcs-server over HTTP, create-only preconditions included."""

from datetime import UTC, datetime

import pytest

from pillarstream.envelope import Envelope, from_archive_line
from stream_processors.archive_store import GcsStore, open_store
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
    assert len(archive_batch(store, batch)) == 1
    assert archive_batch(store, batch) == []
    [name] = store.list_names("source=webhook/")
    assert name.startswith("source=webhook/event=push/year=2026/month=01/day=02/hour=03/")
    assert [from_archive_line(line).delivery_id for line in read_object(store, name)] == [f"d{i}" for i in range(5)]
