"""Materialised windows: the 1-, 7- and 28-day values of every grain, kept in ``metric_windows``.

The writer rebuilds buckets of (day, repository) pairs (``warehouse.py``) and queues the keys of those
buckets — their repository, organisation, language and teams on that day — in ``metric_windows_pending``,
in the same transaction. The windows of a key are those ending on its day and the 27 days after it; they
are rebuilt from the queue, in one of two ways:

* in the writer's transaction (:func:`refresh_windows`; ``write_prepared(windows=True)``, the default of
  the library function: backfill and tests see their windows as soon as the write commits);
* by the worker's :class:`WindowMaintainer` (``windows=False`` in the worker's sink): threads with their own
  connections, woken by every write, that take the queue in bounded transactions (:func:`maintain_slice`) so
  the writer never waits for windows. One takes today's and yesterday's keys (live dashboards), the others the
  keys of earlier and later days of whole scopes once they have settled (no new key for SETTLE_SECONDS, or
  waiting 6 × that while keys keep coming; MAX_WAIT_SECONDS during a bulk load), so a load's stretch of
  history is rebuilt about once, not once per batch, and mostly after the load rather than beside it. Settled
  keys are taken in SETTLE_LANES lanes of scopes, one transaction at a time per lane. Past rows (roll-up days
  and window end days before yesterday), live rows (yesterday and today) and ahead rows (after today) are
  rebuilt apart, each under an advisory lock per scope of its own, so transactions that rebuild the same rows
  of a scope take turns while a live rebuild waits neither for a slice of history nor for the windows ahead: a
  slice whose windows reach into the live days queues its scope's live key, and a live rebuild its scope's
  ahead key.

Either way a key leaves the queue in the transaction that rebuilds its windows: a crash (kill -9) rolls
both back, and the keys are taken again by the next maintainer. A key committed by any other writer of the
tables (a repository's language changed by hand) is queued by a trigger and taken the same way.
Statements: ``sql/windows.sql``. The end days to rebuild are worked out once per transaction, as merged
ranges per scope; counts and ratios slide sums over the scope's days, and the kinds that need samples or
members (quantiles, distinct, top_share) join those of each window's own days.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from stream_processors.facts import named_queries

Key = tuple[str, str, str, date]  # grain, org, scope, day
WINDOW_DAYS = 28  # the longest window: a day's data counts in windows ending up to 27 days later
SETTLE_SECONDS = 5.0  # a scope's past keys wait until none has arrived for this long (at most 6 × this)
# While a bulk load runs (more past keys than LOAD_KEYS queued within SETTLE_SECONDS) busy scopes wait up to
# MAX_WAIT_SECONDS instead, and so do the windows ahead always: rebuilding a load's history beside it took
# a third of the cores from the writer (bench/bulk_load_bench.py); after it, the same windows cost the same.
LOAD_KEYS = 1_000
MAX_WAIT_SECONDS = 600.0
SLICE_KEYS = 1_000  # about how many past keys one maintenance transaction takes (whole scopes)
# Settled keys are taken in this many lanes of scopes (a hash of the scope), each by one transaction at a
# time: the history a bulk load leaves is rebuilt on two cores (a year of 360 repositories settled in 237 s
# with one lane and the other core idle, 174 s with two: bench/bulk_load_bench.py).
SETTLE_LANES = 2
IDLE_POLL_SECONDS = 1.0  # the maintainer looks at the queue at least this often without being woken
# A slice of history at the organisation grain sorts and gathers more than Postgres' default 4 MB: it
# spilled to disk (bench/ingest_profile.py). Set for the rebuilding transaction only.
REBUILD_WORK_MEM = "64MB"
_ALL_DAYS = {"lo": date.min, "hi": date.max}


def buckets_present(cur: Any, params: dict[str, Any]) -> list[tuple[str, int, date]]:
    """(org, repository, day) of the buckets of the given (day, repository) pairs that exist now."""
    cur.execute(named_queries("windows.sql")["buckets_present"], params)
    return [(org, repo, day) for org, repo, day in cur.fetchall()]


def enqueue_buckets(cur: Any, params: dict[str, Any], before: Sequence[tuple[str, int, date]] = ()) -> None:
    """Queue the keys of the buckets of the given (day, repository) pairs as they stand now, and of those
    that were there before their rebuild (``before``: :func:`buckets_present` then)."""
    cur.execute(named_queries("windows.sql")["enqueue_buckets"], params | {
        "before_orgs": [org for org, _, _ in before], "before_repos": [repo for _, repo, _ in before],
        "before_days": [day for _, _, day in before]})


def refresh_windows(cur: Any) -> int:
    """Bring the windows of every queued key up to date in the caller's transaction; returns the number of
    keys taken (a live key queues its scope's ahead key, taken by the next round)."""
    taken = 0
    while (keys := maintain_slice(cur, settle=0.0, max_keys=None)) > 0:
        taken += keys
    return taken


def maintain_slice(cur: Any, *, settle: float | None = SETTLE_SECONDS, max_keys: int | None = SLICE_KEYS,
                   live: bool = True, max_wait: float = MAX_WAIT_SECONDS, load_keys: int = LOAD_KEYS,
                   lane: int | None = None) -> int:
    """One maintenance transaction's work (the caller commits); returns the number of keys taken.

    Rows are rebuilt in three parts, each under locks of its own, by end day (and roll-up day): past
    (before yesterday), live (yesterday and today: what dashboards show now) and ahead (after today: the
    windows of quiet days to come, shown once their day arrives). So a live rebuild writes at most two end
    days per scope, and never waits for a slice of history or for the 27 days ahead:

    * unless ``settle`` is None, settled keys of past and ahead days of whole scopes, about ``max_keys`` of them
      (None: all), of the scopes of ``lane`` (one of SETTLE_LANES; None: every lane): a past key rebuilds its
      roll-up days and the windows ending before yesterday, and queues the live key of its scope where its
      windows reach into the live days; an ahead key rebuilds the rows after today;
    * then, with ``live``, the live keys, those just queued included: their rows of yesterday and today;
      each scope's ahead key is queued for the part above (a live key's windows reach 27 days ahead). At day
      rollover a queued ahead key of the new day is a live key, taken at once.
    """
    queries = named_queries("windows.sql")
    today = datetime.now(UTC).date()
    since, ahead = today - timedelta(days=1), today + timedelta(days=1)
    taken = 0
    if settle is not None and (max_keys is None or _first_to_take_settled(cur, lane)):
        cur.execute(queries["take_settled"], {"since": since, "today": today, "settle": settle,
                                              "max_wait": max_wait, "load_keys": load_keys,
                                              "max_keys": max_keys if max_keys is not None else 2**62,
                                              "lane": lane, "lanes": SETTLE_LANES})
        rows = cur.fetchall()
        keys: list[Key] = [row[:4] for row in rows]
        taken += len(keys)
        past = [key for key in keys if key[3] < since]
        if past:
            tails = _tails(past, {row[:3] for row in rows if row[4]}, since)
            _rebuild(cur, rebuild_plan(past, hi=since - timedelta(days=1), until=tails), "past")
            reaching = {(grain, org, scope) for grain, org, scope, day in past
                        if day + timedelta(days=WINDOW_DAYS - 1) >= since}
            queue = [(*scope, since) for scope in sorted(reaching)]
            queue += [(*scope, last + timedelta(days=1)) for scope, last in sorted(tails.items())]
            if queue:
                cur.execute(queries["enqueue_keys"], _key_params(queue))
        later = [key for key in keys if key[3] > today]
        if later:
            _rebuild(cur, rebuild_plan(later, lo=ahead), "ahead")
    if live:
        cur.execute(queries["take_live"], {"since": since, "today": today})
        keys = cur.fetchall()
        taken += len(keys)
        if keys:
            _rebuild(cur, rebuild_plan(keys, lo=since, hi=today), "live")
            scopes = sorted({(grain, org, scope) for grain, org, scope, _ in keys})
            cur.execute(queries["enqueue_keys"], _key_params((*scope, ahead) for scope in scopes))
    return taken


def _tails(past: Sequence[Key], busy: set[tuple[str, str, str]], since: date) -> dict[tuple[str, str, str], date]:
    """The last key day of each busy scope (its keys still arriving: a bulk load in progress), where windows
    of past days end after it. Those windows (the 27 days after it) are left to the scope's next slice, with
    the days the load brings meanwhile, through a queued key of the day after: in a load in time order a
    slice's tail is the next slice's head, and was rebuilt by both."""
    tails: dict[tuple[str, str, str], date] = {}
    for grain, org, scope, day in past:
        if (grain, org, scope) in busy:
            tails[grain, org, scope] = max(day, tails.get((grain, org, scope), day))
    return {scope: last for scope, last in tails.items() if last < since - timedelta(days=1)}


def _first_to_take_settled(cur: Any, lane: int | None) -> bool:
    """One transaction at a time takes a lane's settled keys (other workers' skip it rather than wait)."""
    lanes = range(SETTLE_LANES) if lane is None else [lane]
    cur.execute("SELECT bool_and(pg_try_advisory_xact_lock(hashtextextended("
                "'pillarstream.metric_windows:settled:' || lane, 0))) FROM unnest(%s::int[]) AS lane", (list(lanes),))
    return bool(cur.fetchone()[0])


def _rebuild(cur: Any, plan: RebuildPlan, rows: str) -> None:
    cur.execute(named_queries("windows.sql")["lock_scopes"], plan.key_params | {"rows": rows})
    cur.execute("SELECT set_config('work_mem', %s, true)", (REBUILD_WORK_MEM,))
    for _, sql, params in plan.statements():
        cur.execute(sql, params)


def _key_params(keys: Iterable[Sequence[Any]]) -> dict[str, list[Any]]:
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
        for _, sql, params in rebuild_plan(cur.fetchall(), lo, hi).statements():
            cur.execute(sql, params)
        done = (hi - first).days + 1
        if report:
            report(f"windows: {done}/{total} days ({hi}), {time.monotonic() - started:.0f} s")
        lo = hi + timedelta(days=1)


def print_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class RebuildPlan:
    """The statements that rebuild the keys' daily roll-ups (days lo … hi) and the windows ending on their
    days and the 27 after (within lo … hi), with the end days merged into ranges per scope once."""

    key_params: dict[str, Any]
    range_params: dict[str, Any]
    all_days: dict[str, date]

    def statements(self) -> list[tuple[str, str, dict[str, Any]]]:
        queries = named_queries("windows.sql")
        keyed = self.key_params | self.all_days
        return [("delete_rollup_days", queries["delete_rollup_days"], keyed),
                ("insert_rollup_days", queries["insert_rollup_days"], keyed),
                ("delete_windows", queries["delete_windows"], self.range_params),
                ("insert_windows", queries["insert_windows"], self.range_params)]


def rebuild_plan(keys: Iterable[Sequence[Any]], lo: date = date.min, hi: date = date.max,
                 until: dict[tuple[str, str, str], date] | None = None) -> RebuildPlan:
    """``until``: scopes whose windows are rebuilt only up to the given end day (their roll-up days in full)."""
    keys = list(keys)
    by_scope: dict[tuple[str, str, str], set[date]] = {}
    for grain, org, scope, day in keys:
        by_scope.setdefault((grain, org, scope), set()).add(day)
    ranges: list[tuple[str, str, str, date, date]] = []
    for (grain, org, scope), key_days in sorted(by_scope.items()):
        last_end = min(hi, (until or {}).get((grain, org, scope), hi))
        for first, last in end_day_ranges(key_days, lo, last_end):
            ranges.append((grain, org, scope, first, last))
    return RebuildPlan(
        _key_params(keys),
        {"r_grains": [r[0] for r in ranges], "r_orgs": [r[1] for r in ranges], "r_scopes": [r[2] for r in ranges],
         "r_firsts": [r[3] for r in ranges], "r_lasts": [r[4] for r in ranges]},
        {"lo": lo, "hi": hi})


def end_day_ranges(days: Iterable[date], lo: date = date.min, hi: date = date.max) -> list[tuple[date, date]]:
    """The end days of the windows a set of days is part of (each day and the 27 after it), within lo … hi,
    as disjoint ranges in order."""
    merged: list[tuple[date, date]] = []
    for day in sorted(days):
        first = max(day, lo)
        last = hi if day > hi - timedelta(days=WINDOW_DAYS - 1) else day + timedelta(days=WINDOW_DAYS - 1)
        if first > last:
            continue
        if merged and first <= merged[-1][1] + timedelta(days=1):
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged
