"""What the fake GitHub REST API serves: plain JSON-shaped dicts, held per owner and per repository.

Objects are stored as GitHub's REST API returns them (see tests/fixtures/rest/*.json), so a handler only
selects, orders and pages them. URLs inside objects may say ``https://api.github.com``; the server rewrites
that prefix to its own address when it answers, so PyGithub can follow them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

API = "https://api.github.com"
Json = dict[str, Any]


def user(login: str, user_id: int, kind: str = "User") -> Json:
    """A simple-user object, the way every REST answer embeds an account."""
    return {"login": login, "id": user_id, "node_id": f"U_{user_id}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4", "gravatar_id": "",
            "url": f"{API}/users/{login}", "html_url": f"https://github.com/{login}", "type": kind,
            "site_admin": False}


@dataclass
class RepoState:
    repo: Json  # the full repository object (GET /repos/{owner}/{repo})
    commits: list[Json] = field(default_factory=list)  # default branch, newest first
    activity: list[Json] = field(default_factory=list)  # newest first
    pulls: dict[int, Json] = field(default_factory=dict)  # number → pull request as GET /pulls/{n} answers
    reviews: dict[int, list[Json]] = field(default_factory=dict)  # number → reviews, oldest first
    pr_commits: dict[int, list[Json]] = field(default_factory=dict)
    issue_events: list[Json] = field(default_factory=list)  # newest first
    check_runs: dict[str, list[Json]] = field(default_factory=dict)  # head SHA → runs
    check_suites: dict[str, list[Json]] = field(default_factory=dict)
    workflow_runs: list[Json] = field(default_factory=list)  # newest first
    deployments: list[Json] = field(default_factory=list)  # newest first
    statuses: dict[int, list[Json]] = field(default_factory=dict)  # deployment id → statuses, newest first
    issues: list[Json] = field(default_factory=list)  # issues and pull requests as issues

    @property
    def full_name(self) -> str:
        return str(self.repo["full_name"])


@dataclass
class OwnerState:
    login: str
    id: int
    type: str = "Organization"  # or "User"
    repos: list[str] = field(default_factory=list)  # full names
    members: dict[str, tuple[Json, str]] = field(default_factory=dict)  # login → (user, role admin|member)
    teams: dict[str, Json] = field(default_factory=dict)  # slug → team
    team_members: dict[str, list[Json]] = field(default_factory=dict)
    team_repos: dict[str, list[tuple[str,
                                     str]]] = field(default_factory=dict)  # slug → (full name, permission)

    def account(self) -> Json:
        data = user(self.login, self.id, self.type)
        if self.type == "Organization":
            data.update({"url": f"{API}/orgs/{self.login}", "repos_url": f"{API}/orgs/{self.login}/repos",
                         "hooks_url": f"{API}/orgs/{self.login}/hooks", "description": ""})
        return data


@dataclass
class RestState:
    owners: dict[str, OwnerState] = field(default_factory=dict)
    repos: dict[str, RepoState] = field(default_factory=dict)

    def owner(self, login: str) -> OwnerState | None:
        return self.owners.get(login) or next(
            (o for o in self.owners.values() if o.login.casefold() == login.casefold()), None)

    def repo(self, owner: str, name: str) -> RepoState | None:
        return self.repos.get(f"{owner}/{name}")

    def add_owner(self, login: str, owner_id: int, kind: str = "Organization") -> OwnerState:
        return self.owners.setdefault(login, OwnerState(login, owner_id, kind))

    def add_repo(self, owner: OwnerState, repo: Json) -> RepoState:
        state = RepoState(repo)
        self.repos[state.full_name] = state
        if state.full_name not in owner.repos:
            owner.repos.append(state.full_name)
        return state
