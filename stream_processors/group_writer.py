"""One write at a time, with whatever queued up meanwhile written together in the next one.

The warehouse writes a batch per transaction, and each transaction ends by recomputing the metric buckets
the batch touched. Under a backlog several prepared batches wait for the writer, and they mostly touch the
same buckets (today's, for the same repositories): written together, they pay for one recompute, one
touched-days lookup and one commit instead of one each. At a steady trickle nothing queues up, so each
batch is written alone, as soon as it is ready.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupWriter(Generic[T]):
    def __init__(self, write: Callable[[list[T]], Awaitable[None]]) -> None:
        self._write = write
        self._lock = asyncio.Lock()  # FIFO: groups are written in the order their first item arrived
        self._queued: list[tuple[T, asyncio.Future[None]]] = []

    async def submit(self, item: T, *, alone: bool = False) -> None:
        """Return once ``item`` is written; raise what the write that held it raised. ``alone``: in a write
        of its own, in turn (to find which item a failed group write failed on)."""
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if alone:
            async with self._lock:
                await self._write_group([(item, written)])
            await written
            return
        self._queued.append((item, written))
        async with self._lock:
            if not written.done():  # else an earlier holder of the lock took it along
                group, self._queued = self._queued, []
                await self._write_group(group)
        await written

    async def _write_group(self, group: list[tuple[T, asyncio.Future[None]]]) -> None:
        try:
            await self._write([item for item, _ in group])
        except asyncio.CancelledError:
            for _, written in group:
                written.cancel()
            raise
        except BaseException as exc:  # noqa: BLE001 - handed to every submitter of the group
            for _, written in group:
                written.set_exception(exc)
        else:
            for _, written in group:
                written.set_result(None)
