"""Where a bulk load's Postgres time goes: bench/bulk_load_bench.py's run of this checkout (one side, real
Kafka, worker and live webhooks) on a Postgres with pg_stat_statements, then the statements that took the
most time, with their calls and mean.

Run: .venv/bin/python bench/ingest_profile.py [--repos 100] [--days 365] [--top 15]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg2  # noqa: E402

from bench import bulk_load_bench  # noqa: E402
from devstack import postgres as postgres_module  # noqa: E402
from devstack.postgres import ADMIN  # noqa: E402
from devstack.stack import LocalServices  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repos", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    stop, child = LocalServices.stop, postgres_module.Child

    def child_with_stats(name: str, argv: list[str], *rest: Any, **options: Any) -> Any:
        if name == "postgres":
            argv = [*argv, "-c", "shared_preload_libraries=pg_stat_statements", "-c", "pg_stat_statements.max=500",
                    "-c", "track_io_timing=on"]
        return child(name, argv, *rest, **options)

    def report_then_stop(self: LocalServices) -> None:
        try:
            with psycopg2.connect(self.postgres.dsn(ADMIN)) as conn, conn.cursor() as cur:
                cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                # psycopg2 sends arrays as literals, so each array length is a statement of its own to
                # pg_stat_statements: summed here by the statement's first 120 characters.
                cur.execute("""SELECT sum(total_exec_time), sum(calls), sum(total_exec_time) / sum(calls), sum(rows),
                                      sum(temp_blks_written), statement
                               FROM (SELECT *, regexp_replace(left(query, 120), '\\s+', ' ', 'g') AS statement
                                     FROM pg_stat_statements) AS s
                               GROUP BY statement ORDER BY 1 DESC LIMIT %s""", (args.top,))
                print(f"{'total s':>9} {'calls':>7} {'mean ms':>9} {'rows':>10} {'temp blks':>10}  statement")
                for total, calls, mean, rows, temp, query in cur.fetchall():
                    print(f"{total / 1000:9.1f} {calls:7} {mean:9.1f} {rows:10} {temp:10}  {query[:160]}")
        finally:
            stop(self)

    postgres_module.Child = child_with_stats  # type: ignore[assignment,misc]
    LocalServices.stop = report_then_stop  # type: ignore[method-assign]
    history, items = bulk_load_bench.bulk_history(args.repos, args.days)
    bulk_load_bench.one_run("now", REPO, items, history.repos[:20], 5)


if __name__ == "__main__":
    main()
