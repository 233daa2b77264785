"""Postgres for every deployable: how a connection is opened and reopened, and what a failure means.

:func:`connect` opens one (the project's only ``psycopg2.connect`` outside the local server's admin);
:func:`fetch_all` runs one short query; :class:`ReconnectingConnection` is the long-lived connection of a
worker or a run (the warehouse sink, the backfill cursors): opened on first use, and dropped after a
transient failure so the next use opens a fresh one. Every failure becomes a project error, by one rule:


- **transient**: the server or the connection, not the data (Postgres down or restarting, a dropped
  connection, a serialization failure or deadlock, too many connections, disk full). Retried with backoff,
  never dead-lettered: the same write succeeds once the server is back.
- **data**: Postgres refused a value the batch holds (SQLSTATE class 22 data exception, 23 integrity
  violation, 54 program limit such as an index row too large). Some record is at fault: the worker
  isolates it and dead-letters it, and writes the rest.
- **fatal**: anything else (a missing table or grant, an internal error): neither retrying nor
  dead-lettering helps, so the worker stops, visibly, for an operator.

A DSN libpq cannot parse is raised as psycopg2's error: the command that was given it says where it came
from (``--dsn`` or ``PILLARSTREAM_DATABASE_URL``) without repeating it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any, Literal

import psycopg2
import psycopg2.extensions

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


def connect(dsn: str, *, connect_timeout: int = 10, autocommit: bool = False,
            label: str = "") -> psycopg2.extensions.connection:
    """A new connection; a server that does not answer is a retriable :class:`WarehouseError` whose message
    is libpq's first line (it names the host and port, never the password)."""
    try:
        conn = psycopg2.connect(dsn, connect_timeout=connect_timeout)
    except psycopg2.OperationalError as exc:
        raise warehouse_error(exc, label) from exc
    conn.autocommit = autocommit
    return conn


def fetch_all(dsn: str, query: str, params: Sequence[Any] | dict[str, Any], *,
              connect_timeout: int = 10) -> list[tuple[Any, ...]]:
    """Runs one short query on a connection of its own, closed after it."""
    conn = connect(dsn, connect_timeout=connect_timeout)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(query, params)
            return list(cur.fetchall())
    except psycopg2.Error as exc:
        raise warehouse_error(exc) from exc
    finally:
        conn.close()


class ReconnectingConnection:
    """One connection, opened on first use and shared by the caller's threads one transaction at a time;
    after a transient failure it is closed, so the next transaction opens a fresh one."""

    def __init__(self, dsn: str, *, connect_timeout: int = 10, autocommit: bool = False, label: str = "") -> None:
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        self._autocommit = autocommit
        self._label = label
        self._lock = threading.Lock()
        self._conn: psycopg2.extensions.connection | None = None

    @contextmanager
    def transaction(self) -> Iterator[psycopg2.extensions.cursor]:
        """A cursor in one transaction (committed when the block ends, rolled back if it raises); with
        ``autocommit`` each statement commits by itself."""
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = connect(self._dsn, connect_timeout=self._connect_timeout,
                                         autocommit=self._autocommit, label=self._label)
                conn = self._conn
                with nullcontext() if self._autocommit else conn, conn.cursor() as cur:
                    yield cur
            except psycopg2.Error as exc:
                error = warehouse_error(exc, self._label)
                if error.retriable:
                    self._close()  # the connection may be gone; a fresh one next time
                raise error from exc

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
