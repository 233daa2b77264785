"""Cursors per owner, repository and resource, in Postgres (``backfill.cursors``, migration 090).

A cursor holds three things (see the migration for why they are kept apart): ``marks`` where the last
complete sweep got to, ``etags`` for conditional re-requests, and ``state`` of the sweep in progress. The
runner saves ``state`` after each page is archived and after each unit is published, and ``marks``/``etags``
only when a sweep completes -- so a run killed at any point resumes at the page in flight.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from adapters.postgres import ReconnectingConnection

_LOAD = "SELECT marks, etags, state FROM backfill.cursors WHERE owner = %s AND repo = %s AND resource = %s"
_SAVE = """
    INSERT INTO backfill.cursors (owner, repo, resource, marks, etags, state, updated_at)
    VALUES (%s, %s, %s, %s, %s, %s, now())
    ON CONFLICT (owner, repo, resource) DO UPDATE
    SET marks = excluded.marks, etags = excluded.etags, state = excluded.state, updated_at = now()
"""
_LIST = "SELECT repo, resource, marks, state FROM backfill.cursors WHERE owner = %s ORDER BY repo, resource"


@dataclass
class Cursor:
    owner: str
    repo: str  # '' for owner-level resources
    resource: str
    marks: dict[str, Any] = field(default_factory=dict)
    etags: dict[str, str] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)


class CursorStore(Protocol):
    def load(self, owner: str, repo: str, resource: str) -> Cursor: ...
    def save(self, cursor: Cursor) -> None: ...
    def listing(self, owner: str) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]: ...


class MemoryCursorStore:
    """For unit tests and dry runs."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], Cursor] = {}
        self.saves = 0

    def load(self, owner: str, repo: str, resource: str) -> Cursor:
        found = self.rows.get((owner, repo, resource))
        return copy.deepcopy(found) if found else Cursor(owner, repo, resource)

    def save(self, cursor: Cursor) -> None:
        self.saves += 1
        self.rows[(cursor.owner, cursor.repo, cursor.resource)] = copy.deepcopy(cursor)

    def listing(self, owner: str) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
        return [(c.repo, c.resource, c.marks, c.state) for (o, _, _),
                c in sorted(self.rows.items()) if o == owner]


class PostgresCursorStore:
    """One connection shared by the run's threads (a save is one short statement, autocommitted); failures
    as ``adapters/postgres_errors.py`` classifies them, named ``backfill cursors``."""

    def __init__(self, dsn: str) -> None:
        self._db = ReconnectingConnection(dsn, connect_timeout=10, autocommit=True, label="backfill cursors")

    def _run(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._db.transaction() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def load(self, owner: str, repo: str, resource: str) -> Cursor:
        rows = self._run(_LOAD, (owner, repo, resource))
        if not rows:
            return Cursor(owner, repo, resource)
        marks, etags, state = rows[0]
        return Cursor(owner, repo, resource, dict(marks), dict(etags), dict(state))

    def save(self, cursor: Cursor) -> None:
        self._run(_SAVE, (cursor.owner, cursor.repo, cursor.resource, json.dumps(cursor.marks),
                          json.dumps(cursor.etags), json.dumps(cursor.state)))

    def listing(self, owner: str) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
        return [(repo, resource, dict(marks), dict(state)) for repo, resource, marks, state in
                self._run(_LIST, (owner,))]

    def close(self) -> None:
        self._db.close()
