"""Convergence: one history received as webhooks, backfilled with GraphQL (the default) and backfilled
through the REST API only builds the same metrics, and doing them all leaves the tables as webhooks alone
do. Real Kafka, Postgres and the GCS emulator; the backfill runs as ``python -m launcher.backfill`` against the fake
GitHub serving the scenario's history."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.archive_store import open_store
from backfill.archive import PREFIX
from tests.conftest import (
    new_topic,  # noqa: E402
)
from tests.fake_github.harness import (
    backfill_env,
    drain,
    load,
    metric_buckets,
    pillar_metrics,
    publish,
    run_backfill,
    webhook_envelopes,
)
from tests.fake_github.history import rest_state
from tests.fake_github.server import FakeGitHub
from tests.harness import query, warehouse_dump
from tests.scenario import ORG, build_scenario

pytestmark = pytest.mark.integration
# Ordered by the time an event was received (their payloads carry none): a backfill reads them later than
# the webhooks did, so the same row gets a newer `version`. Compared without it.
RECEIVE_TIME_VERSIONED = ("org_memberships", "teams", "team_memberships", "team_repositories")




def facts(dsn: str) -> dict[str, list[tuple[object, ...]]]:
    """Every public table but the delivery log, with receive-time versions left out (see above)."""
    dump = warehouse_dump(dsn)
    dump.pop("deliveries")
    for table in RECEIVE_TIME_VERSIONED:
        columns = [c for (c,) in query(dsn, """SELECT column_name FROM information_schema.columns
                                              WHERE table_schema = 'public' AND table_name = %s
                                              ORDER BY ordinal_position""", (table,))]
        cut = columns.index("version")
        dump[table] = sorted(row[:cut] + row[cut + 1:] for row in dump[table])  # type: ignore[operator]
    return dump


def differences(left: dict[Any, Any], right: dict[Any, Any]) -> list[str]:
    return [f"{key}: {left.get(key)!r} != {right.get(key)!r}"
            for key in sorted(set(left) | set(right), key=repr) if left.get(key) != right.get(key)]


def test_backfilled_history_builds_the_same_metrics_as_its_webhooks(services, db, second_db, gcs_bucket,
                                                                    tmp_path):
    scenario = build_scenario()
    bootstrap = services.kafka.bootstrap
    web_topic, backfill_topic, rest_topic = new_topic(services), new_topic(services), new_topic(services)
    publish(bootstrap, web_topic, webhook_envelopes(scenario.deliveries, scenario.sent_at))
    web_records = drain(bootstrap, web_topic)
    load(db.writer_dsn, web_records)
    web_only = facts(db.admin_dsn)

    with FakeGitHub(rest_state(scenario.history)) as fake:
        env = backfill_env(bootstrap=bootstrap, topic=backfill_topic, dsn=second_db.writer_dsn,
                           archive_url=gcs_bucket, fake=fake)
        assert run_backfill(env, ["--org", ORG],
                            tmp_path / "backfill.log") == 0, (tmp_path / "backfill.log").read_text()
        first_run = fake.counted()
        assert fake.graphql.points() > 0  # the default path asked GraphQL for pull requests and checks
        # ... and for deployment statuses, a page of deployments per query (REST only lists deployments)
        assert fake.graphql.operations["DeploymentStatuses"] > 0 and not fake.requests(r"/statuses$")
        records = drain(bootstrap, backfill_topic)
        assert records and all(r.envelope.source == "backfill" for r in records)
        load(second_db.writer_dsn, records)

        # Every catalogue metric, every bucket: no difference at all.
        web_buckets, backfill_buckets = metric_buckets(db.admin_dsn), metric_buckets(second_db.admin_dsn)
        catalogue = {m for (m,) in query(db.admin_dsn, "SELECT metric FROM metric_definitions")}
        assert {key[2] for key in web_buckets} == catalogue  # the history exercises every metric
        assert differences(web_buckets, backfill_buckets) == []
        assert differences(pillar_metrics(db.admin_dsn), pillar_metrics(second_db.admin_dsn)) == []

        # Every raw page (GraphQL answers too) is in the archive, and every item says which page it came from.
        store = open_store(gcs_bucket)
        pages = set(store.list_names(f"{PREFIX}/resource="))
        assert {r.envelope.headers["X-Pillarstream-Archive-Object"] for r in records} <= pages

        # A re-run with nothing changed publishes nothing and spends (almost) no budget.
        points = fake.graphql.points()
        assert run_backfill(env, ["--org", ORG],
                            tmp_path / "rerun.log") == 0, (tmp_path / "rerun.log").read_text()
        assert len(drain(bootstrap, backfill_topic)) == len(records)
        rerun_units = fake.counted() - first_run + fake.graphql.points() - points
        assert rerun_units <= len(scenario.history.repos) + 10

        # The REST-only path publishes the very same deliveries (same ids, same payload facts).
        rest_env = backfill_env(bootstrap=bootstrap, topic=rest_topic, dsn=db.writer_dsn,
                                archive_url=f"file://{tmp_path / 'rest-archive'}", fake=fake)
        assert run_backfill(rest_env, ["--org", ORG, "--api", "rest"],
                            tmp_path / "rest.log") == 0, (tmp_path / "rest.log").read_text()
        rest_records = drain(bootstrap, rest_topic)
        assert {r.envelope.delivery_id for r in rest_records} == {r.envelope.delivery_id for r in records}

    # Doing them all, in any order, leaves the tables webhooks alone leave.
    load(db.writer_dsn, records)
    load(db.writer_dsn, rest_records)
    assert differences(facts(db.admin_dsn), web_only) == []
    load(second_db.writer_dsn, rest_records)
    load(second_db.writer_dsn, web_records)
    assert differences(warehouse_dump(second_db.admin_dsn), warehouse_dump(db.admin_dsn)) == []
