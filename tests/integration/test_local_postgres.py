"""The local Postgres starts from a private (0700) folder, as root too (the server then runs as `postgres`, which
cannot enter it), and a failed initdb says why in one line and leaves no password file behind."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import psycopg2
import pytest

from devstack.postgres import ADMIN, WRITER, PostgresServer
from devstack.process import StartError, free_port
from devstack.stack import LocalServices

pytestmark = pytest.mark.integration


def private_folder(parent: Path) -> Path:
    folder = parent / "home"
    folder.mkdir()
    folder.chmod(0o700)  # like /root: only its owner may enter
    return folder


def test_local_services_start_inside_a_private_folder(tmp_path, monkeypatch):
    home = private_folder(tmp_path)
    monkeypatch.chdir(home)  # started from inside it, as `make up` in a clone there is
    services = LocalServices(home / "pillarstream" / ".local", kafka_port=free_port(), controller_port=free_port(),
                             pg_port=free_port(), durable=False, topic="private.home", partitions=1)
    try:
        services.start()
        with psycopg2.connect(services.postgres.dsn(WRITER), connect_timeout=5) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM deliveries")
            assert cur.fetchone() == (0,)
        conn.close()
        cluster = services.postgres.cluster
        if os.geteuid() == 0:
            # The server's user could not have entered `home`: the cluster lives where it can, private to it.
            assert services.postgres.relocated and home not in cluster.parents
            info = cluster.stat()
            assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid != 0
        else:
            assert cluster == services.postgres.data_dir / "cluster"
        # A quiet start: the server neither fails to enter the working folder nor refuses a too-early connection
        # ("FATAL: the database system is starting up"), and the broker logs no error.
        server_log = (services.postgres.data_dir / "postgres.log").read_text()
        assert not re.search(r"FATAL|ERROR|PANIC|Permission denied", server_log), server_log
        broker_log = (services.kafka.data_dir / "kafka.log").read_text()
        assert not re.search(r"\b(ERROR|FATAL)\b", broker_log), broker_log
    finally:
        services.stop()
        services.remove()
    assert not cluster.exists()


def files_with_text(root: Path, text: str) -> list[Path]:
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            try:
                if text.encode() in path.read_bytes():
                    found.append(path)
            except OSError:
                continue
    return found


def test_failed_initdb_is_one_line_and_leaves_no_password_file(tmp_path):
    home = private_folder(tmp_path)
    server = PostgresServer(home / "postgres", free_port())
    # Something that is not a cluster already sits where the cluster goes: initdb refuses it.
    (home / "postgres" / "cluster").mkdir(parents=True)
    (home / "postgres" / "cluster" / "notes.txt").write_text("not a cluster")
    password = server._password(ADMIN)
    try:
        with pytest.raises(StartError) as failure:
            server.start(timeout=30)
        message = str(failure.value)
        assert message.startswith("initdb failed") and "initdb: error:" in message and "\n" not in message
        assert files_with_text(home, password) == []
        assert list(home.rglob("pillarstream-initdb-*")) == []
        readable = [p for p in home.rglob("*") if p.is_file() and stat.S_IMODE(p.stat().st_mode) & 0o077
                    and p.name != "notes.txt"]
        assert readable == []
    finally:
        server.stop()
