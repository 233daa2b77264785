"""A quick, set-based warehouse for dashboard timings: synthetic daily buckets straight into a migrated
warehouse, then the windows, either built with ``build_windows`` (what ``pillarstream migrate`` does on an
existing warehouse: exact, about 8 minutes per 100 repositories × 365 days on a busy 2-core machine) or, with
``windows="quick"``, filled set-based in one pass: the same rows (every end day whose 28-day window holds a
bucket), exact values for counts and ratios, and for quantiles, distinct counts and top shares the mean of
the daily values instead of the value of all samples (a timing stand-in, not a figure); the wider grains'
roll-up days of the last 30 days are then made exact, samples and members included, as live rebuilds read
them. Chart timings depend on the rows, not on the values. The write path itself is measured by the replay mode of
``bench/dashboard_bench.py``.

Shape (as the issue's measurement): N repositories of one organisation over D days ending today, five
languages, N/10 teams (each repository in one team, every other one in a second team); each (repository,
day, metric) has a bucket with probability 0.3 (1,000 × 365 × 26 metrics ≈ 2.8 million buckets). Counts
1–5; ratios k of n; quantiles 1–5 samples; distinct and top_share 1–5 members from a pool of N/2 + 3
people. The fact tables stay empty (the fact-table charts are timed on no rows).
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

from stream_processors.facts import named_queries
from stream_processors.windows import WINDOW_DAYS, build_windows, rebuild_plan

LANGUAGES = ("Python", "TypeScript", "Go", "Java", "Rust")
FIRST_REPO_ID = 200_000
FIRST_TEAM_ID = 100

SETUP = """
INSERT INTO repositories (repo_id, org, full_name, name, owner_login, language, default_branch, private, archived,
                          fork, visibility, created_at, updated_at, deleted, version)
SELECT %(first_repo)s + i, %(org)s, %(org)s || '/repo' || i, 'repo' || i, %(org)s,
       (%(languages)s::text[])[(i * 7) %% 5 + 1], 'main', false, false, false, 'public', now(), now(), false, '0'
FROM generate_series(0, %(repos)s - 1) AS i;

INSERT INTO teams (team_id, org, slug, name, privacy, parent_team_id, deleted, version)
SELECT %(first_team)s + t, %(org)s, 'team' || t, 'Team ' || t, 'closed', NULL, false, '0'
FROM generate_series(0, %(teams)s - 1) AS t;

INSERT INTO team_repositories (team_id, repo_id, org, state, permission, version)
SELECT DISTINCT ON (team_id, repo_id) team_id, repo_id, %(org)s, 'added', 'push', '0'
FROM (SELECT %(first_team)s + i %% %(teams)s, %(first_repo)s + i FROM generate_series(0, %(repos)s - 1) AS i
      UNION ALL
      SELECT %(first_team)s + (i * 7 + 3) %% %(teams)s, %(first_repo)s + i
      FROM generate_series(0, %(repos)s - 1, 2) AS i) AS a (team_id, repo_id);
"""

BUCKETS = """
INSERT INTO metric_buckets (repo_id, day, metric, org, value, numerator, denominator, samples, members)
SELECT repo_id, day, metric, %(org)s,
       CASE kind WHEN 'count' THEN k
                 WHEN 'ratio' THEN hits::double precision / k
                 ELSE window_value(kind, quantile, samples, members) END,
       CASE WHEN kind = 'ratio' THEN hits END, CASE WHEN kind = 'ratio' THEN k END, samples, members
FROM (SELECT repo_id, day, metric, kind, quantile, k, floor(random() * (k + 1)) AS hits,
             CASE WHEN kind = 'quantile'
                  THEN ARRAY(SELECT round((random() * 48)::numeric, 2)::double precision
                             FROM generate_series(1, k) AS s) END AS samples,
             CASE WHEN kind IN ('distinct', 'top_share')
                  THEN ARRAY(SELECT 'dev' || floor(random() * %(people)s)
                             FROM generate_series(1, k) AS s) END AS members
      FROM (SELECT %(first_repo)s + i AS repo_id, d::date AS day, m.metric, m.kind, m.quantile,
                   1 + floor(random() * 5)::int AS k, random() AS p
            FROM generate_series(0, %(repos)s - 1) AS i
            CROSS JOIN generate_series(%(first)s::date, %(last)s::date, interval '1 day') AS d
            CROSS JOIN metric_definitions m) AS candidates
      WHERE p < 0.3) AS chosen;
"""


# The days each window pass reads: the repository grain of a range of repositories, or every grain wider
# than a repository (those are summed from every bucket at once). Same rows and values as one pass over all.
QUICK_REPOSITORY_DAYS = """
CREATE TEMP TABLE quick_days AS
SELECT 'repository' AS grain, b.org, b.repo_id::text AS scope, b.day, b.metric, d.kind,
       b.value, b.numerator, b.denominator
FROM metric_buckets b JOIN metric_definitions d USING (metric)
WHERE b.repo_id >= %(lo)s AND b.repo_id < %(hi)s;
"""

# Set-based per grain (hash joins), not a lookup of each bucket's teams: 28 million lookups at 10,000 repositories.
QUICK_ROLLUP_DAYS = """
CREATE TEMP TABLE quick_days AS
SELECT g.grain, g.org, g.scope, g.day, g.metric, d.kind,
       CASE WHEN d.kind = 'count' THEN sum(g.value) ELSE avg(g.value) END AS value, sum(g.numerator) AS numerator,
       sum(g.denominator) AS denominator
FROM (SELECT 'organisation' AS grain, '' AS scope, b.org, b.day, b.metric, b.value, b.numerator, b.denominator
      FROM metric_buckets b
      UNION ALL
      SELECT 'language', coalesce(r.language, ''), b.org, b.day, b.metric, b.value, b.numerator, b.denominator
      FROM metric_buckets b LEFT JOIN repositories r ON r.repo_id = b.repo_id
      UNION ALL
      SELECT 'team', ts.team_id::text, b.org, b.day, b.metric, b.value, b.numerator, b.denominator
      FROM metric_buckets b JOIN team_scopes ts ON ts.repo_id = b.repo_id) AS g
JOIN metric_definitions d USING (metric)
GROUP BY g.grain, g.org, g.scope, g.day, g.metric, d.kind;

INSERT INTO metric_rollup_days (grain, org, scope, day, metric, value, numerator, denominator)
SELECT grain, org, scope, day, metric, CASE WHEN kind = 'count' THEN value END, numerator, denominator
FROM quick_days;
"""

# Each window is a difference of running totals (the total up to its end day minus the total 7 or 28 days
# earlier: every (scope, metric) has a row for each day of its span), one pass instead of summing 7 and 28
# rows again for every row (Postgres has no inverse transition for float sums, so a moving frame re-adds
# the whole frame). Counts, numerators and denominators are whole numbers: the differences are exact.
QUICK_WINDOWS = """
INSERT INTO metric_windows (grain, org, scope, day, metric, value_1d, value_7d, value_28d)
SELECT grain, org, scope, day, metric,
       CASE WHEN c1 = 0 THEN NULL WHEN kind = 'ratio' THEN n1 / NULLIF(d1, 0) WHEN kind = 'count' THEN s1
            ELSE s1 / c1 END,
       CASE WHEN c7 = 0 THEN NULL WHEN kind = 'ratio' THEN n7 / NULLIF(d7, 0) WHEN kind = 'count' THEN s7
            ELSE s7 / c7 END,
       CASE WHEN kind = 'ratio' THEN n28 / NULLIF(d28, 0) WHEN kind = 'count' THEN s28 ELSE s28 / c28 END
FROM (SELECT grain, org, scope, day, metric, kind, s1, n1, d1, c1,
             s - lag(s, 7, 0::float8) OVER w AS s7, n - lag(n, 7, 0::float8) OVER w AS n7,
             d - lag(d, 7, 0::float8) OVER w AS d7, c - lag(c, 7, 0::bigint) OVER w AS c7,
             s - lag(s, 28, 0::float8) OVER w AS s28, n - lag(n, 28, 0::float8) OVER w AS n28,
             d - lag(d, 28, 0::float8) OVER w AS d28, c - lag(c, 28, 0::bigint) OVER w AS c28
      FROM (SELECT e.grain, e.org, e.scope, e.day, e.metric, e.kind,
                   q.value AS s1, q.numerator AS n1, q.denominator AS d1, (q.value IS NOT NULL)::int AS c1,
                   sum(coalesce(q.value, 0)) OVER w AS s, sum(coalesce(q.numerator, 0)) OVER w AS n,
                   sum(coalesce(q.denominator, 0)) OVER w AS d, count(q.value) OVER w AS c
            FROM (SELECT grain, org, scope, metric, kind, d::date AS day
                  FROM (SELECT grain, org, scope, metric, kind, min(day) AS first_day, max(day) AS last_day
                        FROM quick_days GROUP BY grain, org, scope, metric, kind) AS spans
                  CROSS JOIN LATERAL generate_series(first_day, last_day + 27, interval '1 day') AS d) AS e
            LEFT JOIN quick_days q USING (grain, org, scope, metric, day)
            WINDOW w AS (PARTITION BY e.grain, e.org, e.scope, e.metric ORDER BY e.day
                         ROWS UNBOUNDED PRECEDING)) AS running
      WINDOW w AS (PARTITION BY grain, org, scope, metric ORDER BY day)) AS rolled
WHERE c28 > 0;
DROP TABLE quick_days;
"""

# Repositories per window pass: bounds the pass's sort (about 11 million window rows per 1,000 repositories).
QUICK_CHUNK = 500


def _without_indexes(cur: Any, table: str) -> list[str]:
    """Drops the table's indexes (primary key included) and returns the statements that make them again:
    a bulk insert followed by one sorted build per index instead of an index insert per row (at 10,000
    repositories, random inserts into indexes far larger than shared_buffers made the load hours long)."""
    cur.execute("""SELECT 'ALTER TABLE ' || conrelid::regclass || ' ADD CONSTRAINT ' || quote_ident(conname) || ' '
                          || pg_get_constraintdef(oid), conname
                   FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'""", (table,))
    constraints = cur.fetchall()
    cur.execute("""SELECT indexdef, indexname FROM pg_indexes WHERE tablename = %s
                   AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)""",
                (table, table))
    indexes = cur.fetchall()
    for _, name in constraints:
        cur.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")  # noqa: S608 - catalogue names
    for _, name in indexes:
        cur.execute(f"DROP INDEX {name}")
    return [statement for statement, _ in constraints + indexes]


def exact_recent_rollups(cur: Any, last: date, report: Any) -> None:
    """The wider grains' roll-up days of the last 30 days, exact, samples and members included: a live
    rebuild (a webhook landing today) reads those of the last 28 days, so the freshness figures need them."""
    started = time.perf_counter()
    cur.execute(named_queries("windows.sql")["keys_of_days"],
                {"lo": last - timedelta(days=WINDOW_DAYS + 1), "hi": last})
    keys = [key for key in cur.fetchall() if key[0] != "repository"]
    for name, sql, params in rebuild_plan(keys).statements():
        if name.endswith("rollup_days"):
            cur.execute(sql, params)
    report(f"  {len(keys):,} roll-up days of the last {WINDOW_DAYS + 2} days made exact in "
           f"{time.perf_counter() - started:.0f} s", flush=True)


def load(cur: Any, org: str, repos: int, first: date, last: date, report: Any = print,
         windows: str = "build") -> dict[str, float]:
    """Fills a freshly migrated warehouse; returns the seconds each step took."""
    params = {"org": org, "repos": repos, "teams": max(1, repos // 10), "first_repo": FIRST_REPO_ID,
              "first_team": FIRST_TEAM_ID, "languages": list(LANGUAGES), "people": repos // 2 + 3,
              "first": first, "last": last}
    took: dict[str, float] = {}
    started = time.perf_counter()
    cur.execute("SET maintenance_work_mem = '1GB'; SET max_parallel_maintenance_workers = 2; "
                "SET work_mem = '256MB'")
    cur.execute(SETUP, params)
    rebuild = _without_indexes(cur, "metric_buckets")
    cur.execute(BUCKETS, params)
    for statement in rebuild:
        cur.execute(statement)
    cur.execute("SELECT count(*) FROM metric_buckets")
    buckets = cur.fetchone()[0]
    # Nothing to follow: the windows are built from scratch below.
    cur.execute("TRUNCATE metric_windows_pending")
    cur.execute("ANALYZE")
    took["buckets"] = time.perf_counter() - started
    report(f"load: {buckets:,} buckets of {repos:,} repositories × {(last - first).days + 1} days, "
           f"{params['teams']} teams, in {took['buckets']:.0f} s", flush=True)
    started = time.perf_counter()
    if windows == "quick":
        rebuild = _without_indexes(cur, "metric_windows")
        cur.execute(QUICK_ROLLUP_DAYS)
        cur.execute(QUICK_WINDOWS)
        for lo in range(FIRST_REPO_ID, FIRST_REPO_ID + repos, QUICK_CHUNK):
            cur.execute(QUICK_REPOSITORY_DAYS, {"lo": lo, "hi": lo + QUICK_CHUNK})
            cur.execute(QUICK_WINDOWS)
            if (lo - FIRST_REPO_ID) // QUICK_CHUNK % 4 == 3:
                report(f"  windows of {lo + QUICK_CHUNK - FIRST_REPO_ID:,} repositories in "
                       f"{time.perf_counter() - started:.0f} s", flush=True)
        indexed = time.perf_counter()
        for statement in rebuild:
            cur.execute(statement)
        report(f"  indexes built in {time.perf_counter() - indexed:.0f} s", flush=True)
        exact_recent_rollups(cur, last, report)
        how = "filled set-based (quick: exact rows, counts and ratios; other kinds' values stand-ins)"
    else:
        build_windows(cur, lambda line: report(f"  {line}", flush=True))
        how = "built with build_windows (as `pillarstream migrate`)"
    cur.execute("SELECT count(*) FROM metric_windows")
    rows = cur.fetchone()[0]
    cur.execute("ANALYZE")
    took["windows"] = time.perf_counter() - started
    report(f"load: windows {how}: {rows:,} rows in {took['windows']:.0f} s", flush=True)
    return took
