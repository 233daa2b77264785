"""A deadline on reading a request body, so a client that stalls mid-upload cannot keep a thread forever.

gunicorn's gthread worker reads the body with blocking ``recv`` calls and no timeout. A per-``recv`` socket
timeout would not bound a client that trickles a byte now and then, so instead one watchdog thread per
process shuts the read side of the socket down when the deadline passes: the blocked ``recv`` returns at
once with end-of-stream, the read fails, and the request is answered 408 while the thread is freed.
Writing the answer still works (only reads are shut down); the connection is closed afterwards.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Deadline:
    """One armed deadline; ``expired`` tells whether the watchdog cut the read."""

    __slots__ = ("at", "sock", "armed", "expired")

    def __init__(self, at: float, sock: socket.socket) -> None:
        self.at = at
        self.sock = sock
        self.armed = True
        self.expired = False


class ReadDeadlines:
    """Watchdog over any number of sockets; its thread starts on first use (after gunicorn forks)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    @contextmanager
    def reading(self, sock: socket.socket | None, seconds: float) -> Iterator[Deadline | None]:
        """Bound the reads done inside the block; ``None`` when there is no socket (the Flask test client)."""
        if sock is None:
            yield None
            return
        deadline = Deadline(time.monotonic() + seconds, sock)
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._watch, name="body-read-deadline", daemon=True)
                self._thread.start()
            heapq.heappush(self._heap, (deadline.at, next(self._order), deadline))
            self._cond.notify()
        try:
            yield deadline
        finally:
            # Under the lock: once this returns the watchdog can no longer touch the socket, which
            # gunicorn may keep alive for the connection's next request.
            with self._cond:
                deadline.armed = False

    def _watch(self) -> None:
        while True:
            with self._cond:
                while self._heap and not self._heap[0][2].armed:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                _, _, deadline = heapq.heappop(self._heap)
                deadline.expired = True
                try:
                    deadline.sock.shutdown(socket.SHUT_RD)
                except OSError:
                    pass  # already closed by the client or by gunicorn
