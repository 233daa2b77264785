"""Rate limits of the REST path (``--api rest``; GraphQL's own: test_backfill_graphql.py): the backfill
survives primary and secondary limits and transient errors, waits as long as GitHub says (and no longer
than allowed), keeps its reserve, and shares the work between tokens."""

from __future__ import annotations

import pytest

from tests.conftest import new_topic
from tests.fake_github.harness import (
    TOKEN,
    backfill_env,
    backfill_in_process,
    drain,
    repeated_requests,
    run_backfill,
)
from tests.fake_github.history import rest_state
from tests.fake_github.server import FakeGitHub, Served
from tests.scenario import ORG, acme_history

pytestmark = pytest.mark.integration



@pytest.fixture(scope="module")
def expected_ids(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Delivery ids a clean run publishes."""
    with FakeGitHub(rest_state(acme_history())) as fake:
        return {e.delivery_id for e in backfill_in_process(fake, tmp_path_factory.mktemp("clean"), owner=ORG,
                                                               graphql=False)}


def _after(served: list[Served], refused: Served) -> Served:
    """The next answer to the same request after a refusal."""
    return next(s for s in served if s.key == refused.key and s.at > refused.at and s.status == 200)


def test_limits_and_transient_errors_are_waited_out(services, db, tmp_path, expected_ids):
    with FakeGitHub(rest_state(acme_history())) as fake:
        fake.inject(r"/pulls$", "transient", times=4)  # more than the transport's own quick retries
        fake.inject(r"/issues/events$", "secondary", retry_after=2)
        fake.inject(r"/deployments$", "secondary429", retry_after=1)
        fake.inject(r"/actions/runs$", "primary", reset_in=2)
        topic = new_topic(services)
        env = backfill_env(bootstrap=services.kafka.bootstrap, topic=topic, dsn=db.writer_dsn,
                           archive_url=f"file://{tmp_path / 'archive'}", fake=fake)
        assert run_backfill(env, ["--org", ORG, "--api", "rest", "--max-wait", "30"], tmp_path / "run.log") == 0, \
            (tmp_path / "run.log").read_text()
        served = fake.requests()
    refused = {s.path.rsplit("/", 1)[-1]: s for s in served if s.status in (403, 429, 502)}
    assert set(refused) >= {"pulls", "events", "deployments", "runs"}
    # Waited as told: Retry-After seconds for secondary limits, until the reset for the primary one.
    for name, seconds in (("events", 2), ("deployments", 1), ("runs", 2)):
        first_refusal = next(s for s in served if s.path.endswith(name) and s.status in (403, 429))
        assert _after(served, first_refusal).at - first_refusal.at >= seconds - 0.05, name
    # The primary limit stopped the token for everyone: no request while it was spent but the refused one
    # and those already in flight.
    primary = next(s for s in served if s.path.endswith("runs") and s.status == 403)
    during = [s for s in served if primary.at < s.at < primary.at + 1.9]
    assert len(during) <= 4, during
    published = {r.envelope.delivery_id for r in drain(services.kafka.bootstrap, topic)}
    assert published == expected_ids


def test_the_reserve_stops_a_run_that_the_next_run_finishes(services, db, tmp_path, expected_ids):
    with FakeGitHub(rest_state(acme_history()), rate_limit=60) as fake:
        fake.set_budget(TOKEN, remaining=40)  # the run needs 48 and keeps 20 in reserve
        topic = new_topic(services)
        env = backfill_env(bootstrap=services.kafka.bootstrap, topic=topic, dsn=db.writer_dsn,
                           archive_url=f"file://{tmp_path / 'archive'}", fake=fake)
        args = ["--org", ORG, "--api", "rest", "--reserve", "20", "--max-wait", "1"]
        assert run_backfill(env, args, tmp_path / "first.log") == 75, (tmp_path / "first.log").read_text()
        assert "re-run after the reset" in (tmp_path / "first.log").read_text()
        assert fake.budgets[TOKEN].remaining >= 20  # never dipped into the reserve
        fake.set_budget(TOKEN, remaining=60)
        assert run_backfill(env, args, tmp_path / "second.log") == 0, (tmp_path / "second.log").read_text()
        repeats = repeated_requests(fake.requests())
    assert len(repeats) <= 4  # the requests in flight when the reserve was reached, at most one per thread
    assert {r.envelope.delivery_id for r in drain(services.kafka.bootstrap, topic)} == expected_ids


def test_several_tokens_share_the_work_without_waiting(services, db, tmp_path, expected_ids):
    tokens = ("token-one", "token-two")
    with FakeGitHub(rest_state(acme_history()), tokens=tokens) as fake:
        for token in tokens:
            fake.set_budget(token, remaining=35)
        topic = new_topic(services)
        env = backfill_env(bootstrap=services.kafka.bootstrap, topic=topic, dsn=db.writer_dsn,
                           archive_url=f"file://{tmp_path / 'archive'}", fake=fake, token=",".join(tokens))
        assert run_backfill(env, ["--org", ORG, "--api", "rest", "--reserve", "5", "--max-wait", "0"],
                            tmp_path / "run.log") == 0, \
            (tmp_path / "run.log").read_text()
        used = {s.token for s in fake.requests() if s.counted}
    assert used == set(tokens)
    assert all(fake.budgets[t].remaining >= 5 for t in tokens)
    assert {r.envelope.delivery_id for r in drain(services.kafka.bootstrap, topic)} == expected_ids
