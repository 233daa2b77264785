"""Materialised windows: the 1-, 7- and 28-day values of every grain, kept in ``metric_windows``.

The writer rebuilds buckets of (day, repository) pairs (``warehouse.py``); the keys of those buckets — their
repository, organisation and language on that day — are queued in ``metric_windows_pending``, and
:func:`refresh_windows` empties the queue in the same transaction: the daily roll-ups of the wider grains for
the queued days, then every window ending on a queued day or the 27 days after it. A crash before the
commit leaves buckets, queue and windows as they were; a queued key that some other writer of the table
committed (a repository's language changed by hand) is picked up by the next write. Under a backlog, keys
of past days are left queued (committed with their buckets, so nothing is lost) for up to SETTLE_SECONDS
and then taken together; the worker writes an empty batch every few seconds, which takes whatever is left
once the backlog is gone. Statements: ``sql/windows.sql``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from stream_processors.facts import named_queries

Key = tuple[str, str, str, date]  # grain, org, scope, day
WINDOW_DAYS = 28  # the longest window: a day's data counts in windows ending up to 27 days later
SETTLE_SECONDS = 10.0  # longest wait of a past day's key under a backlog (the worker flushes when idle)
_ALL_DAYS = {"lo": date.min, "hi": date.max}


def enqueue_buckets(cur: Any, params: dict[str, Any]) -> None:
    """Queue the keys of the buckets of the given (day, repository) pairs as they stand now."""
    cur.execute(named_queries("windows.sql")["enqueue_buckets"], params)


def refresh_windows(cur: Any, *, backlog: bool = False) -> int:
    """Bring the windows of the queued keys up to date; returns the number of keys.

    Under a backlog (a replay, a backfill, a worker catching up: several batches written together), keys
    of days before yesterday wait until one of them has waited SETTLE_SECONDS, so the windows of a stretch
    of history are computed once for many batches rather than once per batch (each batch's days reach 27
    days ahead). Today's and yesterday's keys, and every key outside a backlog, are taken at once."""
    queries = named_queries("windows.sql")
    since = datetime.now(UTC).date() - timedelta(days=1) if backlog else None
    cur.execute(queries["take_pending"], {"since": since, "settle": SETTLE_SECONDS})
    keys: list[Key] = cur.fetchall()
    if keys:
        params = _key_params(keys)
        cur.execute(queries["lock_orgs"], params)
        _rebuild(cur, params | _ALL_DAYS)
    return len(keys)


def build_windows(cur: Any, report: Callable[[str], None] | None = None, chunk_days: int = 31) -> None:
    """Every window from the buckets already there (``pillarstream migrate`` after 007), a span of end days at
    a time, oldest first; prints progress."""
    queries = named_queries("windows.sql")
    cur.execute("SELECT min(day), max(day) FROM metric_buckets")
    first, last = cur.fetchone()
    if first is None:
        return
    last_end = last + timedelta(days=WINDOW_DAYS - 1)
    started, total = time.monotonic(), (last_end - first).days + 1
    lo = first
    while lo <= last_end:
        hi = min(lo + timedelta(days=chunk_days - 1), last_end)
        # Windows ending lo … hi read the daily roll-ups from lo - 27 on; those before lo were built already.
        cur.execute(queries["keys_of_days"], {"lo": lo - timedelta(days=WINDOW_DAYS - 1), "hi": hi})
        params = _key_params(cur.fetchall())
        _rebuild(cur, params | {"lo": lo, "hi": hi})
        done = (hi - first).days + 1
        if report:
            report(f"windows: {done}/{total} days ({hi}), {time.monotonic() - started:.0f} s")
        lo = hi + timedelta(days=1)


def print_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _rebuild(cur: Any, params: dict[str, Any]) -> None:
    """The daily roll-ups of the keys' days, then the windows ending on them and the 27 days after, both
    limited to days lo … hi."""
    queries = named_queries("windows.sql")
    for name in ("delete_rollup_days", "insert_rollup_days", "delete_windows", "insert_windows"):
        cur.execute(queries[name], params)


def _key_params(keys: Iterable[Sequence[Any]]) -> dict[str, Any]:
    grains: list[str] = []
    orgs: list[str] = []
    scopes: list[str] = []
    days: list[date] = []
    for grain, org, scope, day in keys:
        grains.append(grain)
        orgs.append(org)
        scopes.append(scope)
        days.append(day)
    return {"grains": grains, "orgs": orgs, "scopes": scopes, "days": days}
