"""`pillarstream demo`'s history through the real pipeline fills every pillar of the dashboards' default view
(the last 28 days of one organisation)."""

from __future__ import annotations

import pytest

from devstack.demo_history import ORG, TEAMS, demo_history
from tests.harness import eventually, query

pytestmark = pytest.mark.integration
PILLARS = {"version_control", "compatibility", "infrastructure", "team"}


def test_demo_history_fills_every_pillar_for_the_last_28_days(pipeline, db):
    history = demo_history()
    pipeline.start_receiver()
    pipeline.start_worker("warehouse")
    for event, body in history:
        assert pipeline.post(event, body).status_code == 202
    eventually(lambda: query(db.writer_dsn, "SELECT count(*) FROM deliveries")[0][0] == len(history), timeout=120,
               what="every demo delivery in the warehouse")
    # Past days' windows follow the writer within seconds (the worker's window maintainer).
    eventually(lambda: query(db.writer_dsn, "SELECT count(*) FROM metric_windows_pending")[0][0] == 0,
               timeout=60, what="every window settled")
    orgs = {row[0] for row in query(db.writer_dsn, "SELECT DISTINCT org FROM deliveries WHERE org IS NOT NULL")}
    assert orgs == {ORG}
    rows = query(db.reader_dsn, "SELECT pillar, metric FROM reporting.pillar_metrics WHERE org = %s "
                                "AND day > current_date - 28 AND value IS NOT NULL GROUP BY pillar, metric", (ORG,))
    metrics = {(pillar, metric) for pillar, metric in rows}
    assert {pillar for pillar, _ in metrics} == PILLARS
    # The figures each dashboard leads with, not just any value of the pillar:
    for wanted in [("version_control", "prs_merged"), ("version_control", "pr_pickup_time_hours_p50"),
                   ("version_control", "commits"), ("compatibility", "check_success_rate"),
                   ("compatibility", "flaky_checks"), ("compatibility", "workflow_success_rate"),
                   ("infrastructure", "deployments"),
                   ("infrastructure", "change_failure_rate"), ("infrastructure", "lead_time_hours_p50"),
                   ("infrastructure", "time_to_restore_hours_p50"), ("team", "reviews_submitted"),
                   ("team", "active_contributors")]:
        assert wanted in metrics, (wanted, sorted(metrics))
    # The "by team" tables: each repository's team has figures of every pillar too.
    by_team = query(db.reader_dsn, "SELECT team, count(DISTINCT pillar) FROM reporting.pillar_metrics_by_team "
                                   "WHERE org = %s AND day > current_date - 28 GROUP BY team", (ORG,))
    assert dict(by_team) == {slug: len(PILLARS) for _, slug, _ in TEAMS}
