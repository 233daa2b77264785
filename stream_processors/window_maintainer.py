"""The warehouse worker's window maintainer: a thread with its own Postgres connection that empties the
window queue (``windows.py``) in bounded transactions, so the writer never waits for windows.

Woken after every write (and at least every IDLE_POLL_SECONDS, for keys other writers queued), it commits
today's and yesterday's keys first in a transaction of their own (live dashboards), then a slice of settled
past keys, and repeats while there is work. A failure rolls its transaction back, keys included; it logs,
waits and retries on a fresh connection.
"""

from __future__ import annotations

import logging
import threading

import psycopg2

from stream_processors.windows import IDLE_POLL_SECONDS, SETTLE_SECONDS, SLICE_KEYS, maintain_slice

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 10.0


class WindowMaintainer:
    def __init__(self, dsn: str, *, settle: float = SETTLE_SECONDS, max_keys: int = SLICE_KEYS,
                 poll: float = IDLE_POLL_SECONDS) -> None:
        self._dsn = dsn
        self._settle, self._max_keys, self._poll = settle, max_keys, poll
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="window-maintainer", daemon=True)
        self._conn: psycopg2.extensions.connection | None = None

    def start(self) -> None:
        if not self._thread.is_alive():
            self._thread.start()

    def wake(self) -> None:
        """A write committed: its keys are in the queue."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        delay = 0.2
        while not self._stopping.is_set():
            try:
                worked = self._slice(settle=None) > 0  # live keys, committed on their own
                worked = self._slice(settle=self._settle) > 0 or worked
                delay = 0.2
            except psycopg2.Error as exc:
                log.warning("window maintenance failed, retrying", extra={"error": str(exc), "retry_in_s": delay})
                self._close()
                self._stopping.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
                continue
            if not worked:
                self._wake.wait(self._poll)
                self._wake.clear()
        self._close()

    def _slice(self, settle: float | None) -> int:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg2.connect(self._dsn, connect_timeout=5, application_name="pillarstream-windows")
        with self._conn, self._conn.cursor() as cur:
            return maintain_slice(cur, settle=settle, max_keys=self._max_keys)

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
