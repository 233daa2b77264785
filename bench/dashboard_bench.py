"""The warehouse at organisation scale: ingest through the real write path, then every dashboard chart's SQL
on the materialised windows next to the same charts on the query-time views, in the same run.

Run: .venv/bin/python bench/dashboard_bench.py [--repos 100] [--days 365] [--runs 3] [--fresh-seconds 20]
     [--load replay|buckets] [--windows build|quick] [--querytime-runs 1]

``--load buckets`` replaces step 1 with bench/bucket_load.py (synthetic buckets loaded set-based, then every
window built with build_windows as `pillarstream migrate` does): minutes instead of hours at 1,000
repositories, for the chart timings; step 4 is then that build. ``--windows quick`` fills the windows set-based
instead (same rows, exact counts and ratios, stand-in values for the other kinds): for scales where the
exact build alone takes too long on a shared machine. After the load the warehouse is vacuumed (statistics
and the visibility map, as autovacuum does after a bulk load; timed).

1. Ingest: a random history of N repositories × D days ending today (tests/history.py: pull requests,
   reviews, pushes, checks, workflow runs, deployments, incidents; ~10 deliveries per repository-day) is
   produced to a topic in time order, as `pillarstream replay` publishes it; one `pillarstream worker
   warehouse` (windows maintained) writes it. Prints the ingest rate every 10 s and overall.
2. Charts: for every chart of every dashboard in the bundle, the SQL Superset sends for it (the dataset SQL
   wrapped as Superset wraps a virtual dataset, the chart's filters, metrics and grouping, the dashboard's
   default filters: first organisation, "All repositories", "All languages", the last 28 days; a chart with a
   series limit as the top-series subquery Superset joins to it). Each is run
   --runs times as the reader; per dashboard p50 / p95 / max of the charts' median times and the total of
   one load, on `reporting` (materialised) and on `querytime` (the same views computed from the buckets at
   query time, as before migration 007), with the ratio.
3. Freshness: signed webhooks (pull requests opened now) at --fresh-rate per second; the time from POST
   until the organisation-level `prs_opened` 1-day value for today in reporting.pillar_metrics counts it.
   Prints p50 / p99, and the worker's events/s on the bulk load above with windows maintained.
4. The time to build every window from scratch (what `pillarstream migrate` does on an existing warehouse).

Measured 2026-12-05 on the shared 2-core machine (load 3-20 from other work), p50 / p95 / max ms per chart:

  before migration 011 and the series limits (main at f22525c):
  --repos 1000 --days 365 --load buckets --windows quick --querytime-runs 1 --fresh-seconds 20
  2,846,696 buckets (181 s), 11,150,636 window rows (1,274 s)
  dashboard                     materialised p50/p95/max   load | query-time load | ratio
  overview                        1.8     2.3     2.3      30 |       38,712 | 1281x
  overview [team]                 2.9     7.0     7.3      58 |       45,843 |  785x
  version-control                 2.1   166.7   166.7     333 |       17,533 |   53x
  compatibility                   5.5   505.5   505.5     999 |       48,742 |   49x
  infrastructure                  6.6   172.5   236.4     494 |       33,215 |   67x
  team                            4.0   215.2   215.2     371 |       21,694 |   59x
  team [team]                     3.3    62.0    62.0     141 |       28,116 |  199x
  (the slow charts were the ones by repository: 0.2-0.5 s; every other chart under 12 ms)

  after (same command, flock /tmp/bench.lock; the machine also ran other helpers' tests and installs):
  2,845,892 buckets (73 s), 11,150,811 window rows (386 s with the moving-frame pass that running totals
  replaced since; indexes built after the insert: 75 s of it)
  dashboard                     materialised p50/p95/max   load | query-time load | ratio
  overview                        6.1    11.0    19.5      98 |       71,522 |  733x
  overview [team]                 4.0     5.9     6.7      66 |       53,879 |  819x
  version-control                 2.5    50.5    50.5     121 |       25,451 |  210x
  compatibility                   1.9    35.9    35.9      92 |       14,425 |  156x
  infrastructure                  3.5    35.2    75.7     165 |       39,678 |  240x
  team                            2.1    33.4    33.4      67 |       24,159 |  361x
  team [team]                     4.5    27.5    27.5      92 |       57,875 |  626x
  slowest chart: Infrastructure by repository 76 ms; the four line charts by repository (top 10) 25-46 ms

  --repos 2000 --days 365 --load buckets --windows quick --querytime-runs 0 --fresh-seconds 0 (flock, after)
  5,694,119 buckets (64 s), 22,238,957 window rows (550 s: passes 433 s, indexes 116 s), vacuum 4 s
  overview 2.1 / 2.2 / 3.5, load 34 ms; version-control p95 101.6 (load 204); compatibility 82.1 (175);
  infrastructure 54.1, max 79.4 (176); team 56.2 (101); with a team chosen every chart <= 46 ms
  10,000 repositories: not measured. The buckets took 486 s (28,468,410); the roll-up grains' window pass was
  still running after 10 minutes when the run was stopped to free the bench lock. From 1,000 to 2,000 the
  charts by repository grow about linearly (tables 50-76 -> 79-102 ms, line charts 25-46 -> 33-56 ms).
  --repos 100 --days 365 --load buckets --windows build --querytime-runs 1 --fresh-seconds 0 (before 011)
  284,422 buckets, 1,169,811 window rows built by build_windows in 477 s; Overview load 134 ms (13.5 s
  query-time, 101x); every chart <= 79 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import re
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import psycopg2  # noqa: E402

from bench.bucket_load import load  # noqa: E402
from bench.services import bench_services, keep_logs, live_pipeline, publish_history  # noqa: E402
from dashboards.bundle import Bundle  # noqa: E402
from dashboards.query_context import UnsupportedChart, build_query, metric_label  # noqa: E402
from devstack.postgres import ADMIN, READER, WRITER  # noqa: E402
from devstack.process import wait_until  # noqa: E402
from devstack.stack import LocalServices, child_env, spawn_worker  # noqa: E402
from pillarstream.signature import sign  # noqa: E402
from stream_processors.windows import build_windows  # noqa: E402
from tests.history import deliveries, random_history  # noqa: E402
from tests.scenario import ORG, History, PRStep, PullRequest, User, render  # noqa: E402

SECRET = "bench-secret"
QUERY_TIME_VIEWS = """
CREATE SCHEMA IF NOT EXISTS querytime;
CREATE OR REPLACE VIEW querytime.pillar_metrics AS
SELECT m.day, m.org, r.full_name AS repo, m.repo_id, m.language, m.grain, m.pillar, m.metric,
       d.version AS metric_version, d.unit, m.window_days, m.value
FROM metric_rollups m JOIN metric_definitions d USING (metric) LEFT JOIN repositories r ON r.repo_id = m.repo_id
WHERE m.grain IN ('repository', 'organisation') AND m.value IS NOT NULL;
CREATE OR REPLACE VIEW querytime.pillar_metrics_by_language AS
SELECT m.day, m.org, m.language, m.pillar, m.metric, d.version AS metric_version, d.unit, m.window_days, m.value
FROM metric_rollups m JOIN metric_definitions d USING (metric)
WHERE m.grain = 'language' AND m.value IS NOT NULL;
CREATE OR REPLACE VIEW querytime.pillar_metrics_by_team AS
SELECT m.day, m.org, t.team_id, t.slug AS team, t.name AS team_name, m.pillar, m.metric,
       d.version AS metric_version, d.unit, m.window_days, m.value
FROM metric_rollups m JOIN metric_definitions d USING (metric) JOIN teams t ON t.team_id = m.team_id
WHERE m.grain = 'team' AND m.value IS NOT NULL;
"""
PILLAR_VIEWS = {"version_control_metrics": "version_control", "compatibility_metrics": "compatibility",
                "infrastructure_metrics": "infrastructure", "team_metrics": "team"}


# --- 1. ingest ---------------------------------------------------------------------------------------

def ingest(services: LocalServices, root: Path, repos: int, days: int) -> float:
    first = datetime.now(UTC).date() - timedelta(days=days - 1)
    started = time.perf_counter()
    items = deliveries(random_history(repos, days, start=first, seed=1), until=datetime.now(UTC))
    print(f"history: {repos} repositories × {days} days from {first}: {len(items):,} deliveries "
          f"(generated in {time.perf_counter() - started:.0f} s)", flush=True)
    topic = publish_history(services, items, "dash")
    dsn = services.postgres.dsn(WRITER)
    env = child_env(kafka_bootstrap=services.kafka.bootstrap, raw_topic=topic, database_url=dsn,
                    webhook_secrets=SECRET, consumer_group_prefix=f"dash-{uuid.uuid4().hex[:6]}",
                    log_level="WARNING")
    worker = spawn_worker(env, "warehouse", root / "warehouse.log")
    conn = psycopg2.connect(dsn)
    conn.autocommit = True

    def count() -> int:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM deliveries")
            return int(cur.fetchone()[0])

    try:
        wait_until(lambda: count() > 0, timeout=120, what="first rows", child=worker)
        t0, last_t, last_n, rates = time.perf_counter(), time.perf_counter(), count(), []
        first_n, n, now = last_n, last_n, t0
        while n < len(items):
            time.sleep(0.5)
            n, now = count(), time.perf_counter()
            if now - last_t >= 10 or n >= len(items):
                rates.append((n - last_n) / (now - last_t))
                print(f"  ingest t={now - t0:5.0f} s  {n:9,} rows  {rates[-1]:8,.0f} events/s", flush=True)
                if len(rates) >= 6 and sum(rates[-6:]) == 0:
                    raise RuntimeError("the worker stopped writing")
                last_n, last_t = n, now
        rate = (n - first_n) / max(now - t0, 1e-9)
        print(f"ingest: {len(items):,} deliveries, {rate:,.0f} events/s overall "
              f"(min {min(rates):,.0f}, max {max(rates):,.0f} per 10 s; target >= 5,000 sustained)", flush=True)

        def pending() -> int:
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM metric_windows_pending")
                return int(cur.fetchone()[0])

        wait_until(lambda: pending() == 0, timeout=900, what="the deferred window keys", child=worker)
        settled = time.perf_counter()
        print(f"windows settled {settled - now:.1f} s after the last delivery; with them "
              f"{(n - first_n) / (settled - t0):,.0f} events/s", flush=True)
    finally:
        worker.stop()
        conn.close()
    return rate


# --- 2. charts ---------------------------------------------------------------------------------------

def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _column(column: Any) -> tuple[str, str]:
    if isinstance(column, dict):  # the x axis: a time column at a grain
        expression = column["sqlExpression"]
        if column.get("timeGrain") == "P1D":
            expression = f"DATE_TRUNC('day', {expression})"
        return expression, column.get("label") or column["sqlExpression"]
    return column, column


def _metric(metric: Any) -> str:
    if metric == "count":
        return "COUNT(*)"
    if isinstance(metric, dict) and metric.get("expressionType") == "SQL":
        return str(metric["sqlExpression"])
    if isinstance(metric, dict):
        return f"{metric['aggregate']}({metric['column']['column_name']})"
    return str(metric)


def _time_range(value: str, column: str, today: date) -> str | None:
    if value in ("No filter", ""):
        return None
    match = re.match(r'DATEADD\(DATETIME\("today"\), (-?\d+), day\) : DATEADD\(DATETIME\("today"\), (-?\d+), day\)',
                     value)
    if match:
        lo, hi = today + timedelta(days=int(match[1])), today + timedelta(days=int(match[2]))
        return f"{column} >= '{lo}' AND {column} < '{hi}'"
    match = re.match(r"Last (\d+) days?", value)
    if match:
        return f"{column} >= '{today - timedelta(days=int(match[1]))}' AND {column} < '{today}'"
    raise ValueError(f"time range {value!r} not understood")


def chart_sql(chart: dict[str, Any], dataset: dict[str, Any], defaults: dict[str, list[Any]],
              time_range: str | None, schema: str, today: date) -> str:
    """The SELECT Superset sends for the chart with the dashboard's default filters, on ``schema``."""
    params = dict(chart["params"])
    params.setdefault("viz_type", chart["viz_type"])
    query = build_query(params)
    columns = {c["column_name"] for c in dataset["columns"]}
    calculated = {c["column_name"]: c["expression"] for c in dataset["columns"] if c.get("expression")}

    def expand(sql_text: str) -> str:  # calculated columns, as Superset inlines them
        for name, expression in calculated.items():
            sql_text = re.sub(rf"(?<![\w.]){name}(?![\w])", f"({expression})", sql_text)
        return sql_text

    if dataset.get("sql"):
        sql = re.sub(r"\breporting\.(pillar_metrics\w*)", rf"{schema}.\1", dataset["sql"])
        source = f"({sql}) AS virtual_table"
    else:
        name = dataset["table_name"]
        source = f"{schema if name.startswith('pillar_metrics') or name in PILLAR_VIEWS else 'reporting'}.{name}"
    where: list[str] = []
    for clause in query["filters"] + [{"col": c, "op": "IN", "val": v} for c, v in defaults.items() if c in columns]:
        op = clause["op"]
        if op == "TEMPORAL_RANGE":
            condition = _time_range(time_range if time_range is not None else clause.get("val", ""),
                                    clause["col"], today)
            if condition:
                where.append(condition)
        elif op == "IN":
            where.append(f"{clause['col']} IN ({', '.join(map(_literal, clause['val']))})")
        elif op in ("==", "!=", ">", "<", ">=", "<="):
            where.append(f"{clause['col']} {'=' if op == '==' else op} {_literal(clause['val'])}")
        elif op == "IS NOT NULL":
            where.append(f"{clause['col']} IS NOT NULL")
        else:
            raise ValueError(f"filter operator {op} not covered")
    if query["extras"].get("where"):
        where.append(query["extras"]["where"])
    selected = [_column(c) for c in query.get("columns", [])]
    metrics = [(_metric(m), metric_label(m)) for m in query.get("metrics") or []]
    select = [f'{e} AS "{label}"' for e, label in selected] + [f'{e} AS "{label}"' for e, label in metrics]
    sql = f"SELECT {expand(', '.join(select))} FROM {source}"
    series = query.get("series_columns") or []
    if query.get("series_limit") and series:
        # Superset's series limit on a database that joins subqueries: the top series by the "sort by"
        # metric over the same filters, joined to the chart's query (SqlaTable.get_sqla_query).
        rank = _metric(query.get("series_limit_metric") or query["metrics"][0])
        inner = (f"SELECT {', '.join(f'{c} AS {c}__' for c in series)}, {metrics[0][0]} AS mme_inner__ "
                 f"FROM {source}")
        if where:
            inner += " WHERE " + " AND ".join(where)
        inner += (f" GROUP BY {', '.join(series)} ORDER BY {rank} {'DESC' if query['order_desc'] else 'ASC'} "
                  f"LIMIT {query['series_limit']}")
        sql += f" JOIN ({expand(inner)}) AS series_limit ON " + " AND ".join(f"{c} = {c}__" for c in series)
    if where:
        sql += " WHERE " + expand(" AND ".join(where))
    if metrics and selected:
        sql += " GROUP BY " + expand(", ".join(e for e, _ in selected))
    if query["extras"].get("having"):
        sql += " HAVING " + expand(query["extras"]["having"])
    order = [f"{_metric(m) if not isinstance(m, str) or m == 'count' else m} {'ASC' if asc else 'DESC'}"
             for m, asc in query.get("orderby") or []]
    if order:
        sql += " ORDER BY " + ", ".join(order)
    return sql + f" LIMIT {query.get('row_limit') or 10000}"


def dashboard_defaults(dashboard: dict[str, Any], org: str) -> tuple[dict[str, list[Any]], str | None]:
    values: dict[str, list[Any]] = {}
    time_range = None
    for item in dashboard["metadata"].get("native_filter_configuration", []):
        state = item.get("defaultDataMask", {})
        if item["filterType"] == "filter_time":
            time_range = state.get("extraFormData", {}).get("time_range")
            continue
        column = item["targets"][0]["column"]["name"]
        if item.get("controlValues", {}).get("defaultToFirstItem") and column == "org":
            values[column] = [org]
        for clause in state.get("extraFormData", {}).get("filters", []):
            values[clause["col"]] = list(clause["val"])
    return values, time_range


def time_charts(dsn: str, runs: int, querytime_runs: int, org: str,
                team: str | None) -> dict[str, dict[str, list[tuple[str, float]]]]:
    """Median ms of each chart (by name), by dashboard view, by schema. Each dashboard is timed with its
    default filters and, when it has a team filter and ``team`` is given, with that team chosen."""
    bundle = Bundle.load()
    charts, datasets = bundle.by_uuid("charts"), bundle.by_uuid("datasets")
    today = datetime.now(UTC).date()
    result: dict[str, dict[str, list[tuple[str, float]]]] = {}
    # Connected as Superset connects (the bundle's connect_args: JIT off for the dashboards' short queries).
    connect_args = bundle.files[bundle.database_file]["extra"].get("engine_params", {}).get("connect_args", {})
    conn = psycopg2.connect(dsn, **connect_args)
    conn.autocommit = True
    for dashboard in sorted(bundle.of("dashboards").values(), key=lambda d: d["slug"]):
        defaults, time_range = dashboard_defaults(dashboard, org)
        views = [(dashboard["slug"], defaults)]
        if team and "team" in defaults:
            views.append((f"{dashboard['slug']} [team {team}]", defaults | {"team": [team]}))
        for name, filters in views:
            for schema, n in (("reporting", runs), ("querytime", querytime_runs)):
                if n <= 0:
                    continue
                times = []
                for chart_uuid in Bundle.dashboard_chart_uuids(dashboard):
                    chart = charts[chart_uuid]
                    try:
                        sql = chart_sql(chart, datasets[chart["dataset_uuid"]], filters, time_range, schema,
                                        today)
                    except UnsupportedChart:
                        continue
                    samples = []
                    for _ in range(n):
                        with conn.cursor() as cur:
                            started = time.perf_counter()
                            cur.execute(sql)
                            cur.fetchall()
                            samples.append((time.perf_counter() - started) * 1000)
                    times.append((chart["slice_name"], statistics.median(samples)))
                result.setdefault(name, {})[schema] = times
                print(f"  timed {name} on {schema}: {len(times)} charts, {sum(t for _, t in times):,.0f} ms",
                      flush=True)
    conn.close()
    return result


def report_charts(result: dict[str, dict[str, list[tuple[str, float]]]]) -> None:
    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def figures(times: list[tuple[str, float]] | None) -> str:
        if not times:
            return f"{'(not run)':>42}"
        values = [t for _, t in times]
        return f"{pct(values, .5):9.1f} {pct(values, .95):9.1f} {max(values):9.1f} {sum(values):10.1f}"

    print(f"{'dashboard':52} {'charts':>6} | {'materialised p50 / p95 / max / load (ms)':>42} | "
          f"{'query-time p50 / p95 / max / load (ms)':>42} | load ratio")
    for name, by_schema in result.items():
        mat, old = by_schema["reporting"], by_schema.get("querytime")
        ratio = f"{sum(t for _, t in old) / max(sum(t for _, t in mat), 1e-9):8.1f}x" if old else ""
        print(f"{name:52} {len(mat):6} | {figures(mat)} | {figures(old)} | {ratio}")
    slowest = sorted(((t, f"{name}: {chart}") for name, s in result.items() for chart, t in s["reporting"]),
                     reverse=True)[:5]
    print("slowest charts (materialised): " + "; ".join(f"{what} {t:.0f} ms" for t, what in slowest))
    print("targets (1,000 repositories): every chart <= 250 ms p95, one Overview load <= 2,000 ms")


# --- 3. freshness ------------------------------------------------------------------------------------

# Every freshness webhook opens a pull request of its own: one opened again (the same id) would not raise
# the count that tells it arrived.
_FRESH_PRS = itertools.count(1)


def _pr_opened(repo: Any, number: int, at: datetime) -> tuple[str, bytes]:
    author = User(f"fresh{number % 7}", 30_000 + number % 7)
    from tests.scenario import Commit
    pr = PullRequest(900_000_000 + number, 90_000 + number, repo, author, "fresh",
                     Commit(f"fresh-{number}", author, at), 1, 1, (PRStep("opened", at, author),))
    (out,) = [o for o in render(History(repos=[repo], pull_requests=[pr])) if o.event == "pull_request"]
    return "pull_request", json.dumps(out.payload).encode()


async def _freshness(url: str, dsn: str, rate: float, seconds: float, repos: list[Any]) -> list[float]:
    today = datetime.now(UTC).date()
    conn = psycopg2.connect(dsn)
    conn.autocommit = True

    def org_value() -> float:
        with conn.cursor() as cur:
            cur.execute("""SELECT value FROM reporting.pillar_metrics WHERE grain = 'organisation' AND org = %s
                           AND day = %s AND metric = 'prs_opened' AND window_days = 1""", (ORG, today))
            row = cur.fetchone()
        return float(row[0]) if row else 0.0

    base = org_value()
    sent: list[float] = []
    seen: list[float] = []
    async with aiohttp.ClientSession() as session:
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            event, body = _pr_opened(repos[i % len(repos)], next(_FRESH_PRS), datetime.now(UTC))
            sent.append(time.perf_counter())
            async with session.post(url, data=body, headers={
                    "Content-Type": "application/json", "X-GitHub-Event": event,
                    "X-GitHub-Delivery": str(uuid.uuid4()), "X-Hub-Signature-256": sign(SECRET, body)}) as answer:
                assert answer.status == 202, answer.status
            value = org_value()
            while len(seen) < min(len(sent), value - base):
                seen.append(time.perf_counter())
        deadline = time.perf_counter() + 60
        while len(seen) < len(sent) and time.perf_counter() < deadline:
            value = org_value()
            while len(seen) < min(len(sent), value - base):
                seen.append(time.perf_counter())
            await asyncio.sleep(0.02)
    conn.close()
    # The k-th POST is counted when the organisation value has grown by k (posts go out in order); one not
    # seen within a minute of the last POST counts as infinitely late, so percentiles never leave it out.
    seen += [math.inf] * (len(sent) - len(seen))
    return sorted((s - p) * 1000 for p, s in zip(sent, seen, strict=True))


def unseen(latencies: list[float]) -> int:
    return sum(1 for x in latencies if math.isinf(x))


def freshness(services: LocalServices, root: Path, rate: float, seconds: float, repos: list[Any]) -> None:
    with live_pipeline(services, root, SECRET, settle_s=10) as url:
        lat = asyncio.run(_freshness(url, services.postgres.dsn(READER), rate, seconds, repos))
    print(f"freshness: logs kept in {keep_logs(root, 'dashboards')}")
    if not lat:
        print("freshness: nothing became visible")
        return
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
    print(f"freshness (POST → organisation prs_opened today in reporting.pillar_metrics) at {rate:.0f} POST/s for "
          f"{seconds:.0f} s: {len(lat)} sent, {unseen(lat)} not seen within 60 s, p50 {p(0.5):.0f} ms, "
          f"p99 {p(0.99):.0f} ms, max {lat[-1]:.0f} ms "
          "(target p99 <= 5,000 ms)")


# --- 4. build from scratch ---------------------------------------------------------------------------

def rebuild(admin_dsn: str) -> None:
    with psycopg2.connect(admin_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM metric_windows")
        before = cur.fetchone()[0]
        cur.execute("TRUNCATE metric_windows, metric_rollup_days")
        started = time.perf_counter()
        build_windows(cur)
        elapsed = time.perf_counter() - started
        cur.execute("SELECT count(*) FROM metric_windows")
        after = cur.fetchone()[0]
    conn.close()
    print(f"windows built from scratch: {after:,} rows in {elapsed:.1f} s "
          f"(maintained incrementally: {before:,} rows)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repos", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=3, help="runs of each chart's SQL (median taken)")
    parser.add_argument("--querytime-runs", type=int, default=1,
                        help="runs of each chart on the query-time views (0: not timed; seconds each at scale)")
    parser.add_argument("--load", choices=("replay", "buckets"), default="replay",
                        help="replay: the real write path; buckets: set-based synthetic buckets (bucket_load.py)")
    parser.add_argument("--windows", choices=("build", "quick"), default="build",
                        help="with --load buckets: build_windows, or the one-pass stand-in (bucket_load.py)")
    parser.add_argument("--fresh-rate", type=float, default=20)
    parser.add_argument("--fresh-seconds", type=float, default=20, help="0: no freshness run")
    args = parser.parse_args()
    with bench_services("bench-dashboards", topic="unused", partitions=1) as (root, services):
        with psycopg2.connect(services.postgres.dsn(ADMIN)) as conn, conn.cursor() as cur:
            cur.execute(QUERY_TIME_VIEWS)
            for view, pillar in PILLAR_VIEWS.items():
                cur.execute(f"CREATE OR REPLACE VIEW querytime.{view} AS "  # noqa: S608 - constants
                            f"SELECT * FROM querytime.pillar_metrics WHERE pillar = '{pillar}'")
            cur.execute("GRANT USAGE ON SCHEMA querytime TO pillarstream_reader; "
                        "GRANT SELECT ON ALL TABLES IN SCHEMA querytime TO pillarstream_reader")
        conn.close()
        if args.load == "buckets":
            today = datetime.now(UTC).date()
            with psycopg2.connect(services.postgres.dsn(ADMIN)) as conn, conn.cursor() as cur:
                load(cur, ORG, args.repos, today - timedelta(days=args.days - 1), today, windows=args.windows)
            conn.close()
        else:
            ingest(services, root, args.repos, args.days)
        conn = psycopg2.connect(services.postgres.dsn(ADMIN))
        conn.autocommit = True
        with conn.cursor() as cur:
            # What autovacuum does after a bulk load: statistics, and the visibility map that lets the charts
            # read the chart index alone (migration 011). Timed, as it is part of having the warehouse ready.
            started = time.perf_counter()
            cur.execute("VACUUM (ANALYZE)")
            print(f"vacuum (analyze) after the load: {time.perf_counter() - started:.0f} s", flush=True)
            cur.execute("SELECT slug FROM teams WHERE NOT deleted AND slug IS NOT NULL ORDER BY team_id LIMIT 1")
            first_team = cur.fetchone()
        conn.close()
        report_charts(time_charts(services.postgres.dsn(READER), args.runs, args.querytime_runs, ORG,
                                  first_team[0] if first_team else None))
        if args.fresh_seconds > 0:
            # Repositories of their own: the generator's ids are those of the loaded ones, whose languages differ,
            # and a webhook changing a repository's language moves its whole history between languages.
            history = random_history(min(args.repos, 20), 1, seed=1, first_repo_id=900_000)
            freshness(services, root, args.fresh_rate, args.fresh_seconds, history.repos)
        if args.load == "replay":
            rebuild(services.postgres.dsn(ADMIN))


if __name__ == "__main__":
    main()
