"""Fact rows meet the warehouse: every fact table is declared once and its upsert follows the table's
merge rule, and the in-batch merge (the Python mirror of the SQL merge) gives one answer whatever the order
of the rows. tests/integration/test_fact_tables.py checks the declarations against the migrated schema."""

from __future__ import annotations

import typing
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pillarstream.normalise import FACT_TABLE_NAMES
from pillarstream.normalise import rows as r
from pillarstream.normalise.version import is_derived, version
from stream_processors.facts import FACT_TABLES, FACT_TABLES_BY_NAME, FactTable, merge_rows, upsert_sql

pytestmark = pytest.mark.unit


def test_every_fact_table_is_declared_with_its_row_key_and_policy():
    assert [table.name for table in FACT_TABLES] == list(FACT_TABLE_NAMES)
    for table in FACT_TABLES:
        assert typing.get_type_hints(r.Facts)[table.name] == list[table.row]
        assert set(table.key) <= set(table.columns) and table.least <= set(table.columns)
        assert ("version" in table.columns) == (table.policy == "versioned"), table.name
        assert table.least.isdisjoint(table.key) and not (table.least and table.policy == "versioned")


def test_a_versioned_upsert_replaces_the_row_when_its_version_is_not_older():
    assert upsert_sql(FACT_TABLES_BY_NAME["team_memberships"]) == """\
INSERT INTO team_memberships AS t (team_id, user_login, org, user_id, state, is_bot, version)
SELECT team_id, user_login, org, user_id, state, is_bot, version
FROM json_populate_recordset(NULL::team_memberships, %s) AS j
WHERE NOT EXISTS (SELECT FROM team_memberships s WHERE s.team_id = j.team_id AND s.user_login = j.user_login \
AND (s.version > j.version
    OR (s.org, s.user_id, s.state, s.is_bot, s.version)
       IS NOT DISTINCT FROM (j.org, j.user_id, j.state, j.is_bot, j.version)))
ON CONFLICT (team_id, user_login) DO UPDATE SET
    org = excluded.org,
    user_id = excluded.user_id,
    state = excluded.state,
    is_bot = excluded.is_bot,
    version = excluded.version
WHERE excluded.version >= t.version;"""


def test_an_accumulating_upsert_merges_column_wise_with_text_in_code_point_order():
    assert upsert_sql(FACT_TABLES_BY_NAME["commits"]) == """\
INSERT INTO commits AS t (repo_id, sha, org, committed_at, author_name, author_email, author_login, \
author_key, author_is_bot, message_headline, first_default_push_at)
SELECT repo_id, sha, org, committed_at, author_name, author_email, author_login, \
author_key, author_is_bot, message_headline, first_default_push_at
FROM json_populate_recordset(NULL::commits, %s) AS j
ON CONFLICT (repo_id, sha) DO UPDATE SET
    org = GREATEST(t.org COLLATE "C", excluded.org),
    committed_at = GREATEST(t.committed_at, excluded.committed_at),
    author_name = GREATEST(t.author_name COLLATE "C", excluded.author_name),
    author_email = GREATEST(t.author_email COLLATE "C", excluded.author_email),
    author_login = GREATEST(t.author_login COLLATE "C", excluded.author_login),
    author_key = GREATEST(t.author_key COLLATE "C", excluded.author_key),
    author_is_bot = GREATEST(t.author_is_bot, excluded.author_is_bot),
    message_headline = GREATEST(t.message_headline COLLATE "C", excluded.message_headline),
    first_default_push_at = LEAST(t.first_default_push_at, excluded.first_default_push_at);"""


@pytest.mark.parametrize("table", FACT_TABLES, ids=lambda t: t.name)
def test_every_upsert_takes_its_rows_as_one_parameter_and_updates_every_other_column(table):
    query = upsert_sql(table)
    assert query.count("%s") == 1 and "%" not in query.replace("%s", "")
    assert f"ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET" in query
    updated = [line.split(" = ")[0].strip() for line in query.split("DO UPDATE SET\n")[1].splitlines()
               if " = " in line]
    assert updated == [c for c in table.columns if c not in table.key]


def test_a_declared_name_that_is_no_plain_identifier_is_refused():
    with pytest.raises(ValueError, match="not a plain SQL identifier"):
        upsert_sql(FactTable('teams"; DROP TABLE teams; --', r.Team, ("team_id",), "versioned"))


def test_derived_columns_are_the_config_dependent_ones():
    derived = {c for spec in FACT_TABLES for c in spec.columns if is_derived(c)}
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
    spec = FACT_TABLES_BY_NAME["commits"]
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
    spec = FACT_TABLES_BY_NAME["check_runs"]
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    merged = merge_rows(spec, rows)
    assert sorted(merged) == sorted(merge_rows(spec, shuffled))
    for row in merged:
        assert row.version == max(x.version for x in rows if x.check_run_id == row.check_run_id)
