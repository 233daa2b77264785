"""EXPLAIN ANALYZE of one live window rebuild at organisation scale: what the warehouse worker's maintainer
does after a webhook lands (today's keys of one repository: the repository, the organisation, its language
and its teams), on a warehouse of N repositories loaded set-based (bench/bucket_load.py): the live part
(yesterday's and today's rows, what the dashboards wait for) and the part ahead (the windows of the next 27
days, rebuilt once the scope settles). Only the last 28 days matter, so the default loads 40 days.

Run: .venv/bin/python bench/live_rebuild_explain.py [--repos 1000] [--days 40] [--runs 3] [-v]
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg2  # noqa: E402

from bench.bucket_load import FIRST_REPO_ID, load  # noqa: E402
from bench.services import scratch_warehouse  # noqa: E402
from bench.windows_explain import run as explain  # noqa: E402
from devstack.postgres import ADMIN  # noqa: E402
from stream_processors.windows import REBUILD_WORK_MEM, rebuild_plan  # noqa: E402
from tests.scenario import ORG  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repos", type=int, default=1000)
    parser.add_argument("--days", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("-v", action="store_true", help="print the plans")
    args = parser.parse_args()
    today = datetime.now(UTC).date()
    with scratch_warehouse() as pg:
        conn = psycopg2.connect(pg.dsn(ADMIN))
        with conn, conn.cursor() as cur:
            load(cur, ORG, args.repos, today - timedelta(days=args.days - 1), today, windows="quick")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM (ANALYZE)")
        conn.autocommit = False
        with conn, conn.cursor() as cur:
            repo = FIRST_REPO_ID + 1
            cur.execute("""
                SELECT 'repository', org, repo_id::text, %(day)s::date FROM repositories WHERE repo_id = %(r)s
                UNION ALL SELECT 'organisation', %(org)s, '', %(day)s
                UNION ALL SELECT 'language', org, coalesce(language, ''), %(day)s FROM repositories
                          WHERE repo_id = %(r)s
                UNION ALL SELECT 'team', %(org)s, team_id::text, %(day)s FROM team_scopes WHERE repo_id = %(r)s""",
                        {"r": repo, "org": ORG, "day": today})
            keys = cur.fetchall()
            print(f"live keys of one repository today: {keys}")
            ahead = [(grain, org, scope, today + timedelta(days=1)) for grain, org, scope, _ in keys]
            plans = {"live": rebuild_plan(keys, lo=today - timedelta(days=1), hi=today),  # maintain_slice's parts
                     "ahead": rebuild_plan(ahead, lo=today + timedelta(days=1))}
            cur.execute("SELECT set_config('work_mem', %s, true)", (REBUILD_WORK_MEM,))  # as maintain_slice
            for run in range(args.runs):
                for part, plan in plans.items():
                    explain(cur, f"run {run + 1} {part}", plan.statements(), args.v and run == 0)
        conn.close()


if __name__ == "__main__":
    main()
