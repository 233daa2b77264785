"""Finding the record a batch write failed on, so that one record is dead-lettered and the rest written.

Postgres refuses a whole transaction for one bad value. When a (group) write fails on the data
(:class:`WarehouseDataError`), each batch is first written alone: the group it shared a transaction with
may hold the culprit, not this batch. A batch that still fails is halved, each half prepared and written
alone, down to single records; a single record that fails is stored as a dead letter instead. A batch of
n records with one culprit costs about 2·log2(n) extra writes, and only when something failed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from pillarstream.errors import WarehouseDataError
from stream_processors.archiver import RawRecord
from stream_processors.warehouse import PreparedBatch, dead_letter, dead_letters_only

log = logging.getLogger(__name__)
Prepare = Callable[[Sequence[RawRecord]], Awaitable[PreparedBatch]]
Submit = Callable[[PreparedBatch, bool], Awaitable[None]]  # (batch, alone)


async def write_isolating(records: Sequence[RawRecord], prepare: Prepare, submit: Submit,
                          prepared: PreparedBatch | None = None, *, alone: bool = False) -> None:
    batch = prepared if prepared is not None else await prepare(records)
    try:
        await submit(batch, alone)
        return
    except WarehouseDataError as exc:
        error = exc
    if not alone:
        log.warning("batch refused by Postgres, isolating the record at fault",
                    extra={"records": len(records), "error": str(error)})
        await write_isolating(records, prepare, submit, batch, alone=True)
    elif len(records) == 1:
        await submit(dead_letters_only([dead_letter(records[0], str(error))]), True)
    else:
        half = len(records) // 2
        await write_isolating(records[:half], prepare, submit, alone=True)
        await write_isolating(records[half:], prepare, submit, alone=True)
