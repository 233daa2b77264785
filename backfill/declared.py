"""The generic sweep: one declared resource (backfill/resources.py) over one repository.

Every repository flow is the same loop -- skipped unless its resource is selected, one :class:`Sweep` of
its cursor, its marks moved when it completes -- around a body that says what is particular to it. The
body reads URLs, parameters, where a listing keeps its items, the cursor field and the envelope kind from
the declaration through :class:`ResourceSweep`; :func:`newest_first` is the list walk most of them share.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from backfill.envelopes import envelope
from backfill.github_api import Page
from backfill.resources import BY_NAME, Resource, path
from backfill.sweep import RunContext, Sweep, later
from backfill.windows import iso
from pillarstream.envelope import Envelope

Json = dict[str, Any]
Flow = Callable[[RunContext, Json], None]


class ResourceSweep(Sweep):
    """A sweep of one declared resource over one repository."""

    def __init__(self, ctx: RunContext, repo: Json, resource: str) -> None:
        super().__init__(ctx, repo["full_name"], resource)
        self.repository = repo
        self.declared: Resource = BY_NAME[resource]
        self.owner_login, _, self.repo_name = str(repo["full_name"]).partition("/")

    def url(self, resource: str | None = None, **values: object) -> str:
        """The declared path of ``resource`` (default: this sweep's) in this repository."""
        return path(resource or self.resource, owner=self.owner_login, repo=self.repo_name, **values)

    def params(self, resource: str | None = None, **extra: object) -> Json:
        """The declared parameters, with ``extra`` (None values left out) after them."""
        return {**BY_NAME[resource or self.resource].params, **{k: v for k, v in extra.items() if v is not None}}

    def mark(self, name: str | None = None) -> str | None:
        """Where the last sweep stopped (the declared cursor's mark, or the mark ``name``), else ``--since``."""
        key = name or self.declared.cursor
        found = self.marks.get(key) if key else None
        return str(found) if found else (iso(self.ctx.since) if self.ctx.since else None)

    def envelope(self, item: Json, page: Page, resource: str | None = None, **kw: Any) -> Envelope:
        """An item of ``resource`` (default: this sweep's) as its declared envelope, naming the page it came
        from."""
        kind = BY_NAME[resource or self.resource].mapping
        assert kind is not None, f"{resource or self.resource} declares no envelope"
        return envelope(kind, item, received_at=page.fetched_at, repository=self.repository,
                        organization=self.ctx.organization, provenance=page.archived_as, **kw)

    def list_all(self, resource: str, **values: object) -> tuple[list[Json], Page | None]:
        """Every item of a small fan-out list of ``resource`` (None page: it is gone)."""
        return self.fetch_all(self.url(resource, **values), self.params(resource), resource=resource,
                              missing_ok=True)


def repository_flow(resource: str) -> Callable[[Callable[[ResourceSweep], Json | None]], Flow]:
    """A body becomes the flow of a declared resource: nothing unless it is selected, else one sweep whose
    marks (what the body returns) move once it completes."""
    def wrap(body: Callable[[ResourceSweep], Json | None]) -> Flow:
        @functools.wraps(body)
        def flow(ctx: RunContext, repo: Json) -> None:
            if not ctx.wants(resource):
                return
            sweep = ResourceSweep(ctx, repo, resource)
            sweep.finish(body(sweep))
        return flow
    return wrap


def newest_first(sweep: ResourceSweep, *, stop: Callable[[Json], bool], publish: Callable[[Page, Json], list[Envelope]],
                 top_field: str | None = None) -> str | None:
    """The declared list, newest first, its first page asked with the last sweep's ETag (a ``304``: nothing
    changed). Items until the first that ``stop`` says is past the mark are handed to ``publish``; returns the
    greatest ``top_field`` (default: the cursor) seen, the next mark."""
    field = top_field or sweep.declared.cursor
    assert field is not None
    top = sweep.data.get("top")
    for page, items, start in sweep.walk("list", sweep.url(), sweep.params(), resource=sweep.resource,
                                         conditional="first"):
        if page.status == 304:
            sweep.stop_walk("list")
            break
        for index in range(start, len(items)):
            item = items[index]
            if stop(item):
                sweep.stop_walk("list")
                break
            top = sweep.data["top"] = later(top, item.get(field))
            sweep.publish(publish(page, item))
            sweep.item_done("list", index)
    return top


__all__ = ["Flow", "ResourceSweep", "later", "newest_first", "repository_flow"]
