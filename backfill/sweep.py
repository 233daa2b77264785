"""One sweep of one cursor (owner × repository × resource): archive first, publish, then move the cursor.

Order for every page: fetch → archive (create-only) → record in the cursor's ``state`` → publish what it
says → record progress. A run killed anywhere resumes from ``state``: pages fetched before the kill are
read back from the archive, not from GitHub, so nothing is fetched twice beyond the request in flight.
Cursor ``marks`` (where the next sweep stops) and ``etags`` move only when the sweep completes; a sweep
interrupted half-way is finished by the next run before a new one starts.

``state`` keeps a memo of the requests of the page and the item in progress (request → archive object),
the archived pages of each phase a later step needs, each list walk's position, and the ETags seen.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from adapters.kafka_publisher import Publisher
from backfill.archive import PageArchive, object_name
from backfill.cursors import Cursor, CursorStore
from backfill.github_api import GitHubApi, GraphQLAnswer, Page, request_url
from backfill.resources import BY_NAME
from pillarstream.envelope import Envelope
from pillarstream.errors import ArchiveError, GitHubAPIError, PillarstreamError

if TYPE_CHECKING:
    from backfill.progress import Progress

log = logging.getLogger(__name__)
Json = dict[str, Any]
# Items are published in batches and progress is recorded after each batch: one Kafka round trip per
# batch instead of per pull request. Everything fetched since the last batch stays in the memo, so a crash
# in between re-reads those pages from the archive, not from GitHub.
COMMIT_ITEMS = 500
COMMIT_SECONDS = 2.0


class Stopped(PillarstreamError):
    """The run is stopping (another job hit a fatal or budget error, or Ctrl-C); state is saved."""

    retriable = True


@dataclass
class RunContext:
    """What every sweep of one run shares."""

    api: GitHubApi
    archive: PageArchive
    publisher: Publisher
    cursors: CursorStore
    progress: Progress
    owner: str
    resources: frozenset[str]
    since: datetime | None = None
    until: datetime | None = None
    organization: Json | None = None  # the payloads' "organization" (None for a user account)
    graphql: bool = True  # pull requests and check runs with GraphQL (False: REST only)
    graphql_page: int = 100  # pull requests per GraphQL query, at most
    stop: threading.Event = field(default_factory=threading.Event)
    _shas: set[tuple[str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self) -> None:
        if self.stop.is_set():
            raise Stopped("stopping")

    def claim_sha(self, repo: str, sha: str) -> bool:
        """True the first time a SHA's checks are wanted in this run (PR heads and push heads overlap).

        Per run only, on purpose: a SHA asked by an earlier run is asked again when it comes back (its pull
        request changed, or it was pushed to the default branch), because a push starts new runs on the
        same SHA and a re-run of a finished check changes nothing else that a sweep could notice."""
        with self._lock:
            if (repo, sha) in self._shas:
                return False
            self._shas.add((repo, sha))
            return True

    def wants(self, resource: str) -> bool:
        return resource in self.resources


class Sweep:
    def __init__(self, ctx: RunContext, repo: str, resource: str, params: Json | None = None) -> None:
        self.ctx = ctx
        self.repo = repo
        self.resource = resource
        self.cursor: Cursor = ctx.cursors.load(ctx.owner, repo, resource)
        identity = {"since": _iso(ctx.since), "until": _iso(ctx.until), **(params or {})}
        state = self.cursor.state
        self.resumed = bool(state.get("id")) and state.get("params") == identity
        if state.get("id") and not self.resumed:
            log.warning("discarding an unfinished sweep with other parameters",
                        extra={"repo": repo, "resource": resource, "was": state.get("params"),
                               "now": identity})
        if not self.resumed:
            state.clear()
            state.update(id=datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f"), params=identity, seq=0, memo={},
                         pages={}, walks={}, etags={}, seen={}, data={})
        self._cache: dict[str, Page] = {}
        self._outbox: list[Envelope] = []
        self._staged: Json = {}  # progress for `data`, applied once the outbox is published
        self._staged_walks: dict[str, int] = {}
        self._committed_at = time.monotonic()

    # --- state ------------------------------------------------------------------------------------

    @property
    def state(self) -> Json:
        return self.cursor.state

    @property
    def marks(self) -> Json:
        return self.cursor.marks

    @property
    def data(self) -> Json:
        """Small values a flow keeps across a resume (tops seen, work lists)."""
        return self.cursor.state["data"]  # type: ignore[no-any-return]

    def save(self) -> None:
        self.ctx.cursors.save(self.cursor)

    # --- fetching -----------------------------------------------------------------------------------

    def fetch(self, url: str, params: Json | None = None, *, resource: str, conditional: bool = False,
              phase: str | None = None, unit: bool = False, missing_ok: bool = False) -> Page | None:
        """A page: from the archive if this sweep already fetched it, else from GitHub (then archived).

        With ``conditional`` the last sweep's ETag is sent; a 304 comes back as a page with status 304 and
        the content archived then. ``missing_ok`` turns 404/409/410 (no such thing, empty repository) into
        ``None``.
        """
        self.ctx.check()
        key = request_url(url, params)
        memo = self.state["memo"]
        if key in memo:
            entry = memo[key]
            archived = self._read(entry["name"], keep=phase is not None)
            self.ctx.progress.page(resumed=True)
            return _with_status(archived, entry["status"]) if entry["status"] == 304 else archived
        etag = self.cursor.etags.get(key) if conditional else None
        previous = (self.marks.get("pages") or {}).get(key)
        page = self._get(key, etag if previous else None, resource, missing_ok)
        if page is None:
            return None
        if page.status == 304:
            name = str(previous)
            try:
                page = _with_status(self._read(name, keep=phase is not None), 304)
            except ArchiveError:  # the last run's copy is gone: ask in full
                log.warning("archived copy unreadable, asking again", extra={"object": name})
                page = self._get(key, None, resource, missing_ok) or page
        if page.status == 304:
            self.state["etags"][key] = etag
        else:
            name = object_name(resource, self.ctx.owner, self.repo, self.state["id"], self.state["seq"], key,
                               page.fetched_at)
            page = self.ctx.archive.put(name, page)
            if phase is not None:
                self._cache[name] = page
            self.state["seq"] += 1
            if conditional and page.etag:
                self.state["etags"][key] = page.etag
        if conditional:
            self.state["seen"][key] = name
        memo[key] = {"name": name, "status": page.status, "scope": "unit" if unit else "page"}
        if phase is not None:
            self.state["pages"].setdefault(phase, []).append(name)
        self.save()
        remaining = self.ctx.api.pool.remaining()
        self.ctx.progress.page(resumed=False)
        log.info("api page", extra={"resource": resource, "repo": self.repo or None, "status": page.status,
                                    "items": len(_items(page)), "cost": 0 if page.status == 304 else 1,
                                    "remaining": remaining, "object": name})
        return page

    def fetch_graphql(self, name: str, query: str, variables: Json, *, resource: str,
                      unit: bool = False) -> GraphQLAnswer:
        """A GraphQL answer: from the archive if this sweep already asked the same query, else from GitHub,
        archived (partial results included) before anything from it is published."""
        self.ctx.check()
        key = f"POST /graphql {name} " + json.dumps(variables, sort_keys=True, separators=(",", ":"))
        memo = self.state["memo"]
        if key in memo:
            self.ctx.progress.page(resumed=True)
            return GraphQLAnswer(self._read(memo[key]["name"]))
        answer = self.ctx.api.graphql(name, query, variables, resource=resource)
        page = answer.page
        name_ = object_name(resource, self.ctx.owner, self.repo, self.state["id"], self.state["seq"], key,
                            page.fetched_at)
        page = self.ctx.archive.put(name_, page)
        self.state["seq"] += 1
        memo[key] = {"name": name_, "status": page.status, "scope": "unit" if unit else "page"}
        self.save()
        self.ctx.progress.page(resumed=False)
        log.info("api graphql", extra={"resource": resource, "repo": self.repo or None, "query": name,
                                       "errors": len(answer.errors), "object": name_,
                                       "remaining": self.ctx.api.graphql_pool.remaining()})
        return GraphQLAnswer(page)

    def next_page(self) -> None:
        """A page of a hand-walked list (GraphQL) is done: forget its memo."""
        self._forget("page")
        self.save()

    def fetch_all(self, url: str, params: Json | None = None, *, resource: str,
                  missing_ok: bool = False) -> tuple[list[Json], Page | None]:
        """Every item of a small fan-out list (reviews, statuses, check runs of one SHA), page by page."""
        items_key = _items_key(resource)
        items: list[Json] = []
        first: Page | None = None
        next_url: str | None = request_url(url, params)
        while next_url:
            page = self.fetch(next_url, resource=resource, unit=True, missing_ok=missing_ok)
            if page is None:
                return items, first
            first = first or page
            items.extend(page.items(items_key))
            next_url = page.link("next")
        return items, first

    def pages(self, phase: str) -> list[Page]:
        """The archived pages of a phase (kept in memory: later steps read them more than once)."""
        return [self._read(name, keep=True) for name in self.state["pages"].get(phase, [])]

    def _read(self, name: str, *, keep: bool = False) -> Page:
        page = self._cache.get(name) or self.ctx.archive.get(name)
        if keep:
            self._cache[name] = page
        return page

    def _get(self, key: str, etag: str | None, resource: str, missing_ok: bool) -> Page | None:
        try:
            return self.ctx.api.get(key, etag=etag, resource=resource)
        except GitHubAPIError as exc:
            if missing_ok and exc.status in (404, 409, 410):
                return None
            raise

    # --- walking a list ------------------------------------------------------------------------------

    def walk(self, phase: str, url: str, params: Json | None, *, resource: str,
             conditional: str | None = None, missing_ok: bool = False) -> Iterator[tuple[Page, list[Json], int]]:
        """The pages of a list from where this sweep got to, with the index to resume at within each.

        ``conditional``: "first" sends the ETag for the first page only (lists sorted so that any change
        shows on it), "all" for every page (snapshots). Items are read where ``resource`` declares them. The
        caller calls :meth:`item_done` after each item it published and :meth:`stop_walk` to end early.
        """
        items_key = _items_key(resource)
        walks = self.state["walks"]
        position = walks.setdefault(phase, {"next": request_url(url, params), "index": 0, "done": False,
                                            "first": True})
        while not position["done"] and position["next"]:
            ask = conditional == "all" or (conditional == "first" and position["first"])
            page = self.fetch(position["next"], resource=resource, conditional=ask, phase=phase,
                              missing_ok=missing_ok)
            if page is None:
                position["done"] = True
                break
            yield page, page.items(items_key), position["index"]
            if position["done"]:
                break
            self.commit()  # the page's items are out before the walk moves past it
            position.update(next=page.link("next"), index=0, first=False)
            position["done"] = not position["next"]
            self._forget("page")
            self.save()

    def stop_walk(self, phase: str) -> None:
        self.commit()
        self.state["walks"].setdefault(phase, {})["done"] = True

    def walk_done(self, phase: str) -> bool:
        return bool(self.state["walks"].get(phase, {}).get("done"))

    def item_done(self, phase: str, index: int) -> None:
        """Item ``index`` of the page in flight is handled: once its items are out, resume after it."""
        self._staged_walks[phase] = index + 1
        self._maybe_commit()

    def unit_done(self, **progress: Any) -> None:
        """A unit of work outside a walk (one pull request, one chunk of pushes) is handled; ``progress``
        is recorded in ``data`` once its items are published."""
        self._staged.update(progress)
        self._maybe_commit()

    def _maybe_commit(self) -> None:
        if len(self._outbox) >= COMMIT_ITEMS or time.monotonic() - self._committed_at >= COMMIT_SECONDS:
            self.commit()

    def commit(self) -> None:
        """Publish what is waiting, then record the progress it stands for (never the other way round)."""
        if self._outbox:
            self.ctx.publisher.publish_many(self._outbox)
            self.ctx.progress.published(len(self._outbox))
            self._outbox = []
        self.data.update(self._staged)
        for phase, index in self._staged_walks.items():
            self.state["walks"][phase]["index"] = index
        self._staged, self._staged_walks = {}, {}
        self._forget("unit")
        self.save()
        self._committed_at = time.monotonic()

    def _forget(self, scope: str) -> None:
        memo = self.state["memo"]
        for key in [k for k, v in memo.items() if v["scope"] == "unit" or scope == "page"]:
            del memo[key]

    # --- publishing and finishing ---------------------------------------------------------------------

    def publish(self, envelopes: list[Envelope]) -> None:
        """Queue items; they go out with the next commit (see COMMIT_ITEMS)."""
        self.ctx.check()
        self._outbox.extend(envelopes)

    def finish(self, marks: Json | None) -> None:
        """The sweep is complete: move the marks (unless this run was bounded by --until), keep the ETags
        and page copies for the next run's conditional requests, and clear the progress."""
        self.commit()
        if self.ctx.until is None and marks is not None:
            self.cursor.marks.update({k: v for k, v in marks.items() if v is not None})
            self.cursor.marks["pages"] = dict(self.state["seen"])
            self.cursor.etags = dict(self.state["etags"])
        self.cursor.state = {}
        self.save()
        self.ctx.progress.resource_done()


def _items_key(resource: str) -> str | None:
    """Where a listing of ``resource`` keeps its items in an object answer (backfill/resources.py)."""
    declared = BY_NAME.get(resource)
    return declared.items_key if declared else None


def _items(page: Page) -> list[Any]:
    data = page.data
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        return next((v for v in data.values() if isinstance(v, list)), [data])
    return []


def _with_status(page: Page, status: int) -> Page:
    return Page(page.url, status, page.body, page.headers, page.fetched_at, page.archived_as)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def later(a: str | None, b: str | None) -> str | None:
    """The later of two GitHub timestamps (ISO 8601 in UTC compare as text)."""
    return max((x for x in (a, b) if x), default=None)
