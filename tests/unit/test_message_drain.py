"""The consumer's delivery shortcut: a callback that never waits runs inline; one that waits is raced
against a flow stop exactly as Faust does, and what happens to it then reaches the callback itself.
And its fetcher, paused by full stream buffers, wakes when one drains."""

import asyncio
from types import SimpleNamespace

import pytest
from faust.types import TP
from mode import Service

from stream_processors import faust_internals
from stream_processors.faust_internals import LeanDrainConsumer, _Remainder

pytestmark = pytest.mark.unit
TP0 = TP("raw", 0)


class Delivering(Service):
    """Just what ``deliver`` uses of a consumer: a callback, the flow stop event, mode's wait_first."""

    deliver = LeanDrainConsumer.deliver

    def __init__(self, callback):
        super().__init__()
        self.callback = callback
        self.suspend_flow = asyncio.Event()
        self.races = 0

    async def wait_first(self, *coros, timeout=None):
        self.races += 1
        return await super().wait_first(*coros, timeout=timeout)


def test_a_callback_that_never_waits_is_not_raced():
    seen = []

    async def callback(message):
        seen.append(message)

    async def main():
        consumer = Delivering(callback)
        for message in range(3):
            await consumer.deliver(message)
        return consumer.races

    assert asyncio.run(main()) == 0
    assert seen == [0, 1, 2]


def test_a_callback_that_waits_finishes_through_the_race():
    steps = []

    async def callback(message):
        steps.append(("start", message))
        await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        steps.append(("end", message))

    async def main():
        consumer = Delivering(callback)
        await consumer.deliver("m")
        return consumer.races

    assert asyncio.run(main()) == 1
    assert steps == [("start", "m"), ("end", "m")]


def test_a_flow_stop_cancels_a_waiting_callback():
    outcome = []

    async def callback(message):
        try:
            await asyncio.Event().wait()  # a full stream buffer that never drains
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    async def main():
        consumer = Delivering(callback)
        delivery = asyncio.create_task(consumer.deliver("m"))
        await asyncio.sleep(0.01)
        consumer.suspend_flow.set()
        await asyncio.wait_for(delivery, 2)

    asyncio.run(main())
    assert outcome == ["cancelled"]


def test_a_callback_error_after_a_wait_propagates():
    async def callback(message):
        await asyncio.sleep(0)
        raise ValueError(message)

    async def main():
        await Delivering(callback).deliver("boom")

    with pytest.raises(ValueError, match="boom"):
        asyncio.run(main())


def test_the_remainder_returns_the_coroutine_value_and_passes_sent_values_on():
    async def work():
        loop = asyncio.get_running_loop()
        first = loop.create_future()
        loop.call_later(0.01, first.set_result, 20)
        value = await first
        await asyncio.sleep(0)
        return value + 1

    async def main():
        coro = work()
        waiting_on = coro.send(None)
        return await _Remainder(coro, waiting_on)

    assert asyncio.run(main()) == 21


def paused_consumer(tp):
    """A LeanDrainConsumer with only the state Faust's flow control uses: one partition, its buffer full."""
    consumer = LeanDrainConsumer.__new__(LeanDrainConsumer)
    consumer.app = SimpleNamespace(client_only=False, in_recovery=False)
    consumer._active_partitions, consumer._buffered_partitions = {tp}, set()
    consumer._buffer_drained = asyncio.Event()
    consumer.on_buffer_full(tp)  # Faust's own bookkeeping: the partition is no longer fetched
    return consumer


def test_a_paused_fetcher_wakes_when_a_stream_buffer_drains(monkeypatch):
    monkeypatch.setattr(faust_internals, "PAUSED_WAIT_S", 60.0)  # only the drain can end the wait in time

    async def main():
        consumer = paused_consumer(TP0)
        waiting = asyncio.create_task(consumer.until_fetchable())
        for _ in range(5):
            await asyncio.sleep(0)
        paused = not waiting.done()
        consumer.on_buffer_drop(TP0)
        await asyncio.wait_for(waiting, 5)
        return paused, consumer._get_active_partitions()

    assert asyncio.run(main()) == (True, {TP0})


def test_a_fetcher_with_nothing_to_fetch_still_looks_again(monkeypatch):
    monkeypatch.setattr(faust_internals, "PAUSED_WAIT_S", 0.01)  # e.g. paused by a rebalance, not by a buffer

    async def main():
        await asyncio.wait_for(paused_consumer(TP0).until_fetchable(), 5)

    asyncio.run(main())


def test_fetches_look_again_soon_while_a_buffer_is_full():
    consumer = paused_consumer(TP0)
    assert consumer.fetch_timeout() == faust_internals.BUFFER_FULL_FETCH_TIMEOUT_S < faust_internals.FETCH_TIMEOUT_S
    consumer.on_buffer_drop(TP0)
    assert consumer.fetch_timeout() == faust_internals.FETCH_TIMEOUT_S
