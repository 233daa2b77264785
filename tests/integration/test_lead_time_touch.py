"""Lead time under late events: the writer rebuilds the deployments a change moves commits between, not
every later deployment of the repository, and the buckets still equal a full recompute in any order."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import pytest

from pillarstream.envelope import from_payload
from stream_processors.archiver import Consumed
from stream_processors.facts import named_queries
from stream_processors.warehouse import prepare, recompute_buckets, write_batch
from tests.history import Delivery, deliveries, random_history
from tests.scenario import Commit as HistoryCommit
from tests.scenario import Deployment, History, Push, Repo, Status, User, render

pytestmark = pytest.mark.integration


def consumed(items: Sequence[Delivery]) -> list[Consumed]:
    return [Consumed("github.events", 0, i, from_payload(
        delivery_id=d.delivery_id, event=d.event, payload=d.body, parsed=json.loads(d.body), source="webhook",
        received_at=d.at + timedelta(seconds=1), headers={"X-GitHub-Event": d.event,
                                                          "X-GitHub-Delivery": d.delivery_id}))
            for i, d in enumerate(items)]


def feed(dsn: str, items: Sequence[Delivery], size: int) -> None:
    conn = psycopg2.connect(dsn)
    try:
        for start in range(0, len(items), size):
            with conn, conn.cursor() as cur:
                write_batch(cur, consumed(items[start:start + size]))
    finally:
        conn.close()


def buckets(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM metric_buckets ORDER BY repo_id, day, metric, org")
        rows = cur.fetchall()
    conn.close()
    return rows


def test_a_late_commit_rebuilds_only_the_deployment_that_ships_it(db):
    history = random_history(2, 60, seed=3)
    feed(db.writer_dsn, deliveries(history), 500)
    repo = history.repos[0]
    landed = datetime(2024, 1, 21, 10, tzinfo=UTC)  # day 20 of 60; deployments follow on most later days
    late = History(repos=[repo], pushes=[Push(repo, "main", "0" * 40, (
        HistoryCommit("late-fix", User("dev1", 20_001), landed - timedelta(hours=2)),), User("dev1", 20_001), landed)])
    push = [Delivery(o.at, o.event, "late-push", json.dumps(o.payload).encode())
            for o in render(late) if o.event == "push"]
    batch = prepare(consumed(push))
    query = named_queries("buckets.sql")["touched_lead_time_days"]

    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        cur.execute(query, batch.touch)
        before = cur.fetchall()
        for statement in batch.facts:
            cur.execute(*statement)
        cur.execute(query, batch.touch)
        after = cur.fetchall()
        cur.execute("""SELECT min(created_at), count(DISTINCT (created_at AT TIME ZONE 'UTC')::date)
                       FROM deployment_statuses
                       WHERE repo_id = %s AND state = 'success' AND created_at >= %s""", (repo.id, landed))
        first_deployment, later_days = cur.fetchone()
    conn.close()

    assert later_days > 10  # the old rule rebuilt every one of these days
    assert before == []  # the commit was unknown: it was shipped by no deployment
    assert after == [(first_deployment.astimezone(UTC).date(), repo.id)]


def test_a_late_commit_shipped_by_a_deployment_made_before_it_landed(db):
    # A deployment of a head that was not yet on the default branch (day 5) ships every commit that lands
    # up to its head's landing (day 7), so a commit that lands on day 6 and arrives last belongs to day 5,
    # not to the next deployment made after it landed (day 9).
    dev = User("dev1", 20_001)
    repo = Repo(300_001, "early-deploys", "Python")

    def at(day: int) -> datetime:
        return datetime(2024, 3, day, 12, tzinfo=UTC)

    base = HistoryCommit("base", dev, at(1))
    late = HistoryCommit("late", dev, at(6) - timedelta(hours=1))
    head = HistoryCommit("head", dev, at(4))
    early = History(repos=[repo], pushes=[
        Push(repo, "main", "0" * 40, (base,), dev, at(1)),
        Push(repo, "main", base.sha, (late,), dev, at(6)),
        Push(repo, "main", late.sha, (head,), dev, at(7)),
    ], deployments=[
        Deployment(900_001, repo, base, "production", at(2), dev, (Status(900_011, "success", at(2)),)),
        Deployment(900_002, repo, head, "production", at(5), dev, (Status(900_012, "success", at(5)),)),
        Deployment(900_003, repo, head, "production", at(9), dev, (Status(900_013, "success", at(9)),)),
    ])
    items = [Delivery(o.at, o.event, f"early-{i}", json.dumps(o.payload).encode())
             for i, o in enumerate(render(early))]
    late_push = [d for d in items if d.event == "push" and late.sha in d.body.decode()
                 and head.sha not in d.body.decode()]
    assert len(late_push) == 1
    feed(db.writer_dsn, [d for d in items if d not in late_push], 500)
    batch = prepare(consumed(late_push))
    query = named_queries("buckets.sql")["touched_lead_time_days"]

    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        for statement in batch.facts:
            cur.execute(*statement)
        cur.execute(query, batch.touch)
        after = cur.fetchall()
    conn.close()

    assert after == [(at(5).date(), repo.id)]


def test_buckets_equal_a_full_recompute_whatever_order_the_history_arrives_in(db):
    history = random_history(3, 45, seed=11)
    history_start = datetime(2024, 1, 1, tzinfo=UTC).date()
    items = deliveries(history)
    shuffled = list(items)
    random.Random(5).shuffle(shuffled)
    feed(db.writer_dsn, shuffled, 97)
    incremental = buckets(db.admin_dsn)

    with psycopg2.connect(db.writer_dsn) as conn, conn.cursor() as cur:
        every = [(history_start + timedelta(days=d), repo.id) for d in range(60) for repo in history.repos]
        recompute_buckets(cur, every)
    conn.close()
    assert len(incremental) > 1000 and buckets(db.admin_dsn) == incremental
