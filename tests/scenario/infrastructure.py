"""Infrastructure: deployments and their statuses, incident issues, a release."""

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
    WEB,
    A,
    Commit,
    History,
    Out,
    Repo,
    User,
    W,
    at,
    c2,
    c5,
    c6,
    d1,
    envelope,
    iso,
    m1,
    sha,
    user_json,
)


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
class Release:
    id: int
    repo: Repo
    tag: str
    author: User
    at: datetime


def add_infrastructure(h: History) -> None:
    """Production and staging deployments (some failing), two incidents, a release."""
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
    h.releases.append(Release(11001, API, "v1.0.0", ALICE, at(D3, "12:00")))


def deployment_body(dep: Deployment, updated: datetime) -> dict[str, Any]:
    return {"url": f"https://api.github.com/repos/{dep.repo.full_name}/deployments/{dep.id}", "id": dep.id,
            "node_id": f"DE_{dep.id}", "sha": dep.head.sha, "ref": dep.repo.default_branch, "task": "deploy",
            "payload": {}, "original_environment": dep.environment, "environment": dep.environment,
            "description": None, "creator": user_json(dep.creator), "created_at": iso(dep.created_at),
            "updated_at": iso(updated)}


def _render_deployment(dep: Deployment) -> Iterator[Out]:
    created = envelope(dep.repo, dep.creator, action="created",
                        deployment=deployment_body(dep, dep.created_at))
    yield Out(dep.created_at, "deployment", f"deployment:{dep.id}", created)
    for status in dep.statuses:
        body = {"id": status.id, "node_id": f"DES_{status.id}", "state": status.state,
                "creator": user_json(dep.creator), "description": "", "environment": dep.environment,
                "created_at": iso(status.at), "updated_at": iso(status.at)}
        payload = envelope(dep.repo, dep.creator, action="created", deployment_status=body,
                            deployment=deployment_body(dep, status.at))
        yield Out(status.at, "deployment_status", f"deployment_status:{status.id}", payload)


def _render_issue(issue: Issue) -> Iterator[Out]:
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
                "user": user_json(issue.author),
                "labels": [{"id": int(sha(n)[:8], 16), "name": n, "color": "d73a4a", "default": False}
                           for n in labels],
                "state": state, "locked": False, "assignee": None, "assignees": [], "milestone": None,
                "comments": 0, "created_at": iso(issue.steps[0].at), "updated_at": iso(step.at),
                "closed_at": iso(closed_at) if closed_at else None, "author_association": "MEMBER",
                "body": None}
        extra = {"label": {"name": step.label}} if step.action == "labeled" else {}
        payload = envelope(issue.repo, issue.author, action=step.action, issue=body, **extra)
        yield Out(step.at, "issues", f"issue:{issue.id}:{index}", payload)


def _render_release(rel: Release) -> Iterator[Out]:
    body = {"id": rel.id, "node_id": f"RE_{rel.id}", "tag_name": rel.tag, "target_commitish": "main",
            "name": rel.tag, "draft": False, "author": user_json(rel.author), "prerelease": False,
            "created_at": iso(rel.at), "published_at": iso(rel.at), "assets": [], "body": None}
    payload = envelope(rel.repo, rel.author, action="published", release=body)
    yield Out(rel.at, "release", f"release:{rel.id}", payload)


def render(h: History) -> Iterator[Out]:
    """The pillar's deliveries: deployment, deployment_status, issues and release."""
    for dep in h.deployments:
        yield from _render_deployment(dep)
    for issue in h.issues:
        yield from _render_issue(issue)
    for rel in h.releases:
        yield from _render_release(rel)


# --- the answers, by hand (keys: see tests/scenario/__init__.py) --------------------------------------

EXPECTED_DAILY: dict[tuple[date, str, str | None, str], float] = {
    # --- D1 ---------------------------------------------------------------------------------------
    (D1, ORG, A, "deployments"): 1,
    (D1, ORG, A, "change_failure_rate"): 0,
    (D1, ORG, A, "lead_time_hours_p50"): (25 / 6 + 11 / 3) / 2,  # c1 4h10m, c2 3h40m
    (D1, ORG, A, "incidents_opened"): 1,
    (D1, ORG, A, "time_to_restore_hours_p50"): 4,
    (D1, ORG, W, "deployments"): 1,
    (D1, ORG, W, "change_failure_rate"): 0,
    (D1, ORG, W, "lead_time_hours_p50"): 13 / 6,       # c6 13:00 → 15:10
    (D1, ORG, ALL, "deployments"): 2,
    (D1, ORG, ALL, "change_failure_rate"): 0,
    (D1, ORG, ALL, "lead_time_hours_p50"): 11 / 3,       # 13/6, 11/3, 25/6
    (D1, ORG, ALL, "incidents_opened"): 1,
    (D1, ORG, ALL, "time_to_restore_hours_p50"): 4,
    # --- D2 ---------------------------------------------------------------------------------------
    (D2, ORG, A, "deployments"): 1,                    # 6401 ("Production"); 6201 is staging
    (D2, ORG, A, "deployment_failures"): 1,            # 6301
    (D2, ORG, A, "change_failure_rate"): 0.5,
    (D2, ORG, A, "lead_time_hours_p50"): 7 / 3,        # d1 1h21m, m1 2h20m, c3 27h35m
    (D2, ORG, A, "incidents_opened"): 1,               # #11, labelled after opening
    (D2, ORG, ALL, "deployments"): 1,
    (D2, ORG, ALL, "deployment_failures"): 1,
    (D2, ORG, ALL, "change_failure_rate"): 0.5,
    (D2, ORG, ALL, "lead_time_hours_p50"): 7 / 3,
    (D2, ORG, ALL, "incidents_opened"): 1,
    # --- D3 ---------------------------------------------------------------------------------------
    (D3, ORG, A, "deployments"): 1,                    # 6601
    (D3, ORG, A, "deployment_failures"): 1,            # 6501 (error)
    (D3, ORG, A, "change_failure_rate"): 0.5,
    (D3, ORG, A, "lead_time_hours_p50"): 3,            # c5 2h45m, c4 3h15m
    (D3, ORG, A, "time_to_restore_hours_p50"): 24,     # #11
    (D3, ORG, ALL, "deployments"): 1,
    (D3, ORG, ALL, "deployment_failures"): 1,
    (D3, ORG, ALL, "change_failure_rate"): 0.5,
    (D3, ORG, ALL, "lead_time_hours_p50"): 3,
    (D3, ORG, ALL, "time_to_restore_hours_p50"): 24,
}

EXPECTED_WINDOWS: dict[tuple[date, str, str | None, str, int], float] = {
    (D3, ORG, ALL, "lead_time_hours_p50", 7): 3,                     # median of 8: (2.75 + 3.25) / 2
    (D3, ORG, ALL, "deployments", 28): 4,
    (D3, ORG, ALL, "change_failure_rate", 7): 2 / 6,
    (D2, ORG, ALL, "time_to_restore_hours_p50", 7): 4,
    (D3, ORG, ALL, "time_to_restore_hours_p50", 7): 14,              # 4 and 24
}
