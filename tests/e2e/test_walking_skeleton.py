"""A real signed GitHub push goes receiver → Kafka → Faust workers → GCS emulator archive + Postgres."""

from __future__ import annotations

import gzip
import json
import uuid

import pytest

from adapters.archive_store import open_store
from pillarstream.envelope import from_archive_line
from tests.harness import eventually, fixture_bytes, query

pytestmark = pytest.mark.e2e


def test_signed_push_lands_once_in_archive_and_warehouse(pipeline, db, gcs_bucket):
    pipeline.start_receiver()
    pipeline.start_worker("archiver")
    pipeline.start_worker("warehouse")
    body = fixture_bytes("webhooks/push/payload.json")
    delivery_id = str(uuid.uuid4())

    first = pipeline.post("push", body, delivery_id)
    again = pipeline.post("push", body, delivery_id)  # GitHub redelivery keeps the delivery id

    assert (first.status_code, again.status_code) == (202, 202)
    rows = eventually(lambda: query(db.writer_dsn, "SELECT event, source, repo_full_name, payload_bytes "
                                    "FROM deliveries WHERE delivery_id = %s", (delivery_id,)),
                      what="the deliveries row")
    assert rows == [("push", "webhook", "Codertocat/Hello-World", len(body))]

    store = open_store(gcs_bucket)
    names = eventually(lambda: store.list_names("source=webhook/event=push/"), what="an archive object")
    assert all("/year=" in n and "/month=" in n and "/day=" in n and "/hour=" in n for n in names)
    records = eventually(lambda: [from_archive_line(line) for n in store.list_names("source=webhook/event=push/")
                                  for line in gzip.decompress(store.get(n)).splitlines()
                                  ] if len(store.list_names("source=webhook/")) else None,
                         what="archived records")
    # The archive keeps every delivery as it came (both attempts); the warehouse counts it once.
    assert {r.delivery_id for r in records} == {delivery_id}
    assert all(r.payload == body for r in records)
    assert json.loads(records[0].payload)["ref"] == "refs/tags/simple-tag"
    assert query(db.writer_dsn, "SELECT count(*) FROM deliveries")[0][0] == 1
