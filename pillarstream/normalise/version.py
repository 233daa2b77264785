"""Sortable versions for entity state, so the newest snapshot wins whatever order snapshots arrive in.

A version is ``<rank>|<time>|<content hash>`` as fixed-width text, compared as a string in Python and
Postgres alike (``excluded.version >= t.version``):

- ``rank`` orders states that GitHub's timestamps cannot: a check run goes queued → in_progress →
  completed; a workflow run's attempt 2 supersedes attempt 1; a deletion is final.
- ``time`` is the entity's own ``updated_at`` (or the closest thing the payload has).
- the content hash breaks ties between different snapshots with equal rank and time deterministically.
  Without it "last writer wins" on a tie, and replaying in another order could leave another row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import cache
from operator import itemgetter
from typing import Any, TypeVar

from pillarstream.envelope import format_time

_NO_TIME = "0000-00-00T00:00:00.000000Z"
# Fact rows are NamedTuples: tuples with ``_fields`` and ``_replace``.
R = TypeVar("R", bound=tuple[Any, ...])


def version(rank: int, at: datetime | None, content: Iterable[object]) -> str:
    if not 0 <= rank < 1_000_000:
        raise ValueError("version rank out of range")
    digest = hashlib.blake2b(repr(tuple(content)).encode("utf-8"), digest_size=8).hexdigest()
    return f"{rank:06d}|{format_time(at) if at is not None else _NO_TIME}|{digest}"


def is_derived(column: str) -> bool:
    """Columns computed from the pillar config: out of the hash, so a config change is not a 'newer' row."""
    return column.endswith("is_bot") or column in ("is_production", "is_incident")


def stamp(row: R, rank: int, at: datetime | None) -> R:
    """The row with its ``version`` filled from rank, time and every column that GitHub's data determines."""
    content = _content_of(type(row))(row)
    replaced: R = row._replace(version=version(rank, at, content))  # type: ignore[attr-defined]
    return replaced


@cache
def _content_of(row_type: type) -> Callable[[Any], tuple[Any, ...]]:
    """A C-speed getter of the hashed columns (all but ``version`` and the derived flags), per row type."""
    fields: tuple[str, ...] = row_type._fields  # type: ignore[attr-defined]
    kept = [i for i, name in enumerate(fields) if name != "version" and not is_derived(name)]
    getter = itemgetter(*kept)
    return getter if len(kept) > 1 else lambda row: (getter(row),)
