"""Pushes from the REST API: repository activity (who pushed what, when) joined with the commit graph.

The warehouse counts a commit on the day it first reached the default branch (``first_default_push_at``),
which only a push says; the commit's own dates do not (a commit made Monday may land Wednesday). GitHub's
repository activity (https://docs.github.com/en/rest/repos/repos#list-repository-activities) lists pushes
with ``before``/``after``/``ref``/``timestamp``/``actor`` but not their commits, so each push's commits are
worked out from the default branch's commits (with parents): in time order, a push brings the commits
reachable from ``after`` that had not reached the default branch before. Pure functions, no I/O.

Commits of the default branch that no known push brought (history older than the activity GitHub keeps,
or a server without the endpoint) get a fallback push per first-parent commit, timed by that commit's
committer date (for merges made on GitHub, the merge time) and without a pusher, so it adds no person to
the activity metrics. That is an approximation and is documented as one (docs/backfill.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pillarstream.envelope import parse_time

Json = dict[str, Any]
ZERO = "0" * 40
PUSH_TYPES = frozenset({"push", "force_push", "branch_creation", "pr_merge", "merge_queue_merge"})
BRANCH_PREFIX = "refs/heads/"


@dataclass(frozen=True)
class PushPlan:
    activity: Json  # the activity item, or a synthetic one for a fallback push
    commits: list[Json] = field(default_factory=list)  # REST commit objects, oldest first
    to_default: bool = False
    fallback: bool = False

    @property
    def after(self) -> str:
        return str(self.activity["after"])


class Graph:
    """The default branch's commits by SHA; parents outside it count as already on the branch."""

    def __init__(self, commits: Iterable[Json]) -> None:
        self.by_sha: dict[str, Json] = {}
        self.order: dict[str, int] = {}  # newest first, as listed
        for index, commit in enumerate(commits):
            if commit["sha"] not in self.by_sha:
                self.by_sha[commit["sha"]] = commit
                self.order[commit["sha"]] = index

    def parents(self, sha: str) -> list[str]:
        commit = self.by_sha.get(sha)
        return [p["sha"] for p in commit.get("parents") or []] if commit else []

    def reachable(self, start: str, stop: set[str]) -> set[str]:
        """Commits of the graph reachable from ``start`` without passing through ``stop``."""
        found: set[str] = set()
        todo = [start]
        while todo:
            sha = todo.pop()
            if sha in found or sha in stop or sha not in self.by_sha:
                continue
            found.add(sha)
            todo.extend(self.parents(sha))
        return found

    def oldest_first(self, shas: set[str]) -> list[Json]:
        return [self.by_sha[s] for s in sorted(shas, key=lambda s: -self.order[s])]


def _when(activity: Json) -> datetime:
    return parse_time(str(activity["timestamp"]))


def plan_pushes(activities: Sequence[Json], graph: Graph, default_branch: str) -> list[PushPlan]:
    """One plan per push-like activity, oldest first, plus fallback pushes for unclaimed commits."""
    default_ref = BRANCH_PREFIX + default_branch
    pushes = sorted((a for a in activities if a.get("activity_type") in PUSH_TYPES
                     and a.get("after") != ZERO),
                    key=lambda a: (_when(a), a.get("id") or 0))
    first_default = next((a for a in pushes if a["ref"] == default_ref), None)
    # What was on the default branch before the first push we know of came by pushes we do not know.
    before = set() if first_default is None else graph.reachable(first_default["before"], set())
    landed: set[str] = set(before)
    plans = []
    for activity in pushes:
        to_default = activity["ref"] == default_ref
        new = graph.reachable(activity["after"], landed)
        plans.append(PushPlan(activity, graph.oldest_first(new), to_default))
        if to_default:
            landed |= new
    plans.extend(fallback_pushes(graph, landed - before if first_default else landed, default_ref))
    return plans


def fallback_pushes(graph: Graph, claimed: set[str], default_ref: str) -> list[PushPlan]:
    """A push per first-parent commit for the commits no activity claimed, walking from the newest."""
    unclaimed = set(graph.by_sha) - claimed
    if not unclaimed:
        return []
    plans = []
    tips = sorted(unclaimed, key=lambda s: graph.order[s])  # newest first
    done: set[str] = set(claimed)
    for tip in tips:
        sha: str | None = tip
        chain = []
        while sha is not None and sha in unclaimed and sha not in done:
            chain.append(sha)
            parents = graph.parents(sha)
            sha = parents[0] if parents else None
        for head in reversed(chain):  # oldest first along the first-parent line
            parents = graph.parents(head)
            stop = done | ({parents[0]} if parents else set())
            new = graph.reachable(head, stop) | {head}
            new -= done
            done |= new
            commit = graph.by_sha[head]
            activity = {"id": None, "before": parents[0] if parents else ZERO, "after": head,
                        "ref": default_ref,
                        "timestamp": commit["commit"]["committer"]["date"], "activity_type": "push",
                        "actor": None}
            plans.append(PushPlan(activity, graph.oldest_first(new), True, fallback=True))
    return sorted(plans, key=lambda p: _when(p.activity))


def push_commit(commit: Json) -> Json:
    """A REST commit as a push payload lists it (``commits[]`` of the push webhook)."""
    inner = commit.get("commit") or {}
    author = inner.get("author") or {}
    committer = inner.get("committer") or {}
    login = (commit.get("author") or {}).get("login")
    committer_login = (commit.get("committer") or {}).get("login")
    return {
        "id": commit["sha"], "tree_id": (inner.get("tree") or {}).get("sha"), "distinct": True,
        "message": inner.get("message"), "timestamp": author.get("date"), "url": commit.get("html_url"),
        "author": {"name": author.get("name"), "email": author.get("email"),
                   **({"username": login} if login else {})},
        "committer": {"name": committer.get("name"), "email": committer.get("email"),
                      **({"username": committer_login} if committer_login else {})},
        "added": [], "removed": [], "modified": [],
    }


def push_payload(plan: PushPlan, repository: Json, organization: Json | None) -> Json:
    """The push webhook payload for a plan. ``repository.pushed_at`` is the push time in epoch seconds, as in
    push webhooks (the normaliser takes the push time from it)."""
    activity = plan.activity
    commits = [push_commit(c) for c in plan.commits]
    head = next((c for c in commits if c["id"] == plan.after), commits[-1] if commits else None)
    actor = activity.get("actor")
    repo = {**repository, "pushed_at": int(_when(activity).timestamp())}
    payload: Json = {
        "ref": activity["ref"], "before": activity["before"], "after": activity["after"],
        "created": activity["before"] == ZERO, "deleted": False,
        "forced": activity.get("activity_type") == "force_push", "base_ref": None, "compare": "",
        "commits": commits, "head_commit": head,
        "pusher": {"name": actor.get("login"), "email": None} if actor else {"name": None, "email": None},
        "repository": repo,
    }
    if organization is not None:
        payload["organization"] = organization
    if actor:
        payload["sender"] = actor
    return payload
