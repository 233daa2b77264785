import pytest

from stream_processors.migrations import available, migrate
from tests.harness import query

pytestmark = pytest.mark.integration


def test_migrate_is_idempotent_and_recorded(db):
    assert migrate(db.admin_dsn) == []  # the template already ran them all
    versions = [row[0] for row in query(db.admin_dsn, "SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == [m.version for m in available()]


def test_reader_role_cannot_read_base_tables(db):
    import psycopg2

    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        query(db.reader_dsn, "SELECT count(*) FROM public.deliveries")


def test_writer_can_record_but_not_alter_schema(db):
    import psycopg2

    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        query(db.writer_dsn, "DROP TABLE deliveries")
