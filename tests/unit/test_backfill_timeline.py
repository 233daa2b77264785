"""Pull-request transitions worked out backwards from the current state and the issue events."""

import pytest

from backfill.timeline import Transition, announcements, transitions_by_number

pytestmark = pytest.mark.unit
ALICE, BOB = {"login": "alice", "type": "User"}, {"login": "bob", "type": "User"}


def detail(**fields) -> dict:
    base = {"id": 5001, "number": 1, "user": BOB, "state": "closed", "draft": False,
            "created_at": "2024-03-04T10:05:00Z",
            "updated_at": "2024-03-05T11:00:00Z", "closed_at": "2024-03-05T11:00:00Z",
            "merged_at": "2024-03-05T11:00:00Z", "merged": True, "merged_by": ALICE, "additions": 120}
    return {**base, **fields}


def event(name: str, at: str, number: int = 1, actor: dict = BOB, pull: bool = True) -> dict:
    issue = {"number": number, **({"pull_request": {"url": "x"}} if pull else {})}
    return {"event": name, "created_at": at, "actor": actor, "issue": issue}


def steps(result) -> list[tuple]:
    return [(a.action, a.pull_request["updated_at"], a.pull_request["state"], a.pull_request["draft"],
             a.pull_request["merged"], (a.sender or {}).get("login")) for a in result]


def test_a_draft_made_ready_then_merged():
    found = transitions_by_number([event("merged", "2024-03-05T11:00:00Z", actor=ALICE),
                                   event("closed", "2024-03-05T11:00:00Z", actor=ALICE),
                                   event("ready_for_review", "2024-03-04T14:00:00Z"),
                                   event("labeled", "2024-03-04T15:00:00Z"),
                                   event("closed", "2024-03-04T12:00:00Z", number=9, pull=False)])
    assert list(found) == [1] and found[1][-1].merged
    result = announcements(detail(), found[1], include_opened=True)
    assert steps(result) == [
        ("opened", "2024-03-04T10:05:00Z", "open", True, False, "bob"),
        ("ready_for_review", "2024-03-04T14:00:00Z", "open", False, False, "bob"),
        ("closed", "2024-03-05T11:00:00Z", "closed", False, True, "alice"),
    ]
    assert result[-1].pull_request is not None and result[-1].pull_request["additions"] == 120
    assert result[0].pull_request["closed_at"] is None and result[0].pull_request["merged_at"] is None


def test_closed_reopened_and_closed_again():
    final = detail(merged=False, merged_at=None, merged_by=None, closed_at="2024-03-06T10:00:00Z",
                   updated_at="2024-03-06T10:00:00Z")
    moves = [Transition("closed", "2024-03-05T15:00:00Z", BOB),
             Transition("reopened", "2024-03-05T16:00:00Z", BOB),
             Transition("closed", "2024-03-06T10:00:00Z", BOB)]
    result = announcements(final, moves, include_opened=True)
    assert [(a.action, a.pull_request["state"], a.pull_request["closed_at"]) for a in result] == [
        ("opened", "open", None), ("closed", "closed", "2024-03-05T15:00:00Z"),
        ("reopened", "open", None), ("closed", "closed", "2024-03-06T10:00:00Z")]
    assert result[-1].pull_request is final  # the newest announcement is exactly what GitHub serves


def test_a_later_change_ends_in_an_edited_snapshot_and_a_re_run_omits_opened():
    final = detail(state="open", closed_at=None, merged_at=None, merged=False, merged_by=None,
                   updated_at="2024-03-07T09:00:00Z")
    result = announcements(final, [Transition("converted_to_draft", "2024-03-06T09:00:00Z", BOB),
                                   Transition("ready_for_review", "2024-03-06T10:00:00Z",
                                              BOB)], include_opened=False)
    assert [(a.action, a.pull_request["draft"]) for a in result] == [
        ("converted_to_draft", True), ("ready_for_review", False), ("edited", False)]
    assert result[-1].sender is None


def test_a_pull_request_never_changed_since_it_was_opened_is_announced_once():
    final = detail(state="open", draft=True, closed_at=None, merged_at=None, merged=False, merged_by=None,
                   updated_at="2024-03-04T10:05:00Z")
    result = announcements(final, [], include_opened=True)
    assert [(a.action, a.pull_request is final) for a in result] == [("opened", True)]
