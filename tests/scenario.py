"""A small organisation's three days on GitHub, as plain data, rendered to webhook deliveries with the
metric values worked out by hand.

The history (dataclasses below) is the single source: :func:`render` turns it into deliveries shaped like
GitHub's (tests/fixtures/webhooks), and a fake REST API can later serve the same history. The expected
values in :data:`EXPECTED_DAILY` and :data:`EXPECTED_WINDOWS` are written out by hand from the story in
:func:`acme_history`'s comments, not computed by code, so they check the SQL rather than mirror it.

Organisation "acme"; repositories acme/api (Python) and acme/web (TypeScript), default branch "main".
Days: D1 = 2024-03-04, D2 = 2024-03-05, D3 = 2024-03-06 (UTC). Humans: alice, bob, carol.
Bots: dependabot[bot] (type Bot) and review-bot[bot] (type Bot).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

ORG = "acme"
ORG_ID = 9000
D1, D2, D3 = date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 6)
_NAMESPACE = uuid.UUID("6d1f0c1e-3b0e-4f7a-9a51-2f1f5e2b8c01")
_REPO_CREATED = datetime(2023, 1, 10, 9, 0, tzinfo=UTC)
_REPO_UPDATED = datetime(2024, 2, 1, 9, 0, tzinfo=UTC)


def at(day: date, hhmm: str) -> datetime:
    hours, minutes = hhmm.split(":")
    return datetime(day.year, day.month, day.day, int(hours), int(minutes), tzinfo=UTC)


def sha(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()  # noqa: S324 - a fake commit id, not security


# --- the history as data ----------------------------------------------------------------------------

@dataclass(frozen=True)
class User:
    login: str
    id: int
    type: str = "User"


@dataclass(frozen=True)
class Repo:
    id: int
    name: str
    language: str
    default_branch: str = "main"

    @property
    def full_name(self) -> str:
        return f"{ORG}/{self.name}"


@dataclass(frozen=True)
class Commit:
    name: str  # a readable handle; the SHA is derived from it
    author: User
    committed_at: datetime
    message: str = "change"

    @property
    def sha(self) -> str:
        return sha(self.name)


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


@dataclass(frozen=True)
class CheckRun:
    id: int
    repo: Repo
    name: str
    head: Commit
    started_at: datetime
    completed_at: datetime
    conclusion: str
    suite_id: int


@dataclass(frozen=True)
class Attempt:
    started_at: datetime
    completed_at: datetime
    conclusion: str


@dataclass(frozen=True)
class WorkflowRun:
    id: int
    repo: Repo
    name: str
    head: Commit
    attempts: tuple[Attempt, ...]
    actor: User


@dataclass(frozen=True)
class Status:
    id: int
    state: str
    at: datetime


@dataclass(frozen=True)
class Deployment:
    id: int
    repo: Repo
    head: Commit
    environment: str
    created_at: datetime
    creator: User
    statuses: tuple[Status, ...]


@dataclass(frozen=True)
class IssueStep:
    action: str  # opened | labeled | closed | reopened
    at: datetime
    label: str | None = None


@dataclass(frozen=True)
class Issue:
    id: int
    number: int
    repo: Repo
    author: User
    title: str
    labels: tuple[str, ...]  # labels it is opened with
    steps: tuple[IssueStep, ...]


@dataclass(frozen=True)
class OrgEvent:
    """organization / team / membership deliveries (no repository)."""

    event: str
    action: str
    at: datetime
    user: User | None = None
    team: tuple[int, str] | None = None  # (id, slug)
    repo: Repo | None = None


@dataclass(frozen=True)
class Release:
    id: int
    repo: Repo
    tag: str
    author: User
    at: datetime


@dataclass
class History:
    repos: list[Repo] = field(default_factory=list)
    pushes: list[Push] = field(default_factory=list)
    pull_requests: list[PullRequest] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    check_runs: list[CheckRun] = field(default_factory=list)
    workflow_runs: list[WorkflowRun] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    org_events: list[OrgEvent] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)
    branches: list[tuple[Repo, str, datetime, datetime]] = field(default_factory=list)  # created, deleted


ALICE, BOB, CAROL = User("alice", 101), User("bob", 102), User("carol", 103)
DEPENDABOT = User("dependabot[bot]", 49699333, "Bot")
REVIEW_BOT = User("review-bot[bot]", 49699334, "Bot")
API = Repo(1001, "api", "Python")
WEB = Repo(1002, "web", "TypeScript")


def acme_history() -> History:
    h = History(repos=[API, WEB])
    # Commits. "Landed" = first pushed to main; lead time runs from committed_at.
    c1 = Commit("c1", ALICE, at(D1, "08:00"))
    c2 = Commit("c2", ALICE, at(D1, "08:30"))
    c3 = Commit("c3", BOB, at(D1, "09:45"))  # on a feature branch first, lands with PR #1's merge
    m1 = Commit("m1", BOB, at(D2, "11:00"), "Merge pull request #1")
    d1 = Commit("d1", DEPENDABOT, at(D2, "11:59"), "Bump requests")
    c4 = Commit("c4", ALICE, at(D3, "08:00"))
    c5 = Commit("c5", CAROL, at(D3, "08:30"))  # authored by carol, pushed by alice
    c6 = Commit("c6", CAROL, at(D1, "13:00"))  # web
    x1 = Commit("x1", CAROL, at(D2, "12:50"))  # PR #4's head, never pushed to main

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

    def run(id_: int, repo: Repo, name: str, head: Commit, day: date, start: str, end: str, conclusion: str
            ) -> CheckRun:
        return CheckRun(id_, repo, name, head, at(day, start), at(day, end), conclusion, 100_000 + id_ // 10)

    h.check_runs += [
        run(9001, API, "test", c3, D1, "10:10", "10:20", "failure"),     # } same SHA and name: flaky on D1
        run(9002, API, "test", c3, D1, "10:30", "10:42", "success"),     # }
        run(9003, API, "lint", c3, D1, "10:10", "10:13", "success"),
        run(9004, API, "test", m1, D2, "11:05", "11:15", "success"),
        run(9005, API, "lint", m1, D2, "11:05", "11:06", "neutral"),     # not decisive: out of rate/duration
        run(9006, API, "e2e", m1, D2, "11:05", "11:35", "timed_out"),    # } timed_out + success: not flaky
        run(9007, API, "e2e", m1, D3, "08:00", "08:20", "success"),      # }
        run(9008, API, "build", c4, D3, "09:05", "09:15", "failure"),    # } flaky on D3
        run(9009, API, "build", c4, D3, "09:20", "09:30", "success"),    # }
        run(9010, WEB, "test", c6, D1, "14:05", "14:25", "success"),
    ]

    h.workflow_runs += [
        WorkflowRun(8001, API, "CI", c3, (Attempt(at(D1, "10:05"), at(D1, "10:45"), "failure"),
                                           Attempt(at(D1, "11:00"), at(D1, "11:20"), "success")), BOB),
        WorkflowRun(8002, API, "CI", m1, (Attempt(at(D2, "11:05"), at(D2, "11:40"), "success"),), BOB),
        WorkflowRun(8003, API, "Deploy", m1, (Attempt(at(D2, "11:05"), at(D2, "11:50"), "cancelled"),), BOB),
        WorkflowRun(8004, API, "CI", c5, (Attempt(at(D3, "09:05"), at(D3, "09:40"), "failure"),), ALICE),
    ]

    def deployment(id_: int, repo: Repo, head: Commit, environment: str, created: datetime, creator: User,
                   *statuses: tuple[int, str, datetime]) -> Deployment:
        return Deployment(id_, repo, head, environment, created, creator, tuple(Status(*s) for s in statuses))

    h.deployments += [
        deployment(6001, API, c2, "production", at(D1, "12:00"), ALICE,
                   (6101, "in_progress", at(D1, "12:00")), (6102, "success", at(D1, "12:10"))),
        deployment(6002, API, m1, "staging", at(D2, "11:30"), BOB, (6201, "success", at(D2, "11:40"))),
        deployment(6003, API, m1, "production", at(D2, "12:30"), BOB, (6301, "failure", at(D2, "12:40"))),
        deployment(6004, API, d1, "Production", at(D2, "13:00"), BOB, (6401, "success", at(D2, "13:20"))),
        deployment(6005, API, c5, "production", at(D3, "10:00"), ALICE, (6501, "error", at(D3, "10:05"))),
        deployment(6006, API, c5, "production", at(D3, "11:00"), ALICE, (6601, "success", at(D3, "11:15"))),
        deployment(6007, WEB, c6, "production", at(D1, "15:00"), CAROL, (6701, "success", at(D1, "15:10"))),
    ]

    h.issues += [
        Issue(4001, 10, API, CAROL, "API down", ("incident",), (
            IssueStep("opened", at(D1, "13:00")), IssueStep("closed", at(D1, "17:00")))),      # TTR 4h on D1
        Issue(4002, 11, API, ALICE, "Slow queries", ("bug",), (
            IssueStep("opened", at(D2, "09:00")), IssueStep("labeled", at(D2, "09:30"), "incident"),
            IssueStep("closed", at(D3, "09:00")))),                                         # TTR 24h on D3
        Issue(4003, 12, API, BOB, "Typo", ("bug",), (IssueStep("opened", at(D2, "10:00")),)),  # no incident
    ]

    backend = (3001, "backend")
    h.org_events += [
        OrgEvent("organization", "member_added", at(D1, "07:00"), user=CAROL),
        OrgEvent("team", "created", at(D1, "07:05"), team=backend),
        OrgEvent("membership", "added", at(D1, "07:10"), user=BOB, team=backend),
        OrgEvent("team", "added_to_repository", at(D1, "07:15"), team=backend, repo=API),
        OrgEvent("membership", "removed", at(D3, "18:00"), user=BOB, team=backend),
    ]
    h.releases.append(Release(11001, API, "v1.0.0", ALICE, at(D3, "12:00")))
    return h


# --- rendering to webhook payloads ------------------------------------------------------------------

def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _user(user: User) -> dict[str, Any]:
    return {"login": user.login, "id": user.id, "node_id": f"U_{user.id}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user.id}?v=4", "gravatar_id": "",
            "url": f"https://api.github.com/users/{user.login}", "html_url": f"https://github.com/{user.login}",
            "type": user.type, "site_admin": False}


def _org() -> dict[str, Any]:
    return {"login": ORG, "id": ORG_ID, "node_id": f"O_{ORG_ID}", "url": f"https://api.github.com/orgs/{ORG}",
            "description": ""}


def _repo(repo: Repo, pushed: datetime | None = None) -> dict[str, Any]:
    pushed_at: Any = int(pushed.timestamp()) if pushed else _iso(_REPO_UPDATED)
    return {
        "id": repo.id, "node_id": f"R_{repo.id}", "name": repo.name, "full_name": repo.full_name,
        "private": True, "owner": {**_user(User(ORG, ORG_ID, "Organization"))},
        "html_url": f"https://github.com/{repo.full_name}", "description": None, "fork": False,
        "url": f"https://api.github.com/repos/{repo.full_name}",
        "created_at": int(_REPO_CREATED.timestamp()) if pushed else _iso(_REPO_CREATED),
        "updated_at": _iso(_REPO_UPDATED), "pushed_at": pushed_at, "language": repo.language,
        "archived": False, "disabled": False, "default_branch": repo.default_branch,
        "visibility": "private", "topics": [],
        **({"master_branch": repo.default_branch} if pushed else {}),
    }


def _envelope(repo: Repo | None, sender: User, **body: Any) -> dict[str, Any]:
    payload = dict(body)
    if repo is not None:
        payload["repository"] = _repo(repo)
    payload["organization"] = _org()
    payload["sender"] = _user(sender)
    return payload


def _commit(commit: Commit, repo: Repo, distinct: bool = True) -> dict[str, Any]:
    email = f"{commit.author.id}+{commit.author.login}@users.noreply.github.com"
    person = {"name": commit.author.login, "email": email, "username": commit.author.login}
    return {"id": commit.sha, "tree_id": sha(f"tree-{commit.name}"), "distinct": distinct,
            "message": commit.message, "timestamp": _iso(commit.committed_at),
            "url": f"https://github.com/{repo.full_name}/commit/{commit.sha}",
            "author": person, "committer": person, "added": [], "removed": [], "modified": ["README.md"]}


@dataclass(frozen=True)
class _Out:
    at: datetime
    event: str
    key: str
    payload: dict[str, Any]


def _render_push(push: Push, seen: set[str]) -> Iterator[_Out]:
    commits = [_commit(c, push.repo, distinct=c.sha not in seen) for c in push.commits]
    seen.update(c.sha for c in push.commits)
    body = {
        "ref": f"refs/heads/{push.branch}", "before": push.before, "after": push.commits[-1].sha,
        "created": push.before == "0" * 40, "deleted": False, "forced": False, "base_ref": None,
        "compare": f"https://github.com/{push.repo.full_name}/compare/{push.before[:12]}...{push.commits[-1].sha[:12]}",
        "commits": commits, "head_commit": commits[-1],
        "pusher": {"name": push.pusher.login, "email": f"{push.pusher.login}@example.com"},
    }
    payload = _envelope(None, push.pusher, **body)
    payload["repository"] = _repo(push.repo, pushed=push.at)
    yield _Out(push.at, "push", f"push:{push.repo.id}:{push.branch}:{push.at}", payload)


def _pr_snapshot(pr: PullRequest, upto: int) -> dict[str, Any]:
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
    repo = _repo(pr.repo)
    return {
        "url": f"https://api.github.com/repos/{pr.repo.full_name}/pulls/{pr.number}", "id": pr.id,
        "node_id": f"PR_{pr.id}", "html_url": f"https://github.com/{pr.repo.full_name}/pull/{pr.number}",
        "number": pr.number, "state": state, "locked": False, "title": pr.title, "user": _user(pr.author),
        "body": None, "created_at": _iso(pr.steps[0].at), "updated_at": _iso(updated),
        "closed_at": _iso(closed_at) if closed_at else None,
        "merged_at": _iso(merged_at) if merged_at else None, "merge_commit_sha": sha(f"merge-{pr.id}"),
        "assignee": None, "assignees": [], "requested_reviewers": [],
        "requested_teams": [], "labels": [], "milestone": None, "draft": draft,
        "head": {"label": f"{ORG}:pr-{pr.number}", "ref": f"pr-{pr.number}", "sha": pr.head.sha,
                 "user": _user(pr.author), "repo": repo},
        "base": {"label": f"{ORG}:{pr.repo.default_branch}", "ref": pr.repo.default_branch,
                 "sha": sha(f"base-{pr.repo.name}"), "user": _user(User(ORG, ORG_ID, "Organization")),
                 "repo": repo},
        "author_association": "MEMBER", "auto_merge": None, "active_lock_reason": None,
        "merged": merged_at is not None, "mergeable": None, "rebaseable": None, "mergeable_state": "unknown",
        "merged_by": _user(merged_by) if merged_by else None, "comments": 0, "review_comments": 0,
        "maintainer_can_modify": False, "commits": 1, "additions": pr.additions, "deletions": pr.deletions,
        "changed_files": 1,
    }


def _render_pr(pr: PullRequest) -> Iterator[_Out]:
    for index, step in enumerate(pr.steps):
        payload = _envelope(pr.repo, step.actor, action=step.action, number=pr.number,
                            pull_request=_pr_snapshot(pr, index))
        yield _Out(step.at, "pull_request", f"pr:{pr.id}:{index}", payload)


def _render_review(review: Review) -> Iterator[_Out]:
    pr = review.pr
    upto = max(i for i, s in enumerate(pr.steps) if s.at <= review.at)
    snapshot = {**_pr_snapshot(pr, upto), "updated_at": _iso(review.at)}
    for action, moment, state in (("submitted", review.at, review.state),
                                  ("dismissed", review.dismissed_at, "dismissed")):
        if moment is None:
            continue
        body = {"id": review.id, "node_id": f"PRR_{review.id}", "user": _user(review.reviewer), "body": None,
                "commit_id": pr.head.sha, "submitted_at": _iso(review.at), "state": state,
                "html_url": f"https://github.com/{pr.repo.full_name}/pull/{pr.number}#pullrequestreview-{review.id}",
                "author_association": "MEMBER"}
        payload = _envelope(pr.repo, review.reviewer, action=action, review=body, pull_request=snapshot)
        yield _Out(moment, "pull_request_review", f"review:{review.id}:{action}", payload)


def _render_check_run(run: CheckRun) -> Iterator[_Out]:
    for action, moment in (("created", run.started_at), ("completed", run.completed_at)):
        done = action == "completed"
        body = {
            "id": run.id, "node_id": f"CR_{run.id}", "head_sha": run.head.sha, "external_id": "",
            "html_url": f"https://github.com/{run.repo.full_name}/runs/{run.id}",
            "status": "completed" if done else "in_progress", "conclusion": run.conclusion if done else None,
            "started_at": _iso(run.started_at), "completed_at": _iso(run.completed_at) if done else None,
            "output": {"title": None, "summary": None, "text": None, "annotations_count": 0},
            "name": run.name,
            "check_suite": {"id": run.suite_id, "head_branch": "main", "head_sha": run.head.sha},
            "app": {"id": 15368, "slug": "github-actions", "name": "GitHub Actions"}, "pull_requests": [],
        }
        payload = _envelope(run.repo, ALICE, action=action, check_run=body)
        yield _Out(moment, "check_run", f"check_run:{run.id}:{action}", payload)


def _render_check_suites(runs: list[CheckRun]) -> Iterator[_Out]:
    suites: dict[int, list[CheckRun]] = {}
    for run in runs:
        suites.setdefault(run.suite_id, []).append(run)
    for suite_id, members in sorted(suites.items()):
        first, done = min(r.started_at for r in members), max(r.completed_at for r in members)
        failed = any(r.conclusion in ("failure", "timed_out") for r in members)
        body = {"id": suite_id, "node_id": f"CS_{suite_id}", "head_branch": "main",
                "head_sha": members[0].head.sha,
                "status": "completed", "conclusion": "failure" if failed else "success",
                "before": None, "after": members[0].head.sha, "pull_requests": [],
                "app": {"id": 15368, "slug": "github-actions", "name": "GitHub Actions"},
                "created_at": _iso(first), "updated_at": _iso(done), "latest_check_runs_count": len(members)}
        payload = _envelope(members[0].repo, ALICE, action="completed", check_suite=body)
        yield _Out(done, "check_suite", f"check_suite:{suite_id}", payload)


def _render_workflow_run(run: WorkflowRun) -> Iterator[_Out]:
    created = run.attempts[0].started_at
    for number, attempt in enumerate(run.attempts, start=1):
        for action, moment in (("requested", attempt.started_at), ("completed", attempt.completed_at)):
            done = action == "completed"
            body = {
                "id": run.id, "name": run.name, "node_id": f"WR_{run.id}", "head_branch": "main",
                "head_sha": run.head.sha, "path": ".github/workflows/ci.yml", "display_title": run.name,
                "run_number": run.id % 1000, "event": "push", "status": "completed" if done else "queued",
                "conclusion": attempt.conclusion if done else None, "workflow_id": 77,
                "check_suite_id": 200_000 + run.id,
                "html_url": f"https://github.com/{run.repo.full_name}/actions/runs/{run.id}",
                "pull_requests": [], "created_at": _iso(created), "updated_at": _iso(moment),
                "actor": _user(run.actor), "triggering_actor": _user(run.actor), "run_attempt": number,
                "run_started_at": _iso(attempt.started_at),
            }
            payload = _envelope(run.repo, run.actor, action=action, workflow_run=body,
                                workflow={"id": 77, "name": run.name, "path": ".github/workflows/ci.yml"})
            yield _Out(moment, "workflow_run", f"workflow_run:{run.id}:{number}:{action}", payload)
        job = {"id": run.id * 10 + number, "run_id": run.id, "run_attempt": number, "head_sha": run.head.sha,
               "head_branch": "main", "status": "completed", "conclusion": attempt.conclusion,
               "created_at": _iso(attempt.started_at), "started_at": _iso(attempt.started_at),
               "completed_at": _iso(attempt.completed_at), "name": "build", "steps": [],
               "labels": ["ubuntu-latest"], "runner_name": "GitHub Actions 2", "workflow_name": run.name}
        payload = _envelope(run.repo, run.actor, action="completed", workflow_job=job)
        yield _Out(attempt.completed_at, "workflow_job", f"workflow_job:{run.id}:{number}", payload)


def _deployment_body(dep: Deployment, updated: datetime) -> dict[str, Any]:
    return {"url": f"https://api.github.com/repos/{dep.repo.full_name}/deployments/{dep.id}", "id": dep.id,
            "node_id": f"DE_{dep.id}", "sha": dep.head.sha, "ref": dep.repo.default_branch, "task": "deploy",
            "payload": {}, "original_environment": dep.environment, "environment": dep.environment,
            "description": None, "creator": _user(dep.creator), "created_at": _iso(dep.created_at),
            "updated_at": _iso(updated)}


def _render_deployment(dep: Deployment) -> Iterator[_Out]:
    created = _envelope(dep.repo, dep.creator, action="created",
                        deployment=_deployment_body(dep, dep.created_at))
    yield _Out(dep.created_at, "deployment", f"deployment:{dep.id}", created)
    for status in dep.statuses:
        body = {"id": status.id, "node_id": f"DES_{status.id}", "state": status.state,
                "creator": _user(dep.creator), "description": "", "environment": dep.environment,
                "created_at": _iso(status.at), "updated_at": _iso(status.at)}
        payload = _envelope(dep.repo, dep.creator, action="created", deployment_status=body,
                            deployment=_deployment_body(dep, status.at))
        yield _Out(status.at, "deployment_status", f"deployment_status:{status.id}", payload)


def _render_issue(issue: Issue) -> Iterator[_Out]:
    labels, state, closed_at = list(issue.labels), "open", None
    for index, step in enumerate(issue.steps):
        if step.action == "labeled" and step.label:
            labels.append(step.label)
        elif step.action == "closed":
            state, closed_at = "closed", step.at
        elif step.action == "reopened":
            state, closed_at = "open", None
        body = {"id": issue.id, "node_id": f"I_{issue.id}", "number": issue.number, "title": issue.title,
                "html_url": f"https://github.com/{issue.repo.full_name}/issues/{issue.number}",
                "user": _user(issue.author),
                "labels": [{"id": int(sha(n)[:8], 16), "name": n, "color": "d73a4a", "default": False}
                           for n in labels],
                "state": state, "locked": False, "assignee": None, "assignees": [], "milestone": None,
                "comments": 0, "created_at": _iso(issue.steps[0].at), "updated_at": _iso(step.at),
                "closed_at": _iso(closed_at) if closed_at else None, "author_association": "MEMBER",
                "body": None}
        extra = {"label": {"name": step.label}} if step.action == "labeled" else {}
        payload = _envelope(issue.repo, issue.author, action=step.action, issue=body, **extra)
        yield _Out(step.at, "issues", f"issue:{issue.id}:{index}", payload)


def _render_org_event(ev: OrgEvent, index: int) -> Iterator[_Out]:
    body: dict[str, Any] = {"action": ev.action}
    if ev.team:
        team_id, slug = ev.team
        body["team"] = {"id": team_id, "node_id": f"T_{team_id}", "slug": slug, "name": slug,
                        "privacy": "closed", "permission": "push", "parent": None}
    if ev.event == "membership" and ev.user:
        body |= {"scope": "team", "member": _user(ev.user)}
    if ev.event == "organization" and ev.user:
        body["membership"] = {"user": _user(ev.user), "role": "member", "state": "active",
                              "url": f"https://api.github.com/orgs/{ORG}/memberships/{ev.user.login}"}
    payload = _envelope(ev.repo, ALICE, **body)
    yield _Out(ev.at, ev.event, f"org:{index}", payload)


def _render_release(rel: Release) -> Iterator[_Out]:
    body = {"id": rel.id, "node_id": f"RE_{rel.id}", "tag_name": rel.tag, "target_commitish": "main",
            "name": rel.tag, "draft": False, "author": _user(rel.author), "prerelease": False,
            "created_at": _iso(rel.at), "published_at": _iso(rel.at), "assets": [], "body": None}
    payload = _envelope(rel.repo, rel.author, action="published", release=body)
    yield _Out(rel.at, "release", f"release:{rel.id}", payload)


def _render_branches(h: History) -> Iterator[_Out]:
    for repo, ref, created, deleted in h.branches:
        yield _Out(created, "create", f"create:{repo.id}:{ref}",
                   _envelope(repo, BOB, ref=ref, ref_type="branch", master_branch="main", description=None,
                             pusher_type="user"))
        yield _Out(deleted, "delete", f"delete:{repo.id}:{ref}",
                   _envelope(repo, BOB, ref=ref, ref_type="branch", pusher_type="user"))


def render(h: History) -> list[_Out]:
    out: list[_Out] = []
    seen: set[str] = set()
    for push in sorted(h.pushes, key=lambda p: p.at):
        out += _render_push(push, seen)
    for pr in h.pull_requests:
        out += _render_pr(pr)
    for review in h.reviews:
        out += _render_review(review)
    for run in h.check_runs:
        out += _render_check_run(run)
    out += _render_check_suites(h.check_runs)
    for wf in h.workflow_runs:
        out += _render_workflow_run(wf)
    for dep in h.deployments:
        out += _render_deployment(dep)
    for issue in h.issues:
        out += _render_issue(issue)
    for index, ev in enumerate(h.org_events):
        out += _render_org_event(ev, index)
    for rel in h.releases:
        out += _render_release(rel)
    out += _render_branches(h)
    ping = {"zen": "Keep it logically awesome.", "hook_id": 1, "hook": {"type": "Organization", "id": 1},
            "organization": _org(), "sender": _user(ALICE)}
    out.append(_Out(at(D1, "06:00"), "ping", "ping", ping))  # an event the metrics ignore
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


# --- the answers, by hand ---------------------------------------------------------------------------
# Keys: (day, org, repository full name or None for the organisation roll-up, metric) → value of the
# 1-day window. Every (day, org, repo, metric) not listed has no row (a count of 0, or no data).

A, W, ALL = "acme/api", "acme/web", None
EXPECTED_DAILY: dict[tuple[date, str, str | None, str], float] = {
    # --- D1 ---------------------------------------------------------------------------------------
    (D1, ORG, A, "commits"): 2,                        # c1, c2 (c3 is on a feature branch)
    (D1, ORG, A, "commit_authors"): 1,                 # alice
    (D1, ORG, A, "prs_opened"): 2,                     # #1 (draft), #2
    (D1, ORG, A, "pr_pickup_time_hours_p50"): 1.75,    # #1: 2h, #2: 1.5h
    (D1, ORG, A, "check_runs_completed"): 3,
    (D1, ORG, A, "check_success_rate"): 2 / 3,
    (D1, ORG, A, "check_duration_minutes_p50"): 10,    # 3, 10, 12
    (D1, ORG, A, "flaky_checks"): 1,                   # test on c3
    (D1, ORG, A, "workflow_runs_completed"): 1,        # run 8001, its attempt 2 succeeded
    (D1, ORG, A, "workflow_success_rate"): 1,
    (D1, ORG, A, "deployments"): 1,
    (D1, ORG, A, "change_failure_rate"): 0,
    (D1, ORG, A, "lead_time_hours_p50"): (25 / 6 + 11 / 3) / 2,  # c1 4h10m, c2 3h40m
    (D1, ORG, A, "incidents_opened"): 1,
    (D1, ORG, A, "time_to_restore_hours_p50"): 4,
    (D1, ORG, A, "active_contributors"): 3,            # alice, bob, carol
    (D1, ORG, A, "reviewers_active"): 2,               # alice, carol (bob's own review is not a peer one)
    (D1, ORG, A, "reviews_submitted"): 2,
    (D1, ORG, A, "review_load_top_share"): 0.5,
    (D1, ORG, W, "commits"): 1,
    (D1, ORG, W, "commit_authors"): 1,
    (D1, ORG, W, "prs_opened"): 1,
    (D1, ORG, W, "pr_pickup_time_hours_p50"): 4,
    (D1, ORG, W, "check_runs_completed"): 1,
    (D1, ORG, W, "check_success_rate"): 1,
    (D1, ORG, W, "check_duration_minutes_p50"): 20,
    (D1, ORG, W, "deployments"): 1,
    (D1, ORG, W, "change_failure_rate"): 0,
    (D1, ORG, W, "lead_time_hours_p50"): 13 / 6,       # c6 13:00 → 15:10
    (D1, ORG, W, "active_contributors"): 2,            # carol, alice
    (D1, ORG, W, "reviewers_active"): 1,
    (D1, ORG, W, "reviews_submitted"): 1,
    (D1, ORG, W, "review_load_top_share"): 1,
    (D1, ORG, ALL, "commits"): 3,
    (D1, ORG, ALL, "commit_authors"): 2,                 # alice, carol
    (D1, ORG, ALL, "prs_opened"): 3,
    (D1, ORG, ALL, "pr_pickup_time_hours_p50"): 2,       # 1.5, 2, 4
    (D1, ORG, ALL, "check_runs_completed"): 4,
    (D1, ORG, ALL, "check_success_rate"): 0.75,
    (D1, ORG, ALL, "check_duration_minutes_p50"): 11,    # 3, 10, 12, 20
    (D1, ORG, ALL, "flaky_checks"): 1,
    (D1, ORG, ALL, "workflow_runs_completed"): 1,
    (D1, ORG, ALL, "workflow_success_rate"): 1,
    (D1, ORG, ALL, "deployments"): 2,
    (D1, ORG, ALL, "change_failure_rate"): 0,
    (D1, ORG, ALL, "lead_time_hours_p50"): 11 / 3,       # 13/6, 11/3, 25/6
    (D1, ORG, ALL, "incidents_opened"): 1,
    (D1, ORG, ALL, "time_to_restore_hours_p50"): 4,
    (D1, ORG, ALL, "active_contributors"): 3,
    (D1, ORG, ALL, "reviewers_active"): 2,               # alice, carol
    (D1, ORG, ALL, "reviews_submitted"): 3,
    (D1, ORG, ALL, "review_load_top_share"): 2 / 3,      # alice 2 of 3
    # --- D2 ---------------------------------------------------------------------------------------
    (D2, ORG, A, "commits"): 3,                        # c3, m1, d1
    (D2, ORG, A, "commit_authors"): 1,                 # bob (dependabot is a bot)
    (D2, ORG, A, "prs_opened"): 2,                     # #3 (a bot's: still a pull request), #4
    (D2, ORG, A, "prs_merged"): 3,                     # #1, #2, #3
    (D2, ORG, A, "pr_cycle_time_hours_p50"): 23,       # 0.5, 23, 24 55/60
    (D2, ORG, A, "pr_cycle_time_hours_p90"): 23 + 0.8 * (24 + 55 / 60 - 23),
    (D2, ORG, A, "pr_size_lines_p50"): 15,             # 4, 15, 150
    (D2, ORG, A, "prs_merged_without_review"): 1,      # #3
    (D2, ORG, A, "check_runs_completed"): 3,
    (D2, ORG, A, "check_success_rate"): 0.5,           # success, timed_out (neutral left out)
    (D2, ORG, A, "check_duration_minutes_p50"): 20,    # 10, 30
    (D2, ORG, A, "workflow_runs_completed"): 2,
    (D2, ORG, A, "workflow_success_rate"): 0.5,        # success, cancelled
    (D2, ORG, A, "deployments"): 1,                    # 6401 ("Production"); 6201 is staging
    (D2, ORG, A, "deployment_failures"): 1,            # 6301
    (D2, ORG, A, "change_failure_rate"): 0.5,
    (D2, ORG, A, "lead_time_hours_p50"): 7 / 3,        # d1 1h21m, m1 2h20m, c3 27h35m
    (D2, ORG, A, "incidents_opened"): 1,               # #11, labelled after opening
    (D2, ORG, A, "active_contributors"): 2,            # bob (push, review), carol (#4)
    (D2, ORG, A, "reviewers_active"): 1,
    (D2, ORG, A, "reviews_submitted"): 1,              # bob on #2 (review-bot is a bot)
    (D2, ORG, A, "review_load_top_share"): 1,
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
    (D2, ORG, ALL, "check_runs_completed"): 3,
    (D2, ORG, ALL, "check_success_rate"): 0.5,
    (D2, ORG, ALL, "check_duration_minutes_p50"): 20,
    (D2, ORG, ALL, "workflow_runs_completed"): 2,
    (D2, ORG, ALL, "workflow_success_rate"): 0.5,
    (D2, ORG, ALL, "deployments"): 1,
    (D2, ORG, ALL, "deployment_failures"): 1,
    (D2, ORG, ALL, "change_failure_rate"): 0.5,
    (D2, ORG, ALL, "lead_time_hours_p50"): 7 / 3,
    (D2, ORG, ALL, "incidents_opened"): 1,
    (D2, ORG, ALL, "active_contributors"): 2,
    (D2, ORG, ALL, "reviewers_active"): 1,
    (D2, ORG, ALL, "reviews_submitted"): 1,
    (D2, ORG, ALL, "review_load_top_share"): 1,
    # --- D3 ---------------------------------------------------------------------------------------
    (D3, ORG, A, "commits"): 2,                        # c4, c5
    (D3, ORG, A, "commit_authors"): 2,                 # alice, carol
    (D3, ORG, A, "prs_opened"): 1,                     # #5
    (D3, ORG, A, "prs_closed_unmerged"): 1,            # #4, closed again after its reopening
    (D3, ORG, A, "check_runs_completed"): 3,
    (D3, ORG, A, "check_success_rate"): 2 / 3,
    (D3, ORG, A, "check_duration_minutes_p50"): 10,    # 10, 10, 20
    (D3, ORG, A, "flaky_checks"): 1,                   # build on c4
    (D3, ORG, A, "workflow_runs_completed"): 1,
    (D3, ORG, A, "workflow_success_rate"): 0,
    (D3, ORG, A, "deployments"): 1,                    # 6601
    (D3, ORG, A, "deployment_failures"): 1,            # 6501 (error)
    (D3, ORG, A, "change_failure_rate"): 0.5,
    (D3, ORG, A, "lead_time_hours_p50"): 3,            # c5 2h45m, c4 3h15m
    (D3, ORG, A, "time_to_restore_hours_p50"): 24,     # #11
    (D3, ORG, A, "active_contributors"): 2,            # alice (push, #5), bob (review)
    (D3, ORG, A, "reviewers_active"): 1,
    (D3, ORG, A, "reviews_submitted"): 1,
    (D3, ORG, A, "review_load_top_share"): 1,
    (D3, ORG, ALL, "commits"): 2,
    (D3, ORG, ALL, "commit_authors"): 2,
    (D3, ORG, ALL, "prs_opened"): 1,
    (D3, ORG, ALL, "prs_closed_unmerged"): 1,
    (D3, ORG, ALL, "check_runs_completed"): 3,
    (D3, ORG, ALL, "check_success_rate"): 2 / 3,
    (D3, ORG, ALL, "check_duration_minutes_p50"): 10,
    (D3, ORG, ALL, "flaky_checks"): 1,
    (D3, ORG, ALL, "workflow_runs_completed"): 1,
    (D3, ORG, ALL, "workflow_success_rate"): 0,
    (D3, ORG, ALL, "deployments"): 1,
    (D3, ORG, ALL, "deployment_failures"): 1,
    (D3, ORG, ALL, "change_failure_rate"): 0.5,
    (D3, ORG, ALL, "lead_time_hours_p50"): 3,
    (D3, ORG, ALL, "time_to_restore_hours_p50"): 24,
    (D3, ORG, ALL, "active_contributors"): 2,
    (D3, ORG, ALL, "reviewers_active"): 1,
    (D3, ORG, ALL, "reviews_submitted"): 1,
    (D3, ORG, ALL, "review_load_top_share"): 1,
}

# Rolling windows ending on D3: exact over the window's events, not averages of daily figures.
EXPECTED_WINDOWS: dict[tuple[date, str, str | None, str, int], float] = {
    (D3, ORG, A, "commits", 7): 7,                                 # 2 + 3 + 2
    (D3, ORG, A, "commit_authors", 7): 3,                          # alice, bob, carol
    (D3, ORG, A, "check_success_rate", 7): 5 / 8,                  # (2 + 1 + 2) / (3 + 2 + 3)
    (D3, ORG, A, "review_load_top_share", 28): 0.5,                # bob 2 of alice, carol, bob, bob
    (D3, ORG, A, "pr_cycle_time_hours_p50", 7): 23,
    (D3, ORG, ALL, "lead_time_hours_p50", 7): 3,                     # median of 8: (2.75 + 3.25) / 2
    (D3, ORG, ALL, "pr_pickup_time_hours_p50", 28): 2,               # 1.5, 2, 4
    (D3, ORG, ALL, "active_contributors", 7): 3,
    (D3, ORG, ALL, "deployments", 28): 4,
    (D3, ORG, ALL, "change_failure_rate", 7): 2 / 6,
    (D3, ORG, ALL, "reviews_submitted", 7): 5,
    (D2, ORG, W, "commits", 7): 1,                                 # web had nothing on D2: D1's push
    (D2, ORG, ALL, "time_to_restore_hours_p50", 7): 4,
    (D3, ORG, ALL, "time_to_restore_hours_p50", 7): 14,              # 4 and 24
}
