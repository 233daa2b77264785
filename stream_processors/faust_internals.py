"""Every use of faust-streaming's private internals, in one place: what the workers rely on that Faust does
not promise. Pinned to ``faust-streaming>=0.11,<0.16`` (pyproject.toml; :data:`FAUST_REQUIREMENT`);
``tests/unit/test_faust_internals.py`` fails, naming what changed, when an upgrade changes any of it. Then
read the named function in the new Faust, carry the change over here (or drop the part), and record the
new fingerprint in that test.

**Commit-after-write** (:func:`take_batches`, :func:`hold`, :func:`release`; used by ``app.py``). An offset
must be committed only once its batch is written, yet the agent should collect the next batch meanwhile.

- ``Stream.take_events`` (not declared on ``StreamT``) acks a batch's events in its ``finally`` once the
  loop body that took them finishes, that is before the write the body started is done.
- :func:`hold` adds one reference per message (``Message.incref``), so that ack is not the final one;
  :func:`release`, after the write, acks again: ``Event.ack`` returns True on the final ack, which marks the
  offset safe to commit, and then tells the sensors what ``Stream.ack`` would (``on_message_out``).
- A crash before ``release`` leaves the offsets uncommitted: re-read, and absorbed by the idempotent sinks.

**Lean drain** (:class:`LeanDrainConsumer`, installed by :func:`use_lean_drain` in place of
``app.transport.Consumer``): ``Consumer._drain_messages`` (faust/transport/consumer.py) copied, with two
changes. It reads the consumer's private state: ``_read_offset``, ``_buffered_partitions``,
``_get_active_partitions()``, ``_add_gap()``, ``_commit_every``, ``_n_acked``, ``_stopped``. The changes:

1. Faust's fetcher hands every message to the conductor inside ``wait_first(callback, suspend_flow)``,
   so that a rebalance can interrupt a callback blocked on a full stream buffer. That costs four tasks
   and an ``asyncio.wait`` per message: a quarter of the worker's event-loop time at full speed (py-spy).
   Nearly every callback finishes without waiting at all, so this consumer first runs it directly and,
   only if it does wait, races the rest of it against the flow stop exactly as Faust does.
2. While the worker is busy writing, stream buffers fill and Faust leaves their partitions out of the
   fetch until they drain to half. It then fetches the others with a one-second timeout, and when a
   fetch finds nothing (a partition at its end) it waits out that second however soon a buffer drains;
   with every partition left out it sleeps a whole second. Under a backlog those seconds left both
   cores idle for about a third of the run. This one looks again every 50 ms while a buffer is full,
   and wakes at once when a buffer drains.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Generator, Sequence
from contextlib import suppress
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode import ServiceT

FAUST_REQUIREMENT = "faust-streaming>=0.11,<0.16"  # as in pyproject.toml (the guard test checks)
# Faust's fetcher also yields to the loop every hundred messages, so a large fetch does not starve it.
YIELD_EVERY = 100
FETCH_TIMEOUT_S = 1.0  # Faust's: how long a fetch waits for records before the loop goes round
BUFFER_FULL_FETCH_TIMEOUT_S = 0.05  # the same while some partition is left out for a full buffer
PAUSED_WAIT_S = 1.0  # how long to wait for a buffer to drain when every partition is left out


class _Remainder:
    """The rest of a coroutine that already ran up to its first wait, as an awaitable a task can drive."""

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        self._coro, self._waiting_on = coro, waiting_on

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, waiting_on = self._coro, self._waiting_on
        while True:
            try:
                sent = yield waiting_on
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # noqa: BLE001 - cancellation included: handed on to the coroutine
                try:
                    waiting_on = coro.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    waiting_on = coro.send(sent)
                except StopIteration as done:
                    return done.value


class LeanDrainConsumer(faust_aiokafka.Consumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._buffer_drained = asyncio.Event()

    def on_buffer_drop(self, tp: Any) -> None:
        super().on_buffer_drop(tp)
        self._buffer_drained.set()

    async def until_fetchable(self) -> None:
        """Return once some partition may be fetched: at once, when a stream buffer drains, or after
        ``PAUSED_WAIT_S`` (partitions also pause for other reasons, such as a rebalance)."""
        self._buffer_drained.clear()
        if self.app.client_only or self._get_active_partitions():
            return
        with suppress(TimeoutError):
            await asyncio.wait_for(self._buffer_drained.wait(), PAUSED_WAIT_S)

    def fetch_timeout(self) -> float:
        return BUFFER_FULL_FETCH_TIMEOUT_S if self._buffered_partitions else FETCH_TIMEOUT_S

    async def deliver(self, message: Any) -> None:
        pending = self.callback(message)
        if not isinstance(pending, Coroutine):  # not Faust's conductor: no shortcut, race it as Faust does
            await self.wait_first(pending, self.suspend_flow.wait())
            return
        try:
            waiting_on = pending.send(None)
        except StopIteration:
            return
        await self.wait_first(_Remainder(pending, waiting_on), self.suspend_flow.wait())

    async def _drain_messages(self, fetcher: ServiceT) -> None:
        # Faust's loop (faust/transport/consumer.py), with ``deliver`` for its per-message ``wait_first``
        # and the full-buffer waits of the module's docstring (``until_fetchable``, ``fetch_timeout``).
        read_offset = self._read_offset
        acks_enabled_for = self.app.topics.acks_enabled_for
        since_yield = 0
        try:
            while not (self._stopped.is_set() or fetcher._stopped.is_set()):  # type: ignore[attr-defined]
                await self.until_fetchable()
                self.diag.set_flag(CONSUMER_FETCHING)
                messages = self.getmany(timeout=self.fetch_timeout())
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in messages:
                        since_yield += 1
                        if since_yield > YIELD_EVERY:
                            await asyncio.sleep(0)
                            since_yield = 0
                        offset, last = message.offset, read_offset[tp]
                        if last is not None and offset < last:
                            continue  # older than what was read already: Faust drops these too
                        if last and offset - last > 1 and acks_enabled_for(message.topic):
                            await self._add_gap(tp, last + 1, offset)
                        if self._commit_every is not None and self._n_acked >= self._commit_every:
                            self._n_acked = 0
                            await self.commit()
                        await self.deliver(message)
                        read_offset[tp] = offset
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if not self.transport.app.should_stop:
                raise
        except asyncio.CancelledError:
            if not self.transport.app.should_stop:
                raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)


def use_lean_drain(app: Any) -> None:
    """Make the app's Kafka transport build a :class:`LeanDrainConsumer` (call before the app starts)."""
    app.transport.Consumer = LeanDrainConsumer


def take_batches(stream: Any, size: int, within: float) -> AsyncIterator[Sequence[Any]]:
    """Lists of at most ``size`` events, or what came ``within`` seconds; acked as the loop body ends."""
    batches: AsyncIterator[Sequence[Any]] = stream.take_events(size, within=within)
    return batches


def hold(events: Sequence[Any]) -> None:
    """Keep the events' offsets uncommitted after ``take_events`` acks them, until :func:`release`."""
    for event in events:
        event.message.incref()


def release(events: Sequence[Any]) -> None:
    """The final ack of each held event: its offset may now be committed."""
    for event in events:
        if event.ack():  # the final ack: what Stream.ack would tell the sensors (Faust's own monitor)
            message = event.message
            event.app.sensors.on_message_out(message.tp, message.offset, message)
