"""The normalising process gives the same prepared batch (rendered statements included) as preparing in
the worker itself, whether the payloads travel through the shared buffer or the pipe, with buffers reused
and grown across batches; a Postgres it cannot reach is a retriable error, not a dead worker."""

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import psycopg2
import pytest

from devstack.process import free_port
from pillarstream.config import load_pillar_config
from pillarstream.envelope import from_payload, to_record
from pillarstream.errors import WarehouseError
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
def test_the_child_prepares_what_the_worker_would(db, monkeypatch, shared):
    if shared and not prepare_process.SHARED_MEMORY:
        pytest.fail("this platform has no memfd: the shared-buffer path is untested here")
    monkeypatch.setattr(prepare_process, "SHARED_MEMORY", shared)
    config = load_pillar_config()
    records = fixture_records()
    small, large = records[:10], records * 3  # the second batch outgrows the first one's buffer
    batches = [small, large, records, small, records[::-1]]

    async def main():
        preparer = PreparerProcess(config, db.writer_dsn)
        first = await preparer.prepare(small)
        side_by_side = await asyncio.gather(*(preparer.prepare(batch) for batch in batches))
        return first, side_by_side, len(preparer._free)

    first, side_by_side, buffers = asyncio.run(main())
    conn = psycopg2.connect(db.writer_dsn)
    with conn.cursor() as quoting:
        assert first == prepare(decode(small), quoting, config)
        for batch, prepared in zip(batches, side_by_side, strict=True):
            assert prepared == prepare(decode(batch), quoting, config)
    conn.close()
    assert first.deliveries.count(b'"delivery_id":"d-') == 10 and first.facts
    if shared:
        assert 1 <= buffers <= len(batches)  # handed back once the child was done with them


def test_an_unreachable_postgres_is_a_retriable_error():
    async def main():
        return await PreparerProcess(load_pillar_config(), f"postgresql://nobody@127.0.0.1:{free_port()}/x").prepare(
            fixture_records()[:3])

    with pytest.raises(WarehouseError, match="Postgres unavailable") as raised:
        asyncio.run(main())
    assert raised.value.retriable
