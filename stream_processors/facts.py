"""Writing normalised facts to Postgres: one batched upsert per table, with the same merge rule applied
inside the batch (Python) and against stored rows (SQL), so the result never depends on arrival order.

Each table is declared once, in :data:`FACT_TABLES`: its row type (whose fields are the columns, in table
order), its key and its merge policy; the upsert SQL is generated from it. So a new column is one field of
its row type in ``pillarstream/normalise/rows.py`` (and its migration), and a new table one row type, one
``Facts`` field and one line here (and its migration). Two merge policies:

- ``versioned`` (entity state): the row with the greatest ``version`` wins; equal versions rewrite, so a
  replay re-derives config-dependent flags.
- ``greatest`` (facts that only accumulate): column-wise GREATEST, or LEAST for "first seen" times. Both
  are commutative and idempotent, so any order and any number of repeats give the same row.

An integration test checks the declarations against the migrated warehouse (columns, keys, text types).
"""

from __future__ import annotations

import re
import types
import typing
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
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")  # declared names go into SQL as they are: nothing to quote


@dataclass(frozen=True, slots=True)
class FactTable:
    """A warehouse fact table: ``row``'s fields are its columns; ``least`` the columns a ``greatest`` merge
    keeps the least of ("first seen" times)."""

    name: str
    row: type[Any]
    key: tuple[str, ...]
    policy: Policy
    least: frozenset[str] = frozenset()

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.row._fields)

    @property
    def text_columns(self) -> frozenset[str]:
        """Columns typed ``str`` in the row: Postgres text, compared in "C" order when merged."""
        hints = typing.get_type_hints(self.row)
        return frozenset(c for c in self.columns if hints[c] is str or (
            typing.get_origin(hints[c]) in (types.UnionType, typing.Union) and str in typing.get_args(hints[c])))


FACT_TABLES: tuple[FactTable, ...] = (
    FactTable("repositories", r.Repository, ("repo_id",), "versioned"),
    FactTable("commits", r.Commit, ("repo_id", "sha"), "greatest", frozenset({"first_default_push_at"})),
    FactTable("pushes", r.Push, ("repo_id", "ref", "before_sha", "after_sha"), "greatest"),
    FactTable("pull_requests", r.PullRequest, ("pr_id",), "versioned"),
    FactTable("pull_request_events", r.PullRequestEvent, ("pr_id", "action", "occurred_at"), "greatest"),
    FactTable("pull_request_reviews", r.Review, ("review_id",), "greatest"),
    FactTable("check_suites", r.CheckSuite, ("check_suite_id",), "versioned"),
    FactTable("check_runs", r.CheckRun, ("check_run_id",), "versioned"),
    FactTable("workflow_runs", r.WorkflowRun, ("run_id",), "versioned"),
    FactTable("workflow_jobs", r.WorkflowJob, ("job_id",), "versioned"),
    FactTable("deployments", r.Deployment, ("deployment_id",), "versioned"),
    FactTable("deployment_statuses", r.DeploymentStatus, ("node_id",), "greatest"),
    FactTable("issues", r.Issue, ("issue_id",), "versioned"),
    FactTable("releases", r.Release, ("release_id",), "versioned"),
    FactTable("ref_events", r.RefEvent, ("delivery_id",), "greatest"),
    FactTable("org_memberships", r.OrgMembership, ("org", "user_login"), "versioned"),
    FactTable("teams", r.Team, ("team_id",), "versioned"),
    FactTable("team_memberships", r.TeamMembership, ("team_id", "user_login"), "versioned"),
    FactTable("team_repositories", r.TeamRepository, ("team_id", "repo_id"), "versioned"),
)
FACT_TABLES_BY_NAME = {table.name: table for table in FACT_TABLES}


@cache
def named_queries(filename: str) -> dict[str, str]:
    """``-- name: x`` sections of a file in ``sql/``; read on first use, never at import."""
    text = (SQL_DIR / filename).read_text(encoding="utf-8")
    parts = _NAME.split(text)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


@cache
def upsert_sql(table: FactTable) -> str:
    """The table's batched upsert: its rows come as one JSON parameter (:func:`json_rows`), and a row
    already stored merges with the table's policy, as :func:`merge_rows` merges within a batch.

    versioned: the stored row is replaced by one whose version is >= its own. Rows that would change
    nothing (the stored one is newer, or the same) are left out before the insert, which would lock the
    stored row until the transaction ends: a bulk load's history of a repository waited on each batch for
    the live writer's newer row of it (bench/ingest_profile.py). greatest: each column takes GREATEST (LEAST
    for ``least``); text compares in "C" order, as Python compares it, whatever the database collation.
    """
    for name in (table.name, *table.columns, *table.key):
        if not _IDENTIFIER.match(name):
            raise ValueError(f"{name!r} is not a plain SQL identifier")
    columns = ", ".join(table.columns)
    updated = [c for c in table.columns if c not in table.key]
    rows = f"FROM json_populate_recordset(NULL::{table.name}, %s) AS j\n"
    if table.policy == "versioned":
        same_key = " AND ".join(f"s.{c} = j.{c}" for c in table.key)
        rows += (f"WHERE NOT EXISTS (SELECT FROM {table.name} s WHERE {same_key} AND (s.version > j.version\n"
                 f"    OR ({', '.join(f's.{c}' for c in updated)})\n"
                 f"       IS NOT DISTINCT FROM ({', '.join(f'j.{c}' for c in updated)})))\n")
    head = (f"INSERT INTO {table.name} AS t ({columns})\nSELECT {columns}\n{rows}"
            f"ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET\n")
    if table.policy == "versioned":
        return head + ",\n".join(f"    {c} = excluded.{c}" for c in updated) + "\nWHERE excluded.version >= t.version;"
    assignments = []
    for c in updated:
        function = "LEAST" if c in table.least else "GREATEST"
        collate = ' COLLATE "C"' if c in table.text_columns else ""
        assignments.append(f"    {c} = {function}(t.{c}{collate}, excluded.{c})")
    return head + ",\n".join(assignments) + ";"


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


def merge_rows(spec: FactTable, rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
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
    adopt = named_queries("adopt.sql")
    found: list[Statement] = []
    for name, rows in facts.tables().items():
        table = FACT_TABLES_BY_NAME[name]
        batch = json_rows(table.columns, merge_rows(table, rows))
        if f"adopt_{name}" in adopt:  # rows stored under an older key take their new one first (008)
            found.append((adopt[f"adopt_{name}"], (batch,)))
        found.append((upsert_sql(table), (batch,)))
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
