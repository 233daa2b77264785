"""The warehouse against real Postgres: every catalogue metric for a known history, rolling windows,
replays in any order and number, grants, and the migrated schema."""

from __future__ import annotations

import json
import math
import os
import random
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from psycopg2 import errors, sql

from pillarstream.config import PillarConfig
from pillarstream.envelope import from_payload
from pillarstream.normalise import rows
from pillarstream.normalise.version import stamp
from stream_processors.archiver import Consumed
from stream_processors.facts import upserts
from stream_processors.warehouse import prepare, recompute_buckets, write_batch, write_prepared
from tests.scenario import D1, D2, D3, ORG, Scenario, build_scenario

pytestmark = pytest.mark.integration
REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_SNAPSHOT = REPO_ROOT / "stream_processors" / "sql" / "schema.sql"
# Columns that record when a row was written, not what the events say.
WRITE_TIME_COLUMNS = {("deliveries", "recorded_at"), ("schema_migrations", "applied_at")}


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return build_scenario()


def consumed(scenario: Scenario) -> list[Consumed]:
    records = []
    for offset, (event, delivery_id, body) in enumerate(scenario.deliveries):
        envelope = from_payload(delivery_id=delivery_id, event=event, payload=body, parsed=json.loads(body),
                                source="webhook", received_at=scenario.sent_at[delivery_id],
                                headers={"X-GitHub-Event": event, "X-GitHub-Delivery": delivery_id})
        records.append(Consumed("github.events", 0, offset, envelope))
    return records


def batches_of(records: Sequence[Consumed], size: int) -> list[list[Consumed]]:
    return [list(records[i:i + size]) for i in range(0, len(records), size)]


@contextmanager
def cursor(dsn: str) -> Iterator[Any]:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def feed(dsn: str, batches: Sequence[Sequence[Consumed]], config: PillarConfig | None = None) -> None:
    """Each batch in a transaction of its own, as the worker does."""
    conn = psycopg2.connect(dsn)
    try:
        for batch in batches:
            with conn, conn.cursor() as cur:
                write_batch(cur, batch, config)
    finally:
        conn.close()


def pillar_metrics(dsn: str, window_days: int = 1) -> dict[tuple[date, str, str | None, str], float]:
    with cursor(dsn) as cur:
        cur.execute("""SELECT day, org, repo, metric, value FROM reporting.pillar_metrics
                       WHERE window_days = %s""", (window_days,))
        return {(day, org, repo, metric): value for day, org, repo, metric, value in cur.fetchall()}


def public_tables(cur: Any) -> list[str]:
    cur.execute("""SELECT table_name FROM information_schema.tables
                   WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name""")
    return [name for (name,) in cur.fetchall()]


def dump(admin_dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every warehouse table, write-time columns left out, in a canonical order."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with cursor(admin_dsn) as cur:
        for table in public_tables(cur):
            cur.execute("""SELECT column_name FROM information_schema.columns
                           WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position""",
                        (table,))
            columns = [c for (c,) in cur.fetchall() if (table, c) not in WRITE_TIME_COLUMNS]
            cur.execute(sql.SQL("SELECT {} FROM {}").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table)))
            tables[table] = sorted(cur.fetchall(), key=repr)
    return tables


def reset(admin_dsn: str) -> None:
    with cursor(admin_dsn) as cur:
        names = [t for t in public_tables(cur) if t not in ("schema_migrations", "metric_definitions")]
        cur.execute(sql.SQL("TRUNCATE {}").format(
            sql.SQL(", ").join(map(sql.Identifier, names))))


def assert_metrics_equal(actual: dict[Any, float], expected: dict[Any, float]) -> None:
    missing = sorted(set(expected) - set(actual), key=repr)
    unexpected = {k: actual[k] for k in sorted(set(actual) - set(expected), key=repr)}
    wrong = {k: (actual[k], expected[k]) for k in sorted(set(actual) & set(expected), key=repr)
             if not math.isclose(actual[k], expected[k], rel_tol=1e-9, abs_tol=1e-9)}
    assert (missing, unexpected, wrong) == ([], {}, {})


# --- metrics --------------------------------------------------------------------------------------

def test_every_catalogue_metric_matches_the_hand_computed_history(db, scenario):
    feed(db.writer_dsn, batches_of(consumed(scenario), 20))

    assert_metrics_equal(pillar_metrics(db.reader_dsn), scenario.expected_daily)
    with cursor(db.reader_dsn) as cur:
        cur.execute("SELECT metric FROM reporting.metric_catalogue")
        catalogue = {metric for (metric,) in cur.fetchall()}
    covered = {metric for (*_, metric) in scenario.expected_daily}
    assert catalogue == covered, "the scenario exercises every metric"


def test_rolling_windows_are_computed_from_the_window_s_events(db, scenario):
    feed(db.writer_dsn, batches_of(consumed(scenario), 50))

    with cursor(db.reader_dsn) as cur:
        cur.execute("SELECT day, org, repo, metric, window_days, value FROM reporting.pillar_metrics")
        windows = {tuple(row[:5]): row[5] for row in cur.fetchall()}
    got = {key: windows.get(key) for key in scenario.expected_windows}
    assert got == pytest.approx(scenario.expected_windows)
    # A window ends on every day up to today, quiet days included; the 1-day window only on active days.
    assert (date(2024, 4, 2), ORG, None, "commits", 28) in windows  # D3 + 27 days
    assert (date(2024, 4, 3), ORG, None, "commits", 28) not in windows
    assert (date(2024, 3, 10), ORG, None, "commits", 1) not in windows


def test_per_pillar_and_language_views(db, scenario):
    feed(db.writer_dsn, batches_of(consumed(scenario), 100))

    with cursor(db.reader_dsn) as cur:
        cur.execute("""SELECT metric, value FROM reporting.team_metrics
                       WHERE day = %s AND repo IS NULL AND window_days = 1 ORDER BY metric""", (D1,))
        assert dict(cur.fetchall()) == pytest.approx({
            "active_contributors": 3, "review_load_top_share": 2 / 3, "reviewers_active": 2,
            "reviews_submitted": 3})
        cur.execute("""SELECT language, value FROM reporting.pillar_metrics_by_language
                       WHERE day = %s AND metric = 'commits' AND window_days = 1 ORDER BY language""", (D1,))
        assert cur.fetchall() == [("Python", 2.0), ("TypeScript", 1.0)]
        cur.execute("""SELECT DISTINCT language FROM reporting.pillar_metrics WHERE repo = 'acme/web'""")
        assert cur.fetchall() == [("TypeScript",)]
        cur.execute("""SELECT DISTINCT grain, repo IS NULL FROM reporting.pillar_metrics ORDER BY 1""")
        assert cur.fetchall() == [("organisation", True), ("repository", False)]


def test_drill_down_views_explain_the_figures(db, scenario):
    feed(db.writer_dsn, batches_of(consumed(scenario), 100))

    with cursor(db.reader_dsn) as cur:
        cur.execute("""SELECT repo, number, author_is_bot, pickup_time_hours, merged_without_review
                       FROM reporting.pull_requests ORDER BY repo, number""")
        assert cur.fetchall() == [
            ("acme/api", 1, False, 2, False), ("acme/api", 2, False, 1.5, False),
            ("acme/api", 3, True, None, True),
            ("acme/api", 4, False, None, False), ("acme/api", 5, False, None, False),
            ("acme/web", 1, False, 4, False)]
        cur.execute("SELECT check_run_id FROM reporting.check_runs WHERE flaky ORDER BY 1")
        assert cur.fetchall() == [(9001,), (9002,), (9008,), (9009,)]
        cur.execute("""SELECT status_id FROM reporting.deployments
                       WHERE is_production AND state = 'success' ORDER BY 1""")
        assert cur.fetchall() == [(6102,), (6401,), (6601,), (6701,)]
        cur.execute("SELECT number, time_to_restore_hours FROM reporting.incidents ORDER BY number")
        assert cur.fetchall() == [(10, 4), (11, 24)]


def test_bots_stay_in_the_facts(db, scenario):
    feed(db.writer_dsn, batches_of(consumed(scenario), 100))

    with cursor(db.admin_dsn) as cur:
        cur.execute("SELECT author_login FROM pull_requests WHERE author_is_bot")
        assert cur.fetchall() == [("dependabot[bot]",)]
        cur.execute("SELECT reviewer_login FROM pull_request_reviews WHERE reviewer_is_bot")
        assert cur.fetchall() == [("review-bot[bot]",)]
        cur.execute("SELECT sha FROM commits WHERE author_is_bot")
        assert len(cur.fetchall()) == 1


def test_configuration_decides_production_and_bots(db, scenario):
    staging_only = PillarConfig(production_environments=frozenset({"staging"}))
    feed(db.writer_dsn, batches_of(consumed(scenario), 100), staging_only)

    metrics = pillar_metrics(db.reader_dsn)
    assert {k: v for k, v in metrics.items() if k[3] == "deployments" and k[2] is None} == {
        (D2, ORG, None, "deployments"): 1}  # 6201, the staging deployment


# --- replays --------------------------------------------------------------------------------------

def _orders(records: list[Consumed]) -> dict[str, list[list[Consumed]]]:
    shuffled = list(records)
    random.Random(20240304).shuffle(shuffled)
    return {
        "once more, same batches": batches_of(records, 20),
        "shuffled": batches_of(shuffled, 7),
        "reversed batches": list(reversed(batches_of(records, 20))),
        "one event per batch, newest first": [[r] for r in reversed(records)],
        "everything in one batch, twice over": [records + records],
    }


def test_replays_in_any_order_and_number_leave_every_table_as_if_each_event_arrived_once(db, scenario):
    records = consumed(scenario)
    feed(db.writer_dsn, batches_of(records, 20))
    once = dump(db.admin_dsn)
    assert once["metric_buckets"] and once["pull_requests"] and once["team_memberships"]

    for name, batches in _orders(records).items():
        if name != "once more, same batches":
            reset(db.admin_dsn)
        feed(db.writer_dsn, batches)
        again = dump(db.admin_dsn)
        differing = [t for t in once if again[t] != once[t]]
        assert differing == [], f"{name}: tables differ from a single feed"


def test_batches_written_together_equal_batches_written_apart(db, scenario):
    """Batches that queue up for the writer share one transaction and one bucket recompute."""
    shuffled = consumed(scenario)
    random.Random(11).shuffle(shuffled)  # reopened and re-reviewed pull requests move between days
    prepared = [prepare(batch) for batch in batches_of(shuffled, 7)]

    def write_in_transactions(groups):
        conn = psycopg2.connect(db.writer_dsn)
        try:
            for group in groups:
                with conn, conn.cursor() as cur:
                    write_prepared(cur, group)
        finally:
            conn.close()

    write_in_transactions([[batch] for batch in prepared])
    apart = dump(db.admin_dsn)
    reset(db.admin_dsn)
    write_in_transactions([prepared[start:start + 3] for start in range(0, len(prepared), 3)])
    write_in_transactions([[prepare([])]])  # the worker's idle tick: windows a backlog deferred
    together = dump(db.admin_dsn)
    assert apart["metric_buckets"] and [t for t in apart if together[t] != apart[t]] == []


def test_incremental_buckets_equal_a_full_recompute(db, scenario):
    records = consumed(scenario)
    shuffled = list(records)
    random.Random(7).shuffle(shuffled)
    feed(db.writer_dsn, [[r] for r in shuffled])
    incremental = dump(db.admin_dsn)["metric_buckets"]

    with cursor(db.writer_dsn) as cur:
        every = [(day, repo) for day in (D1, D2, D3) for repo in (1001, 1002)]
        recompute_buckets(cur, every)
    assert dump(db.admin_dsn)["metric_buckets"] == incremental


def test_concurrent_writers_of_one_repository_converge(db, scenario):
    """As while a partition is handed over: two workers write overlapping batches at the same time."""
    records = consumed(scenario)
    feed(db.writer_dsn, batches_of(records, 20))
    once = dump(db.admin_dsn)
    reset(db.admin_dsn)

    def worker(part: list[Consumed]) -> None:
        conn = psycopg2.connect(db.writer_dsn)
        try:
            for batch in batches_of(part, 10):
                while True:
                    try:
                        with conn, conn.cursor() as cur:
                            write_batch(cur, batch)
                        break
                    except errors.DeadlockDetected:  # retriable, as the sink treats it
                        continue
        finally:
            conn.close()

    halves = [records[0::2] + records[1::4], records[1::2] + records[0::4]]  # overlapping halves
    threads = [threading.Thread(target=worker, args=(half,)) for half in halves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert dump(db.admin_dsn) == once


def test_a_second_writer_of_the_same_buckets_waits_for_the_first(db, scenario):
    """The interleaving that breaks a naive delete-and-insert: writer 2 starts while writer 1's batch on
    the same buckets is uncommitted. Writer 2 must wait, then rebuild from both batches' facts."""
    d1_api = [r for r in consumed(scenario) if r.envelope.repo_id == 1001 and r.envelope.event == "check_run"
              and r.envelope.received_at.date() == D1]
    first, second = d1_api[0::2], d1_api[1::2]
    outcome: list[BaseException | None] = []

    def second_writer() -> None:
        try:
            feed(db.writer_dsn, [second])
            outcome.append(None)
        except psycopg2.Error as exc:
            outcome.append(exc)

    conn = psycopg2.connect(db.writer_dsn)
    try:
        with conn, conn.cursor() as cur:
            write_batch(cur, first)
            thread = threading.Thread(target=second_writer)
            thread.start()
            thread.join(timeout=1.0)
            assert thread.is_alive(), "the second writer waits for the first"
        thread.join(timeout=30)
    finally:
        conn.close()
    assert outcome == [None]
    assert pillar_metrics(db.reader_dsn)[(D1, ORG, "acme/api", "check_runs_completed")] == 3


def test_an_older_update_never_overwrites_a_newer_one(db, scenario):
    records = [r for r in consumed(scenario) if r.envelope.event == "pull_request"
               and json.loads(r.envelope.payload)["pull_request"]["number"] == 4
               and r.envelope.repo_full_name == "acme/api"]
    feed(db.writer_dsn, [[r] for r in reversed(records)])  # final close first, the opening last

    with cursor(db.admin_dsn) as cur:
        cur.execute("SELECT state, closed_at::date FROM pull_requests WHERE pr_id = 5004")
        assert cur.fetchall() == [("closed", D3)]
        cur.execute("SELECT action FROM pull_request_events WHERE pr_id = 5004 ORDER BY occurred_at")
        assert [a for (a,) in cur.fetchall()] == ["opened", "closed", "reopened", "closed"]
    assert pillar_metrics(db.reader_dsn).get((D2, ORG, "acme/api", "prs_closed_unmerged")) is None


def test_an_older_or_unchanged_row_neither_waits_for_nor_rewrites_the_stored_one(db):
    """A bulk load of history carries old snapshots of repositories the live writer keeps writing: they
    change nothing, so they must not wait for the live writer's open transaction (nor rewrite the row)."""
    def snapshot(language: str, at: datetime) -> rows.Repository:
        row = rows.Repository(repo_id=77, org=ORG, full_name=f"{ORG}/seventy-seven", name="seventy-seven",
                              owner_login=ORG, language=language, default_branch="main", private=False,
                              archived=False, fork=False, visibility="public", created_at=at, updated_at=at,
                              deleted=False, version="")
        return stamp(row, 0, at)

    def upsert(cur: Any, row: rows.Repository) -> None:
        for statement in upserts(rows.Facts(repositories=[row])):
            cur.execute(*statement)

    old, stored, newest = (snapshot(language, datetime(2026, 1, day, tzinfo=UTC))
                           for language, day in (("Go", 1), ("Rust", 2), ("Zig", 3)))
    with cursor(db.writer_dsn) as cur:
        upsert(cur, stored)
    live = psycopg2.connect(db.writer_dsn)
    try:
        with live, live.cursor() as live_cur:
            upsert(live_cur, newest)  # the live writer's transaction holds the row
            with cursor(db.writer_dsn) as cur:
                cur.execute("SET LOCAL lock_timeout = '2s'")
                upsert(cur, old)
                upsert(cur, stored)
    finally:
        live.close()
    with cursor(db.admin_dsn) as cur:
        cur.execute("SELECT language, version FROM repositories WHERE repo_id = 77")
        assert cur.fetchall() == [("Zig", newest.version)]


def test_values_reach_postgres_exactly_as_normalised(db):
    """Rows travel to Postgres as JSON (facts.json_rows): awkward text, NULLs, microseconds, time zones
    and 64-bit ids must come back as the same Python values."""
    when = datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=-7)))
    awkward = "O'Brien \\ \"quoted\" %s %% $1 \t tab\nnewline é 漢字 🚀 \u2028"
    pr = rows.PullRequest(
        pr_id=2**62 + 7, repo_id=1, org=awkward, number=1, title=awkward, html_url=None, author_login="a[bot]",
        author_is_bot=True, state="open", draft=None, merged=False, created_at=when, updated_at=when,
        closed_at=None, merged_at=None, merged_by_login=None, base_ref="", head_ref="x" * 5000, head_sha=None,
        merge_commit_sha=None, additions=0, deletions=-1, changed_files=None, commits=2**31 - 1, version=awkward)
    with cursor(db.writer_dsn) as cur:
        for statement in upserts(rows.Facts(pull_requests=[pr])):
            cur.execute(*statement)
    with cursor(db.admin_dsn) as cur:
        cur.execute(sql.SQL("SELECT {} FROM pull_requests").format(
            sql.SQL(", ").join(map(sql.Identifier, pr._fields))))
        assert [rows.PullRequest(*row) for row in cur.fetchall()] == [pr]


# --- roles and schema -----------------------------------------------------------------------------

def test_reader_sees_reporting_views_and_nothing_else(db, scenario):
    feed(db.writer_dsn, batches_of(consumed(scenario), 100))

    with cursor(db.reader_dsn) as cur:
        cur.execute("SELECT count(*) FROM reporting.pillar_metrics")
        assert cur.fetchone()[0] > 0
    for table in ("pull_requests", "deliveries", "metric_buckets", "metric_rollups"):
        with pytest.raises(errors.InsufficientPrivilege), cursor(db.reader_dsn) as cur:
            cur.execute(sql.SQL("SELECT 1 FROM public.{} LIMIT 1").format(sql.Identifier(table)))
    with pytest.raises(errors.InsufficientPrivilege), cursor(db.reader_dsn) as cur:
        cur.execute("INSERT INTO public.deliveries (delivery_id) VALUES ('x')")
    with pytest.raises(errors.InsufficientPrivilege), cursor(db.reader_dsn) as cur:
        cur.execute("CREATE VIEW reporting.mine AS SELECT 1 AS one")


def test_writer_cannot_rewrite_history(db):
    with pytest.raises(errors.InsufficientPrivilege), cursor(db.writer_dsn) as cur:
        cur.execute("DELETE FROM pull_requests")
    with pytest.raises(errors.InsufficientPrivilege), cursor(db.writer_dsn) as cur:
        cur.execute("UPDATE metric_definitions SET version = 2")


def describe_schema(admin_dsn: str) -> str:
    """The migrated schema as reviewable text: tables, views and their columns, indexes, grants."""
    lines: list[str] = []
    with cursor(admin_dsn) as cur:
        cur.execute("""SELECT c.table_schema, c.table_name, t.table_type, c.column_name,
                              c.data_type, c.udt_name, c.is_nullable, c.collation_name
                       FROM information_schema.columns c
                       JOIN information_schema.tables t USING (table_schema, table_name)
                       WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema')
                       ORDER BY c.table_schema, t.table_type, c.table_name, c.ordinal_position""")
        relations: dict[tuple[str, str, str], list[str]] = {}
        for schema, table, kind, column, data_type, udt, nullable, collation in cur.fetchall():
            type_name = udt[1:] + "[]" if data_type == "ARRAY" else data_type
            extra = (f' COLLATE "{collation}"' if collation else "") + (
                " NOT NULL" if nullable == "NO" and kind == "BASE TABLE" else "")
            relations.setdefault((schema, table, kind), []).append(f"    {column} {type_name}{extra}")
        for (schema, table, kind), columns in relations.items():
            word = "TABLE" if kind == "BASE TABLE" else "VIEW"
            lines += [f"CREATE {word} {schema}.{table} (", ",\n".join(columns), ");"]
        cur.execute("""SELECT indexdef FROM pg_indexes
                       WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
                       ORDER BY schemaname, tablename, indexname""")
        lines += [f"{definition};" for (definition,) in cur.fetchall()]
        cur.execute("""SELECT grantee, table_schema, table_name, string_agg(privilege_type, ', '
                                                                             ORDER BY privilege_type)
                       FROM information_schema.role_table_grants
                       WHERE grantee IN ('pillarstream_writer', 'pillarstream_reader')
                       GROUP BY grantee, table_schema, table_name ORDER BY 1, 2, 3""")
        lines += [f"GRANT {privileges} ON {schema}.{table} TO {grantee};"
                  for grantee, schema, table, privileges in cur.fetchall()]
    return "\n".join(lines) + "\n"


def test_migrating_an_empty_database_gives_the_declared_schema(db):
    header = ("-- The schema that migrations produce on an empty database (tables, views, indexes, grants).\n"
              "-- Generated by tests/integration/test_warehouse.py; after adding a migration, regenerate:\n"
              "--   PILLARSTREAM_UPDATE_SCHEMA=1 .venv/bin/python -m pytest \\\n"
              "--       tests/integration/test_warehouse.py -k schema\n\n")
    actual = header + describe_schema(db.admin_dsn)
    if os.environ.get("PILLARSTREAM_UPDATE_SCHEMA") == "1":
        SCHEMA_SNAPSHOT.write_text(actual, encoding="utf-8")
    assert actual == SCHEMA_SNAPSHOT.read_text(encoding="utf-8")
