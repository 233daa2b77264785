"""Team: organisation, team and membership events. Its metrics (contributors, reviewers) also count the
pushes and reviews of :mod:`tests.scenario.version_control`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tests.scenario.base import (
    ALICE,
    ALL,
    API,
    BOB,
    CAROL,
    D1,
    D2,
    D3,
    ORG,
    A,
    History,
    Out,
    Repo,
    User,
    W,
    at,
    envelope,
    user_json,
)


@dataclass(frozen=True)
class OrgEvent:
    """organization / team / membership deliveries (no repository)."""

    event: str
    action: str
    at: datetime
    user: User | None = None
    team: tuple[int, str] | None = None  # (id, slug)
    repo: Repo | None = None


def add_team(h: History) -> None:
    """A member joins; a team is created, gets bob and acme/api; bob leaves it on D3."""
    backend = (3001, "backend")
    h.org_events += [
        OrgEvent("organization", "member_added", at(D1, "07:00"), user=CAROL),
        OrgEvent("team", "created", at(D1, "07:05"), team=backend),
        OrgEvent("membership", "added", at(D1, "07:10"), user=BOB, team=backend),
        OrgEvent("team", "added_to_repository", at(D1, "07:15"), team=backend, repo=API),
        OrgEvent("membership", "removed", at(D3, "18:00"), user=BOB, team=backend),
    ]


def _render_org_event(ev: OrgEvent, index: int) -> Iterator[Out]:
    body: dict[str, Any] = {"action": ev.action}
    if ev.team:
        team_id, slug = ev.team
        body["team"] = {"id": team_id, "node_id": f"T_{team_id}", "slug": slug, "name": slug,
                        "privacy": "closed", "permission": "push", "parent": None}
    if ev.event == "membership" and ev.user:
        body |= {"scope": "team", "member": user_json(ev.user)}
    if ev.event == "organization" and ev.user:
        body["membership"] = {"user": user_json(ev.user), "role": "member", "state": "active",
                              "url": f"https://api.github.com/orgs/{ORG}/memberships/{ev.user.login}"}
    payload = envelope(ev.repo, ALICE, **body)
    yield Out(ev.at, ev.event, f"org:{index}", payload)


def render(h: History) -> Iterator[Out]:
    """The pillar's deliveries: organization, team and membership."""
    for index, ev in enumerate(h.org_events):
        yield from _render_org_event(ev, index)


# --- the answers, by hand (keys: see tests/scenario/__init__.py) --------------------------------------

EXPECTED_DAILY: dict[tuple[date, str, str | None, str], float] = {
    # --- D1 ---------------------------------------------------------------------------------------
    (D1, ORG, A, "active_contributors"): 3,            # alice, bob, carol
    (D1, ORG, A, "reviewers_active"): 2,               # alice, carol (bob's own review is not a peer one)
    (D1, ORG, A, "reviews_submitted"): 2,
    (D1, ORG, A, "review_load_top_share"): 0.5,
    (D1, ORG, W, "active_contributors"): 2,            # carol, alice
    (D1, ORG, W, "reviewers_active"): 1,
    (D1, ORG, W, "reviews_submitted"): 1,
    (D1, ORG, W, "review_load_top_share"): 1,
    (D1, ORG, ALL, "active_contributors"): 3,
    (D1, ORG, ALL, "reviewers_active"): 2,               # alice, carol
    (D1, ORG, ALL, "reviews_submitted"): 3,
    (D1, ORG, ALL, "review_load_top_share"): 2 / 3,      # alice 2 of 3
    # --- D2 ---------------------------------------------------------------------------------------
    (D2, ORG, A, "active_contributors"): 2,            # bob (push, review), carol (#4)
    (D2, ORG, A, "reviewers_active"): 1,
    (D2, ORG, A, "reviews_submitted"): 1,              # bob on #2 (review-bot is a bot)
    (D2, ORG, A, "review_load_top_share"): 1,
    (D2, ORG, ALL, "active_contributors"): 2,
    (D2, ORG, ALL, "reviewers_active"): 1,
    (D2, ORG, ALL, "reviews_submitted"): 1,
    (D2, ORG, ALL, "review_load_top_share"): 1,
    # --- D3 ---------------------------------------------------------------------------------------
    (D3, ORG, A, "active_contributors"): 2,            # alice (push, #5), bob (review)
    (D3, ORG, A, "reviewers_active"): 1,
    (D3, ORG, A, "reviews_submitted"): 1,
    (D3, ORG, A, "review_load_top_share"): 1,
    (D3, ORG, ALL, "active_contributors"): 2,
    (D3, ORG, ALL, "reviewers_active"): 1,
    (D3, ORG, ALL, "reviews_submitted"): 1,
    (D3, ORG, ALL, "review_load_top_share"): 1,
}

EXPECTED_WINDOWS: dict[tuple[date, str, str | None, str, int], float] = {
    (D3, ORG, A, "review_load_top_share", 28): 0.5,                # bob 2 of alice, carol, bob, bob
    (D3, ORG, ALL, "active_contributors", 7): 3,
    (D3, ORG, ALL, "reviews_submitted", 7): 5,
}
