"""Owner-level flows: the account itself, its repositories, and (organisations) members and teams.

These are snapshots, not histories: GitHub lists what is, so every page is asked conditionally with the
ETag of the last run; an unchanged page answers ``304`` (no budget) and is served from the archived copy,
and only changed pages are published. Memberships that ended since the last run are not visible in a
snapshot (the member is simply absent); the webhook stream records removals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backfill.envelopes import envelope
from backfill.github_api import Page
from backfill.resources import BY_NAME, path
from backfill.sweep import RunContext, Sweep
from pillarstream.errors import ConfigError, GitHubAPIError

Json = dict[str, Any]
_PERMISSIONS = ("admin", "maintain", "push", "triage", "pull")  # strongest first


def _publish_page(ctx: RunContext, sweep: Sweep, page: Page, items: list[Json], start: int, phase: str,
                  make: Callable[[Json, Page], Any]) -> None:
    """Publish a snapshot page's items from ``start`` -- only when the page changed (not a 304)."""
    if page.status == 200:
        sweep.publish([e for e in (make(item, page) for item in items[start:]) if e is not None])
    if items:
        sweep.item_done(phase, len(items) - 1)


def resolve_owner(ctx: RunContext, kind: str) -> Json:
    """The account (``GET /orgs/{org}`` or ``/users/{login}``); its JSON is the payloads' organization."""
    sweep = Sweep(ctx, "", "owner")
    url = f"/orgs/{ctx.owner}" if kind == "org" else f"/users/{ctx.owner}"
    try:
        page = sweep.fetch(url, resource="owner", conditional=True)
    except GitHubAPIError as exc:
        if exc.status == 404:
            raise ConfigError(f"no {'organisation' if kind == 'org' else 'user'} {ctx.owner!r} on GitHub "
                              f"({'--user' if kind == 'org' else '--org'}?)") from exc
        raise
    assert page is not None
    account: Json = page.data
    if kind == "user" and account.get("type") == "Organization":
        raise ConfigError(f"{ctx.owner!r} is an organisation: use --org")
    sweep.finish({"type": account.get("type")})
    return account


def repositories(ctx: RunContext, kind: str, selected: Callable[[Json], bool]) -> list[Json]:
    """Every repository of the owner (selected ones are published as repository rows)."""
    sweep = Sweep(ctx, "", "repositories")
    if kind == "org":
        url, params = path("repositories", owner=ctx.owner), dict(BY_NAME["repositories"].params)
    else:  # what the token may see of that account; type=owner leaves out repositories it only belongs to
        url, params = f"/users/{ctx.owner}/repos", {"type": "owner", "sort": "full_name", "per_page": "100"}

    def make(repo: Json, page: Page) -> Any:
        if not selected(repo):
            return None
        return envelope("repository", repo, received_at=page.fetched_at, repository=None,
                        organization=ctx.organization, provenance=page.archived_as)

    for page, items, start in sweep.walk("list", url, params, resource="repositories", conditional="all"):
        _publish_page(ctx, sweep, page, items, start, "list", make)
    found = [repo for page in sweep.pages("list") for repo in page.items()]
    sweep.finish({"count": len(found)})
    return found


def members(ctx: RunContext) -> None:
    if not ctx.wants("members"):
        return
    sweep = Sweep(ctx, "", "members")
    for role in ("admin", "member"):
        def make(user: Json, page: Page, role: str = role) -> Any:
            membership = {"url": f"{ctx.api.api_url}/orgs/{ctx.owner}/memberships/{user['login']}",
                          "state": "active",
                          "role": role, "organization_url": f"{ctx.api.api_url}/orgs/{ctx.owner}",
                          "user": user}
            # The organisation is part of the member's identity: alice as admin of acme and of globex are
            # two memberships, and two deliveries.
            org = (ctx.organization or {}).get("id", ctx.owner)
            return envelope("member", membership, received_at=page.fetched_at, repository=None,
                            organization=ctx.organization, provenance=page.archived_as,
                            object_id=f"{org}:{user['login']}")

        for page, items, start in sweep.walk(role, path("members", owner=ctx.owner),
                                             {**BY_NAME["members"].params, "role": role}, resource="members",
                                             conditional="all"):
            _publish_page(ctx, sweep, page, items, start, role, make)
    sweep.finish({})


def legacy_permission(repo: Json) -> str | None:
    """The team's permission on a repository in webhook terms (``push``), from REST's ``permissions``."""
    granted = repo.get("permissions") or {}
    return next((p for p in _PERMISSIONS if granted.get(p)), None)


def teams(ctx: RunContext) -> None:
    """Teams, then each team's members and repositories."""
    if not ctx.wants("teams"):
        return
    sweep = Sweep(ctx, "", "teams")

    def make_team(team: Json, page: Page) -> Any:
        return envelope("team", team, received_at=page.fetched_at, repository=None,
                        organization=ctx.organization,
                        provenance=page.archived_as)

    for page, items, start in sweep.walk("list", path("teams", owner=ctx.owner),
                                         dict(BY_NAME["teams"].params),
                                         resource="teams", conditional="all"):
        _publish_page(ctx, sweep, page, items, start, "list", make_team)
    found = [team for page in sweep.pages("list") for team in page.items()]
    for team in found:
        slug, team_id = team["slug"], team["id"]

        def make_member(user: Json, page: Page, team: Json = team) -> Any:
            return envelope("team_member", user, received_at=page.fetched_at, repository=None,
                            organization=ctx.organization, extra={"scope": "team", "team": team},
                            object_id=f"{team['id']}:{user['login']}", provenance=page.archived_as)

        def make_repo(repo: Json, page: Page, team: Json = team) -> Any:
            granted = {**team, "permission": legacy_permission(repo) or team.get("permission")}
            plain = {k: v for k, v in repo.items() if k not in ("permissions", "role_name")}
            return envelope("team_repo", granted, received_at=page.fetched_at, repository=plain,
                            organization=ctx.organization, object_id=f"{team['id']}:{repo['id']}",
                            provenance=page.archived_as)

        for resource, make in (("team_members", make_member), ("team_repos", make_repo)):
            phase = f"{resource}:{team_id}"
            for page, items, start in sweep.walk(phase, path(resource, owner=ctx.owner, slug=slug),
                                                 dict(BY_NAME[resource].params), resource=resource,
                                                 conditional="all"):
                _publish_page(ctx, sweep, page, items, start, phase, make)
    sweep.finish({"count": len(found)})
