"""Postgres connections for every deployable: how one is opened, and reopened after a failure.

:func:`connect` opens one (the project's only ``psycopg2.connect`` outside the local server's admin);
:func:`fetch_all` runs one short query; :class:`ReconnectingConnection` is the long-lived connection of a
worker or a run (the warehouse sink, the backfill cursors): opened on first use, and dropped after a
transient failure so the next use opens a fresh one. Every failure becomes a project error by the one rule
of ``postgres_errors.py``.

A DSN libpq cannot parse is raised as psycopg2's error: the command that was given it says where it came
from (``--dsn`` or ``PILLARSTREAM_DATABASE_URL``) without repeating it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

import psycopg2
import psycopg2.extensions

from adapters.postgres_errors import warehouse_error


def connect(dsn: str, *, connect_timeout: int = 10, autocommit: bool = False, label: str = "",
            application_name: str = "") -> psycopg2.extensions.connection:
    """A new connection; a server that does not answer is a retriable :class:`WarehouseError` whose message
    is libpq's first line (it names the host and port, never the password). ``application_name`` names the
    connection's part in ``pg_stat_activity`` (over the DSN's own)."""
    named = {"application_name": application_name[:63]} if application_name else {}
    try:
        conn = psycopg2.connect(dsn, connect_timeout=connect_timeout, **named)
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

    def __init__(self, dsn: str, *, connect_timeout: int = 10, autocommit: bool = False, label: str = "",
                 application_name: str = "") -> None:
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        self._autocommit = autocommit
        self._label = label
        self._application_name = application_name
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
                                         autocommit=self._autocommit, label=self._label,
                                         application_name=self._application_name)
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
