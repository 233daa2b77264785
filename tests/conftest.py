"""Test harness: real Kafka (KRaft), PostgreSQL and the GCS emulator, started once per session on ports
and folders of their own, so `make test` runs beside a running `make up`."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from psycopg2 import sql

from adapters.kafka_publisher import ensure_topic
from devstack.gcs import GcsEmulator
from devstack.postgres import ADMIN, READER, WRITER
from devstack.process import free_port
from devstack.stack import LocalServices
from stream_processors.migrations import migrate
from tests.fake_github.fixtures import fake_github  # noqa: F401 - a fixture, imported to register it
from tests.harness import Pipeline, pipeline_env

REPO = Path(__file__).resolve().parent.parent
TEMPLATE_DB = "pillarstream_template"


@pytest.fixture(scope="session")
def services() -> Iterator[LocalServices]:
    root = REPO / ".local" / f"test-{os.getpid()}"
    stack = LocalServices(root, kafka_port=free_port(), controller_port=free_port(), pg_port=free_port(),
                          durable=False, topic="test.unused", partitions=1)
    try:
        stack.start()
        _create_template(stack)
        yield stack
    finally:
        stack.stop()
        stack.remove()


def _create_template(stack: LocalServices) -> None:
    _admin_sql(stack, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE_DB)))
    migrate(stack.postgres.dsn(ADMIN, TEMPLATE_DB))


@dataclass(frozen=True)
class Database:
    name: str
    admin_dsn: str
    writer_dsn: str
    reader_dsn: str


@pytest.fixture()
def db(services: LocalServices) -> Iterator[Database]:
    """A fresh, fully migrated warehouse database, cloned from the session's template."""
    database = new_database(services)
    yield database
    drop_database(services, database)


def new_database(services: LocalServices) -> Database:
    name = f"t_{uuid.uuid4().hex[:12]}"
    _admin_sql(services, sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name),
                                                                          sql.Identifier(TEMPLATE_DB)))
    pg = services.postgres
    return Database(name, pg.dsn(ADMIN, name), pg.dsn(WRITER, name), pg.dsn(READER, name))


def drop_database(services: LocalServices, database: Database) -> None:
    _admin_sql(services, sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database.name)))


def _admin_sql(services: LocalServices, statement: sql.Composed) -> None:
    conn = services.postgres.admin_connect()
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


@pytest.fixture(scope="session")
def gcs_emulator(services: LocalServices) -> Iterator[str]:
    """fake-gcs-server over HTTP; the google-cloud-storage client finds it through STORAGE_EMULATOR_HOST."""
    server = GcsEmulator(services.root / "gcs", free_port())
    server.start()
    os.environ["STORAGE_EMULATOR_HOST"] = server.url  # inherited by the workers the tests start
    try:
        yield server.url
    finally:
        os.environ.pop("STORAGE_EMULATOR_HOST", None)
        server.stop()


@pytest.fixture()
def gcs_bucket(gcs_emulator: str) -> str:
    """A new bucket on the emulator; returns its gs:// archive URL."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    name = f"archive-{uuid.uuid4().hex[:10]}"
    storage.Client(project="emulator", credentials=AnonymousCredentials()).create_bucket(name)
    return f"gs://{name}/raw"


@pytest.fixture()
def second_db(services: LocalServices) -> Iterator[Database]:
    """Another fresh warehouse, for tests that compare two ways of building the same tables."""
    database = new_database(services)
    yield database
    drop_database(services, database)


def new_topic(services: LocalServices) -> str:
    name = f"events.{uuid.uuid4().hex[:10]}"
    ensure_topic(services.kafka.bootstrap, name, 3, 1)
    return name


@pytest.fixture()
def topic(services: LocalServices) -> str:
    return new_topic(services)


@pytest.fixture()
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "webhook_secret"
    path.write_text(f"test-secret-{uuid.uuid4().hex}\n")
    return path


@pytest.fixture()
def pipeline(services: LocalServices, db: Database, topic: str, gcs_bucket: str, secret_file: Path,
             tmp_path: Path) -> Iterator[Pipeline]:
    """Receiver and workers (started by the test) on a topic, database and bucket of this test's own."""
    env = pipeline_env(bootstrap=services.kafka.bootstrap, topic=topic, dsn=db.writer_dsn, archive_url=gcs_bucket,
                       secret_file=secret_file, group=f"test-{uuid.uuid4().hex[:8]}")
    running = Pipeline(root=tmp_path, env=env, secret=secret_file.read_text().strip())
    try:
        yield running
    finally:
        running.stop()
