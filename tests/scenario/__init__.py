"""A small organisation's three days on GitHub, as plain data, rendered to webhook deliveries with the
metric values worked out by hand.

The history is the single source: :func:`render` turns it into deliveries shaped like GitHub's
(tests/fixtures/webhooks), and a fake REST API can later serve the same history. The expected values in
:data:`EXPECTED_DAILY` and :data:`EXPECTED_WINDOWS` are written out by hand from the story in the comments
of :func:`acme_history`'s parts, not computed by code, so they check the SQL rather than mirror it.

Organisation "acme"; repositories acme/api (Python) and acme/web (TypeScript), default branch "main".
Days: D1 = 2024-03-04, D2 = 2024-03-05, D3 = 2024-03-06 (UTC). Humans: alice, bob, carol.
Bots: dependabot[bot] (type Bot) and review-bot[bot] (type Bot).

One module per pillar, each with its part of the story (the events it reads), their rendering as webhook
payloads, and its metrics' expected values: :mod:`.version_control`, :mod:`.compatibility`,
:mod:`.infrastructure`, :mod:`.team`. :mod:`.base` holds what they share (people, repositories, the
commits, :class:`History`, the JSON every payload carries). Expected keys: (day, org, repository full name
or None for the organisation roll-up, metric) → the value of the 1-day window; every (day, org, repo,
metric) not listed has no row (a count of 0, or no data). Rolling windows (the key ends with the window's
days) are exact over the window's events, not averages of daily figures.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tests.scenario import compatibility, infrastructure, team, version_control
from tests.scenario.base import (
    ALICE,
    ALL,
    API,
    BOB,
    CAROL,
    D1,
    D2,
    D3,
    DEPENDABOT,
    ORG,
    ORG_ID,
    REVIEW_BOT,
    WEB,
    A,
    Commit,
    History,
    Out,
    Repo,
    User,
    W,
    at,
    envelope,
    iso,
    org_json,
    repo_json,
    sha,
    user_json,
)
from tests.scenario.compatibility import Attempt, CheckRun, WorkflowRun
from tests.scenario.infrastructure import Deployment, Issue, IssueStep, Release, Status, deployment_body
from tests.scenario.team import OrgEvent
from tests.scenario.version_control import PRStep, PullRequest, Push, Review, pr_snapshot

__all__ = [
    "ALL", "A", "W", "ALICE", "API", "BOB", "CAROL", "D1", "D2", "D3", "DEPENDABOT", "EXPECTED_DAILY",
    "EXPECTED_WINDOWS", "ORG", "ORG_ID", "REVIEW_BOT", "WEB", "Attempt", "CheckRun", "Commit", "Deployment",
    "History", "Issue", "IssueStep", "OrgEvent", "Out", "PRStep", "PullRequest", "Push", "Release", "Repo",
    "Review", "Scenario", "Status", "User", "WorkflowRun", "acme_history", "at", "build_scenario",
    "deployment_body", "envelope", "iso", "org_json", "pr_snapshot", "render", "repo_json", "sha", "user_json",
]
PILLARS = (version_control, compatibility, infrastructure, team)
# The payload builders under the names they had in tests/scenario.py, which the fake GitHub
# (tests/fake_github/history.py) uses to serve the same objects over its API.
_iso, _user, _org, _repo, _envelope, _Out = iso, user_json, org_json, repo_json, envelope, Out
_pr_snapshot, _deployment_body = pr_snapshot, deployment_body
_NAMESPACE = uuid.UUID("6d1f0c1e-3b0e-4f7a-9a51-2f1f5e2b8c01")


def acme_history() -> History:
    h = History(repos=[API, WEB])
    version_control.add_version_control(h)
    compatibility.add_compatibility(h)
    infrastructure.add_infrastructure(h)
    team.add_team(h)
    return h


def render(h: History) -> list[Out]:
    """Every pillar's deliveries and a ping, in the order they happened."""
    out = [item for pillar in PILLARS for item in pillar.render(h)]
    ping = {"zen": "Keep it logically awesome.", "hook_id": 1, "hook": {"type": "Organization", "id": 1},
            "organization": org_json(), "sender": user_json(ALICE)}
    out.append(Out(at(D1, "06:00"), "ping", "ping", ping))  # an event the metrics ignore
    return sorted(out, key=lambda o: (o.at, o.key))


@dataclass(frozen=True)
class Scenario:
    history: History
    deliveries: list[tuple[str, str, bytes]]  # (event, delivery id, payload bytes) in the order GitHub sent
    sent_at: dict[str, datetime]  # delivery id → when GitHub sent it (a second after it happened)
    expected_daily: dict[tuple[date, str, str | None, str], float]
    expected_windows: dict[tuple[date, str, str | None, str, int], float]


def build_scenario() -> Scenario:
    history = acme_history()
    deliveries, sent_at = [], {}
    for item in render(history):
        delivery_id = str(uuid.uuid5(_NAMESPACE, item.key))
        deliveries.append((item.event, delivery_id, json.dumps(item.payload, indent=2).encode()))
        sent_at[delivery_id] = item.at + timedelta(seconds=1)
    return Scenario(history, deliveries, sent_at, dict(EXPECTED_DAILY), dict(EXPECTED_WINDOWS))


EXPECTED_DAILY: dict[tuple[date, str, str | None, str], float] = {
    key: value for pillar in PILLARS for key, value in pillar.EXPECTED_DAILY.items()}
EXPECTED_WINDOWS: dict[tuple[date, str, str | None, str, int], float] = {
    key: value for pillar in PILLARS for key, value in pillar.EXPECTED_WINDOWS.items()}
