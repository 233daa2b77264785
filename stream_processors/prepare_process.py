"""Normalising in a process of its own, so it does not share the Faust worker's GIL.

The worker's one process spends its core on consuming (fetch, decompress, events) and on the Postgres
round trips; parsing and normalising payloads and rendering the rows as JSON needs about as much again.
Here a child prepares batch N+1 while the worker writes batch N and collects N+2 (see ``app.py``).

Payloads reach the child through memory both processes map, not through the executor's pipe: a batch of
2000 webhook payloads is about 35 MB, and pickling it through a pipe cost more than normalising it.
"""

from __future__ import annotations

import asyncio
import mmap
import multiprocessing
import os
import signal
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import accumulate
from typing import Any

from pillarstream.config import PillarConfig
from pillarstream.errors import WarehouseError
from pillarstream.lifetime import die_with_parent
from stream_processors.archiver import RawRecord
from stream_processors.warehouse import PreparedBatch, prepare_raw

# memfd and /proc/<pid>/fd are Linux; elsewhere the payloads go through the pipe with the rest.
SHARED_MEMORY = hasattr(os, "memfd_create") and hasattr(os, "pwritev") and os.path.isdir("/proc/self/fd")
_IOV_MAX = 1024  # buffers per pwritev call (Linux's limit)
Header = tuple[str, int, int, Any]  # a RawRecord without its value: topic, partition, offset, headers

_config: PillarConfig | None = None
_mapped: dict[int, mmap.mmap] = {}  # in the child: the worker's buffers by descriptor number


def _start(config: PillarConfig) -> None:
    global _config
    die_with_parent(signal.SIGKILL)  # even when the worker is killed with -9
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides when to stop, not Ctrl-C
    _config = config


def _prepare(records: Sequence[RawRecord]) -> PreparedBatch:
    return prepare_raw(records, _config)


def _prepare_shared(fd: int, headers: Sequence[Header], ends: Sequence[int]) -> PreparedBatch:
    view = _map_worker_buffer(fd, ends[-1])
    starts = [0, *ends[:-1]]
    return _prepare([(topic, partition, offset, view[start:end], kafka_headers)
                     for (topic, partition, offset, kafka_headers), start, end in zip(headers, starts, ends,
                                                                                      strict=True)])


def _map_worker_buffer(fd: int, size: int) -> mmap.mmap:
    """The worker's buffer ``fd``, mapped here once (again only after it grew)."""
    mapped = _mapped.get(fd)
    if mapped is None or len(mapped) < size:
        with open(f"/proc/{os.getppid()}/fd/{fd}", "rb") as buffer:
            mapped = _mapped[fd] = mmap.mmap(buffer.fileno(), 0, prot=mmap.PROT_READ)
    return mapped


class _SharedBuffer:
    """An anonymous memory file (gone with the worker, whatever kills it) that holds one batch's payloads."""

    def __init__(self) -> None:
        self.fd = os.memfd_create("pillarstream-batch", os.MFD_CLOEXEC)

    def fill(self, values: Sequence[bytes]) -> list[int]:
        """Write the values back to back (a few system calls, no Python loop per value); returns their ends."""
        ends, position = list(accumulate(map(len, values))), 0
        for start in range(0, len(values), _IOV_MAX):
            position += os.pwritev(self.fd, values[start:start + _IOV_MAX], position)
        if ends and position != ends[-1]:
            raise OSError(f"short write to the batch buffer: {position} of {ends[-1]} bytes")
        return ends


class PreparerProcess:
    def __init__(self, config: PillarConfig) -> None:
        # spawn: the worker already runs threads (Faust's consumer thread), which fork would not carry.
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_start, initargs=(config,))
        self._free: list[_SharedBuffer] = []  # one per batch in the child's hands, reused
        # Start the child now, while the consumer joins its group, rather than on the first batch: a restarted
        # worker writes its first batch a second or two sooner.
        self._pool.submit(os.getpid)

    async def prepare(self, records: Sequence[RawRecord]) -> PreparedBatch:
        try:
            return await asyncio.wrap_future(self._submit(records))
        except BrokenProcessPool as exc:
            error = WarehouseError(f"the normalising process died: {exc}")
            error.retriable = False
            raise error from exc

    def _submit(self, records: Sequence[RawRecord]) -> Any:
        if not (SHARED_MEMORY and records):
            return self._pool.submit(_prepare, records)
        buffer = self._free.pop() if self._free else _SharedBuffer()
        ends = buffer.fill([value for _, _, _, value, _ in records])
        future = self._pool.submit(_prepare_shared, buffer.fd,
                                   [(topic, partition, offset, headers) for topic, partition, offset, _, headers
                                    in records], ends)
        future.add_done_callback(lambda _: self._free.append(buffer))  # only once the child is done reading
        return future
