"""Fact rows meet the warehouse: the SQL upserts match the row types, and the in-batch merge (the Python
mirror of the SQL merge) gives one answer whatever the order of the rows."""

from __future__ import annotations

import re
import typing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pillarstream.normalise import TABLES as FACT_TABLES
from pillarstream.normalise import rows as r
from pillarstream.normalise.version import is_derived, version
from stream_processors.facts import TABLES, TABLES_BY_NAME, merge_rows, named_queries

pytestmark = pytest.mark.unit
# The migrated schema (every migration applied; kept current by tests/integration/test_warehouse.py).
SCHEMA = Path(__file__).resolve().parents[2] / "stream_processors" / "sql" / "schema.sql"


def migration_columns() -> dict[str, list[str]]:
    text = SCHEMA.read_text()
    tables = {}
    for name, body in re.findall(r"CREATE TABLE public\.(\w+) \((.*?)\n\);", text, re.S):
        tables[name] = [line.split()[0] for line in body.strip().splitlines()
                        if line.strip() and not line.strip().startswith(("PRIMARY KEY", "--"))]
    return tables


def test_every_fact_table_has_a_spec_a_table_and_an_upsert():
    queries = named_queries("facts.sql")
    columns = migration_columns()
    assert [spec.name for spec in TABLES] == list(FACT_TABLES)
    for spec in TABLES:
        assert typing.get_type_hints(r.Facts)[spec.name] == list[spec.row]
        assert columns[spec.name] == list(spec.columns), f"schema.sql vs {spec.row.__name__}"
        assert set(spec.key) <= set(spec.columns) and spec.least <= set(spec.columns)
        assert set(queries) >= {f"upsert_{spec.name}"}


@pytest.mark.parametrize("spec", TABLES, ids=lambda s: s.name)
def test_upsert_sql_matches_the_merge_rule(spec):
    query = named_queries("facts.sql")[f"upsert_{spec.name}"]
    columns = ", ".join(spec.columns)
    assert f"INSERT INTO {spec.name} AS t ({columns})\nSELECT {columns}\n" in query
    assert f"FROM json_populate_recordset(NULL::{spec.name}, %s)\nON CONFLICT" in query
    assert f"ON CONFLICT ({', '.join(spec.key)}) DO UPDATE SET" in query
    assignments = dict(re.findall(r"^\s+(\w+) = (.+?)[,;]?$", query, re.M))
    assert set(assignments) == set(spec.columns) - set(spec.key)
    for column, expression in assignments.items():
        if spec.policy == "versioned":
            assert expression == f"excluded.{column}"
        else:
            function = "LEAST" if column in spec.least else "GREATEST"
            assert expression.startswith(f"{function}(t.{column}")
            assert expression.endswith(f"excluded.{column})")
    assert ("WHERE excluded.version >= t.version" in query) == (spec.policy == "versioned")
    assert ("version" in spec.columns) == (spec.policy == "versioned")


def test_derived_columns_are_the_config_dependent_ones():
    derived = {c for spec in TABLES for c in spec.columns if is_derived(c)}
    assert derived == {"author_is_bot", "pusher_is_bot", "actor_is_bot", "reviewer_is_bot", "creator_is_bot",
                       "is_bot", "is_production", "is_incident"}


def test_versions_sort_by_rank_then_time_then_content():
    early, late = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)
    assert version(0, early, ["a"]) < version(0, late, ["a"]) < version(1, early, ["a"])
    assert version(0, None, ["a"]) < version(0, early, ["a"])
    assert version(0, early, ["a"]) != version(0, early, ["b"])
    assert len({len(version(rank, early, [rank])) for rank in (0, 7, 999_999)}) == 1, "fixed width"
    with pytest.raises(ValueError):
        version(1_000_000, early, [])


# --- merge rules are order-independent --------------------------------------------------------------

T0 = datetime(2024, 3, 4, tzinfo=UTC)
moments = st.builds(lambda minutes: T0 + timedelta(minutes=minutes), st.integers(0, 5))
maybe = st.none() | st.sampled_from(["alice", "Alice", "bob"])


@st.composite
def commit_rows(draw: st.DrawFn) -> r.Commit:
    return r.Commit(repo_id=1, sha=draw(st.sampled_from(["a", "b"])), org="acme",
                    committed_at=draw(st.none() | moments), author_name=draw(maybe), author_email=None,
                    author_login=draw(maybe), author_key=draw(maybe), author_is_bot=draw(st.booleans()),
                    message_headline=draw(maybe), first_default_push_at=draw(st.none() | moments))


@st.composite
def check_run_rows(draw: st.DrawFn) -> r.CheckRun:
    status = draw(st.sampled_from(["queued", "in_progress", "completed"]))
    completed = draw(moments)
    conclusion = draw(st.sampled_from(["success", "failure"])) if status == "completed" else None
    rank = {"queued": 4, "in_progress": 5, "completed": 6}[status]
    content = (draw(st.sampled_from([1, 2])), status, conclusion, completed)
    return r.CheckRun(check_run_id=content[0], repo_id=1, org="acme", check_suite_id=None, name="test",
                      head_sha="s", status=status, conclusion=conclusion, started_at=T0,
                      completed_at=completed, app_slug=None, html_url=None,
                      version=version(rank, completed, content))


@given(st.lists(commit_rows(), min_size=1, max_size=8), st.randoms())
def test_accumulating_facts_merge_the_same_in_any_order(rows, rnd):
    spec = TABLES_BY_NAME["commits"]
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    assert sorted(merge_rows(spec, rows)) == sorted(merge_rows(spec, shuffled))
    for row in merge_rows(spec, rows):  # landing is the earliest push; text merges in code-point order
        same = [x for x in rows if x.sha == row.sha]
        pushes = [x.first_default_push_at for x in same if x.first_default_push_at]
        assert row.first_default_push_at == (min(pushes) if pushes else None)
        logins = [x.author_login for x in same if x.author_login]
        assert row.author_login == (max(logins) if logins else None)


@given(st.lists(check_run_rows(), min_size=1, max_size=8), st.randoms())
def test_state_keeps_the_greatest_version_in_any_order(rows, rnd):
    spec = TABLES_BY_NAME["check_runs"]
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    merged = merge_rows(spec, rows)
    assert sorted(merged) == sorted(merge_rows(spec, shuffled))
    for row in merged:
        assert row.version == max(x.version for x in rows if x.check_run_id == row.check_run_id)
