"""Version Control Management: pushes (and a feature branch), pull requests and their reviews."""

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
    c1,
    c2,
    c3,
    c4,
    c5,
    c6,
    d1,
    envelope,
    iso,
    m1,
    repo_json,
    sha,
    user_json,
    x1,
)


@dataclass(frozen=True)
class Push:
    repo: Repo
    branch: str
    before: str
    commits: tuple[Commit, ...]
    pusher: User
    at: datetime


@dataclass(frozen=True)
class PRStep:
    action: str  # opened | ready_for_review | converted_to_draft | closed | reopened | synchronize
    at: datetime
    actor: User
    draft: bool = False  # opened as a draft
    merged: bool = False  # closed by a merge


@dataclass(frozen=True)
class PullRequest:
    id: int
    number: int
    repo: Repo
    author: User
    title: str
    head: Commit
    additions: int
    deletions: int
    steps: tuple[PRStep, ...]


@dataclass(frozen=True)
class Review:
    id: int
    pr: PullRequest
    reviewer: User
    state: str  # approved | changes_requested | commented
    at: datetime
    dismissed_at: datetime | None = None


def add_version_control(h: History) -> None:
    """Pushes to main and a feature branch; six pull requests; their reviews."""
    zero = "0" * 40
    h.pushes += [
        Push(API, "main", sha("base-api"), (c1, c2), ALICE, at(D1, "09:00")),        # api D1: 2 commits
        Push(API, "feature/login", zero, (c3,), BOB, at(D1, "10:00")),                # not the default branch
        Push(API, "main", c2.sha, (c3, m1), BOB, at(D2, "11:00")),                    # api D2: c3, m1
        Push(API, "main", m1.sha, (d1,), DEPENDABOT, at(D2, "12:00")),                # api D2: d1 (a bot's)
        Push(API, "main", d1.sha, (c4, c5), ALICE, at(D3, "09:00")),                  # api D3: c4, c5
        Push(WEB, "main", sha("base-web"), (c6,), CAROL, at(D1, "14:00")),           # web D1: c6
    ]
    h.branches.append((API, "feature/login", at(D1, "10:00"), at(D2, "11:05")))

    pr1 = PullRequest(5001, 1, API, BOB, "Login form", c3, 120, 30, (
        PRStep("opened", at(D1, "10:05"), BOB, draft=True),
        PRStep("ready_for_review", at(D1, "14:00"), BOB),
        PRStep("closed", at(D2, "11:00"), BOB, merged=True),           # cycle 24h55m, size 150
    ))
    pr2 = PullRequest(5002, 2, API, ALICE, "Fix pagination", c2, 10, 5, (
        PRStep("opened", at(D1, "11:00"), ALICE),
        PRStep("synchronize", at(D1, "13:00"), ALICE),
        PRStep("closed", at(D2, "10:00"), ALICE, merged=True),         # cycle 23h, size 15
    ))
    pr3 = PullRequest(5003, 3, API, DEPENDABOT, "Bump requests", d1, 2, 2, (
        PRStep("opened", at(D2, "08:00"), DEPENDABOT),
        PRStep("closed", at(D2, "08:30"), ALICE, merged=True),         # cycle 0.5h, size 4, no review
    ))
    pr4 = PullRequest(5004, 4, API, CAROL, "Experiment", x1, 50, 0, (
        PRStep("opened", at(D2, "13:00"), CAROL),
        PRStep("closed", at(D2, "15:00"), CAROL),                      # closed unmerged on D2 ...
        PRStep("reopened", at(D2, "16:00"), CAROL),                    # ... reopened: leaves D2
        PRStep("closed", at(D3, "10:00"), CAROL),                      # closed unmerged on D3
    ))
    pr5 = PullRequest(5005, 5, API, ALICE, "Draft idea", c4, 8, 1, (
        PRStep("opened", at(D3, "09:30"), ALICE, draft=True),          # never ready: no pickup
    ))
    pr6 = PullRequest(5101, 1, WEB, CAROL, "New header", c6, 40, 0, (
        PRStep("opened", at(D1, "14:30"), CAROL),
        PRStep("closed", at(D2, "09:00"), CAROL, merged=True),         # cycle 18.5h, size 40
    ))
    h.pull_requests += [pr1, pr2, pr3, pr4, pr5, pr6]

    h.reviews += [
        Review(7001, pr1, BOB, "commented", at(D1, "15:00")),            # the author's own: not a peer review
        Review(7002, pr1, ALICE, "approved", at(D1, "16:00")),           # pr1 pickup 14:00 → 16:00 = 2h (D1)
        Review(7003, pr2, CAROL, "changes_requested", at(D1, "12:30"),   # pr2 pickup 11:00 → 12:30 = 1.5h
               dismissed_at=at(D1, "13:30")),                            # dismissed later: still submitted
        Review(7004, pr2, BOB, "approved", at(D2, "09:00")),
        Review(7005, pr5, BOB, "commented", at(D3, "10:00")),            # on a draft: counts as a review
        Review(7006, pr4, REVIEW_BOT, "commented", at(D2, "13:30")),     # a bot: nowhere in people metrics
        Review(7101, pr6, ALICE, "approved", at(D1, "18:30")),           # web pickup 14:30 → 18:30 = 4h
    ]


def _commit(commit: Commit, repo: Repo, distinct: bool = True) -> dict[str, Any]:
    email = f"{commit.author.id}+{commit.author.login}@users.noreply.github.com"
    person = {"name": commit.author.login, "email": email, "username": commit.author.login}
    return {"id": commit.sha, "tree_id": sha(f"tree-{commit.name}"), "distinct": distinct,
            "message": commit.message, "timestamp": iso(commit.committed_at),
            "url": f"https://github.com/{repo.full_name}/commit/{commit.sha}",
            "author": person, "committer": person, "added": [], "removed": [], "modified": ["README.md"]}


def _render_push(push: Push, seen: set[str]) -> Iterator[Out]:
    commits = [_commit(c, push.repo, distinct=c.sha not in seen) for c in push.commits]
    seen.update(c.sha for c in push.commits)
    body = {
        "ref": f"refs/heads/{push.branch}", "before": push.before, "after": push.commits[-1].sha,
        "created": push.before == "0" * 40, "deleted": False, "forced": False, "base_ref": None,
        "compare": f"https://github.com/{push.repo.full_name}/compare/{push.before[:12]}...{push.commits[-1].sha[:12]}",
        "commits": commits, "head_commit": commits[-1],
        "pusher": {"name": push.pusher.login, "email": f"{push.pusher.login}@example.com"},
    }
    payload = envelope(None, push.pusher, **body)
    payload["repository"] = repo_json(push.repo, pushed=push.at)
    yield Out(push.at, "push", f"push:{push.repo.id}:{push.branch}:{push.at}", payload)


def pr_snapshot(pr: PullRequest, upto: int) -> dict[str, Any]:
    state, draft, closed_at, merged_at, updated = "open", False, None, None, pr.steps[0].at
    merged_by = None
    for step in pr.steps[: upto + 1]:
        updated = step.at
        if step.action == "opened":
            draft = step.draft
        elif step.action == "ready_for_review":
            draft = False
        elif step.action == "converted_to_draft":
            draft = True
        elif step.action == "closed":
            state, closed_at = "closed", step.at
            if step.merged:
                merged_at, merged_by = step.at, step.actor
        elif step.action == "reopened":
            state, closed_at = "open", None
    repo = repo_json(pr.repo)
    return {
        "url": f"https://api.github.com/repos/{pr.repo.full_name}/pulls/{pr.number}", "id": pr.id,
        "node_id": f"PR_{pr.id}", "html_url": f"https://github.com/{pr.repo.full_name}/pull/{pr.number}",
        "number": pr.number, "state": state, "locked": False, "title": pr.title, "user": user_json(pr.author),
        "body": None, "created_at": iso(pr.steps[0].at), "updated_at": iso(updated),
        "closed_at": iso(closed_at) if closed_at else None,
        "merged_at": iso(merged_at) if merged_at else None, "merge_commit_sha": sha(f"merge-{pr.id}"),
        "assignee": None, "assignees": [], "requested_reviewers": [],
        "requested_teams": [], "labels": [], "milestone": None, "draft": draft,
        "head": {"label": f"{ORG}:pr-{pr.number}", "ref": f"pr-{pr.number}", "sha": pr.head.sha,
                 "user": user_json(pr.author), "repo": repo},
        "base": {"label": f"{ORG}:{pr.repo.default_branch}", "ref": pr.repo.default_branch,
                 "sha": sha(f"base-{pr.repo.name}"), "user": user_json(User(ORG, ORG_ID, "Organization")),
                 "repo": repo},
        "author_association": "MEMBER", "auto_merge": None, "active_lock_reason": None,
        "merged": merged_at is not None, "mergeable": None, "rebaseable": None, "mergeable_state": "unknown",
        "merged_by": user_json(merged_by) if merged_by else None, "comments": 0, "review_comments": 0,
        "maintainer_can_modify": False, "commits": 1, "additions": pr.additions, "deletions": pr.deletions,
        "changed_files": 1,
    }


def _render_pr(pr: PullRequest) -> Iterator[Out]:
    for index, step in enumerate(pr.steps):
        payload = envelope(pr.repo, step.actor, action=step.action, number=pr.number,
                            pull_request=pr_snapshot(pr, index))
        yield Out(step.at, "pull_request", f"pr:{pr.id}:{index}", payload)


def _render_review(review: Review) -> Iterator[Out]:
    pr = review.pr
    upto = max(i for i, s in enumerate(pr.steps) if s.at <= review.at)
    snapshot = {**pr_snapshot(pr, upto), "updated_at": iso(review.at)}
    for action, moment, state in (("submitted", review.at, review.state),
                                  ("dismissed", review.dismissed_at, "dismissed")):
        if moment is None:
            continue
        body = {"id": review.id, "node_id": f"PRR_{review.id}", "user": user_json(review.reviewer), "body": None,
                "commit_id": pr.head.sha, "submitted_at": iso(review.at), "state": state,
                "html_url": f"https://github.com/{pr.repo.full_name}/pull/{pr.number}#pullrequestreview-{review.id}",
                "author_association": "MEMBER"}
        payload = envelope(pr.repo, review.reviewer, action=action, review=body, pull_request=snapshot)
        yield Out(moment, "pull_request_review", f"review:{review.id}:{action}", payload)


def _render_branches(h: History) -> Iterator[Out]:
    for repo, ref, created, deleted in h.branches:
        yield Out(created, "create", f"create:{repo.id}:{ref}",
                   envelope(repo, BOB, ref=ref, ref_type="branch", master_branch="main", description=None,
                             pusher_type="user"))
        yield Out(deleted, "delete", f"delete:{repo.id}:{ref}",
                   envelope(repo, BOB, ref=ref, ref_type="branch", pusher_type="user"))


def render(h: History) -> Iterator[Out]:
    """The pillar's deliveries: push, pull_request, pull_request_review, create and delete."""
    seen: set[str] = set()
    for push in sorted(h.pushes, key=lambda p: p.at):
        yield from _render_push(push, seen)
    for pr in h.pull_requests:
        yield from _render_pr(pr)
    for review in h.reviews:
        yield from _render_review(review)
    yield from _render_branches(h)


# --- the answers, by hand (keys: see tests/scenario/__init__.py) --------------------------------------

EXPECTED_DAILY: dict[tuple[date, str, str | None, str], float] = {
    # --- D1 ---------------------------------------------------------------------------------------
    (D1, ORG, A, "commits"): 2,                        # c1, c2 (c3 is on a feature branch)
    (D1, ORG, A, "commit_authors"): 1,                 # alice
    (D1, ORG, A, "prs_opened"): 2,                     # #1 (draft), #2
    (D1, ORG, A, "pr_pickup_time_hours_p50"): 1.75,    # #1: 2h, #2: 1.5h
    (D1, ORG, W, "commits"): 1,
    (D1, ORG, W, "commit_authors"): 1,
    (D1, ORG, W, "prs_opened"): 1,
    (D1, ORG, W, "pr_pickup_time_hours_p50"): 4,
    (D1, ORG, ALL, "commits"): 3,
    (D1, ORG, ALL, "commit_authors"): 2,                 # alice, carol
    (D1, ORG, ALL, "prs_opened"): 3,
    (D1, ORG, ALL, "pr_pickup_time_hours_p50"): 2,       # 1.5, 2, 4
    # --- D2 ---------------------------------------------------------------------------------------
    (D2, ORG, A, "commits"): 3,                        # c3, m1, d1
    (D2, ORG, A, "commit_authors"): 1,                 # bob (dependabot is a bot)
    (D2, ORG, A, "prs_opened"): 2,                     # #3 (a bot's: still a pull request), #4
    (D2, ORG, A, "prs_merged"): 3,                     # #1, #2, #3
    (D2, ORG, A, "pr_cycle_time_hours_p50"): 23,       # 0.5, 23, 24 55/60
    (D2, ORG, A, "pr_cycle_time_hours_p90"): 23 + 0.8 * (24 + 55 / 60 - 23),
    (D2, ORG, A, "pr_size_lines_p50"): 15,             # 4, 15, 150
    (D2, ORG, A, "prs_merged_without_review"): 1,      # #3
    (D2, ORG, W, "prs_merged"): 1,
    (D2, ORG, W, "pr_cycle_time_hours_p50"): 18.5,
    (D2, ORG, W, "pr_cycle_time_hours_p90"): 18.5,
    (D2, ORG, W, "pr_size_lines_p50"): 40,
    (D2, ORG, ALL, "commits"): 3,
    (D2, ORG, ALL, "commit_authors"): 1,
    (D2, ORG, ALL, "prs_opened"): 2,
    (D2, ORG, ALL, "prs_merged"): 4,
    (D2, ORG, ALL, "pr_cycle_time_hours_p50"): 20.75,    # 0.5, 18.5, 23, 24 55/60
    (D2, ORG, ALL, "pr_cycle_time_hours_p90"): 23 + 0.7 * (24 + 55 / 60 - 23),
    (D2, ORG, ALL, "pr_size_lines_p50"): 27.5,           # 4, 15, 40, 150
    (D2, ORG, ALL, "prs_merged_without_review"): 1,
    # --- D3 ---------------------------------------------------------------------------------------
    (D3, ORG, A, "commits"): 2,                        # c4, c5
    (D3, ORG, A, "commit_authors"): 2,                 # alice, carol
    (D3, ORG, A, "prs_opened"): 1,                     # #5
    (D3, ORG, A, "prs_closed_unmerged"): 1,            # #4, closed again after its reopening
    (D3, ORG, ALL, "commits"): 2,
    (D3, ORG, ALL, "commit_authors"): 2,
    (D3, ORG, ALL, "prs_opened"): 1,
    (D3, ORG, ALL, "prs_closed_unmerged"): 1,
}

EXPECTED_WINDOWS: dict[tuple[date, str, str | None, str, int], float] = {
    (D3, ORG, A, "commits", 7): 7,                                 # 2 + 3 + 2
    (D3, ORG, A, "commit_authors", 7): 3,                          # alice, bob, carol
    (D3, ORG, A, "pr_cycle_time_hours_p50", 7): 23,
    (D3, ORG, ALL, "pr_pickup_time_hours_p50", 28): 2,               # 1.5, 2, 4
    (D2, ORG, W, "commits", 7): 1,                                 # web had nothing on D2: D1's push
}
