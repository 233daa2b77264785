"""The fact-table declarations (stream_processors/facts.py), which generate the upserts, match the warehouse
as every migration leaves it: columns in order, the conflict key, and which columns are text."""

from __future__ import annotations

import pytest

from stream_processors.facts import FACT_TABLES
from tests.harness import query

pytestmark = pytest.mark.integration


def schema(dsn: str) -> tuple[dict[str, list[tuple[str, str]]], dict[str, list[str]]]:
    """Columns (name, type) in order and primary-key columns in key order, by table, of schema public."""
    columns: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in query(dsn, """
            SELECT table_name, column_name, data_type FROM information_schema.columns
            WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"""):
        columns.setdefault(str(table), []).append((str(column), str(data_type)))
    keys: dict[str, list[str]] = {}
    for table, column in query(dsn, """
            SELECT c.relname, a.attname
            FROM pg_index i
            JOIN pg_class c ON c.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
            CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
            WHERE i.indisprimary ORDER BY c.relname, k.position"""):
        keys.setdefault(str(table), []).append(str(column))
    return columns, keys


def test_every_declared_fact_table_matches_the_migrated_warehouse(db):
    columns, keys = schema(db.admin_dsn)
    for table in FACT_TABLES:
        assert table.name in columns, f"{table.name} is declared but no migration creates it"
        names = [name for name, _ in columns[table.name]]
        assert names == list(table.columns), f"{table.name}: migrations vs {table.row.__name__}'s fields"
        # The upsert's ON CONFLICT needs a unique index on exactly the key: the primary key.
        assert keys.get(table.name) == list(table.key), f"{table.name}: primary key vs declared key"
        text = {name for name, data_type in columns[table.name] if data_type == "text"}
        assert text == table.text_columns, f"{table.name}: text columns vs str fields (merged in \"C\" order)"
