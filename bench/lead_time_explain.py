"""EXPLAIN ANALYZE of the bucket recompute one late push causes, with the lead-time rule before the change
(commit 08bb25f: every later deployment day of the repository) and now, on a random history written
through the write path (tests/history.py).

Run: .venv/bin/python bench/lead_time_explain.py [--repos 30] [--days 365] [-v]
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

from bench.services import consumed, scratch_warehouse  # noqa: E402
from devstack.postgres import WRITER  # noqa: E402
from stream_processors.facts import named_queries  # noqa: E402
from stream_processors.warehouse import prepare, write_batch  # noqa: E402
from tests.history import Delivery, deliveries, random_history  # noqa: E402
from tests.scenario import Commit, History, Push, User, render  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repos", type=int, default=30)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("-v", action="store_true", help="print the plans")
    args = parser.parse_args()
    with scratch_warehouse() as pg:
        history = random_history(args.repos, args.days)
        items = deliveries(history)
        conn = psycopg2.connect(pg.dsn(WRITER))
        started = time.perf_counter()
        for start in range(0, len(items), 2000):
            with conn, conn.cursor() as cur:
                write_batch(cur, consumed(items[start:start + 2000]))
        print(f"loaded {len(items):,} deliveries in {time.perf_counter() - started:.0f} s")
        with conn, conn.cursor() as cur:
            cur.execute("ANALYZE")
        explain(conn, history.repos[0], args.v)
        conn.close()


def explain(conn: Any, repo: Any, verbose: bool) -> None:
    """A commit landing on day 30 arrives after the whole history; which buckets each rule rebuilds."""
    landed = datetime(2024, 1, 31, 10, tzinfo=UTC)
    author = User("dev1", 20_001)
    late = History(repos=[repo], pushes=[Push(repo, "main", "0" * 40, (
        Commit("late-x", author, landed - timedelta(hours=3)),), author, landed)])
    push = [Delivery(o.at, o.event, str(uuid.uuid4()), json.dumps(o.payload).encode())
            for o in render(late) if o.event == "push"]
    batch = prepare(consumed(push))
    old_sql = subprocess.run(["git", "-C", str(REPO), "show", "08bb25f:stream_processors/sql/buckets.sql"],
                             capture_output=True, text=True, check=True).stdout
    old_rule = old_sql.split("-- name: touched_lead_time_days")[1].split("-- name:")[0]
    queries = named_queries("buckets.sql")
    with conn, conn.cursor() as cur:
        for statement in batch.facts:
            cur.execute(*statement)
        for label, query in (("before", old_rule), ("now", queries["touched_lead_time_days"])):
            started = time.perf_counter()
            # the old rule named statuses by status id (before 008); a push touches none
            cur.execute(query, batch.touch | {"status_ids": []})
            days = {(day, repo_id) for day, repo_id in cur.fetchall()}
            found = (time.perf_counter() - started) * 1000
            ordered = sorted(days | set(batch.known_buckets))
            params = {"days": [d for d, _ in ordered], "repos": [r for _, r in ordered]}
            cur.execute("SAVEPOINT explain")
            cur.execute(queries["delete_buckets"], params)
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + queries["insert_buckets"], params)
            plan = [row[0] for row in cur.fetchall()]
            cur.execute("ROLLBACK TO SAVEPOINT explain")
            print(f"{label:6}: touched_lead_time_days {len(days)} (day, repository) pairs in {found:.1f} ms; "
                  f"insert_buckets for them: {plan[-1]}")
            if verbose:
                print("\n".join(plan))
        conn.rollback()


if __name__ == "__main__":
    main()
