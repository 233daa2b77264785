"""The dry run (plan and estimated cost, nothing written) and user accounts (no organisation)."""

from __future__ import annotations

import pytest

from tests.fake_github.harness import backfill_env, backfill_in_process, run_backfill
from tests.fake_github.history import rest_state
from tests.fake_github.server import FakeGitHub
from tests.harness import query
from tests.scenario import ORG, acme_history

pytestmark = pytest.mark.integration


def test_dry_run_prints_the_plan_and_writes_nothing(services, db, tmp_path):
    with FakeGitHub(rest_state(acme_history())) as fake:
        env = backfill_env(bootstrap=services.kafka.bootstrap, topic="never.created", dsn=db.writer_dsn,
                           archive_url=f"file://{tmp_path / 'archive'}", fake=fake)
        log = tmp_path / "plan.log"
        assert run_backfill(env, ["--org", ORG, "--repo", "api", "--dry-run"], log) == 0, log.read_text()
        output = log.read_text()
        probes = fake.counted()
    assert "backfill plan for organization acme (1 of 2 repositories)" in output
    assert "acme/api" in output and "acme/web" not in output
    assert "pull requests      5" in output and "estimated budget" in output
    assert probes == 2 + 3  # the account, the repository list, three size probes for the one repository
    assert query(db.admin_dsn, "SELECT count(*) FROM backfill.cursors") == [(0,)]
    assert not (tmp_path / "archive").exists()


def test_a_user_account_is_backfilled_without_organisation_resources(tmp_path):
    state = rest_state(acme_history())
    state.owners[ORG].type = "User"
    with FakeGitHub(state) as fake:
        envelopes = backfill_in_process(fake, tmp_path, owner=ORG, kind="user")
        paths = {s.path for s in fake.requests()}
    assert "/users/acme/repos" in paths and not any(p.startswith("/orgs/") for p in paths)
    events = {e.event for e in envelopes}
    assert {"repository", "pull_request", "push", "check_run", "deployment_status", "issues"} <= events
    assert not events & {"organization", "team", "membership"}
    assert all(e.org == ORG and "organization" not in e.payload_json() for e in envelopes)


def test_the_same_member_of_two_organisations_is_two_deliveries(tmp_path):
    state = rest_state(acme_history())
    globex = state.add_owner("globex", 9_999, "Organization")
    globex.members = dict(state.owners[ORG].members)
    with FakeGitHub(state) as fake:
        ids = {owner: {e.delivery_id for e in backfill_in_process(fake, tmp_path / owner, owner=owner,
                                                                   resources=["members"])
                       if e.event == "organization"}
               for owner in (ORG, "globex")}
    assert len(ids[ORG]) == len(globex.members) > 0
    assert ids[ORG].isdisjoint(ids["globex"])  # one organisation's member_added never hides the other's


def test_a_rerun_believes_the_budget_github_reports(tmp_path):
    """A re-run answered with 304s costs nothing; the pool's figure is GitHub's, not one less per request."""
    from backfill.cursors import MemoryCursorStore
    from backfill.ratelimit import TokenPool

    with FakeGitHub(rest_state(acme_history())) as fake:
        cursors = MemoryCursorStore()
        backfill_in_process(fake, tmp_path, cursors=cursors)
        fake.reset_log()
        pool = TokenPool([fake.tokens[0]], reserve=0)
        backfill_in_process(fake, tmp_path, cursors=cursors, pool=pool)
        not_modified = sum(1 for s in fake.requests() if s.status == 304)
        reported = int(fake.rate_headers(fake.tokens[0])["X-RateLimit-Remaining"])
    assert not_modified > 10
    assert pool.remaining() == reported and pool.budgets[0].in_flight == 0
