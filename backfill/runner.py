"""A backfill run: the owner, its repositories, then every repository's flows on a small thread pool.

Concurrency is deliberately small (``--concurrency``, default 4): GitHub's secondary limits punish bursts
of concurrent requests more than a steady pace, and the budget is shared anyway. One repository failing
for good (no access, gone) is reported and the others go on; running out of budget, or Kafka, Postgres or
the archive failing, stops every job at its next safe point with all cursors saved.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Literal

from adapters.kafka_publisher import Publisher
from backfill.archive import PageArchive
from backfill.cursors import CursorStore
from backfill.flows import run_repository
from backfill.github_api import GitHubApi
from backfill.owner import members, repositories, resolve_owner, teams
from backfill.progress import Progress
from backfill.ratelimit import BudgetExhausted
from backfill.sweep import RunContext, Stopped
from pillarstream.errors import GitHubAPIError, PillarstreamError

log = logging.getLogger(__name__)
Json = dict[str, Any]
_ORG_KEYS = ("login", "id", "node_id", "url", "repos_url", "events_url", "hooks_url", "issues_url",
             "members_url", "public_members_url", "avatar_url", "description")


@dataclass(frozen=True)
class Options:
    owner: str
    kind: Literal["org", "user"]
    resources: frozenset[str]
    repos: tuple[str, ...] = ()  # names or globs, matched against the name and OWNER/NAME
    since: datetime | None = None
    until: datetime | None = None
    concurrency: int = 4
    graphql: bool = True  # pull requests and checks through GraphQL; False: REST only
    graphql_page: int = 100  # pull requests per GraphQL query


@dataclass
class Summary:
    repositories: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    items: int = 0
    requests: int = 0
    graphql_calls: int = 0
    graphql_points: int = 0
    not_modified: int = 0
    from_archive: int = 0
    waited_s: float = 0.0
    by_resource: dict[str, int] = field(default_factory=dict)


def repo_matcher(patterns: tuple[str, ...]) -> Callable[[Json], bool]:
    if not patterns:
        return lambda repo: True
    compiled = [re.compile(fnmatch.translate(p.casefold())) for p in patterns]

    def selected(repo: Json) -> bool:
        names = (str(repo.get("name", "")).casefold(), str(repo.get("full_name", "")).casefold())
        return any(c.match(n) for c in compiled for n in names)
    return selected


def run_backfill(options: Options, *, api: GitHubApi, archive: PageArchive, publisher: Publisher,
                 cursors: CursorStore, progress: Progress) -> Summary:
    ctx = RunContext(api=api, archive=archive, publisher=publisher, cursors=cursors, progress=progress,
                     owner=options.owner, resources=options.resources, since=options.since,
                     until=options.until, graphql=options.graphql, graphql_page=options.graphql_page)
    summary = Summary()
    account = resolve_owner(ctx, options.kind)
    if options.kind == "org":
        ctx.organization = {k: account[k] for k in _ORG_KEYS if k in account}
    selected = repo_matcher(options.repos)
    chosen = [r for r in repositories(ctx, options.kind, selected) if selected(r)]
    progress.repositories_total = summary.repositories = len(chosen)
    log.info("backfill plan", extra={"owner": options.owner, "repositories": len(chosen),
                                     "resources": sorted(options.resources)})
    jobs: list[tuple[str, Callable[[], None]]] = []
    if options.kind == "org":
        jobs += [("(members)", partial(members, ctx)), ("(teams)", partial(teams, ctx))]
    jobs += [(repo["full_name"], partial(run_repository, ctx, repo)) for repo in chosen]
    fatal: BaseException | None = None
    with ThreadPoolExecutor(max_workers=max(1, options.concurrency), thread_name_prefix="backfill") as pool:
        futures: dict[Future[None], str] = {pool.submit(fn): name for name, fn in jobs}
        try:
            for future in as_completed(futures):
                name = futures[future]
                error = future.exception()
                if error is None or isinstance(error, Stopped):
                    continue
                if isinstance(error, GitHubAPIError) and not error.retriable:
                    log.error("repository skipped", extra={"repo": name, "error": str(error)})
                    summary.failed.append((name, str(error)))
                    continue
                fatal = fatal or error
                ctx.stop.set()
        except KeyboardInterrupt:
            ctx.stop.set()
            raise
    summary.items = progress.items
    summary.requests = api.stats.counted
    summary.graphql_calls = api.stats.graphql_calls
    summary.graphql_points = api.stats.graphql_points
    summary.not_modified = api.stats.not_modified
    summary.from_archive = progress.pages_resumed
    summary.waited_s = api.pool.waited_s + (api.graphql_pool.waited_s if api.graphql_pool is not api.pool else 0)
    summary.by_resource = dict(api.stats.by_resource)
    if fatal is not None:
        if isinstance(fatal, PillarstreamError):
            raise fatal
        raise PillarstreamError(f"backfill failed: {type(fatal).__name__}: {fatal}") from fatal
    return summary


__all__ = ["BudgetExhausted", "Options", "Summary", "repo_matcher", "run_backfill"]
