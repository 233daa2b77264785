"""Where a bulk load's Postgres time goes: bench/bulk_load_bench.py's run of this checkout (one side, real
Kafka, worker and live webhooks) on a Postgres with pg_stat_statements, then the statements that took the
most time, with their calls and mean.

Run: .venv/bin/python bench/ingest_profile.py [--repos 100] [--days 365] [--top 15] [--slice 60]

With --slice S it also prints, for every S seconds of the run, the statements' time in that span, what the
active backends were doing (sampled twice a second: each connection's part, its statement and wait event)
and the window queue by part, to see which part grows as the warehouse fills.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg2  # noqa: E402

from bench import bulk_load_bench  # noqa: E402
from devstack import postgres as postgres_module  # noqa: E402
from devstack.postgres import ADMIN  # noqa: E402
from devstack.stack import LocalServices  # noqa: E402

# psycopg2 sends arrays as literals, so each array length is a statement of its own to pg_stat_statements:
# summed by the statement's first 120 characters.
STATEMENTS = """SELECT statement, sum(total_exec_time)::float8, sum(calls)::bigint, sum(rows)::bigint,
                       sum(temp_blks_written)::bigint
                FROM (SELECT *, regexp_replace(left(query, 120), '\\s+', ' ', 'g') AS statement
                      FROM pg_stat_statements) AS s
                GROUP BY statement"""
ACTIVITY = """SELECT application_name || ': ' || regexp_replace(left(query, 60), '\\s+', ' ', 'g'),
                     coalesce(wait_event, 'CPU')
              FROM pg_stat_activity
              WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'"""
QUEUE = """SELECT CASE WHEN day > (now() AT TIME ZONE 'UTC')::date THEN 'ahead'
                       WHEN day >= (now() AT TIME ZONE 'UTC')::date - 1 THEN 'live' ELSE 'past' END AS part,
                  count(*), count(*) FILTER (WHERE queued_at > now() - interval '5 seconds'),
                  round(extract(epoch FROM now() - min(queued_at)))
           FROM metric_windows_pending GROUP BY 1 ORDER BY 1"""


def sample(dsn: str, every_s: float, stopping: threading.Event) -> None:
    """Print each span's top statements (time in it, calls, mean) and its sampled backend activity."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        before: dict[str, tuple[float, int]] = {}
        started = time.monotonic()
        while not stopping.is_set():
            span_end = time.monotonic() + every_s
            seen: Counter[tuple[str, str]] = Counter()
            samples = 0
            while time.monotonic() < span_end and not stopping.is_set():
                cur.execute(ACTIVITY)
                seen.update(cur.fetchall())
                samples += 1
                time.sleep(0.5)
            cur.execute(STATEMENTS)
            now = {row[0]: (row[1], row[2]) for row in cur.fetchall()}
            deltas = sorted(((total - before.get(q, (0.0, 0))[0], calls - before.get(q, (0.0, 0))[1], q)
                             for q, (total, calls) in now.items()), reverse=True)[:8]
            before = now
            print(f"== span ending t={time.monotonic() - started:.0f} s: statements (s in span, calls, mean ms)")
            for total, calls, query in deltas:
                print(f"   {total / 1000:7.1f} {calls:6} {total / max(calls, 1):8.1f}  {query[:110]}")
            print(f"   active backends on average: {sum(seen.values()) / max(samples, 1):.2f}")
            for (query, wait), n in seen.most_common(8):
                print(f"   {n / max(samples, 1):5.2f}  {wait:<18} {query}")
            cur.execute(QUEUE)
            print("   window queue (part, keys, arriving in the last 5 s, oldest s):", cur.fetchall())
            sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repos", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--slice", type=float, help="print each span of this many seconds apart")
    args = parser.parse_args()
    start, stop, child = LocalServices.start, LocalServices.stop, postgres_module.Child
    stopping = threading.Event()
    sampler: list[threading.Thread] = []

    def start_then_sample(self: LocalServices, *rest: Any, **options: Any) -> None:
        start(self, *rest, **options)
        if args.slice:
            sampler.append(threading.Thread(target=sample, args=(self.postgres.dsn(ADMIN), args.slice, stopping),
                                            daemon=True))
            sampler[0].start()

    def child_with_stats(name: str, argv: list[str], *rest: Any, **options: Any) -> Any:
        if name == "postgres":
            argv = [*argv, "-c", "shared_preload_libraries=pg_stat_statements", "-c", "pg_stat_statements.max=500",
                    "-c", "track_io_timing=on"]
        return child(name, argv, *rest, **options)

    def report_then_stop(self: LocalServices) -> None:
        stopping.set()
        for thread in sampler:
            thread.join()
        try:
            with psycopg2.connect(self.postgres.dsn(ADMIN)) as conn, conn.cursor() as cur:
                cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                cur.execute(STATEMENTS)
                top = sorted(cur.fetchall(), key=lambda row: row[1], reverse=True)[:args.top]
                print(f"{'total s':>9} {'calls':>7} {'mean ms':>9} {'rows':>10} {'temp blks':>10}  statement")
                for query, total, calls, rows, temp in top:
                    print(f"{total / 1000:9.1f} {calls:7} {total / calls:9.1f} {rows:10} {temp:10}  {query[:160]}")
        finally:
            stop(self)

    postgres_module.Child = child_with_stats  # type: ignore[assignment,misc]
    LocalServices.start = start_then_sample  # type: ignore[method-assign]
    LocalServices.stop = report_then_stop  # type: ignore[method-assign]
    history, items = bulk_load_bench.bulk_history(args.repos, args.days)
    bulk_load_bench.one_run("now", REPO, items, history.repos[:20], 5)


if __name__ == "__main__":
    main()
