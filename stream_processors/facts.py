"""Writing normalised facts to Postgres: one batched upsert per table, with the same merge rule applied
inside the batch (Python) and against stored rows (SQL), so the result never depends on arrival order.

Two merge policies, declared per table in :data:`TABLES`:

- ``versioned`` (entity state): the row with the greatest ``version`` wins; equal versions rewrite, so a
  replay re-derives config-dependent flags.
- ``greatest`` (facts that only accumulate): column-wise GREATEST, or LEAST for "first seen" times. Both
  are commutative and idempotent, so any order and any number of repeats give the same row.

The SQL for each table is a named query in ``sql/facts.sql``; a unit test checks it matches the row types.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import orjson

from pillarstream.normalise import rows as r
from pillarstream.normalise.rows import Facts

SQL_DIR = Path(__file__).parent / "sql"
_NAME = re.compile(r"^-- name: ([a-z_]+)\s*$", re.MULTILINE)
Policy = Literal["versioned", "greatest"]
Statement = tuple[str, tuple[str]]  # SQL with one %s, and the JSON rows bound to it: cur.execute(*statement)


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    row: type[Any]
    key: tuple[str, ...]
    policy: Policy
    least: frozenset[str] = frozenset()

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.row._fields)


TABLES: tuple[TableSpec, ...] = (
    TableSpec("repositories", r.Repository, ("repo_id",), "versioned"),
    TableSpec("commits", r.Commit, ("repo_id", "sha"), "greatest", frozenset({"first_default_push_at"})),
    TableSpec("pushes", r.Push, ("repo_id", "ref", "before_sha", "after_sha"), "greatest"),
    TableSpec("pull_requests", r.PullRequest, ("pr_id",), "versioned"),
    TableSpec("pull_request_events", r.PullRequestEvent, ("pr_id", "action", "occurred_at"), "greatest"),
    TableSpec("pull_request_reviews", r.Review, ("review_id",), "greatest"),
    TableSpec("check_suites", r.CheckSuite, ("check_suite_id",), "versioned"),
    TableSpec("check_runs", r.CheckRun, ("check_run_id",), "versioned"),
    TableSpec("workflow_runs", r.WorkflowRun, ("run_id",), "versioned"),
    TableSpec("workflow_jobs", r.WorkflowJob, ("job_id",), "versioned"),
    TableSpec("deployments", r.Deployment, ("deployment_id",), "versioned"),
    TableSpec("deployment_statuses", r.DeploymentStatus, ("node_id",), "greatest"),
    TableSpec("issues", r.Issue, ("issue_id",), "versioned"),
    TableSpec("releases", r.Release, ("release_id",), "versioned"),
    TableSpec("ref_events", r.RefEvent, ("delivery_id",), "greatest"),
    TableSpec("org_memberships", r.OrgMembership, ("org", "user_login"), "versioned"),
    TableSpec("teams", r.Team, ("team_id",), "versioned"),
    TableSpec("team_memberships", r.TeamMembership, ("team_id", "user_login"), "versioned"),
    TableSpec("team_repositories", r.TeamRepository, ("team_id", "repo_id"), "versioned"),
)
TABLES_BY_NAME = {spec.name: spec for spec in TABLES}


@cache
def named_queries(filename: str) -> dict[str, str]:
    """``-- name: x`` sections of a file in ``sql/``; read on first use, never at import."""
    text = (SQL_DIR / filename).read_text(encoding="utf-8")
    parts = _NAME.split(text)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def _greatest(a: Any, b: Any) -> Any:
    # Postgres GREATEST/LEAST ignore NULLs; text compares in code-point order (SQL uses COLLATE "C").
    if a is None:
        return b
    if b is None:
        return a
    return a if a >= b else b


def _least(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return a if a <= b else b


def merge_rows(spec: TableSpec, rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Collapse a batch to one row per key with the table's rule (one upsert may touch a row only once)."""
    key_at = [spec.columns.index(k) for k in spec.key]
    merged: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    if spec.policy == "versioned":
        version_at = spec.columns.index("version")
        for row in rows:
            key = tuple(row[i] for i in key_at)
            held = merged.get(key)
            if held is None or row[version_at] >= held[version_at]:
                merged[key] = row
    else:
        pick: list[Callable[[Any, Any], Any]] = [
            _least if name in spec.least else _greatest for name in spec.columns]
        for row in rows:
            key = tuple(row[i] for i in key_at)
            held = merged.get(key)
            merged[key] = row if held is None else spec.row(*(f(a, b) for f, a, b in zip(pick, held, row,
                                                                                          strict=True)))
    return list(merged.values())


def upserts(facts: Facts) -> list[Statement]:
    """One upsert per non-empty table of ``facts`` (after its ``adopt_`` statement in ``sql/adopt.sql``, where
    it has one)."""
    queries, adopt = named_queries("facts.sql"), named_queries("adopt.sql")
    found: list[Statement] = []
    for name, rows in facts.tables().items():
        spec = TABLES_BY_NAME[name]
        batch = json_rows(spec.columns, merge_rows(spec, rows))
        if f"adopt_{name}" in adopt:  # rows stored under an older key take their new one first (008)
            found.append((adopt[f"adopt_{name}"], (batch,)))
        found.append((queries[f"upsert_{name}"], (batch,)))
    return found


def json_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """``rows`` as a JSON array of objects keyed by ``columns``: the one parameter of a statement that
    expands it with ``json_populate_recordset``.

    Why not ``VALUES %s`` (execute_values): psycopg2 adapts and quotes every value one by one in Python,
    a third of a batch's CPU, and Postgres parses a 1000-row ``VALUES`` list more slowly than the same rows
    as JSON. orjson writes the document in C, and the statement has one parameter to quote. The types
    carry over exactly: ISO 8601 times, booleans, integers, text, NULL.
    """
    return orjson.dumps([dict(zip(columns, row, strict=True)) for row in rows]).decode()


def keys(facts: Facts, table: str, *columns: str) -> list[Any] | tuple[list[Any], ...]:
    """Column values of a table's rows, as lists ready for ``unnest`` (one list per column)."""
    rows: Sequence[Any] = getattr(facts, table)
    lists = tuple([getattr(row, c) for row in rows] for c in columns)
    return lists[0] if len(columns) == 1 else lists
