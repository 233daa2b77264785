"""The REST → webhook mapping table, checked against GitHub's own REST examples (tests/fixtures/rest) and
the warehouse normalisers: every kind lands in the table it should, under a deterministic delivery id."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from backfill.envelopes import MAPPINGS, envelope
from backfill.owner import legacy_permission
from pillarstream.normalise import HANDLED_EVENTS, normalise
from pillarstream.normalise.dispatch import normaliser_for
from stream_processors.warehouse import default_config

pytestmark = pytest.mark.unit
REST = Path(__file__).parent.parent / "fixtures" / "rest"
WHEN = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def rest(name: str, key: str | None = None) -> dict[str, Any]:
    data = json.loads((REST / f"{name}.json").read_text())
    items = data[key] if key else data
    return items[0] if isinstance(items, list) else items


REPO = rest("list-org-repos")
ORG = {"login": "octo-org", "id": 1}


def facts_of(kind: str, item: dict[str, Any], **kw: Any) -> dict[str, list[Any]]:
    env = envelope(kind, item, received_at=WHEN, repository=kw.pop("repository", REPO), organization=ORG,
                   **kw)
    assert env.source == "backfill"
    return {name: rows for name, rows in normalise(env, default_config()).tables().items() if rows}


@pytest.mark.parametrize(("kind", "item", "extra", "table"), [
    ("pull_request", rest("list-pulls"), {"action": "opened"}, "pull_requests"),
    ("review", rest("list-pull-reviews"), {"extra": {"pull_request": rest("list-pulls")}},
     "pull_request_reviews"),
    ("check_run", rest("list-check-runs-for-ref", "check_runs"), {}, "check_runs"),
    ("check_suite", rest("list-check-suites-for-ref", "check_suites"), {}, "check_suites"),
    ("workflow_run", rest("list-workflow-runs", "workflow_runs"), {}, "workflow_runs"),
    ("deployment", rest("list-deployments"), {}, "deployments"),
    ("deployment_status", rest("list-deployment-statuses"),
     {"extra": {"deployment": rest("list-deployments")}},
     "deployment_statuses"),
    ("issue", rest("list-repo-issues"), {}, "issues"),
    ("team", rest("list-teams"), {"repository": None}, "teams"),
    ("team_member", rest("list-team-members"),
     {"repository": None, "extra": {"scope": "team", "team": rest("list-teams")}, "object_id": "1:octocat"},
     "team_memberships"),
    ("team_repo", {**rest("list-teams"), "permission": "push"}, {"object_id": "1:2"}, "team_repositories"),
    ("member", {"state": "active", "role": "member", "user": rest("list-org-members")}, {"repository": None},
     "org_memberships"),
])
def test_every_kind_is_normalised_into_its_table(kind, item, extra, table):
    found = facts_of(kind, item, **extra)
    assert table in found


def test_the_table_names_only_events_the_warehouse_handles():
    for mapping in MAPPINGS.values():
        assert mapping.event in HANDLED_EVENTS | {"repository"}, mapping.kind
        action = mapping.action({"status": "completed", "state": "APPROVED"})
        assert normaliser_for(mapping.event, action) is not None, mapping.kind


def test_a_repository_snapshot_carries_language_and_default_branch():
    found = facts_of("repository", REPO, repository=None)
    row = found["repositories"][0]
    assert (row.repo_id, row.language) == (REPO["id"], REPO["language"])
    assert row.default_branch == REPO["default_branch"]


def test_delivery_ids_name_the_object_and_its_version():
    item = rest("list-deployments")
    first = envelope("deployment", item, received_at=WHEN, repository=REPO, organization=ORG)
    again = envelope("deployment", item, received_at=datetime(2030, 1, 1, tzinfo=UTC), repository=REPO,
                     organization=ORG)
    newer = envelope("deployment", {**item, "updated_at": "2030-01-01T00:00:00Z"}, received_at=WHEN,
                     repository=REPO,
                     organization=ORG)
    assert first.delivery_id == again.delivery_id != newer.delivery_id
    transition = envelope("pull_request", rest("list-pulls"), received_at=WHEN, repository=REPO,
                          organization=ORG,
                          action="closed", id_suffix=".closed")
    edited = envelope("pull_request", rest("list-pulls"), received_at=WHEN, repository=REPO, organization=ORG)
    assert transition.delivery_id != edited.delivery_id


def test_the_envelope_has_the_webhook_event_organisation_repository_and_provenance():
    env = envelope("issue", rest("list-repo-issues"), received_at=WHEN, repository=REPO, organization=ORG,
                   provenance="source=api/resource=issues/year=2026/month=11/day=23/x.json.gz")
    body = json.loads(env.payload)
    assert (env.event, env.action, env.org, env.repo_id) == ("issues", "edited", "octo-org", REPO["id"])
    assert body["issue"] == rest("list-repo-issues") and body["sender"]["login"]
    assert env.headers["X-Pillarstream-Archive-Object"].startswith("source=api/resource=issues/")


def test_review_states_and_dismissals_become_webhook_actions():
    review = rest("list-pull-reviews")
    assert MAPPINGS["review"].action(review) == "submitted"
    assert MAPPINGS["review"].action({**review, "state": "DISMISSED"}) == "dismissed"
    assert MAPPINGS["workflow_run"].action({"status": "in_progress"}) == "in_progress"
    assert MAPPINGS["check_run"].action({"status": "queued"}) == "created"


@pytest.mark.parametrize(("permissions", "expected"), [
    ({"admin": False, "maintain": False, "push": True, "triage": True, "pull": True}, "push"),
    ({"admin": True, "push": True, "pull": True}, "admin"),
    ({}, None),
])
def test_team_permissions_in_webhook_terms(permissions, expected):
    assert legacy_permission({"permissions": permissions}) == expected
