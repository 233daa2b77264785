"""Pushes from activity and the commit graph: which push brought which commit to the default branch."""

import pytest

from backfill.pushes import ZERO, Graph, plan_pushes, push_payload

pytestmark = pytest.mark.unit


def commit(sha: str, *parents: str, date: str = "2024-03-04T08:00:00Z", login: str = "alice") -> dict:
    person = {"name": login, "email": f"{login}@example.com", "date": date}
    return {"sha": sha, "commit": {"author": person, "committer": person, "message": f"{sha} change\n\nbody",
                                   "tree": {"sha": f"tree-{sha}"}},
            "author": {"login": login,
                       "type": "User"}, "committer": {"login": login}, "html_url": f"https://x/{sha}",
            "parents": [{"sha": p} for p in parents]}


def push(id_: int, ref: str, before: str, after: str, at: str, kind: str = "push",
         actor: str = "alice") -> dict:
    return {"id": id_, "before": before, "after": after, "ref": f"refs/heads/{ref}", "timestamp": at,
            "activity_type": kind, "actor": {"login": actor, "type": "User", "id": 1}}


# main: base - a - b - m(merge of base..c on a feature branch) - d
GRAPH = Graph([commit("d", "m"), commit("m", "b", "c"), commit("c", "b"), commit("b", "a"),
               commit("a", "base"), commit("base")])


def landed(plans):
    return [(p.activity["after"], [c["sha"] for c in p.commits], p.to_default, p.fallback) for p in plans]


def test_each_push_brings_what_was_not_on_the_default_branch_before():
    plans = plan_pushes([
        push(4, "main", "m", "d", "2024-03-06T09:00:00Z"),
        push(1, "main", "base", "b", "2024-03-04T09:00:00Z"),
        push(2, "feature", ZERO, "c", "2024-03-04T10:00:00Z", "branch_creation", "bob"),
        push(3, "main", "b", "m", "2024-03-05T11:00:00Z", "pr_merge", "bob"),
    ], GRAPH, "main")
    assert landed(plans) == [
        ("b", ["a", "b"], True, False),
        ("c", ["c"], False, False),  # a feature branch: its new commit, not yet landed
        ("m", ["c", "m"], True, False),  # the merge lands the feature commit with it
        ("d", ["d"], True, False),
        ("base", ["base"], True, True),  # before the first known push: a fallback at its commit time
    ]


def test_a_force_push_lands_only_commits_new_to_the_branch():
    graph = Graph([commit("x2", "a"), commit("x1", "a"), commit("a")])
    plans = plan_pushes([push(1, "main", ZERO, "x1", "2024-03-04T09:00:00Z", "branch_creation"),
                         push(2, "main", "x1", "x2", "2024-03-04T10:00:00Z", "force_push")], graph, "main")
    assert landed(plans) == [("x1", ["a", "x1"], True, False), ("x2", ["x2"], True, False)]


def test_without_activity_every_first_parent_commit_is_a_fallback_push_with_its_merged_commits():
    plans = plan_pushes([], GRAPH, "main")
    assert landed(plans) == [("base", ["base"], True, True), ("a", ["a"], True, True),
                             ("b", ["b"], True, True), ("m", ["c", "m"], True, True),
                             ("d", ["d"], True, True)]
    assert all(p.activity["actor"] is None for p in plans)


def test_branch_deletions_and_unknown_commits_are_left_out():
    plans = plan_pushes([push(1, "gone", "c", ZERO, "2024-03-04T09:00:00Z", "branch_deletion"),
                         push(2, "other", ZERO, "zz", "2024-03-04T10:00:00Z",
                              "branch_creation")], Graph([]), "main")
    assert landed(plans) == [("zz", [], False, False)]


def test_the_payload_is_a_push_webhook():
    plan = plan_pushes([push(1, "main", "a", "b", "2024-03-04T09:00:00Z")], GRAPH, "main")[0]
    body = push_payload(plan, {"id": 7, "full_name": "acme/api", "default_branch": "main",
                               "pushed_at": "2030-01-01T00:00:00Z"}, {"login": "acme"})
    assert body["repository"]["pushed_at"] == 1709542800  # the push's time, epoch seconds as in push webhooks
    assert (body["before"], body["after"], body["created"], body["forced"]) == ("a", "b", False, False)
    assert [c["id"] for c in body["commits"]] == ["b"] and body["head_commit"]["id"] == "b"
    assert body["commits"][0]["author"] == {"name": "alice", "email": "alice@example.com",
                                            "username": "alice"}
    assert body["sender"]["login"] == "alice" and body["organization"] == {"login": "acme"}
