"""The resources a backfill reads, declared as data.

Each row names the REST request (and the PyGithub call that reads the same thing), what it hangs off (the
owner, a repository, or an item of another resource), an item's natural key, the cursor field a re-run stops
at, how an item becomes an envelope (:data:`backfill.envelopes.MAPPINGS`), and what it costs, which the
dry run adds up. The runner's flows (backfill/flows.py) read these rows; nothing else spells a path.

Selectable groups (``--resources``) are the top-level rows; fan-out rows come with their parent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from pillarstream.errors import ConfigError

Scope = Literal["owner", "org", "repo", "pull", "sha", "deployment", "team"]


@dataclass(frozen=True, slots=True)
class Resource:
    name: str
    scope: Scope  # what one request is per: the owner, an org only, a repository, or a parent item
    path: str  # REST path template ({owner}, {repo}, {number}, {sha}, {id}, {slug})
    pygithub: str  # the PyGithub call for the same data (documentation; pages go through Github.requester)
    key: str  # an item's natural id
    cursor: str | None  # the field a re-run stops at (None: a snapshot, re-read with conditional requests)
    mapping: str | None  # envelopes.MAPPINGS kind; None: read to build other envelopes (or archive only)
    params: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    items_key: str | None = None  # the list's key in an object answer ({"total_count": n, key: [...]})
    parent: str | None = None  # fetched per item of this resource
    group: str | None = None  # the --resources name that selects it (default: its own name)
    default: bool = True
    cost: str = "1 request per 100 items"

    @property
    def selector(self) -> str:
        return self.group or self.name


def _params(**values: str) -> MappingProxyType[str, str]:
    return MappingProxyType(values)


_PAGE = _params(per_page="100")
RESOURCES: tuple[Resource, ...] = (
    Resource("owner", "owner", "/orgs/{owner}", "Github.get_organization(org) / get_user(login)", "login",
             None,
             None, group="repositories", cost="1 conditional request per run"),
    Resource("repositories", "owner", "/orgs/{owner}/repos", "Organization.get_repos(type='all')", "id", None,
             "repository", _params(type="all", sort="full_name", per_page="100"),
             cost="1 request per 100 repositories; conditional on re-runs"),
    Resource("pulls", "repo", "/repos/{owner}/{repo}/pulls",
             "Repository.get_pulls(state='all', sort='updated')",
             "id", "updated_at", "pull_request",
             _params(state="all", sort="updated", direction="desc", per_page="100"),
             cost="1 request per 100 pull requests, newest update first, stopping at the cursor"),
    Resource("issue_events", "repo", "/repos/{owner}/{repo}/issues/events", "Repository.get_issues_events()",
             "id",
             "created_at", None, _PAGE, group="pulls",
             cost="1 request per 100 events: when pull requests became ready, were closed, reopened"),
    Resource("pull_detail", "pull", "/repos/{owner}/{repo}/pulls/{number}", "Repository.get_pull(number)",
             "id",
             None, "pull_request", parent="pulls", group="pulls",
             cost="1 request per changed pull request (size and merge fields are not in the list)"),
    Resource("reviews", "pull", "/repos/{owner}/{repo}/pulls/{number}/reviews", "PullRequest.get_reviews()",
             "id",
             None, "review", _PAGE, parent="pulls", cost="1 request per changed pull request"),
    Resource("pr_commits", "pull", "/repos/{owner}/{repo}/pulls/{number}/commits",
             "PullRequest.get_commits()",
             "sha", None, None, _PAGE, parent="pulls", default=False,
             cost="1 request per changed pull request; archived only (no warehouse table reads it)"),
    Resource("check_runs", "sha", "/repos/{owner}/{repo}/commits/{sha}/check-runs",
             "Commit.get_check_runs(filter='all')",
             "id", None, "check_run", _params(filter="all", per_page="100"), items_key="check_runs",
             cost="1 request per pull request head (every run, not only the latest per name)"),
    Resource("push_checks", "sha", "/repos/{owner}/{repo}/commits/{sha}/check-runs",
             "Commit.get_check_runs(filter='all')", "id", None, "check_run",
             _params(filter="all", per_page="100"), items_key="check_runs",
             cost="1 request per default-branch push head (CI after merge); about 1 per merged pull request"),
    Resource("check_suites", "sha", "/repos/{owner}/{repo}/commits/{sha}/check-suites",
             "Commit.get_check_suites()",
             "id", None, "check_suite", _PAGE, items_key="check_suites", default=False,
             cost="1 request per SHA that matters; no catalogue metric reads check suites"),
    Resource("activity", "repo", "/repos/{owner}/{repo}/activity",
             "Github.requester (no PyGithub method yet)", "id",
             "timestamp", "push", _PAGE, group="commits",
             cost="1 request per 100 pushes (who pushed what, when)"),
    Resource("commits", "repo", "/repos/{owner}/{repo}/commits", "Repository.get_commits(sha=head)", "sha",
             None,
             None, _PAGE, cost="1 request per 100 default-branch commits on the first run"),
    Resource("compare", "repo", "/repos/{owner}/{repo}/compare/{base}...{head}",
             "Repository.compare(base, head)",
             "sha", None, None, group="commits", cost="1 request per re-run with new default-branch pushes"),
    Resource("workflow_runs", "repo", "/repos/{owner}/{repo}/actions/runs", "Repository.get_workflow_runs()",
             "id", "created_at", "workflow_run", _PAGE, items_key="workflow_runs",
             cost="1 request per 100 runs; past a capped listing, created-date windows split at 1,000"),
    Resource("deployments", "repo", "/repos/{owner}/{repo}/deployments", "Repository.get_deployments()", "id",
             "updated_at", "deployment", _PAGE, cost="1 request per 100 deployments"),
    Resource("deployment_statuses", "deployment", "/repos/{owner}/{repo}/deployments/{id}/statuses",
             "Deployment.get_statuses()", "id", None, "deployment_status", _PAGE, parent="deployments",
             group="deployments", cost="1 request per changed deployment"),
    Resource("issues", "repo", "/repos/{owner}/{repo}/issues",
             "Repository.get_issues(state='all', sort='updated')", "id",
             "updated_at", "issue", _params(state="all", sort="updated", direction="desc", per_page="100"),
             cost="1 request per 100 issues and pull requests updated since the cursor"),
    Resource("members", "org", "/orgs/{owner}/members", "Organization.get_members(role=...)", "login", None,
             "member", _PAGE, cost="2 requests per 100 members (admins, members); conditional on re-runs"),
    Resource("teams", "org", "/orgs/{owner}/teams", "Organization.get_teams()", "id", None, "team", _PAGE,
             cost="1 request per 100 teams; conditional on re-runs"),
    Resource("team_members", "team", "/orgs/{owner}/teams/{slug}/members", "Team.get_members()", "login",
             None,
             "team_member", _PAGE, parent="teams", group="teams", cost="1 conditional request per team"),
    Resource("team_repos", "team", "/orgs/{owner}/teams/{slug}/repos", "Team.get_repos()", "id", None,
             "team_repo",
             _PAGE, parent="teams", group="teams", cost="1 conditional request per team"),
)
BY_NAME: MappingProxyType[str, Resource] = MappingProxyType({r.name: r for r in RESOURCES})
SELECTORS: tuple[str, ...] = tuple(dict.fromkeys(r.name for r in RESOURCES if r.group is None))


def path(name: str, **values: object) -> str:
    return BY_NAME[name].path.format(**values)


def select(names: Iterable[str] | None) -> frozenset[str]:
    """Resource names to read for ``--resources`` (None: the defaults; ``all``: everything)."""
    wanted = set(names or ["default"])
    unknown = wanted - set(SELECTORS) - {"all", "default"}
    if unknown:
        raise ConfigError(f"unknown resource(s) {', '.join(sorted(unknown))}; choose from "
                          f"{', '.join(SELECTORS)}, default or all")
    chosen = set()
    for resource in RESOURCES:
        picked = resource.selector in wanted or resource.name in wanted
        if "all" in wanted or ("default" in wanted and resource.default) or picked:
            chosen.add(resource.name)
    # Fan-out rows need their parent's list (and pull requests need their issue events).
    for resource in RESOURCES:
        if resource.name in chosen and resource.parent and resource.parent not in chosen:
            chosen.add(resource.parent)
    if "pulls" in chosen:
        chosen |= {"issue_events", "pull_detail"}
    if "commits" in chosen:
        chosen |= {"activity", "compare"}
    if "deployments" in chosen:
        chosen.add("deployment_statuses")
    if "teams" in chosen:
        chosen |= {"team_members", "team_repos"}
    chosen |= {"owner", "repositories"}  # every run needs the owner and its repositories
    return frozenset(chosen)
