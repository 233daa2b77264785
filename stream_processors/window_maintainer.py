"""The warehouse worker's window maintainer: threads, each with its own Postgres connection, that empty the
window queue (``windows.py``) in bounded transactions, so the writer never waits for windows.

All are woken after every write (and look at least every IDLE_POLL_SECONDS, for keys other writers
queued). One commits today's and yesterday's keys (live dashboards); the others (one per lane of scopes,
SETTLE_LANES) slices of settled keys of earlier days and of the windows ahead.
Apart, a slice of history (seconds, at the organisation grain of a bulk load) never holds up the next live
rebuild, neither by a lock (``windows.maintain_slice``) nor by taking the thread's turn. A failure rolls its
transaction back, keys included; that thread logs, waits and retries on a fresh connection.
"""

from __future__ import annotations

import logging
import threading
import time

from adapters.postgres import ReconnectingConnection
from pillarstream.errors import WarehouseError
from stream_processors.windows import IDLE_POLL_SECONDS, SETTLE_LANES, SETTLE_SECONDS, SLICE_KEYS, maintain_slice

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 10.0
# A look for settled keys that finds none is followed by a pause of this many times what it took (at most
# MAX_IDLE_S) before the next, however often writes wake the thread: it groups the whole queue, which holds
# millions of keys while a bulk load's history waits, and every write of the load woke it.
IDLE_COST_FACTOR = 30.0
MAX_IDLE_S = 10.0


class WindowMaintainer:
    def __init__(self, dsn: str, *, settle: float = SETTLE_SECONDS, max_keys: int = SLICE_KEYS,
                 poll: float = IDLE_POLL_SECONDS) -> None:
        self._dsn, self._settle, self._max_keys, self._poll = dsn, settle, max_keys, poll
        self._stopping = threading.Event()
        # Each thread's part: "live", or the lane of scopes whose settled keys it takes.
        self._parts: dict[str, int | None] = {"live": None} | {f"past {lane}": lane for lane in range(SETTLE_LANES)}
        self._wakes = {part: threading.Event() for part in self._parts}
        self._threads = [threading.Thread(target=self._run, args=(part,), name=f"window-maintainer {part}",
                                          daemon=True) for part in self._parts]

    def start(self) -> None:
        for thread in self._threads:
            if not thread.is_alive() and thread.ident is None:
                thread.start()

    def wake(self) -> None:
        """A write committed: its keys are in the queue."""
        for event in self._wakes.values():
            event.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        self.wake()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)

    def _run(self, part: str) -> None:
        db = ReconnectingConnection(self._dsn, connect_timeout=5, label=f"window maintenance ({part})",
                                    application_name=f"pillarstream windows {part}")
        wake = self._wakes[part]
        delay = 0.2
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                with db.transaction() as cur:
                    if part == "live":
                        worked = maintain_slice(cur, settle=None) > 0
                    else:
                        worked = maintain_slice(cur, settle=self._settle, max_keys=self._max_keys, live=False,
                                                lane=self._parts[part]) > 0
                delay = 0.2
                if worked and part != "live":
                    self._wakes["live"].set()  # a slice of history queues the live keys of its scopes
            except Exception as exc:  # noqa: BLE001 - a fatal one too: the keys stay queued, the writer goes on
                log.warning("window maintenance failed, retrying", exc_info=not isinstance(exc, WarehouseError),
                            extra={"part": part, "error": str(exc), "retry_in_s": delay})
                db.close()
                self._stopping.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
                continue
            if not worked:
                if part != "live":
                    self._stopping.wait(min(IDLE_COST_FACTOR * (time.monotonic() - started), MAX_IDLE_S))
                wake.wait(self._poll)
                wake.clear()
        db.close()
