"""Normalising in a process of its own, so it does not share the Faust worker's GIL.

The worker's one process spends its core on consuming (fetch, decompress, events) and on the Postgres
round trips; parsing and normalising payloads needs about as much again. Here a child prepares batch N+1
(pure CPU, no connection) while the worker writes batch N and collects N+2 (see ``app.py``).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from pillarstream.config import PillarConfig
from pillarstream.errors import WarehouseError
from pillarstream.lifetime import die_with_parent
from stream_processors.archiver import RawRecord, decode
from stream_processors.warehouse import PreparedBatch, prepare

_config: PillarConfig | None = None


def _start(config: PillarConfig) -> None:
    global _config
    die_with_parent(signal.SIGKILL)  # even when the worker is killed with -9
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides when to stop, not Ctrl-C
    _config = config


def _prepare(records: Sequence[RawRecord]) -> PreparedBatch:
    return prepare(decode(records), _config)


class PreparerProcess:
    def __init__(self, config: PillarConfig) -> None:
        # spawn: the worker already runs threads (Faust's consumer thread), which fork would not carry.
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_start, initargs=(config,))

    async def prepare(self, records: Sequence[RawRecord]) -> PreparedBatch:
        try:
            return await asyncio.wrap_future(self._pool.submit(_prepare, records))
        except BrokenProcessPool as exc:
            error = WarehouseError(f"the normalising process died: {exc}")
            error.retriable = False
            raise error from exc
