"""The warehouse's writer: one write at a time, what queued up meanwhile written together next, and each
submitter told exactly what became of its own item."""

import asyncio

import pytest

from stream_processors.group_writer import GroupWriter

pytestmark = pytest.mark.unit


class Recorder:
    def __init__(self, fail_on=None):
        self.calls = []
        self.fail_on = fail_on
        self.release = asyncio.Event()

    async def __call__(self, items):
        self.calls.append(items)
        await self.release.wait()  # the write stays in progress until the test lets it finish
        if self.fail_on in items:
            raise RuntimeError(f"refused {self.fail_on}")


async def settle():
    for _ in range(10):
        await asyncio.sleep(0)


def test_items_that_queue_during_a_write_go_together_in_the_next():
    async def main():
        write = Recorder()
        writer = GroupWriter(write)
        first = asyncio.create_task(writer.submit(1))
        await settle()
        later = [asyncio.create_task(writer.submit(i)) for i in (2, 3, 4)]
        await settle()
        assert write.calls == [[1]] and not any(t.done() for t in [first, *later])
        write.release.set()
        await asyncio.wait_for(asyncio.gather(first, *later), 5)
        alone = asyncio.create_task(writer.submit(5))
        await asyncio.wait_for(alone, 5)
        return write.calls

    assert asyncio.run(main()) == [[1], [2, 3, 4], [5]]


def test_a_failed_write_fails_every_item_it_held_and_no_other():
    async def main():
        write = Recorder(fail_on=3)
        writer = GroupWriter(write)
        first = asyncio.create_task(writer.submit(1))
        await settle()
        held = [asyncio.create_task(writer.submit(i)) for i in (2, 3)]
        await settle()
        write.release.set()
        outcomes = await asyncio.wait_for(asyncio.gather(first, *held, return_exceptions=True), 5)
        await asyncio.wait_for(writer.submit(4), 5)  # the writer goes on after a failure
        return outcomes, write.calls

    (first, two, three), calls = asyncio.run(main())
    assert first is None
    assert isinstance(two, RuntimeError) and isinstance(three, RuntimeError) and str(two) == "refused 3"
    assert calls == [[1], [2, 3], [4]]


def test_an_item_submitted_alone_is_written_in_a_write_of_its_own_in_turn():
    async def main():
        write = Recorder()
        writer = GroupWriter(write)
        first = asyncio.create_task(writer.submit(1))
        await settle()
        alone = asyncio.create_task(writer.submit(2, alone=True))
        await settle()
        later = [asyncio.create_task(writer.submit(i)) for i in (3, 4)]
        await settle()
        write.release.set()
        await asyncio.wait_for(asyncio.gather(first, alone, *later), 5)
        return write.calls

    assert asyncio.run(main()) == [[1], [2], [3, 4]]
