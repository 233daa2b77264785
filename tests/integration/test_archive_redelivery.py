"""A redelivered delivery id is archived once, by real archiver workers, in GCS (emulator) and in files."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from adapters.archive_store import open_store
from adapters.kafka_publisher import KafkaPublisher
from pillarstream.envelope import Envelope, from_archive_line, from_payload
from stream_processors.archiver import read_object
from tests.harness import eventually

pytestmark = pytest.mark.integration


def push(delivery_id: str, received_at: datetime) -> Envelope:
    body = json.dumps({"ref": "refs/heads/main", "repository": {"id": 4242, "full_name": "org/r",
                                                                "owner": {"login": "org"}}}).encode()
    return from_payload(delivery_id=delivery_id, event="push", payload=body, parsed=json.loads(body),
                        source="webhook", received_at=received_at)


def archived(url: str) -> list[tuple[str, str]]:
    store = open_store(url)
    return [(from_archive_line(line).delivery_id, name) for name in store.list_names("source=")
            for line in read_object(store, name)]


@pytest.mark.parametrize("where", ["gcs", "file"])
def test_redelivery_after_an_archiver_restart_is_one_archive_line(pipeline, tmp_path, where):
    if where == "file":
        pipeline.env["PILLARSTREAM_ARCHIVE_URL"] = f"file://{tmp_path / 'archive'}"
    url = pipeline.env["PILLARSTREAM_ARCHIVE_URL"]
    publisher = KafkaPublisher(pipeline.env["PILLARSTREAM_KAFKA_BOOTSTRAP"], pipeline.env["PILLARSTREAM_RAW_TOPIC"])
    redelivered, first_at = str(uuid.uuid4()), datetime.now(UTC)
    try:
        publisher.publish_many([push(redelivered, first_at), push("before", first_at)])
        archiver = pipeline.start_worker("archiver")
        eventually(lambda: len(archived(url)) == 2, timeout=90, what="the first delivery archived")
        archiver.stop()
        # GitHub's redeliver: same id and payload (so same partition), a later offset, received an hour later.
        publisher.publish_many([push(redelivered, first_at + timedelta(hours=1)), push("after", first_at)])
        pipeline.start_worker("archiver", name="archiver-2")
        eventually(lambda: "after" in dict(archived(url)), timeout=90, what="the marker behind the redelivery")
    finally:
        publisher.close()
    lines = archived(url)
    assert sorted(d for d, _ in lines) == sorted([redelivered, "before", "after"])
    assert [name for d, name in lines if d == redelivered][0].split("/hour=")[1][:2] == f"{first_at.hour:02d}"
