"""EXPLAIN ANALYZE of ``touched_lead_time_days`` (the deployment days whose lead time a batch changes) during
a load of a random history through the write path (tests/history.py): at several points of the load, the
next batch as the writer meets it (the history before it, analysed), and at the end a late push arriving
after the whole history. The statement of a given commit (default: 2a501d0, before the rewrite) and the
current one run with the same parameters on the same warehouse (both with the current migrations' indexes,
less any --drop-index) and must find the same (day, repository) pairs.

Run: .venv/bin/python bench/lead_time_touch_explain.py [--repos 30] [--days 365] [--base 2a501d0]
         [--drop-index deployment_statuses_order] [-v]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg2  # noqa: E402
from psycopg2.sql import SQL, Identifier  # noqa: E402

from bench.services import consumed, scratch_warehouse  # noqa: E402
from devstack.postgres import ADMIN, WRITER  # noqa: E402
from stream_processors.facts import named_queries  # noqa: E402
from stream_processors.warehouse import prepare, write_batch  # noqa: E402
from tests.history import Delivery, deliveries, random_history  # noqa: E402
from tests.scenario import Commit, History, Push, User, render  # noqa: E402

BATCH = 2000


def base_statement(commit: str) -> str:
    text = subprocess.run(["git", "-C", str(REPO), "show", f"{commit}:stream_processors/sql/buckets.sql"],
                          capture_output=True, text=True, check=True).stdout
    return text.split("-- name: touched_lead_time_days\n")[1].split("-- name:")[0]


def timed(cur: Any, sql: str, params: dict[str, Any], verbose: bool) -> tuple[float, set[Any], str]:
    started = time.perf_counter()
    cur.execute(sql, params)
    found = set(cur.fetchall())
    elapsed = (time.perf_counter() - started) * 1000
    cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
    plan = [row[0] for row in cur.fetchall()]
    if verbose:
        print("\n".join(plan))
    return elapsed, found, plan[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repos", type=int, default=30)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--base", default="2a501d0",
                        help="the commit whose statement is the baseline (default: before the rewrite)")
    parser.add_argument("--drop-index", action="append", default=[],
                        help="drop this index after migrating (to measure both statements without it)")
    parser.add_argument("-v", action="store_true", help="print the plans")
    args = parser.parse_args()
    base = base_statement(args.base)
    now = named_queries("buckets.sql")["touched_lead_time_days"]
    with scratch_warehouse() as pg:
        history = random_history(args.repos, args.days)
        items = deliveries(history)
        admin = psycopg2.connect(pg.dsn(ADMIN))
        admin.autocommit = True
        with admin.cursor() as cur:
            for index in args.drop_index:
                cur.execute(SQL("DROP INDEX {}").format(Identifier(index)))
        conn = psycopg2.connect(pg.dsn(WRITER))
        chunks = range(0, len(items), BATCH)
        checkpoints = {chunks[int(len(chunks) * share) - 1]: share for share in (0.1, 0.5, 0.9, 1.0)}
        totals = {args.base: 0.0, "now": 0.0}
        started = time.perf_counter()
        for start in chunks:
            records = consumed(items[start:start + BATCH])
            if start in checkpoints:  # the batch as the writer meets it: the history before it, analysed
                with admin.cursor() as cur:
                    cur.execute("ANALYZE")
                touch = prepare(records).touch
                label = f"batch at {checkpoints[start]:4.0%}"
                with conn, conn.cursor() as cur:  # the writer runs it before the upserts...
                    compare(cur, f"{label} before", touch, (args.base, base), now, totals, args.v)
            with conn, conn.cursor() as cur:
                write_batch(cur, records, windows=False)
            if start in checkpoints:
                with conn, conn.cursor() as cur:  # ...and after them
                    compare(cur, f"{label} after ", touch, (args.base, base), now, totals, args.v)
        print(f"loaded {len(items):,} deliveries in {time.perf_counter() - started:.0f} s")
        with conn.cursor() as cur:  # rolled back
            compare(cur, "late push", late_push(cur, history.repos[0]), (args.base, base), now, totals, args.v)
        conn.rollback()
        print(f"total {args.base} {totals[args.base]:.0f} ms, now {totals['now']:.0f} ms, "
              f"ratio {totals[args.base] / totals['now']:.1f}x")
        conn.close()
        admin.close()


def compare(cur: Any, label: str, touch: dict[str, Any], base: tuple[str, str], now: str,
            totals: dict[str, float], verbose: bool) -> None:
    results = {}
    for name, sql in (base, ("now", now)):
        elapsed, found, last = timed(cur, sql, touch, verbose)
        totals[name] += elapsed
        results[name] = found
        print(f"{label} ({len(touch['commit_shas'])} commits, {len(touch['status_node_ids'])} statuses) "
              f"{name:8} {elapsed:9.1f} ms  {len(found)} pairs  {last}")
    if results[base[0]] != results["now"]:
        raise SystemExit(f"{label}: different pairs {results[base[0]] ^ results['now']}")


def late_push(cur: Any, repo: Any) -> dict[str, Any]:
    """Writes a commit landing on day 30 that arrives after the whole history (as bench/lead_time_explain.py
    does); the touch parameters of its batch."""
    landed = datetime(2024, 1, 31, 10, tzinfo=UTC)
    author = User("dev1", 20_001)
    late = History(repos=[repo], pushes=[Push(repo, "main", "0" * 40, (
        Commit("late-x", author, landed - timedelta(hours=3)),), author, landed)])
    push = [Delivery(o.at, o.event, str(uuid.uuid4()), json.dumps(o.payload).encode())
            for o in render(late) if o.event == "push"]
    batch = prepare(consumed(push))
    for statement in batch.facts:
        cur.execute(*statement)
    return batch.touch


if __name__ == "__main__":
    main()
