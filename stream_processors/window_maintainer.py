"""The warehouse worker's window maintainer: a thread with its own Postgres connection that empties the
window queue (``windows.py``) in bounded transactions, so the writer never waits for windows.

Woken after every write (and at least every IDLE_POLL_SECONDS, for keys other writers queued), it commits
today's and yesterday's keys first in a transaction of their own (live dashboards), then a slice of settled
past keys in another (which never holds up a live one: ``windows.maintain_slice``), and repeats while there
is work. A failure rolls its transaction back, keys included; it logs,
waits and retries on a fresh connection.
"""

from __future__ import annotations

import logging
import threading

from adapters.postgres import ReconnectingConnection
from pillarstream.errors import WarehouseError
from stream_processors.windows import IDLE_POLL_SECONDS, SETTLE_SECONDS, SLICE_KEYS, maintain_slice

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 10.0


class WindowMaintainer:
    def __init__(self, dsn: str, *, settle: float = SETTLE_SECONDS, max_keys: int = SLICE_KEYS,
                 poll: float = IDLE_POLL_SECONDS) -> None:
        self._db = ReconnectingConnection(dsn, connect_timeout=5, label="window maintenance")
        self._settle, self._max_keys, self._poll = settle, max_keys, poll
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="window-maintainer", daemon=True)

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
                worked = self._slice(settle=None, live=True) > 0  # live keys, committed on their own
                worked = self._slice(settle=self._settle, live=False) > 0 or worked
                delay = 0.2
            except WarehouseError as exc:  # a fatal one too: the keys stay queued, the writer goes on
                log.warning("window maintenance failed, retrying", extra={"error": str(exc), "retry_in_s": delay})
                self._db.close()
                self._stopping.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
                continue
            if not worked:
                self._wake.wait(self._poll)
                self._wake.clear()
        self._db.close()

    def _slice(self, settle: float | None, live: bool) -> int:
        with self._db.transaction() as cur:
            return maintain_slice(cur, settle=settle, max_keys=self._max_keys, live=live)
