"""Materialised windows against the query-time definition they replace (the `metric_rollups` view, kept as
the reference): exact for every (day, window, grain, scope, metric), after building from scratch and after
incremental maintenance, late events, a reopened pull request, a quiet day, a language change, an upgrade
of an existing warehouse and a kill -9 of the worker in the middle of it."""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from adapters.kafka_publisher import KafkaPublisher
from pillarstream.envelope import from_payload
from stream_processors.migrations import MIGRATIONS_DIR, migrate
from stream_processors.warehouse import prepare, write_prepared
from stream_processors.window_maintainer import WindowMaintainer
from stream_processors.windows import build_windows, maintain_slice, refresh_windows
from tests.conftest import drop_database, new_database
from tests.harness import eventually, query
from tests.history import Delivery, deliveries, random_history
from tests.integration.test_lead_time_touch import consumed, feed
from tests.scenario import ORG, History, OrgEvent, PRStep, PullRequest, render

pytestmark = pytest.mark.integration
WindowKey = tuple[date, int, str, str, str, str]  # day, window, grain, org, scope, metric

# The query-time definition of the two reporting views before 007 (004), on the reference rollups.
QUERY_TIME_PILLAR_METRICS = """
    SELECT m.day, m.org, r.full_name AS repo, m.repo_id, m.language, m.grain, m.pillar, m.metric,
           d.version AS metric_version, d.unit, m.window_days, m.value
    FROM metric_rollups m
    JOIN metric_definitions d USING (metric)
    LEFT JOIN repositories r ON r.repo_id = m.repo_id
    WHERE m.grain IN ('repository', 'organisation') AND m.value IS NOT NULL"""
QUERY_TIME_BY_LANGUAGE = """
    SELECT m.day, m.org, m.language, m.pillar, m.metric, d.version AS metric_version, d.unit, m.window_days,
           m.value
    FROM metric_rollups m
    JOIN metric_definitions d USING (metric)
    WHERE m.grain = 'language' AND m.value IS NOT NULL"""


def reference(dsn: str) -> dict[WindowKey, float]:
    rows = query(dsn, """
        SELECT day, window_days, grain, org,
               CASE grain WHEN 'repository' THEN repo_id::text WHEN 'language' THEN coalesce(language, '')
                          WHEN 'team' THEN team_id::text ELSE '' END,
               metric, value
        FROM metric_rollups WHERE value IS NOT NULL""")
    return {tuple(r[:6]): r[6] for r in rows}  # type: ignore[misc]


def materialised(dsn: str) -> dict[WindowKey, float]:
    rows = query(dsn, """
        SELECT w.day, v.window_days, w.grain, w.org, w.scope, w.metric, v.value
        FROM metric_windows w
        CROSS JOIN LATERAL (VALUES (1, w.value_1d), (7, w.value_7d), (28, w.value_28d)) AS v (window_days, value)
        WHERE v.value IS NOT NULL AND w.day <= (SELECT day FROM metric_windows_last_day)""")
    return {tuple(r[:6]): r[6] for r in rows}  # type: ignore[misc]


def assert_windows_exact(admin_dsn: str) -> dict[WindowKey, float]:
    expected, actual = reference(admin_dsn), materialised(admin_dsn)
    missing = sorted(set(expected) - set(actual))[:5]
    unexpected = sorted(set(actual) - set(expected))[:5]
    wrong = [(k, actual[k], expected[k]) for k in sorted(set(actual) & set(expected))
             if not math.isclose(actual[k], expected[k], rel_tol=1e-9, abs_tol=1e-12)][:5]
    assert (missing, unexpected, wrong) == ([], [], [])
    assert query(admin_dsn, "SELECT count(*) FROM metric_windows_pending")[0][0] == 0
    return actual


def assert_reporting_views_unchanged(admin_dsn: str) -> None:
    for view, old in (("reporting.pillar_metrics", QUERY_TIME_PILLAR_METRICS),
                      ("reporting.pillar_metrics_by_language", QUERY_TIME_BY_LANGUAGE)):
        new_rows = query(admin_dsn, f"SELECT * FROM {view}")  # noqa: S608 - constant view names
        old_rows = query(admin_dsn, old)
        assert len(new_rows) == len(old_rows) > 0

        def canonical(rows: list[Any]) -> list[tuple[Any, ...]]:
            return sorted((tuple(r[:-1]) + (round(r[-1], 9),) for r in rows), key=repr)

        assert canonical(new_rows) == canonical(old_rows)


# --- a randomised history of buckets ---------------------------------------------------------------

def random_buckets(admin_dsn: str, seed: int) -> None:
    """Buckets of every kind straight into the table: 2 organisations, repositories in 3 languages and
    none, 70 days with gaps, random samples and members (overlapping between days and repositories)."""
    rng = random.Random(seed)
    people = [f"p{i}" for i in range(12)]
    start = date(2024, 5, 1)
    with psycopg2.connect(admin_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT metric, kind FROM metric_definitions")
        kinds = dict(cur.fetchall())
        repos = [(3000 + i, "org-a" if i < 5 else "org-b", [None, "Go", "Python", "Rust"][i % 4]) for i in range(8)]
        cur.execute("""INSERT INTO teams (team_id, org, slug, name, deleted, version)
                       VALUES (41, 'org-a', 'odd', 'Odd', false, '1'), (42, 'org-a', 'first', 'First', false, '1'),
                              (43, 'org-a', 'gone', 'Gone', true, '1')""")
        for repo_id, org, language in repos:
            cur.execute("""INSERT INTO repositories (repo_id, org, full_name, name, language, private, archived,
                                                     fork, deleted, version)
                           VALUES (%s, %s, %s, %s, %s, false, false, false, false, '1')""",
                        (repo_id, org, f"{org}/r{repo_id}", f"r{repo_id}", language))
            for team_id in (41, 42):  # team 41: every other repository; team 42: the first three
                if (team_id == 41 and repo_id % 2) or (team_id == 42 and repo_id < 3003):
                    cur.execute("""INSERT INTO team_repositories (team_id, repo_id, org, state, version)
                                   VALUES (%s, %s, %s, 'added', '1')""", (team_id, repo_id, org))
            for d in range(70):
                if rng.random() < 0.3:  # quiet days, and quiet spells longer than a week
                    continue
                for metric, kind in kinds.items():
                    if rng.random() < 0.4:
                        continue
                    row = _bucket(rng, kind, people)
                    cur.execute("""INSERT INTO metric_buckets (repo_id, day, metric, org, value, numerator,
                                                               denominator, samples, members)
                                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                                (repo_id, start + timedelta(days=d), metric, org, *row))
    conn.close()


def _bucket(rng: random.Random, kind: str, people: list[str]) -> tuple[Any, ...]:
    if kind == "count":
        return rng.randint(1, 9), None, None, None, None
    if kind == "ratio":
        den = rng.randint(1, 10)
        num = rng.randint(0, den)
        return num / den, num, den, None, None
    if kind == "quantile":
        samples = sorted(round(rng.uniform(0, 100), 3) for _ in range(rng.randint(1, 5)))
        return samples[len(samples) // 2], None, None, samples, None
    if kind == "distinct":
        members = sorted(rng.sample(people, rng.randint(1, 4)))
        return len(members), None, None, None, members
    entries = sorted(rng.choice(people[:5]) for _ in range(rng.randint(1, 6)))  # top_share
    return 0.5, None, None, None, entries


def test_windows_built_from_random_buckets_equal_the_query_time_definition(db):
    random_buckets(db.admin_dsn, seed=1)
    with psycopg2.connect(db.admin_dsn) as conn, conn.cursor() as cur:
        build_windows(cur, chunk_days=9)  # several spans, so a span reads the roll-ups of the one before
    conn.close()
    windows = assert_windows_exact(db.admin_dsn)
    assert {k[2] for k in windows} == {"repository", "organisation", "language", "team"}
    assert {k[1] for k in windows} == {1, 7, 28} and len(windows) > 20_000
    assert_reporting_views_unchanged(db.admin_dsn)


# --- through the write path ------------------------------------------------------------------------

def test_windows_maintained_by_the_writer_in_any_order_equal_the_query_time_definition(db):
    items = deliveries(random_history(4, 40, seed=2))
    random.Random(3).shuffle(items)
    feed(db.writer_dsn, items, 150)
    windows = assert_windows_exact(db.admin_dsn)
    assert len({k[5] for k in windows}) >= 20  # most of the catalogue has data
    assert {k[2] for k in windows} == {"repository", "organisation", "language", "team"}
    assert_reporting_views_unchanged(db.admin_dsn)


def org_value(dsn: str, day: date, metric: str, window_days: int) -> float | None:
    rows = query(dsn, """SELECT value FROM reporting.pillar_metrics
                         WHERE grain = 'organisation' AND day = %s AND metric = %s AND window_days = %s""",
                 (day, metric, window_days))
    return rows[0][0] if rows else None


def pr_deliveries(pr: PullRequest) -> list[Delivery]:
    return [Delivery(o.at, o.event, f"{o.key}-late", json.dumps(o.payload).encode())
            for o in render(History(repos=[pr.repo], pull_requests=[pr])) if o.event == "pull_request"]


def test_a_late_merge_and_a_reopened_pull_request_change_exactly_their_windows(db):
    history = random_history(3, 50, seed=4)
    feed(db.writer_dsn, deliveries(history), 400)
    before = assert_windows_exact(db.admin_dsn)

    # A pull request merged 20 days before the end of the history arrives now: merged on day M.
    repo, author = history.repos[1], history.pull_requests[0].author
    merged = datetime(2024, 1, 31, 15, tzinfo=UTC)
    late = PullRequest(99_001, 9001, repo, author, "late", history.pull_requests[0].head, 10, 5, (
        PRStep("opened", merged - timedelta(hours=30), author), PRStep("closed", merged, author, merged=True)))
    feed(db.writer_dsn, pr_deliveries(late), 100)
    after = assert_windows_exact(db.admin_dsn)
    changed = {k for k in set(before) | set(after)
               if k[5] == "prs_merged" and before.get(k) != after.get(k)}
    day = merged.date()
    scopes = [("repository", str(repo.id)), ("organisation", ""), ("language", repo.language)]
    scopes += [("team", str(e.team[0])) for e in history.org_events if e.repo == repo and e.team]
    assert len(scopes) == 4  # the repository belongs to one team
    expected = {(day + timedelta(days=o), w, grain, ORG, scope, "prs_merged")
                for w in (1, 7, 28) for o in range(w) for grain, scope in scopes}
    assert changed == expected
    assert all(after[k] == before.get(k, 0) + 1 for k in expected)

    # Closed unmerged on day C, then reopened: the closed-unmerged windows of C … C+27 lose it again.
    closed = datetime(2024, 2, 10, 12, tzinfo=UTC)
    steps = (PRStep("opened", closed - timedelta(hours=5), author), PRStep("closed", closed, author))
    pr = PullRequest(99_002, 9002, repo, author, "abandoned", history.pull_requests[0].head, 1, 1, steps)
    feed(db.writer_dsn, pr_deliveries(pr), 100)
    with_closed = assert_windows_exact(db.admin_dsn)
    reopened = PullRequest(99_002, 9002, repo, author, "abandoned", pr.head, 1, 1,
                           (*steps, PRStep("reopened", closed + timedelta(days=3), author)))
    feed(db.writer_dsn, pr_deliveries(reopened)[-1:], 100)
    without = assert_windows_exact(db.admin_dsn)
    key = (closed.date() + timedelta(days=5), 7, "organisation", ORG, "", "prs_closed_unmerged")
    assert without.get(key, 0) == with_closed[key] - 1
    assert {k for k in set(with_closed) | set(without) if with_closed.get(k) != without.get(k)} == {
        (closed.date() + timedelta(days=o), w, grain, ORG, scope, "prs_closed_unmerged")
        for w in (1, 7, 28) for o in range(w) for grain, scope in scopes}


def test_a_quiet_day_and_the_day_after_still_have_their_windows(db):
    """Events yesterday and none today: today's 7- and 28-day windows exist (written with yesterday's),
    and so will tomorrow's, without any event or job at day rollover."""
    yesterday = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(hours=12)
    history = random_history(2, 1, start=yesterday.date(), seed=5)
    items = [d for d in deliveries(history) if d.at < yesterday.replace(hour=23, minute=59)]
    assert items
    feed(db.writer_dsn, items, 100)
    today = datetime.now(UTC).date()
    assert org_value(db.reader_dsn, today, "prs_opened", 1) is None
    assert org_value(db.reader_dsn, today, "prs_opened", 7) == org_value(db.reader_dsn, today - timedelta(days=1),
                                                                          "prs_opened", 1) > 0
    assert org_value(db.reader_dsn, today, "prs_opened", 28) is not None
    # Tomorrow's windows are already there, hidden until tomorrow (the views end on today).
    assert query(db.admin_dsn, "SELECT count(*) FROM metric_windows WHERE day = %s AND grain = 'organisation'",
                 (today + timedelta(days=1),))[0][0] > 0
    assert_windows_exact(db.admin_dsn)


def test_a_repository_language_change_moves_its_history_between_languages(db):
    history = random_history(3, 20, seed=6)
    feed(db.writer_dsn, deliveries(history), 300)
    repo = history.repos[0]
    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        cur.execute("UPDATE repositories SET language = 'Haskell' WHERE repo_id = %s", (repo.id,))
    conn.close()
    # Committed outside the writer: queued, and picked up by the next write.
    assert query(db.admin_dsn, "SELECT count(*) FROM metric_windows_pending")[0][0] > 0
    feed(db.writer_dsn, deliveries(random_history(1, 2, seed=7, first_repo_id=300_000)), 100)
    windows = assert_windows_exact(db.admin_dsn)
    assert any(k[2] == "language" and k[4] == "Haskell" for k in windows)


def team_windows(dsn: str, team: str) -> dict[tuple[date, int, str], float]:
    rows = query(dsn, "SELECT day, window_days, metric, value FROM reporting.pillar_metrics_by_team WHERE team = %s",
                 (team,))
    return {(day, w, metric): value for day, w, metric, value in rows}  # type: ignore[misc]


def test_a_team_rolls_up_exactly_the_repositories_it_has_access_to(db):
    """Team scope = its repositories: a repository added to a team brings its whole history into the
    team's windows; removed, it takes it out again."""
    history = random_history(4, 20, seed=10)
    feed(db.writer_dsn, deliveries(history), 300)
    team = history.org_events[0].team
    assert team is not None
    first_two = team_windows(db.reader_dsn, team[1])
    assert first_two and assert_windows_exact(db.admin_dsn)
    added_at = history.org_events[-1].at + timedelta(minutes=1)
    extra = OrgEvent("team", "added_to_repository", added_at, team=team, repo=history.repos[3])
    feed(db.writer_dsn, org_event_deliveries(extra, "add"), 10)
    assert_windows_exact(db.admin_dsn)
    with_third = team_windows(db.reader_dsn, team[1])
    day = next(iter(sorted(first_two)))
    assert with_third[(day[0], 28, "prs_opened")] > first_two[(day[0], 28, "prs_opened")] or \
        with_third != first_two
    removed = OrgEvent("team", "removed_from_repository", added_at + timedelta(minutes=1), team=team,
                       repo=history.repos[3])
    feed(db.writer_dsn, org_event_deliveries(removed, "remove"), 10)
    assert_windows_exact(db.admin_dsn)
    assert team_windows(db.reader_dsn, team[1]) == first_two


def org_event_deliveries(event: OrgEvent, key: str) -> list[Delivery]:
    history = History(org_events=[event])
    return [Delivery(o.at, o.event, f"{key}-{o.key}", json.dumps(o.payload).encode())
            for o in render(history) if o.event == "team"]


def test_migrate_builds_the_windows_of_an_existing_warehouse(services, tmp_path: Path, capfd):
    older = tmp_path / "migrations"
    older.mkdir()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if int(path.name[:3]) < 7 or int(path.name[:3]) >= 90:
            shutil.copy(path, older / path.name)
    database = new_empty_database(services)
    try:
        migrate(database.admin_dsn, older)
        assert query(database.admin_dsn, "SELECT to_regclass('metric_windows')")[0][0] is None
        random_buckets(database.admin_dsn, seed=8)  # written by the version before 007
        capfd.readouterr()
        applied = migrate(database.admin_dsn)
        assert [m.version for m in applied][0] == 7  # then any later migration
        assert "windows: " in capfd.readouterr().err  # progress
        assert_windows_exact(database.admin_dsn)
        assert_reporting_views_unchanged(database.admin_dsn)
    finally:
        drop_database(services, database)


def new_empty_database(services: Any) -> Any:
    from psycopg2 import sql

    from tests.conftest import Database, _admin_sql
    database = new_database(services)  # a migrated copy of the template, to learn the name and DSNs
    drop_database(services, database)
    _admin_sql(services, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database.name)))
    return Database(database.name, database.admin_dsn, database.writer_dsn, database.reader_dsn)


# --- kill -9 of the worker in the middle of maintaining windows --------------------------------------

def test_kill_9_of_the_worker_mid_maintenance_leaves_windows_consistent(pipeline, db):
    items = deliveries(random_history(8, 45, seed=9))
    publisher = KafkaPublisher(pipeline.env["PILLARSTREAM_KAFKA_BOOTSTRAP"], pipeline.env["PILLARSTREAM_RAW_TOPIC"])
    publisher.publish_many([from_payload(delivery_id=d.delivery_id, event=d.event, payload=d.body,
                                         parsed=json.loads(d.body), source="webhook",
                                         received_at=d.at + timedelta(seconds=1)) for d in items])
    publisher.close()
    worker = pipeline.start_worker("warehouse")

    watcher = psycopg2.connect(db.admin_dsn)
    watcher.autocommit = True

    def maintaining() -> bool:
        """The worker is in the middle of rebuilding windows (roll-up days or windows statements)."""
        with watcher.cursor() as cur:
            cur.execute("""SELECT count(*) FROM pg_stat_activity
                           WHERE state = 'active' AND pid <> pg_backend_pid()
                             AND (query LIKE '-- The windows ending on%%'
                                  OR query LIKE '-- Each key''s day, rolled up%%')""")
            return bool(cur.fetchone()[0])

    eventually(lambda: int(query(db.admin_dsn, "SELECT count(*) FROM deliveries")[0][0]) >= 1000, timeout=120,
               what="the first batches")
    deadline = time.monotonic() + 120
    while not maintaining():
        assert time.monotonic() < deadline, "the worker never maintained windows"
        time.sleep(0.002)
    worker.kill()
    # Killed while catching up, or while taking the keys its backlog deferred once everything was in.
    assert int(query(db.admin_dsn, "SELECT count(*) FROM deliveries")[0][0]) > 0
    eventually(lambda: not maintaining(), timeout=60, what="the killed worker's transaction to end")
    watcher.close()
    # What committed is consistent: windows maintained, or their keys still queued (the killed transaction
    # rolled back with the keys it had taken); taking the queue, as the next worker does, leaves them exact.
    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        refresh_windows(cur)
    conn.close()
    assert_windows_exact(db.admin_dsn)

    pipeline.start_worker("warehouse", name="warehouse-2")
    eventually(lambda: int(query(db.admin_dsn, "SELECT count(*) FROM deliveries")[0][0]) == len(items),
               timeout=300, what="every delivery")
    eventually(lambda: query(db.admin_dsn, "SELECT count(*) FROM metric_windows_pending")[0][0] == 0,
               timeout=60, what="the worker's window maintainer to take the queued keys")
    assert_windows_exact(db.admin_dsn)


def test_the_maintainer_takes_live_keys_at_once_and_past_keys_by_whole_settled_scopes(db):
    """The worker's writer leaves window keys queued; the maintainer's transactions take today's and
    yesterday's at once, past days' once their scope settled, a bounded number of scopes at a time."""
    history = random_history(3, 20, seed=12)
    items = deliveries(history)
    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        for start in range(0, len(items), 200):
            write_prepared(cur, [prepare(consumed(items[start:start + 200]))], windows=False)
    conn.close()
    today = datetime.now(UTC)  # yesterday's events count as live too (and exist whatever the time of day)
    live = random_history(1, 1, start=today.date() - timedelta(days=1), seed=13, first_repo_id=400_000)
    now_items = [d for d in deliveries(live) if d.at <= today]
    assert any(d.event == "pull_request" for d in now_items)
    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        write_prepared(cur, [prepare(consumed(now_items))], windows=False)
    conn.close()
    assert query(db.admin_dsn, "SELECT count(*) FROM metric_windows")[0][0] == 0
    since, tomorrow = today.date() - timedelta(days=1), today.date() + timedelta(days=1)
    scopes = "SELECT DISTINCT grain, org, scope FROM metric_windows_pending "
    past = set(query(db.admin_dsn, scopes + "WHERE day < %s", (since,)))
    live_scopes = set(query(db.admin_dsn, scopes + "WHERE day >= %s", (since,)))

    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        maintain_slice(cur, settle=3600)  # nothing settled yet: live keys only
    conn.close()
    assert query(db.admin_dsn, "SELECT count(*) FROM metric_windows_pending WHERE day BETWEEN %s AND %s",
                 (since, today.date()))[0][0] == 0
    # The live rows (yesterday's and today's windows) are there; those ahead wait, as each scope's key of
    # tomorrow, with the past keys.
    assert query(db.admin_dsn, "SELECT min(day), max(day) FROM metric_windows WHERE scope = '400000'")[0] \
        == (since, today.date())
    assert set(query(db.admin_dsn, scopes + "WHERE day = %s", (tomorrow,))) == live_scopes
    assert len(query(db.admin_dsn, scopes)) == len(past | live_scopes)
    queued = len(past) + len(live_scopes)  # parts: the past of a scope, and the windows ahead of a live one

    slices = 0
    while query(db.admin_dsn, "SELECT count(*) FROM metric_windows_pending")[0][0]:
        with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
            assert maintain_slice(cur, settle=0, max_keys=1) > 0  # one whole part of a scope per transaction
        conn.close()
        slices += 1
    assert slices == queued
    assert_windows_exact(db.admin_dsn)


def test_two_lanes_of_scopes_take_their_settled_keys_at_the_same_time(db):
    """After a bulk load its history is rebuilt by two transactions at once, each over the scopes of its lane:
    one slice held open neither blocks nor overlaps the other lane's, a second taker of a busy lane skips it,
    and the two lanes together leave the windows exact."""
    since = datetime.now(UTC).date() - timedelta(days=1)
    history = random_history(4, 20, start=since - timedelta(days=40), seed=22)
    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        write_prepared(cur, [prepare(consumed(deliveries(history)))], windows=False)
    conn.close()
    query(db.admin_dsn, "UPDATE metric_windows_pending SET queued_at = now() - interval '1 minute' RETURNING 1")
    scopes = set(query(db.admin_dsn, "SELECT DISTINCT grain, org, scope FROM metric_windows_pending"))
    first = psycopg2.connect(db.writer_dsn)
    second = psycopg2.connect(db.writer_dsn)
    try:
        with first.cursor() as cur:
            assert maintain_slice(cur, settle=5, max_keys=10**6, live=False, lane=0) > 0  # held open
            cur.execute("SELECT DISTINCT grain, org, scope FROM metric_windows_pending WHERE day < %s", (since,))
            left = set(cur.fetchall())
        assert left and left < scopes  # lane 0 took a share of the scopes, and left the rest
        with second.cursor() as cur:
            cur.execute("SET lock_timeout = '5s'")
            assert maintain_slice(cur, settle=5, max_keys=10**6, live=False, lane=0) == 0  # lane 0 is taken
            assert maintain_slice(cur, settle=5, max_keys=10**6, live=False, lane=1) == len(
                query(db.admin_dsn, "SELECT DISTINCT grain, org, scope, day FROM metric_windows_pending "
                      "WHERE (grain, org, scope) IN (SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]))",
                      [[scope[i] for scope in left] for i in range(3)]))
        second.commit()
        first.commit()
    finally:
        first.close()
        second.close()
    assert query(db.admin_dsn, "SELECT count(*) FROM metric_windows_pending WHERE day < %s", (since,))[0][0] == 0
    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        refresh_windows(cur)  # the live keys the slices queued
    conn.close()
    assert_windows_exact(db.admin_dsn)


def test_the_worker_maintainer_thread_keeps_windows_exact_beside_the_writer(db):
    items = deliveries(random_history(4, 30, seed=14))
    random.Random(15).shuffle(items)
    maintainer = WindowMaintainer(db.writer_dsn, settle=0.2, max_keys=50, poll=0.1)
    maintainer.start()
    try:
        conn = psycopg2.connect(db.writer_dsn)
        for start in range(0, len(items), 150):
            with conn, conn.cursor() as cur:
                write_prepared(cur, [prepare(consumed(items[start:start + 150]))], windows=False)
            maintainer.wake()
        conn.close()
        eventually(lambda: query(db.admin_dsn, "SELECT count(*) FROM metric_windows_pending")[0][0] == 0,
                   timeout=120, what="the maintainer to take every key")
    finally:
        maintainer.stop()
    assert_windows_exact(db.admin_dsn)


def test_a_live_key_is_maintained_while_a_slice_of_history_of_the_same_scope_is_in_progress(db):
    """A slice of history holds the organisation scope for as long as it rebuilds; today's organisation value
    is rebuilt meanwhile, without waiting for it, and what the slice changes about the live windows follows
    once it commits (it queues the live key of its scope)."""
    today = datetime.now(UTC)
    history = random_history(3, 40, start=today.date() - timedelta(days=40), seed=16)
    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        write_prepared(cur, [prepare(consumed(deliveries(history, until=today)))], windows=False)
    conn.close()
    past = psycopg2.connect(db.writer_dsn)
    with past.cursor() as cur:
        assert maintain_slice(cur, settle=0, max_keys=None, live=False) > 0  # held open: the slice in progress
        cur.execute("SELECT count(*) FROM metric_windows_pending WHERE day >= %s", (today.date() - timedelta(days=1),))
        assert cur.fetchone()[0] > 0  # the live keys of the scopes whose windows reach the live days

    live = random_history(1, 1, start=today.date() - timedelta(days=1), seed=13, first_repo_id=400_000)
    live_items = [d for d in deliveries(live) if d.at <= today]
    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        write_prepared(cur, [prepare(consumed(live_items))], windows=False)
    conn.close()
    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        cur.execute("SET lock_timeout = '10s'")  # waiting behind the open slice would fail here
        assert maintain_slice(cur, settle=None) > 0
    conn.close()
    # Today's and yesterday's organisation values of a day (their own roll-ups) are there and right; wider
    # windows take the days the slice of history rebuilds once it commits.
    live_days = {k: v for k, v in reference(db.admin_dsn).items()
                 if k[0] >= today.date() - timedelta(days=1) and k[1] == 1 and k[2] == "organisation"}
    assert len(live_days) > 10
    assert {k: v for k, v in materialised(db.admin_dsn).items() if k in live_days} == live_days
    assert query(db.admin_dsn, "SELECT count(*) FROM metric_windows WHERE day < %s",
                 (today.date() - timedelta(days=1),))[0][0] == 0  # the slice of history has not committed

    past.commit()
    past.close()
    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        refresh_windows(cur)  # the live keys the slice queued, then the windows ahead
    conn.close()
    assert_windows_exact(db.admin_dsn)


def test_a_slice_of_history_cut_off_mid_transaction_leaves_its_keys_queued(db):
    """The worker dies (its connection with it) after a slice of history and of the windows ahead rebuilt its
    rows and queued the live keys of its scopes, before the commit: none of that stays, every key it took is
    queued again, and the next maintainer leaves the windows exact."""
    today = datetime.now(UTC)
    history = random_history(3, 40, start=today.date() - timedelta(days=40), seed=17)
    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        write_prepared(cur, [prepare(consumed(deliveries(history, until=today)))], windows=False)
    conn.close()
    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        maintain_slice(cur, settle=None)  # the live keys, so that only past and ahead ones are queued
    conn.close()
    queued = query(db.admin_dsn, "SELECT DISTINCT grain, org, scope, day FROM metric_windows_pending")
    assert queued and all(day < today.date() - timedelta(days=1) or day == today.date() + timedelta(days=1)
                          for *_, day in queued)

    past = psycopg2.connect(db.writer_dsn)
    with past.cursor() as cur:
        assert maintain_slice(cur, settle=0, max_keys=None, live=False) == len(queued)
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    query(db.admin_dsn, "SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(psycopg2.Error):
        past.commit()
    past.close()
    assert sorted(query(db.admin_dsn, "SELECT DISTINCT grain, org, scope, day FROM metric_windows_pending")) \
        == sorted(queued)
    assert query(db.admin_dsn, "SELECT count(*) FROM metric_windows WHERE day < %s",
                 (today.date() - timedelta(days=1),))[0][0] == 0
    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        refresh_windows(cur)
    conn.close()
    assert_windows_exact(db.admin_dsn)


def test_keys_of_tomorrow_keep_only_the_windows_ahead_waiting_not_the_scopes_history(db):
    """Every live webhook queues its scopes' key of tomorrow, so the part ahead of a live scope stays busy
    while webhooks come; its past keys are taken once they settle, all the same."""
    today = datetime.now(UTC).date()
    history = random_history(2, 20, start=today - timedelta(days=25), seed=19)
    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        write_prepared(cur, [prepare(consumed(deliveries(history)))], windows=False)
    conn.close()
    query(db.admin_dsn, "UPDATE metric_windows_pending SET queued_at = now() - interval '1 minute' RETURNING 1")
    scopes = query(db.admin_dsn, "SELECT DISTINCT grain, org, scope FROM metric_windows_pending")
    query(db.admin_dsn, """INSERT INTO metric_windows_pending (grain, org, scope, day)
                           SELECT DISTINCT grain, org, scope, %s::date FROM metric_windows_pending RETURNING 1""",
          (today + timedelta(days=1),))
    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        assert maintain_slice(cur, settle=5, max_keys=None, live=False) > 0
    conn.close()
    assert query(db.admin_dsn, "SELECT count(*) FROM metric_windows_pending WHERE day < %s",
                 (today - timedelta(days=1),))[0][0] == 0
    assert len(query(db.admin_dsn, "SELECT 1 FROM metric_windows_pending WHERE day > %s", (today,))) == len(scopes)


def test_while_a_bulk_load_runs_settled_scopes_wait_for_it_too(db):
    """A load in time order leaves the scopes of quiet repositories without a new key for seconds at a time:
    while it runs their history and their windows ahead wait with the rest, until the oldest key has waited
    max_wait, and are taken once the load has stopped."""
    today = datetime.now(UTC).date()
    history = random_history(2, 20, start=today - timedelta(days=40), seed=21)
    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        write_prepared(cur, [prepare(consumed(deliveries(history)))], windows=False)
    conn.close()
    # A live rebuild of one of them queued its key of tomorrow (the windows ahead) a while ago.
    query(db.admin_dsn, """INSERT INTO metric_windows_pending (grain, org, scope, day)
                           SELECT grain, org, scope, %s::date FROM metric_windows_pending LIMIT 1 RETURNING 1""",
          (today + timedelta(days=1),))
    query(db.admin_dsn, "UPDATE metric_windows_pending SET queued_at = now() - interval '1 minute' RETURNING 1")
    settled = query(db.admin_dsn, "SELECT count(*) FROM (SELECT DISTINCT * FROM metric_windows_pending) AS k")[0][0]
    # The load goes on in another scope: one key just queued (load_keys=0: any key marks a load).
    query(db.admin_dsn, """INSERT INTO metric_windows_pending (grain, org, scope, day)
                           VALUES ('repository', 'elsewhere', '1', %s) RETURNING 1""", (today - timedelta(days=3),))
    conn = psycopg2.connect(db.writer_dsn)
    with conn.cursor() as cur:
        assert maintain_slice(cur, settle=5, max_keys=None, live=False, max_wait=7200, load_keys=0) == 0
        assert maintain_slice(cur, settle=5, max_keys=None, live=False, max_wait=30, load_keys=0) == settled
        conn.rollback()
        # No load (no more keys arriving than load_keys): the settled scopes go at once.
        assert maintain_slice(cur, settle=5, max_keys=None, live=False, max_wait=7200, load_keys=1) == settled
        conn.commit()
    conn.close()
    assert query(db.admin_dsn, "SELECT scope FROM metric_windows_pending WHERE day < %s OR day > %s",
                 (today - timedelta(days=1), today)) == [("1",)]  # the live keys the slice queued are left


def test_a_busy_scope_leaves_the_windows_after_its_last_key_to_its_next_slice(db):
    """A bulk load keeps queuing keys of the same scopes: each slice of history takes a busy scope's keys
    once the oldest has waited long enough, but rebuilds its windows only up to its last key day, queuing the day
    after for the next slice, which the load's next days join; once the scope settles, the windows are
    exact."""
    today = datetime.now(UTC)
    history = random_history(3, 60, start=today.date() - timedelta(days=60), seed=18)
    items = deliveries(history, until=datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(days=30))
    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        write_prepared(cur, [prepare(consumed(items))], windows=False)
    conn.close()
    # Every scope busy: its oldest key queued an hour ago, its newest just now.
    query(db.admin_dsn, """UPDATE metric_windows_pending p SET queued_at = now() - interval '1 hour'
                           WHERE day < (SELECT max(day) FROM metric_windows_pending q
                                        WHERE (q.grain, q.org, q.scope) = (p.grain, p.org, p.scope))
                           RETURNING 1""")
    last_days = dict(((grain, org, scope), day) for grain, org, scope, day in query(
        db.admin_dsn, "SELECT grain, org, scope, max(day) FROM metric_windows_pending GROUP BY 1, 2, 3"))
    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        # While a bulk load runs (load_keys=0: any key queued within the settle time marks one), a busy
        # scope's history waits until its oldest key has waited max_wait; otherwise 6 × the settle time.
        assert maintain_slice(cur, settle=60, max_keys=None, live=False, max_wait=7200, load_keys=0) == 0
        assert maintain_slice(cur, settle=60, max_keys=None, live=False, max_wait=7200) > 0
    conn.close()
    assert sorted(query(db.admin_dsn, "SELECT grain, org, scope, day FROM metric_windows_pending")) \
        == sorted((*scope, last + timedelta(days=1)) for scope, last in last_days.items())
    ends = dict(((grain, org, scope), day) for grain, org, scope, day in query(
        db.admin_dsn, "SELECT grain, org, scope, max(day) FROM metric_windows GROUP BY 1, 2, 3"))
    assert ends == last_days  # nothing after a scope's last key day yet

    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        refresh_windows(cur)  # the scopes settle
    conn.close()
    assert_windows_exact(db.admin_dsn)
