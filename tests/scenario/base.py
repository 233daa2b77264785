"""What every pillar of the scenario shares: the organisation, its days, people and repositories, the
commits of the story, the :class:`History` the pillars fill in, and the JSON every webhook payload carries
(repository, organisation, sender)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.scenario.compatibility import CheckRun, WorkflowRun
    from tests.scenario.infrastructure import Deployment, Issue, Release
    from tests.scenario.team import OrgEvent
    from tests.scenario.version_control import PullRequest, Push, Review

ORG = "acme"
ORG_ID = 9000
D1, D2, D3 = date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 6)
_REPO_CREATED = datetime(2023, 1, 10, 9, 0, tzinfo=UTC)
_REPO_UPDATED = datetime(2024, 2, 1, 9, 0, tzinfo=UTC)
A, W, ALL = "acme/api", "acme/web", None  # the scopes of the expected values: a repository, or the roll-up


def at(day: date, hhmm: str) -> datetime:
    hours, minutes = hhmm.split(":")
    return datetime(day.year, day.month, day.day, int(hours), int(minutes), tzinfo=UTC)


def sha(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()  # noqa: S324 - a fake commit id, not security


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



# --- the JSON every payload carries ----------------------------------------------------------------

def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def user_json(user: User) -> dict[str, Any]:
    return {"login": user.login, "id": user.id, "node_id": f"U_{user.id}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user.id}?v=4", "gravatar_id": "",
            "url": f"https://api.github.com/users/{user.login}", "html_url": f"https://github.com/{user.login}",
            "type": user.type, "site_admin": False}


def org_json() -> dict[str, Any]:
    return {"login": ORG, "id": ORG_ID, "node_id": f"O_{ORG_ID}", "url": f"https://api.github.com/orgs/{ORG}",
            "description": ""}


def repo_json(repo: Repo, pushed: datetime | None = None) -> dict[str, Any]:
    pushed_at: Any = int(pushed.timestamp()) if pushed else iso(_REPO_UPDATED)
    return {
        "id": repo.id, "node_id": f"R_{repo.id}", "name": repo.name, "full_name": repo.full_name,
        "private": True, "owner": {**user_json(User(ORG, ORG_ID, "Organization"))},
        "html_url": f"https://github.com/{repo.full_name}", "description": None, "fork": False,
        "url": f"https://api.github.com/repos/{repo.full_name}",
        "created_at": int(_REPO_CREATED.timestamp()) if pushed else iso(_REPO_CREATED),
        "updated_at": iso(_REPO_UPDATED), "pushed_at": pushed_at, "language": repo.language,
        "archived": False, "disabled": False, "default_branch": repo.default_branch,
        "visibility": "private", "topics": [],
        **({"master_branch": repo.default_branch} if pushed else {}),
    }


def envelope(repo: Repo | None, sender: User, **body: Any) -> dict[str, Any]:
    payload = dict(body)
    if repo is not None:
        payload["repository"] = repo_json(repo)
    payload["organization"] = org_json()
    payload["sender"] = user_json(sender)
    return payload


@dataclass(frozen=True)
class Out:
    """One delivery to send: when it happened, its event, a stable key (its delivery id), its payload."""

    at: datetime
    event: str
    key: str
    payload: dict[str, Any]


