"""EXPLAIN ANALYZE of the window recompute of a bulk load: a random history (tests/history.py) written through
the write path with the windows left queued, then every queued key rebuilt at once, with the statements of a
given commit (default: main) and with the current ones, each in a transaction that is rolled back.

Run: .venv/bin/python bench/windows_explain.py [--repos 30] [--days 365] [--base a87e92b] [-v]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg2  # noqa: E402

from bench.services import consumed, scratch_warehouse  # noqa: E402
from devstack.postgres import WRITER  # noqa: E402
from stream_processors.warehouse import write_batch  # noqa: E402
from stream_processors.windows import rebuild_plan  # noqa: E402
from tests.history import deliveries, random_history  # noqa: E402


def base_statements(commit: str) -> list[tuple[str, str]]:
    """The rebuild statements of ``commit``'s windows.sql, in the order its _rebuild ran them."""
    text = subprocess.run(["git", "-C", str(REPO), "show", f"{commit}:stream_processors/sql/windows.sql"],
                          capture_output=True, text=True, check=True).stdout
    parts = re.split(r"^-- name: (\w+)\n", text, flags=re.MULTILINE)
    named = dict(zip(parts[1::2], parts[2::2], strict=True))
    return [(name, named[name]) for name in ("delete_rollup_days", "insert_rollup_days", "delete_windows",
                                             "insert_windows")]


def run(cur: Any, label: str, statements: list[tuple[str, str, dict[str, Any]]], verbose: bool) -> float:
    total = 0.0
    cur.execute("SAVEPOINT explain")
    for name, sql, params in statements:
        started = time.perf_counter()
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = [row[0] for row in cur.fetchall()]
        elapsed = time.perf_counter() - started
        total += elapsed
        print(f"{label:8} {name:20} {elapsed * 1000:9.0f} ms   {plan[-1]}")
        if verbose:
            print("\n".join(plan))
    cur.execute("SELECT count(*) FROM metric_windows")
    rows = cur.fetchone()[0]
    cur.execute("ROLLBACK TO SAVEPOINT explain")
    print(f"{label:8} total {total:.1f} s, {rows:,} window rows")
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repos", type=int, default=30)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--base", default="a87e92b",
                        help="the commit whose statements are the baseline (default: before the window maintainer)")
    parser.add_argument("-v", action="store_true", help="print the plans")
    args = parser.parse_args()
    with scratch_warehouse() as pg:
        items = deliveries(random_history(args.repos, args.days))
        conn = psycopg2.connect(pg.dsn(WRITER))
        started = time.perf_counter()
        for start in range(0, len(items), 2000):
            with conn, conn.cursor() as cur:
                write_batch(cur, consumed(items[start:start + 2000]), windows=False)
        print(f"loaded {len(items):,} deliveries in {time.perf_counter() - started:.0f} s, windows left queued")
        with conn, conn.cursor() as cur:
            cur.execute("ANALYZE")
            cur.execute("SELECT DISTINCT grain, org, scope, day FROM metric_windows_pending")
            keys = cur.fetchall()
            print(f"{len(keys):,} queued keys")
            plan = rebuild_plan(keys)
            old = [(name, sql, plan.key_params | plan.all_days | plan.range_params)
                   for name, sql in base_statements(args.base)]
            before = run(cur, args.base, old, args.v)
            now = run(cur, "now", plan.statements(), args.v)
            print(f"ratio {args.base}/now: {before / now:.2f}x")
        conn.close()


if __name__ == "__main__":
    main()
