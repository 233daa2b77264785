"""A project-local PostgreSQL cluster from Debian's server binaries, on loopback only."""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import signal
import subprocess
from pathlib import Path

import psycopg2
from psycopg2 import sql

from devstack.process import Child, wait_until

ADMIN = "pillarstream_admin"
DATABASE = "pillarstream"
WRITER = "pillarstream_writer"
READER = "pillarstream_reader"


def server_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL server not installed: run scripts/bootstrap.sh (apt-get install postgresql)")
    return Path(found[-1]).parent


def _run_as() -> str | None:
    """Postgres refuses to run as root; as root we run it as the `postgres` user the package created."""
    return "postgres" if os.geteuid() == 0 else None


class PostgresServer:
    def __init__(self, data_dir: Path, port: int = 5433, *, durable: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.durable = durable
        self.child: Child | None = None
        self._secrets = data_dir / "passwords"

    @property
    def version(self) -> str:
        return server_bin().parent.name

    def _password(self, role: str) -> str:
        path = self._secrets / role
        if not path.exists():
            self._secrets.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.write_text(secrets.token_urlsafe(24))
            path.chmod(0o600)
        return path.read_text().strip()

    def dsn(self, role: str = WRITER, database: str = DATABASE) -> str:
        return (f"postgresql://{role}:{self._password(role)}@127.0.0.1:{self.port}/{database}"
                f"?application_name=pillarstream")

    def _chown(self, path: Path) -> None:
        user = _run_as()
        if user:
            entry = pwd.getpwnam(user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def start(self, timeout: float = 60.0) -> None:
        cluster = self.data_dir / "cluster"
        if not (cluster / "PG_VERSION").exists():
            self._initdb(cluster)
        argv = [str(server_bin() / "postgres"), "-D", str(cluster), "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                "-c", "max_connections=200", "-c", "shared_buffers=128MB"]
        if not self.durable:  # tests only: a crash of the test machine loses nothing anyone keeps
            argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        # SIGINT is Postgres' fast shutdown; SIGTERM would wait for every client to leave.
        self.child = Child("postgres", argv, self.data_dir / "postgres.log",
                           stop_signal=signal.SIGINT, user=_run_as())
        wait_until(self._answers, timeout=timeout, what=f"PostgreSQL on port {self.port}", child=self.child)
        self._ensure_roles()

    def _initdb(self, cluster: Path) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._chown(self.data_dir)
        pwfile = self.data_dir / "initdb.pw"
        pwfile.write_text(self._password(ADMIN))
        self._chown(pwfile)
        user = _run_as()
        subprocess.run(
            [str(server_bin() / "initdb"), "-D", str(cluster), "-U", ADMIN, f"--pwfile={pwfile}",
             "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
            check=True, capture_output=True, user=user)
        pwfile.unlink()

    def admin_connect(self, database: str = "postgres") -> psycopg2.extensions.connection:
        return psycopg2.connect(self.dsn(ADMIN, database), connect_timeout=3)

    def _answers(self) -> bool:
        try:
            self.admin_connect().close()
            return True
        except psycopg2.OperationalError:
            return False

    def _ensure_roles(self) -> None:
        """Database and login roles; what each role may touch is granted by the migrations."""
        conn = self.admin_connect()
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                for role in (WRITER, READER):
                    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
                    verb = "ALTER" if cur.fetchone() else "CREATE"
                    cur.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD %s").format(sql.Identifier(role)),
                                (self._password(role),))
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(DATABASE), sql.Identifier(ADMIN)))
        finally:
            conn.close()

    def stop(self) -> None:
        if self.child:
            self.child.stop(timeout=30)

    def kill(self) -> None:
        if self.child:
            self.child.kill()
