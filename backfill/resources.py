"""The resources a backfill reads, declared as data, once.

Each row names the REST request, the field a re-run stops at (its cursor), how an item becomes an envelope
(:data:`backfill.envelopes.MAPPINGS`), the request's parameters and where a listing keeps its items, and
what the row hangs off for ``--resources``. The sweeps read every field at run time
(backfill/declared.py: URLs, parameters, items, cursor marks and envelopes come from here); nothing else
spells a path. What each costs is in docs/backfill.md.

Selectable groups (``--resources``) are the top-level rows; fan-out rows come with their parent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from types import MappingProxyType

from pillarstream.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Resource:
    name: str
    path: str  # REST path template ({owner}, {repo}, {number}, {sha}, {id}, {slug})
    cursor: str | None  # the item field a re-run stops at (None: a snapshot, re-read with conditional requests)
    mapping: str | None  # envelopes.MAPPINGS kind; None: read to build other envelopes (or archive only)
    params: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    items_key: str | None = None  # the list's key in an object answer ({"total_count": n, key: [...]})
    parent: str | None = None  # fetched per item of this resource
    group: str | None = None  # the --resources name that selects it (default: its own name)
    default: bool = True

    @property
    def selector(self) -> str:
        return self.group or self.name


def _params(**values: str) -> MappingProxyType[str, str]:
    return MappingProxyType(values)


_PAGE = _params(per_page="100")
_UPDATED = _params(state="all", sort="updated", direction="desc", per_page="100")
_CHECKS = _params(filter="all", per_page="100")  # every run, not only the latest per name
RESOURCES: tuple[Resource, ...] = (
    Resource("owner", "/orgs/{owner}", None, None, group="repositories"),
    Resource("repositories", "/orgs/{owner}/repos", None, "repository",
             _params(type="all", sort="full_name", per_page="100")),
    Resource("pulls", "/repos/{owner}/{repo}/pulls", "updated_at", "pull_request", _UPDATED),
    Resource("issue_events", "/repos/{owner}/{repo}/issues/events", "created_at", None, _PAGE, group="pulls"),
    Resource("pull_detail", "/repos/{owner}/{repo}/pulls/{number}", None, "pull_request", parent="pulls",
             group="pulls"),
    Resource("reviews", "/repos/{owner}/{repo}/pulls/{number}/reviews", None, "review", _PAGE, parent="pulls"),
    Resource("pr_commits", "/repos/{owner}/{repo}/pulls/{number}/commits", None, None, _PAGE, parent="pulls",
             default=False),
    Resource("check_runs", "/repos/{owner}/{repo}/commits/{sha}/check-runs", None, "check_run", _CHECKS,
             items_key="check_runs"),
    Resource("push_checks", "/repos/{owner}/{repo}/commits/{sha}/check-runs", None, "check_run", _CHECKS,
             items_key="check_runs"),
    Resource("check_suites", "/repos/{owner}/{repo}/commits/{sha}/check-suites", None, "check_suite", _PAGE,
             items_key="check_suites", default=False),
    Resource("activity", "/repos/{owner}/{repo}/activity", "timestamp", "push", _PAGE, group="commits"),
    Resource("commits", "/repos/{owner}/{repo}/commits", None, None, _PAGE),
    Resource("compare", "/repos/{owner}/{repo}/compare/{base}...{head}", None, None, group="commits"),
    Resource("workflow_runs", "/repos/{owner}/{repo}/actions/runs", "created_at", "workflow_run", _PAGE,
             items_key="workflow_runs"),
    Resource("deployments", "/repos/{owner}/{repo}/deployments", "updated_at", "deployment", _PAGE),
    Resource("deployment_statuses", "/repos/{owner}/{repo}/deployments/{id}/statuses", None, "deployment_status",
             _PAGE, parent="deployments", group="deployments"),
    Resource("issues", "/repos/{owner}/{repo}/issues", "updated_at", "issue", _UPDATED),
    Resource("members", "/orgs/{owner}/members", None, "member", _PAGE),
    Resource("teams", "/orgs/{owner}/teams", None, "team", _PAGE),
    Resource("team_members", "/orgs/{owner}/teams/{slug}/members", None, "team_member", _PAGE, parent="teams",
             group="teams"),
    Resource("team_repos", "/orgs/{owner}/teams/{slug}/repos", None, "team_repo", _PAGE, parent="teams",
             group="teams"),
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
