"""The progress display: one line on stderr, rewritten in place on a terminal, plain lines otherwise.

Repositories done of total, resources done, items published, requests spent (counted against the rate
limit) and pages read back from the archive, GraphQL queries and points, the remaining budget, and an ETA
from the repositories' pace.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from backfill.github_api import Stats
from backfill.ratelimit import TokenPool


class Progress:
    def __init__(self, stats: Stats, pool: TokenPool, *, stream: TextIO | None = None, mode: str = "auto",
                 interval_s: float | None = None) -> None:
        self.stats = stats
        self.pool = pool
        self.stream = stream or sys.stderr
        tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.mode = ("tty" if tty else "lines") if mode == "auto" else mode
        self.interval_s = interval_s if interval_s is not None else (0.5 if self.mode == "tty" else 15.0)
        self.repositories_total = 0
        self.repositories_done = 0
        self.resources_done = 0
        self.items = 0
        self.pages_read = 0
        self.pages_resumed = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # counters, called by the sweeps
    def page(self, *, resumed: bool) -> None:
        with self._lock:
            self.pages_read += 1
            self.pages_resumed += int(resumed)

    def published(self, count: int) -> None:
        with self._lock:
            self.items += count

    def resource_done(self) -> None:
        with self._lock:
            self.resources_done += 1

    def repository_done(self) -> None:
        with self._lock:
            self.repositories_done += 1

    def line(self) -> str:
        with self._lock:
            elapsed = time.monotonic() - self.started
            done, total = self.repositories_done, self.repositories_total
            eta = ""
            if 0 < done < total:
                eta = f" eta {_duration(elapsed / done * (total - done))}"
            remaining = self.pool.remaining()
            budget = "?" if remaining is None else str(remaining)
            return (f"backfill: repositories {done}/{total}, resources {self.resources_done}, "
                    f"items {self.items}, requests {self.stats.counted} "
                    f"(+{self.stats.not_modified} not modified, "
                    f"{self.pages_resumed} from archive), "
                    + (f"GraphQL {self.stats.graphql_calls} queries {self.stats.graphql_points} points, "
                       if self.stats.graphql_calls else "")
                    + f"budget left {budget}, "
                    f"elapsed {_duration(elapsed)}{eta}")

    def start(self) -> Progress:
        if self.mode != "none":
            self._thread = threading.Thread(target=self._loop, name="backfill-progress", daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._show()

    def _show(self, final: bool = False) -> None:
        text = self.line()
        if self.mode == "tty":
            self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self.mode != "none":
            self._show(final=True)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"
