"""Finding the record a refused batch write failed on: written alone first, then halved down to one."""

import asyncio

import pytest

from pillarstream.errors import WarehouseDataError
from stream_processors.isolation import write_isolating
from stream_processors.warehouse import PreparedBatch

pytestmark = pytest.mark.unit


def records(*values: bytes):
    return [("t", 0, offset, value, []) for offset, value in enumerate(values)]


class Warehouse:
    """Refuses any write holding a record whose value is b"bad" (as Postgres refuses the whole transaction)."""

    def __init__(self, grouped_with_bad: bool = False):
        self.rows: list[bytes] = []
        self.dead: list[tuple[int, str]] = []
        self.writes = 0
        self.grouped_with_bad = grouped_with_bad

    async def prepare(self, batch):
        return PreparedBatch(("", ([r[3] for r in batch],)), [], {}, [], [])  # the values stand in for the rows

    async def submit(self, batch: PreparedBatch, alone: bool) -> None:
        self.writes += 1
        if batch.dead_letters:
            self.dead += [(d.offset, d.error) for d in batch.dead_letters]
            return
        values = batch.deliveries[1][0]
        if b"bad" in values or (self.grouped_with_bad and not alone):
            raise WarehouseDataError("Postgres refused a value: out of range")
        self.rows += values


def test_the_record_at_fault_is_dead_lettered_and_every_other_written():
    warehouse = Warehouse()
    batch = records(*[b"ok%d" % i for i in range(13)], b"bad", *[b"ok%d" % i for i in range(13, 40)])
    asyncio.run(write_isolating(batch, warehouse.prepare, warehouse.submit))

    assert sorted(warehouse.rows) == sorted(b"ok%d" % i for i in range(40))
    assert warehouse.dead == [(13, "Postgres refused a value: out of range")]
    assert warehouse.writes <= 2 + 2 * 6 + 1  # first try, alone, two writes per halving, the dead letter


def test_a_batch_that_only_shared_a_transaction_with_a_bad_one_is_written_whole_on_its_own():
    warehouse = Warehouse(grouped_with_bad=True)
    asyncio.run(write_isolating(records(b"a", b"b", b"c"), warehouse.prepare, warehouse.submit))

    assert (warehouse.rows, warehouse.dead, warehouse.writes) == ([b"a", b"b", b"c"], [], 2)
