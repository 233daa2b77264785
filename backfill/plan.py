"""``--dry-run``: the plan (owner, repositories, resources, where each cursor stands) and its request cost.

Nothing is archived, published or saved. Sizes come from cheap probes (``per_page=1`` and the ``Link``
header's last page, or ``total_count``), three requests per repository; the cost is then estimated from
the per-resource rules in backfill/resources.py with the assumptions printed beside it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from backfill.cursors import CursorStore
from backfill.github_api import GitHubApi, Page
from backfill.resources import BY_NAME, path
from backfill.runner import Options, repo_matcher

Json = dict[str, Any]
_LAST_PAGE = re.compile(r"[?&]page=(\d+)")
# Assumptions for what the probes cannot see, per pull request (documented in docs/backfill.md).
EVENTS_PER_PR = 3.0  # issue events (ready, closed, merged, labels ...)
PUSHES_PER_PR = 2.0  # activity entries (branch pushes and the merge)
COMMITS_PER_PR = 2.0  # default-branch commits
ISSUES_PER_PR = 0.5
CHECK_SHAS_PER_PR = 1.8  # the head of each pull request, and the default-branch push that merged most of them


@dataclass
class RepoSize:
    name: str
    pulls: int
    deployments: int
    workflow_runs: int
    cursor: str


def _count(page: Page) -> int:
    last = page.link("last")
    if last:
        match = _LAST_PAGE.search(last)
        if match:
            return int(match[1])
    data = page.data
    if isinstance(data, dict) and "total_count" in data:
        return int(data["total_count"])
    return len(data) if isinstance(data, list) else 0


_GRAPHQL_PATH = "GraphQL for pull requests, checks and deployment statuses"
PAGE_POINTS = 8  # GraphQL points of a page of 100 pull requests (backfill/graphql_queries.py)
PUSH_HEADS_PER_PR = CHECK_SHAS_PER_PR - 1  # default-branch push heads: their checks in batches of 24 a point


def estimate(size: RepoSize, resources: frozenset[str], graphql: bool = True) -> dict[str, float]:
    """Budget a full backfill of one repository costs, per resource: REST requests, and GraphQL points
    under names ending in "(points)"."""
    prs = size.pulls
    cost: dict[str, float] = {}
    if graphql and "pulls" in resources:
        cost["pulls"] = 1  # the conditional REST probe
        cost["pulls (points)"] = max(1, math.ceil(prs / 100)) * PAGE_POINTS
        if "push_checks" in resources:
            cost["push_checks (points)"] = math.ceil(prs * PUSH_HEADS_PER_PR / 24)
        resources = resources - {"pulls", "reviews", "check_runs", "push_checks"}
    if "pulls" in resources:
        cost["pulls"] = max(1, math.ceil(prs / 100))
        cost["issue_events"] = max(1, math.ceil(prs * EVENTS_PER_PR / 100))
        cost["pull_detail"] = prs
    for name in ("reviews", "pr_commits"):
        if name in resources:
            cost[name] = prs
    shas = prs * CHECK_SHAS_PER_PR
    for name in ("check_runs", "check_suites"):
        if name in resources:
            cost[name] = shas
    if "commits" in resources:
        cost["activity"] = max(1, math.ceil(prs * PUSHES_PER_PR / 100))
        cost["commits"] = max(1, math.ceil(prs * COMMITS_PER_PR / 100))
    if "workflow_runs" in resources:
        cost["workflow_runs"] = max(1, math.ceil(size.workflow_runs / 100))
    if "deployments" in resources:
        cost["deployments"] = max(1, math.ceil(size.deployments / 100))
        if graphql:  # one nodes(ids:) query per page of deployments, a point for up to 100 of them
            cost["deployment_statuses (points)"] = math.ceil(size.deployments / 100)
        else:
            cost["deployment_statuses"] = size.deployments
    if "issues" in resources:
        cost["issues"] = max(1, math.ceil(prs * ISSUES_PER_PR / 100))
    return cost


def dry_run(options: Options, api: GitHubApi, cursors: CursorStore) -> str:
    owner = options.owner
    account_url = f"/orgs/{owner}" if options.kind == "org" else f"/users/{owner}"
    account = api.get(account_url, resource="owner").data
    repos: list[Json] = []
    url: str | None = (path("repositories",
                            owner=owner) if options.kind == "org" else f"/users/{owner}/repos")
    params: dict[str, str] | None = dict(BY_NAME["repositories"].params)
    while url:
        page = api.get(url, params, resource="repositories")
        repos += page.items()
        url, params = page.link("next"), None
    selected = repo_matcher(options.repos)
    chosen = [r for r in repos if selected(r)]
    marks = {(repo, resource): m for repo, resource, m, _ in cursors.listing(owner)}
    sizes = []
    for repo in chosen:
        o, n = repo["full_name"].split("/", 1)
        pulls = _count(api.get(path("pulls", owner=o, repo=n), {"state": "all", "per_page": 1},
                               resource="plan"))
        deps = _count(api.get(path("deployments", owner=o, repo=n), {"per_page": 1}, resource="plan"))
        runs = _count(api.get(path("workflow_runs", owner=o, repo=n), {"per_page": 1}, resource="plan"))
        mark = (marks.get((repo["full_name"], "pulls")) or {}).get("updated_at")
        sizes.append(RepoSize(repo["full_name"], pulls, deps, runs, f"since {mark}" if mark else "full"))
    lines = [f"backfill plan for {account.get('type', '').lower() or options.kind} {owner} "
             f"({len(chosen)} of {len(repos)} repositories)",
             f"resources: {', '.join(sorted(options.resources))}",
             f"window: {options.since or 'all history'} .. {options.until or 'now'}", ""]
    total: dict[str, float] = {}
    for size in sizes:
        cost = estimate(size, options.resources, options.graphql)
        for key, value in cost.items():
            total[key] = total.get(key, 0) + value
        lines.append(f"  {size.name:<40} pull requests {size.pulls:>6}  deployments {size.deployments:>5}  "
                     f"workflow runs {size.workflow_runs:>6}  {size.cursor:<30} "
                     f"~{sum(cost.values()):,.0f} budget units")
    prs = sum(s.pulls for s in sizes)
    grand = sum(total.values()) + 1 + math.ceil(len(repos) / 100)
    lines += ["",
              "estimated budget for a full backfill, REST requests and GraphQL points (repositories with a "
              "cursor cost only what changed):"]
    lines += [f"  {name:<22} {value:>10,.0f}" for name, value in sorted(total.items())]
    lines += [f"  {'total':<22} {grand:>10,.0f}" + (f"  ({grand / prs:.2f} per pull request)" if prs else ""),
              f"  path: {_GRAPHQL_PATH if options.graphql else 'REST only'}",
              f"  assumptions per pull request: {EVENTS_PER_PR} issue events, {PUSHES_PER_PR} pushes, "
              f"{COMMITS_PER_PR} commits, {CHECK_SHAS_PER_PR} SHAs with checks",
              f"  this plan cost {api.stats.counted} requests; budget left {api.pool.remaining()}"]
    return "\n".join(lines)
