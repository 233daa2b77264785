"""Raw API pages in the archive, written before anything from them is published.

Layout (docs/backfill.md, "Resuming"): ``source=api/resource=<name>/year=YYYY/month=MM/day=DD/<object>`` by the day
the page was fetched (UTC). The object name is deterministic per (owner, repository, resource, sweep, page
sequence, request), so a page fetched again after a crash maps to the same name; objects are create-only,
and when the name exists the stored copy wins -- what may already have been published came from it.

Each object is one gzip-compressed JSON document: the request, status, fetch time, the headers that matter
(ETag, Link, rate limit) and the body exactly as GitHub sent it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import datetime

from adapters.archive_store import ArchiveStore
from backfill.github_api import Page
from pillarstream.envelope import format_time, parse_time

PREFIX = "source=api"


def object_name(resource: str, owner: str, repo: str, sweep: str, seq: int, url: str,
                fetched_at: datetime) -> str:
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    t = fetched_at
    return (f"{PREFIX}/resource={resource}/year={t.year:04d}/month={t.month:02d}/day={t.day:02d}/"
            f"{_safe(owner)}+{_safe(repo) or '_'}+{sweep}+{seq:06d}-{digest}.json.gz")


def _safe(part: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in part)


def encode(page: Page) -> bytes:
    record = {"request": page.url, "status": page.status, "fetched_at": format_time(page.fetched_at),
              "headers": page.headers, "body": page.body}
    # mtime=0: the same page always compresses to the same bytes.
    return gzip.compress(json.dumps(record, ensure_ascii=False).encode("utf-8"), mtime=0)


def decode(data: bytes, name: str) -> Page:
    record = json.loads(gzip.decompress(data))
    return Page(record["request"], record["status"], record["body"], record["headers"],
                parse_time(record["fetched_at"]), archived_as=name)


class PageArchive:
    def __init__(self, store: ArchiveStore) -> None:
        self.store = store

    def put(self, name: str, page: Page) -> Page:
        """Write create-only; returns the page as archived (the earlier copy if the name existed)."""
        if self.store.put_if_absent(name, encode(page)):
            return Page(page.url, page.status, page.body, page.headers, page.fetched_at, archived_as=name)
        return self.get(name)

    def get(self, name: str) -> Page:
        return decode(self.store.get(name), name)
