"""What a Postgres failure means for the record being written, decided in one place.

- **transient**: the server or the connection, not the data (Postgres down or restarting, a dropped
  connection, a serialization failure or deadlock, too many connections, disk full). Retried with backoff,
  never dead-lettered: the same write succeeds once the server is back.
- **data**: Postgres refused a value the batch holds (SQLSTATE class 22 data exception, 23 integrity
  violation, 54 program limit such as an index row too large). Some record is at fault: the worker
  isolates it and dead-letters it, and writes the rest.
- **fatal**: anything else (a missing table or grant, an internal error): neither retrying nor
  dead-lettering helps, so the worker stops, visibly, for an operator.
"""

from __future__ import annotations

from typing import Literal

import psycopg2

from pillarstream.errors import WarehouseDataError, WarehouseError

Verdict = Literal["transient", "data", "fatal"]
# SQLSTATE classes: 08 connection, 40 transaction rollback, 53 insufficient resources, 57 operator
# intervention (admin shutdown, cannot connect now, query canceled), 58 system error (I/O).
_TRANSIENT_CLASSES = frozenset({"08", "40", "53", "57", "58"})
_DATA_CLASSES = frozenset({"22", "23", "54"})
# A relation or schema that is not there: the database was not migrated (or not far enough).
_NOT_MIGRATED = frozenset({"42P01", "3F000"})


def classify(exc: psycopg2.Error) -> Verdict:
    code = exc.pgcode or ""
    if code[:2] in _TRANSIENT_CLASSES:
        return "transient"
    if code[:2] in _DATA_CLASSES:
        return "data"
    if not code and isinstance(exc, psycopg2.OperationalError | psycopg2.InterfaceError):
        return "transient"  # no answer from the server at all: refused, reset, closed
    return "fatal"


def warehouse_error(exc: psycopg2.Error, label: str = "") -> WarehouseError:
    """The project's error for ``exc``; ``retriable`` is true only for a transient failure. ``label`` names
    what was being read or written, when that is not the warehouse itself (``backfill cursors``)."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    prefix = f"{label}: " if label else ""
    verdict = classify(exc)
    if verdict == "transient":
        return WarehouseError(f"{prefix}Postgres unavailable: {reason}")
    if verdict == "data":
        return WarehouseDataError(f"{prefix}Postgres refused a value: {reason}")
    hint = " (did `pillarstream migrate` run?)" if exc.pgcode in _NOT_MIGRATED else ""
    error = WarehouseError(f"{prefix}Postgres refused the statement ({exc.pgcode or type(exc).__name__}): "
                           f"{reason}{hint}")
    error.retriable = False
    return error
