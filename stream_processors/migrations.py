"""Numbered SQL migrations (``sql/migrations/NNN_name.sql``), each applied once, in order, in a transaction."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from adapters.postgres import connect
from pillarstream.errors import WarehouseError

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).parent / "sql" / "migrations"
_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
# Any constant shared by all migrators: concurrent `migrate` runs wait for each other.
_LOCK_KEY = 0x70696C6C


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def available(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise WarehouseError(f"migration file name {path.name!r} is not NNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise WarehouseError("two migrations share a version number")
    return found


def _after(migration: Migration, cur: psycopg2.extensions.cursor) -> None:
    """Data a migration derives in Python, in its transaction: 007 builds the windows of the buckets
    already there (an existing warehouse), printing progress."""
    if migration.version == 7:
        from stream_processors.windows import build_windows, print_progress

        build_windows(cur, print_progress)


def migrate(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply what is missing; returns the migrations applied now (empty when up to date)."""
    applied_now = []
    conn = connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
            cur.execute("""CREATE TABLE IF NOT EXISTS schema_migrations (
                               version integer PRIMARY KEY, name text NOT NULL,
                               applied_at timestamptz NOT NULL DEFAULT now())""")
            cur.execute("SELECT version FROM schema_migrations")
            done = {row[0] for row in cur.fetchall()}
        for migration in available(directory):
            if migration.version in done:
                continue
            with conn, conn.cursor() as cur:
                cur.execute(migration.path.read_text(encoding="utf-8"))
                _after(migration, cur)
                cur.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                            (migration.version, migration.name))
            log.info("applied migration", extra={"version": migration.version, "migration": migration.name})
            applied_now.append(migration)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    except psycopg2.Error as exc:
        raise WarehouseError(f"migration failed: {exc}".strip()) from exc
    finally:
        conn.close()
    return applied_now
