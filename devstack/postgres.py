"""A project-local PostgreSQL cluster from Debian's server binaries, on loopback only.

As root, the server runs as the ``postgres`` user, which cannot enter a private (0700) folder such as root's
home. Then the cluster lives where that user can reach it (:func:`relocated_cluster`), and
``DATA_DIR/postgres/cluster`` is a symbolic link to it.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psycopg2
from psycopg2 import sql

from devstack.process import Child, StartError, wait_until

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


RELOCATED_BASE = Path("/var/lib/pillarstream")


def relocated_cluster(data_dir: Path) -> Path:
    """Where root's cluster lives when the `postgres` user cannot reach ``data_dir``: one folder per data folder."""
    name = re.sub(r"[^A-Za-z0-9.-]+", "-", "-".join(data_dir.parts[-3:-1])).strip("-.") or "root"
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:10]
    return RELOCATED_BASE / f"{name}-{digest}"


def write_private(path: Path, text: str, owner: str | None = None) -> None:
    """A file only its owner can read, from the first byte (never briefly 0644)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if owner:
            entry = pwd.getpwnam(owner)
            os.fchown(fd, entry.pw_uid, entry.pw_gid)
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _one_line(output: bytes) -> str:
    lines = [line.strip() for line in output.decode(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower() or "fatal" in line.lower()]
    return (errors or lines or ["(no output)"])[-1]


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
            write_private(path, secrets.token_urlsafe(24))
        return path.read_text().strip()

    @property
    def cluster(self) -> Path:
        """The cluster folder: ``DATA_DIR/postgres/cluster``, or the relocated folder its link points to."""
        link = self.data_dir / "cluster"
        return link.resolve() if link.is_symlink() else link

    @property
    def relocated(self) -> bool:
        return (self.data_dir / "cluster").is_symlink()

    def _server_user_can_reach(self, folder: Path) -> bool:
        user = _run_as()
        if user is None:
            return True
        return subprocess.run(["test", "-w", str(folder), "-a", "-x", str(folder)], user=user,
                              stdin=subprocess.DEVNULL, capture_output=True).returncode == 0

    def dsn(self, role: str = WRITER, database: str = DATABASE) -> str:
        return (f"postgresql://{role}:{self._password(role)}@127.0.0.1:{self.port}/{database}"
                f"?application_name=pillarstream")

    def _chown(self, path: Path) -> None:
        user = _run_as()
        if user:
            entry = pwd.getpwnam(user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def start(self, timeout: float = 60.0) -> None:
        if not (self.cluster / "PG_VERSION").exists():
            self._initdb()
        self.launch()
        wait_until(self._ready, timeout=timeout, what=f"PostgreSQL on port {self.port}", child=self.child)
        self._ensure_roles()

    def launch(self) -> Child:
        """Starts the server process without waiting for it (the supervisor's restart)."""
        self.remove_stale_pid_file()
        argv = [str(server_bin() / "postgres"), "-D", str(self.cluster), "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                "-c", "max_connections=200", "-c", "shared_buffers=128MB"]
        if not self.durable:  # tests only: a crash of the test machine loses nothing anyone keeps
            argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        # SIGINT is Postgres' fast shutdown; SIGTERM would wait for every client to leave. Started in /, since
        # as root the server's user may not enter the caller's folder (it logs "Permission denied" otherwise).
        self.child = Child("postgres", argv, self.data_dir / "postgres.log",
                           stop_signal=signal.SIGINT, user=_run_as(), cwd=Path("/"))
        return self.child

    def remove_stale_pid_file(self) -> None:
        """A postmaster killed with -9 leaves ``postmaster.pid``; if that process is gone (we reaped it), the
        file only stops the next start (or, if the pid was reused, makes it refuse), so it goes."""
        pid_file = self.cluster / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return
        if self.child is not None and self.child.alive():
            return
        if self.child is None or pid != self.child.pid:
            try:
                os.kill(pid, 0)
                return  # somebody else's live postmaster on this cluster: let Postgres say so
            except ProcessLookupError:
                pass
            except PermissionError:
                return
        pid_file.unlink(missing_ok=True)

    def _initdb(self) -> None:
        """A new cluster. initdb's own complaint is the one-line error; no password file outlives it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._chown(self.data_dir)
        link = self.data_dir / "cluster"
        if link.is_symlink():
            link.unlink()
        # (A folder already at the cluster's place is the user's: initdb then says what is wrong with it.)
        if not link.exists() and not self._server_user_can_reach(self.data_dir):
            target = relocated_cluster(self.data_dir)
            RELOCATED_BASE.mkdir(mode=0o755, parents=True, exist_ok=True)
            shutil.rmtree(target, ignore_errors=True)  # left by a data folder since deleted: its passwords are gone
            target.mkdir(mode=0o700)
            self._chown(target)
            link.symlink_to(target)
        user = _run_as()
        # The admin password reaches initdb in a private file in a private folder beside the cluster (where the
        # server's user can reach, unlike perhaps TMPDIR), removed whatever happens.
        scratch = Path(tempfile.mkdtemp(prefix="pillarstream-initdb-", dir=self.cluster.parent))
        try:
            self._chown(scratch)
            pwfile = scratch / "pw"
            write_private(pwfile, self._password(ADMIN), owner=user)
            done = subprocess.run(
                [str(server_bin() / "initdb"), "-D", str(self.cluster), "-U", ADMIN, f"--pwfile={pwfile}",
                 "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                capture_output=True, stdin=subprocess.DEVNULL, user=user, cwd="/")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if done.returncode != 0:
            (self._secrets / ADMIN).unlink(missing_ok=True)  # no cluster knows it: not a secret to keep
            why = _one_line(done.stderr)
            if user and not self._server_user_can_reach(self.cluster.parent):
                why += f" (the {user} user cannot enter {self.cluster.parent}; move or remove {self.cluster})"
            raise StartError(f"initdb failed{' (as user ' + user + ')' if user else ''}: {why}")

    def remove(self) -> None:
        """Deletes the cluster, including a relocated one (the data folder itself is the caller's)."""
        if self.relocated:
            shutil.rmtree(self.cluster, ignore_errors=True)

    def admin_connect(self, database: str = "postgres") -> psycopg2.extensions.connection:
        return psycopg2.connect(self.dsn(ADMIN, database), connect_timeout=3)

    def _ready(self) -> bool:
        """Our postmaster says it accepts connections, in its ``postmaster.pid`` (as ``pg_ctl -w`` waits): a
        connection attempt before then is refused with a FATAL line in the server's log at every start."""
        try:
            lines = (self.cluster / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        ours = self.child is not None and lines[:1] == [str(self.child.pid)]
        return ours and len(lines) > 7 and lines[7].strip() == "ready" and self._answers()

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
