"""Normalisers: every recorded GitHub payload, dispatch by table, and the facts for each event type."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pillarstream.config import PillarConfig
from pillarstream.envelope import Envelope, from_payload
from pillarstream.normalise import HANDLED_EVENTS, NORMALISERS, Facts, PayloadError, normalise, normaliser_for
from pillarstream.normalise import org as org_normalisers

pytestmark = pytest.mark.unit
WEBHOOKS = Path(__file__).resolve().parent.parent / "fixtures" / "webhooks"
FIXTURES = sorted(WEBHOOKS.glob("*/*.json"))
CONFIG = PillarConfig()
RECEIVED = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)
# The table each event type must fill (besides `repositories`).
PRIMARY_TABLE = {
    "push": "pushes", "pull_request": "pull_requests", "pull_request_review": "pull_request_reviews",
    "check_run": "check_runs", "check_suite": "check_suites", "workflow_run": "workflow_runs",
    "workflow_job": "workflow_jobs", "deployment": "deployments", "deployment_status": "deployment_statuses",
    "issues": "issues", "create": "ref_events", "delete": "ref_events", "release": "releases",
    "repository": "repositories", "membership": "team_memberships", "team": "teams",
    "organization": "org_memberships",
}


def envelope(event: str, payload: bytes | dict[str, Any], *, delivery_id: str = "d-1",
             received_at: datetime = RECEIVED) -> Envelope:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return from_payload(delivery_id=delivery_id, event=event, payload=body, parsed=json.loads(body),
                        source="webhook", received_at=received_at)


def fixture(relative: str) -> dict[str, Any]:
    return json.loads((WEBHOOKS / relative).read_bytes())


def facts_of(event: str, payload: bytes | dict[str, Any], config: PillarConfig = CONFIG, **kw: Any) -> Facts:
    return normalise(envelope(event, payload, **kw), config)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_recorded_payload_normalises(path: Path):
    event = path.parent.name
    facts = normalise(envelope(event, path.read_bytes()), CONFIG)

    if event in HANDLED_EVENTS:
        assert getattr(facts, PRIMARY_TABLE[event]), f"{path.name} produced no {PRIMARY_TABLE[event]}"
        assert len(facts.repositories) == 1
    else:
        assert len(facts) == 0
    assert normalise(envelope(event, path.read_bytes()), CONFIG) == facts, "pure: same input, same rows"


def test_the_dispatch_table_covers_the_required_events():
    assert set(PRIMARY_TABLE) == HANDLED_EVENTS
    assert all(callable(fn) for fn in NORMALISERS.values())


def test_an_action_specific_entry_wins_over_the_event_entry():
    assert normaliser_for("team", "added_to_repository") is org_normalisers.team_repository
    assert normaliser_for("team", "edited") is org_normalisers.team
    assert normaliser_for("organization", "member_added") is org_normalisers.org_member
    assert normaliser_for("organization", "renamed") is None
    assert normaliser_for("star", "created") is None


def test_other_events_are_deliveries_only():
    assert len(facts_of("ping", fixture("ping/payload.json"))) == 0
    assert len(facts_of("star", {"action": "created", "repository": {"id": 1, "full_name": "a/b"}})) == 0


def test_a_payload_without_its_natural_id_is_refused():
    payload = fixture("pull_request/opened.payload.json")
    del payload["pull_request"]["id"]
    with pytest.raises(PayloadError, match="pull_request.id|id"):
        facts_of("pull_request", payload)
    with pytest.raises(PayloadError, match="not JSON"):
        normalise(Envelope("d", "push", "webhook", RECEIVED, b"{nope"), CONFIG)


# --- version control -------------------------------------------------------------------------------

def test_push_to_the_default_branch_lands_its_commits():
    facts = facts_of("push", fixture("push/with-new-branch.payload.json"))

    (push,) = facts.pushes
    (commit,) = facts.commits
    assert (push.ref, push.to_default_branch, push.created) == ("refs/heads/master", True, True)
    assert push.pushed_at == datetime.fromtimestamp(1557933657, UTC)  # repository.pushed_at, epoch seconds
    assert commit.sha == push.after_sha
    assert commit.first_default_push_at == push.pushed_at
    assert (commit.author_login, commit.author_key, commit.author_is_bot) == (
        "Codertocat", "codertocat", False)
    assert commit.committed_at == datetime(2019, 5, 15, 15, 19, 25, tzinfo=UTC)


def test_push_to_another_branch_records_commits_that_have_not_landed():
    payload = fixture("push/with-new-branch.payload.json")
    payload["ref"] = "refs/heads/feature"
    (commit,) = facts_of("push", payload).commits
    assert commit.first_default_push_at is None


def test_tag_and_deleting_pushes_have_no_commits():
    facts = facts_of("push", fixture("push/payload.json"))  # deletes refs/tags/simple-tag
    assert facts.commits == []
    assert facts.pushes[0].deleted is True


def test_commit_without_a_username_is_keyed_by_email():
    (commit,) = facts_of("push", fixture("push/with-no-username-committer.payload.json")).commits
    assert commit.author_key is not None and commit.author_key == (commit.author_login or commit.author_email
                                                                     or commit.author_name).casefold()


def test_commit_times_with_offsets_become_utc():
    payload = fixture("push/with-new-branch.payload.json")
    payload["commits"][0]["timestamp"] = "2019-05-15T10:19:25-05:00"
    (commit,) = facts_of("push", payload).commits
    assert commit.committed_at == datetime(2019, 5, 15, 15, 19, 25, tzinfo=UTC)


def test_pull_request_state_and_timeline():
    facts = facts_of("pull_request", fixture("pull_request/closed.payload.json"))

    (pr,) = facts.pull_requests
    (event,) = facts.pull_request_events
    assert (pr.pr_id, pr.number, pr.state, pr.merged, pr.additions, pr.deletions) == (
        279147437, 2, "closed", False, 1, 1)
    assert (event.action, event.occurred_at) == ("closed", pr.closed_at)


@pytest.mark.parametrize("name, action, draft", [
    ("ready_for_review.payload.json", "ready_for_review", False),
    ("converted_to_draft.payload.json", "converted_to_draft", True),
])
def test_draft_transitions_are_kept_as_events(name: str, action: str, draft: bool):
    facts = facts_of("pull_request", fixture(f"pull_request/{name}"))
    (event,) = facts.pull_request_events
    assert (event.action, event.draft) == (action, draft)
    assert event.occurred_at == facts.pull_requests[0].updated_at


def test_opened_event_time_is_the_creation_time():
    facts = facts_of("pull_request", fixture("pull_request/opened.payload.json"))
    assert facts.pull_request_events[0].occurred_at == facts.pull_requests[0].created_at


def test_a_dismissed_review_keeps_its_submission():
    submitted = facts_of("pull_request_review", fixture("pull_request_review/submitted.payload.json"))
    dismissed = facts_of("pull_request_review", fixture("pull_request_review/dismissed.payload.json"))

    assert submitted.pull_request_reviews[0].state == "commented"
    assert submitted.pull_request_reviews[0].dismissed is False
    review = dismissed.pull_request_reviews[0]
    assert (review.state, review.dismissed, review.submitted_at is not None) == (None, True, True)
    assert submitted.pull_requests == [], "a review's pull request snapshot lacks size: not state"


def test_repository_snapshot_comes_with_every_event():
    (repo,) = facts_of("check_run", fixture("check_run/completed.payload.json")).repositories
    assert (repo.repo_id, repo.full_name, repo.language, repo.default_branch) == (
        186853002, "Codertocat/Hello-World", "Ruby", "master")
    deleted = fixture("repository/created.payload.json") | {"action": "deleted"}
    (gone,) = facts_of("repository", deleted).repositories
    assert gone.deleted and gone.version > repo.version


def test_create_and_delete_are_ref_events():
    (created,) = facts_of("create", fixture("create/payload.json")).ref_events
    (deleted,) = facts_of("delete", fixture("delete/payload.json"), delivery_id="d-2").ref_events
    assert (created.action, created.ref_type, created.occurred_at) == ("created", "tag", RECEIVED)
    assert (deleted.action, deleted.delivery_id) == ("deleted", "d-2")


def test_release_deletion_outranks_edits():
    published = facts_of("release", fixture("release/published.payload.json"))
    deleted = facts_of("release", fixture("release/deleted.payload.json"),
                       received_at=datetime(2000, 1, 1, tzinfo=UTC))  # received long before: still wins
    assert deleted.releases[0].deleted and deleted.releases[0].version > published.releases[0].version


# --- compatibility ---------------------------------------------------------------------------------

def test_check_run_status_outranks_time():
    created = facts_of("check_run", fixture("check_run/created.payload.json")).check_runs[0]
    completed = facts_of("check_run", fixture("check_run/completed.payload.json")).check_runs[0]
    assert (completed.status, completed.conclusion, completed.name) == (
        "completed", "success", "Octocoders-linter")
    assert completed.version > created.version


def test_workflow_run_attempt_outranks_status():
    payload = fixture("workflow_run/completed.payload.json")
    first = facts_of("workflow_run", payload).workflow_runs[0]
    rerun = payload | {"action": "requested", "workflow_run": payload["workflow_run"] | {
        "run_attempt": 2, "status": "queued", "conclusion": None}}
    second = facts_of("workflow_run", rerun).workflow_runs[0]
    assert first.completed_at == first.updated_at and second.completed_at is None
    assert second.version > first.version


def test_workflow_job_fields():
    (job,) = facts_of("workflow_job", fixture("workflow_job/completed.success.with-organization.payload.json")
                      ).workflow_jobs
    assert (job.run_id, job.conclusion, job.labels[0]) == (2202229078, "success", "ubuntu-latest")


# --- infrastructure --------------------------------------------------------------------------------

def test_deployment_status_is_production_per_configuration():
    facts = facts_of("deployment_status", fixture("deployment_status/payload.json"))
    (status,) = facts.deployment_statuses
    assert (status.state, status.environment, status.is_production, status.sha) == (
        "success", "production", True, facts.deployments[0].sha)

    staging = PillarConfig(production_environments=frozenset({"staging"}))
    assert not facts_of("deployment_status", fixture("deployment_status/payload.json"),
                        staging).deployment_statuses[0].is_production


def test_incident_label_decides_an_incident():
    payload = fixture("issues/labeled.payload.json")
    assert facts_of("issues", payload).issues[0].is_incident is False
    payload["issue"]["labels"].append({"name": "Incident"})
    (issue,) = facts_of("issues", payload).issues
    assert issue.is_incident and issue.labels == ["Incident", "bug"]


def test_transferred_issue_leaves_its_repository():
    (issue,) = facts_of("issues", fixture("issues/transferred.payload.json")).issues
    assert issue.deleted


# --- team ------------------------------------------------------------------------------------------

ORG = {"login": "acme", "id": 9}
TEAM = {"id": 31, "slug": "backend", "name": "Backend", "privacy": "closed", "permission": "push",
        "parent": None}
BOT = {"login": "renovate[bot]", "id": 5, "type": "Bot"}
ALICE = {"login": "alice", "id": 1, "type": "User"}


def test_membership_events_set_team_membership_state():
    added = facts_of("membership", {"action": "added", "scope": "team", "member": ALICE, "team": TEAM,
                                    "organization": ORG, "sender": ALICE})
    removed = facts_of("membership", {"action": "removed", "scope": "team", "member": ALICE, "team": TEAM,
                                      "organization": ORG, "sender": ALICE},
                       received_at=datetime(2024, 3, 5, tzinfo=UTC))
    (first,), (last,) = added.team_memberships, removed.team_memberships
    assert (first.team_id, first.user_login, first.org, first.state) == (31, "alice", "acme", "added")
    assert last.state == "removed" and last.version > first.version
    assert added.teams[0].slug == "backend"


def test_team_events():
    deleted = facts_of("team", {"action": "deleted", "team": TEAM, "organization": ORG, "sender": ALICE})
    assert deleted.teams[0].deleted
    linked = facts_of("team", {"action": "added_to_repository", "team": TEAM, "organization": ORG,
                               "sender": ALICE,
                               "repository": {"id": 77, "full_name": "acme/api", "owner": ORG}})
    (link,) = linked.team_repositories
    assert (link.team_id, link.repo_id, link.state) == (31, 77, "added")


def test_organization_member_events():
    added = facts_of("organization", {"action": "member_added", "organization": ORG, "sender": ALICE,
                                      "membership": {"user": BOT, "role": "member", "state": "active"}})
    (member,) = added.org_memberships
    assert (member.user_login, member.state, member.role, member.is_bot) == (
        "renovate[bot]", "active", "member", True)
    invited_by_mail = facts_of("organization", {
        "action": "member_invited", "organization": ORG, "sender": ALICE,
        "invitation": {"login": None, "email": "x@example.com"}})
    assert len(invited_by_mail) == 0
    renamed = facts_of("organization", {"action": "renamed", "organization": ORG, "sender": ALICE})
    assert len(renamed) == 0


# --- bots in facts -----------------------------------------------------------------------------------

def test_bots_are_flagged_not_dropped():
    payload = fixture("pull_request/opened.payload.json")
    payload["pull_request"]["user"] = BOT
    (pr,) = facts_of("pull_request", payload).pull_requests
    assert pr.author_is_bot and pr.author_login == "renovate[bot]"


def test_bot_flag_is_not_part_of_the_version():
    payload = fixture("pull_request/opened.payload.json")
    as_human = facts_of("pull_request", payload).pull_requests[0]
    config = PillarConfig()
    as_bot = facts_of("pull_request", payload, PillarConfig(
        bots=type(config.bots)(logins=frozenset({"codertocat"})))).pull_requests[0]
    assert as_bot.author_is_bot and not as_human.author_is_bot
    assert as_bot.version == as_human.version, "a config change is not a newer snapshot"
