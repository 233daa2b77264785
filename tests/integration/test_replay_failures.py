"""Replay when Kafka is not there, or an archive object is damaged: a clear error and exit 1, in one
process or several, and never a traceback."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from adapters.archive_store import FileStore
from devstack.process import free_port
from pillarstream.envelope import from_payload
from pillarstream.errors import EXIT_UNAVAILABLE
from stream_processors.archive_dedupe import DeliveryIndex
from stream_processors.archiver import Consumed, archive_batch
from tests.harness import fixture_bytes

pytestmark = pytest.mark.integration
TODAY = datetime.now(UTC).date().isoformat()


def replay(archive, bootstrap: str, processes: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PILLARSTREAM_")}
    env.update(PILLARSTREAM_ARCHIVE_URL=f"file://{archive}", PILLARSTREAM_KAFKA_BOOTSTRAP=bootstrap)
    return subprocess.run([sys.executable, "-m", "launcher", "replay", "--from", TODAY, "--to", TODAY,
                           "--processes", str(processes)], env=env, capture_output=True, text=True, timeout=120)


def archive_of_pushes(tmp_path, count: int = 4) -> FileStore:
    body = fixture_bytes("webhooks/push/payload.json")
    store = FileStore(tmp_path / "archive")
    archive_batch(store, [
        Consumed("raw", i % 2, i, from_payload(delivery_id=f"d-{i}", event="push", payload=body,
                                               parsed=json.loads(body), source="webhook",
                                               received_at=datetime.now(UTC)))
        for i in range(count)], DeliveryIndex(store))
    return store


@pytest.mark.parametrize("processes", [1, 2])
def test_kafka_unreachable_is_an_error_not_a_traceback(tmp_path, processes):
    store = archive_of_pushes(tmp_path)
    assert len(store.list_names("source=")) == 2  # one object per partition, so two processes get one each
    answer = replay(store.root, f"127.0.0.1:{free_port()}", processes)
    assert answer.returncode == EXIT_UNAVAILABLE, answer.stderr
    assert "Kafka" in answer.stderr and "Traceback" not in answer.stderr, answer.stderr


@pytest.mark.parametrize("processes", [1, 2])
def test_damaged_archive_record_names_its_object(tmp_path, services, processes):
    store = archive_of_pushes(tmp_path)
    name = store.list_names("source=")[0]
    lines = gzip.decompress(store.get(name)).splitlines()
    lines[0] = lines[0].replace(b'"delivery_id"', b'"delivery_ident"')
    (store.root / name).write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    answer = replay(store.root, services.kafka.bootstrap, processes)
    assert answer.returncode == 1, answer.stderr
    assert f"damaged record in {name}" in answer.stderr and "Traceback" not in answer.stderr, answer.stderr
