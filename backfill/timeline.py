"""A pull request's transitions, reconstructed from the REST API as the webhooks that announced them.

REST gives a pull request's current state (``GET /pulls/{n}``) and, in the repository's issue events
(``GET /issues/events``), when it became ready for review, was converted to a draft, closed, merged or
reopened, and by whom. Pickup time needs the moment a pull request first became ready, which the state
forgets; so each transition is published as the ``pull_request`` webhook it was, with the pull request as
it stood then. Those snapshots are worked out backwards from the current state, undoing one transition at a
time, so they need only the transitions after the last sweep (earlier ones were published then).

Snapshots carry their own ``updated_at`` (the transition's time), so the warehouse keeps the current state
(the newest version) whatever order they arrive in. Pure functions, no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pillarstream.envelope import parse_time

Json = dict[str, Any]
# Issue event name → pull_request webhook action.
TRANSITIONS = {"ready_for_review": "ready_for_review", "convert_to_draft": "converted_to_draft",
               "closed": "closed", "reopened": "reopened"}
_STATE_FIELDS = ("state", "draft", "closed_at", "merged_at", "merged", "merged_by", "updated_at")


@dataclass(frozen=True)
class Transition:
    action: str  # webhook action
    at: str  # ISO time, as GitHub writes it
    actor: Json | None
    merged: bool = False


@dataclass(frozen=True)
class Announcement:
    """One pull_request webhook to publish: its action, the pull request as it stood, and who did it."""

    action: str
    pull_request: Json
    sender: Json | None


def transitions_by_number(events: Iterable[Json]) -> dict[int, list[Transition]]:
    """Pull-request transitions from repository issue events, per pull request number, oldest first."""
    merged_at: set[tuple[int, str]] = set()
    found: dict[int, list[Transition]] = defaultdict(list)
    events = list(events)
    for event in events:
        issue = event.get("issue") or {}
        if event.get("event") == "merged" and "pull_request" in issue:
            merged_at.add((issue["number"], event["created_at"]))
    for event in events:
        issue = event.get("issue") or {}
        action = TRANSITIONS.get(event.get("event", ""))
        if action is None or "pull_request" not in issue:
            continue
        number = issue["number"]
        found[number].append(Transition(action, event["created_at"], event.get("actor"),
                                        merged=(number, event["created_at"]) in merged_at))
    for items in found.values():
        items.sort(key=lambda t: parse_time(t.at))
    return dict(found)


def _undo(state: Json, transition: Transition, previous_close: str | None) -> Json:
    """The state just before ``transition``."""
    before = dict(state)
    if transition.action == "ready_for_review":
        before["draft"] = True
    elif transition.action == "converted_to_draft":
        before["draft"] = False
    elif transition.action == "closed":
        before.update(state="open", closed_at=None, merged_at=None, merged=False, merged_by=None)
    elif transition.action == "reopened":
        before.update(state="closed", closed_at=previous_close, merged_at=None, merged=False, merged_by=None)
    return before


def announcements(detail: Json, transitions: list[Transition], *, include_opened: bool) -> list[Announcement]:
    """The webhooks that announced this pull request's history, oldest first, ending in its current state.

    ``transitions`` are those not yet published (oldest first); ``include_opened`` adds the ``opened`` one
    (a pull request created since the last sweep). The last announcement is always the current state: the
    last transition when it is the latest change, else an ``edited`` one at ``updated_at``.
    """
    current = {k: detail.get(k) for k in _STATE_FIELDS}
    updated = parse_time(detail["updated_at"])
    steps = [t for t in transitions if parse_time(t.at) <= updated]
    snapshots: list[tuple[Transition, Json]] = []
    state = current
    for index in range(len(steps) - 1, -1, -1):
        step = steps[index]
        snapshots.append((step, {**state, "updated_at": step.at}))
        previous_close = next((t.at for t in reversed(steps[:index]) if t.action == "closed"), None)
        state = _undo(state, step, previous_close)
    snapshots.reverse()
    result = []
    if include_opened:
        opened = {**state, "state": "open", "closed_at": None, "merged_at": None, "merged": False,
                  "merged_by": None, "updated_at": detail["created_at"]}
        result.append(Announcement("opened", _snapshot(detail, opened), detail.get("user")))
    result += [Announcement(step.action, _snapshot(detail, fields), step.actor) for step, fields in snapshots]
    if not result or parse_time(result[-1].pull_request["updated_at"]) < updated:
        result.append(Announcement("edited", detail, None))
    return result


def _snapshot(detail: Json, fields: Json) -> Json:
    """The pull request with its state fields as given; the current object itself when they match it, so
    the newest announcement carries exactly what GitHub serves."""
    if parse_time(fields["updated_at"]) == parse_time(detail["updated_at"]):
        return detail
    return {**detail, **fields}
