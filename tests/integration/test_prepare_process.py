"""The normalising process gives the same prepared batch (statements and their JSON rows included) as
preparing in the worker itself, whether the payloads travel through the shared buffer or the pipe, with
buffers reused and grown across batches."""

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pillarstream.config import load_pillar_config
from pillarstream.envelope import from_payload, to_record
from stream_processors import prepare_process
from stream_processors.archiver import decode
from stream_processors.prepare_process import PreparerProcess
from stream_processors.warehouse import prepare

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).parent.parent / "fixtures" / "webhooks"
WHEN = datetime(2026, 11, 23, 9, 5, 7, tzinfo=UTC)


def fixture_records():
    records = []
    for offset, path in enumerate(sorted(FIXTURES.rglob("*.json"))):
        body = path.read_bytes()
        envelope = from_payload(delivery_id=f"d-{offset}", event=path.parent.name, payload=body,
                                parsed=json.loads(body), source="webhook", received_at=WHEN, headers={})
        _, value, headers = to_record(envelope)
        records.append(("raw", offset % 3, offset, value, headers))
    return records


@pytest.mark.parametrize("shared", [True, False])
def test_the_child_prepares_what_the_worker_would(monkeypatch, shared):
    if shared and not prepare_process.SHARED_MEMORY:
        pytest.fail("this platform has no memfd: the shared-buffer path is untested here")
    monkeypatch.setattr(prepare_process, "SHARED_MEMORY", shared)
    config = load_pillar_config()
    records = fixture_records()
    small, large = records[:10], records * 3  # the second batch outgrows the first one's buffer
    batches = [small, large, records, small, records[::-1]]

    async def main():
        preparer = PreparerProcess(config)
        first = await preparer.prepare(small)
        side_by_side = await asyncio.gather(*(preparer.prepare(batch) for batch in batches))
        return first, side_by_side, len(preparer._free)

    first, side_by_side, buffers = asyncio.run(main())
    assert first == prepare(decode(small), config)
    for batch, prepared in zip(batches, side_by_side, strict=True):
        assert prepared == prepare(decode(batch), config)
    assert first.deliveries[1][0].count('"delivery_id":"d-') == 10 and first.facts
    if shared:
        assert 1 <= buffers <= len(batches)  # handed back once the child was done with them
