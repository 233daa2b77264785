"""The resumable loop, with a stub API, an in-memory archive and memory cursors: pages are archived before
their items are published, a crash resumes from the archive, and marks move only when a sweep completes."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.archive_store import FileStore
from backfill.archive import PageArchive, decode, encode, object_name
from backfill.cursors import MemoryCursorStore
from backfill.github_api import Page, Stats, request_url
from backfill.progress import Progress
from backfill.ratelimit import TokenPool
from backfill.sweep import RunContext, Sweep
from pillarstream.envelope import Envelope

pytestmark = pytest.mark.unit
WHEN = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class StubApi:
    """Answers from a dict of request → (items, next); 304 when the ETag matches."""

    def __init__(self, pages: dict[str, tuple[list[Any], str | None]]) -> None:
        self.pages = pages
        self.asked: list[str] = []
        self.stats = Stats()
        self.pool = TokenPool(["t"], reserve=0)
        self.api_url = "https://api.github.com"

    def get(self, url: str, params: Any = None, *, etag: str | None = None, resource: str = "") -> Page:
        key = request_url(url, params)
        self.asked.append(key)
        items, following = self.pages[key]
        tag = f'W/"{hash(repr(items)) & 0xffff}"'
        headers = {"etag": tag} | ({"link": f'<{following}>; rel="next"'} if following else {})
        if etag == tag:
            return Page(key, 304, "", headers, WHEN)
        return Page(key, 200, json.dumps(items), headers, WHEN)


class Boom(Exception):
    pass


class Publisher:
    def __init__(self, fail_after: int | None = None) -> None:
        self.sent: list[Envelope] = []
        self.fail_after = fail_after

    def publish_many(self, envelopes: Any) -> int:
        batch = list(envelopes)
        if self.fail_after is not None and len(self.sent) + len(batch) > self.fail_after:
            raise Boom("crash")
        self.sent += batch
        return len(batch)


PAGES = {"/items?per_page=2": ([{"n": 1}, {"n": 2}], "/items?page=2&per_page=2"),
         "/items?page=2&per_page=2": ([{"n": 3}], None)}


def context(api: StubApi, tmp_path, cursors: MemoryCursorStore, publisher: Publisher) -> RunContext:
    return RunContext(api=api, archive=PageArchive(FileStore(tmp_path)),  # type: ignore[arg-type]
                      publisher=publisher, cursors=cursors,  # type: ignore[arg-type]
                      progress=Progress(api.stats, api.pool, mode="none"),  # type: ignore[arg-type]
                      owner="acme", resources=frozenset({"x"}))


def sweep_items(ctx: RunContext, seen: list[int]) -> None:
    sweep = Sweep(ctx, "acme/api", "items")
    for page, items, start in sweep.walk("list", "/items", {"per_page": 2}, resource="items",
                                         conditional="first"):
        if page.status == 304:
            sweep.stop_walk("list")
            break
        for index in range(start, len(items)):
            seen.append(items[index]["n"])
            sweep.publish([Envelope(f"d{items[index]['n']}", "x", "backfill", WHEN, b"{}")])
            sweep.item_done("list", index)
    sweep.finish({"top": max(seen, default=None)})


def test_a_crash_resumes_from_the_archive_and_publishes_the_rest(tmp_path):
    api, cursors = StubApi(PAGES), MemoryCursorStore()
    with pytest.raises(Boom):  # publishing fails at the second page: its page is archived, not published
        sweep_items(context(api, tmp_path, cursors, Publisher(fail_after=2)), [])
    state = cursors.load("acme", "acme/api", "items").state
    assert state["walks"]["list"]["next"] == "/items?page=2&per_page=2" and state["memo"]
    assert cursors.load("acme", "acme/api", "items").marks == {}
    asked_before = list(api.asked)
    publisher, seen = Publisher(), []
    sweep_items(context(api, tmp_path, cursors, publisher), seen)
    assert api.asked == asked_before  # the page in flight came back from the archive, not from GitHub
    assert seen == [3] and [e.delivery_id for e in publisher.sent] == ["d3"]
    cursor = cursors.load("acme", "acme/api", "items")
    assert cursor.state == {} and cursor.marks["top"] == 3 and cursor.etags


def test_an_unchanged_list_costs_a_304_and_publishes_nothing(tmp_path):
    api, cursors = StubApi(PAGES), MemoryCursorStore()
    sweep_items(context(api, tmp_path, cursors, Publisher()), [])
    publisher, seen = Publisher(), []
    sweep_items(context(api, tmp_path, cursors, publisher), seen)
    assert seen == [] and publisher.sent == []
    assert api.asked[-1] == "/items?per_page=2"


def test_a_sweep_with_other_parameters_starts_afresh(tmp_path):
    api, cursors = StubApi(PAGES), MemoryCursorStore()
    with pytest.raises(Boom):
        sweep_items(context(api, tmp_path, cursors, Publisher(fail_after=0)), [])
    ctx = context(api, tmp_path, cursors, Publisher())
    ctx.since = WHEN
    assert not Sweep(ctx, "acme/api", "items").resumed
    assert Sweep(context(api, tmp_path, cursors, Publisher()), "acme/api", "items").resumed


def test_archive_objects_are_deterministic_create_only_and_round_trip(tmp_path):
    page = Page("/repos/acme/api/pulls?per_page=100", 200, '[{"id": 1}]', {"etag": "x"}, WHEN)
    name = object_name("pulls", "acme", "acme/api", "20261123T090000", 3, page.url, WHEN)
    assert name == object_name("pulls", "acme", "acme/api", "20261123T090000", 3, page.url, WHEN)
    assert name.startswith("source=api/resource=pulls/year=2026/month=11/day=23/")
    assert name.split("/")[-1].startswith("acme+acme_api+20261123T090000+000003-")
    assert decode(encode(page), name) == Page(page.url, 200, page.body, page.headers, WHEN, name)
    assert encode(page) == encode(page)
    archive = PageArchive(FileStore(tmp_path))
    assert archive.put(name, page).archived_as == name
    later = Page(page.url, 200, "[]", {}, WHEN)
    assert archive.put(name, later).body == page.body  # the first copy stays: it may have been published
