"""A local Apache Superset for `pillarstream up --superset` and the tests, without Docker.

Superset runs from its own virtualenv (``scripts/superset.sh``) under gunicorn as a :class:`Child`, so it
dies with its parent. Its metadata database is a SQLite file under ``root``; the secret key and the admin
password are generated once per install and kept there (mode 0600), never in the repository. Once the
server answers, the bundle is imported with the warehouse's read-only DSN, so the dashboards show data at
once.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from dashboards import REPO_ROOT, SUPERSET_VENV
from dashboards.bundle import Bundle, DatabaseTarget
from dashboards.client import SupersetClient
from devstack.process import Child, wait_until

INSTALL_SCRIPT = REPO_ROOT / "scripts" / "superset.sh"
ADMIN_USER = "admin"
ADMIN_SCRIPT = Path(__file__).resolve().parent / "superset_admin.py"
TEMPLATE_CACHE = REPO_ROOT / ".local" / "cache"

# Read by Superset at start-up (SUPERSET_CONFIG_PATH). Secrets are read from files beside it, so this file
# holds none. Kept small on purpose: everything not set here is Superset's default.
_CONFIG = """\
# Written by devstack/superset_server.py; changes are overwritten at the next start.
from pathlib import Path

_HERE = Path(__file__).resolve().parent
SECRET_KEY = (_HERE / "secret_key").read_text().strip()
SQLALCHEMY_DATABASE_URI = f"sqlite:///{_HERE / 'superset.db'}?check_same_thread=false"
# One machine, loopback only: no HTTPS to enforce, and no example data to load.
TALISMAN_ENABLED = False
SUPERSET_LOAD_EXAMPLES = False
# The auto-refresh intervals a dashboard offers; pillarstream's default is 30 s (the issue asks <= 30 s).
DASHBOARD_AUTO_REFRESH_INTERVALS = [
    [0, "Don't refresh"], [10, "10 seconds"], [15, "15 seconds"], [30, "30 seconds"], [60, "1 minute"],
    [300, "5 minutes"], [1800, "30 minutes"], [3600, "1 hour"],
]
# Auto-refresh bypasses any cache, so a refreshed chart shows what the warehouse holds now.
DASHBOARD_AUTO_REFRESH_MODE = "force"
# Tests and scripts log in through the REST API many times a minute.
AUTH_RATE_LIMITED = False
RATELIMIT_ENABLED = False
"""


def ensure_installed(browser: bool = False) -> Path:
    """Runs scripts/superset.sh (a no-op when its stamp is current); returns the virtualenv."""
    argv = ["bash", str(INSTALL_SCRIPT)] + (["--browser"] if browser else [])
    subprocess.run(argv, check=True, cwd=REPO_ROOT)
    return SUPERSET_VENV


def _secret_file(path: Path, nbytes: int = 32) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(secrets.token_urlsafe(nbytes) + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


class SupersetServer:
    """Superset on ``127.0.0.1:port`` with its state in ``root``, showing the warehouse read by
    ``warehouse_reader_dsn`` (libpq URL of pillarstream_reader)."""

    def __init__(
        self,
        root: Path,
        port: int,
        warehouse_reader_dsn: str,
        *,
        refresh_seconds: int = 30,
        workers: int = 2,
        venv: Path = SUPERSET_VENV,
        bundle: Bundle | None = None,
    ) -> None:
        self.root = root.resolve()
        self.port = port
        self.warehouse_reader_dsn = warehouse_reader_dsn
        self.refresh_seconds = refresh_seconds
        self.workers = workers
        self.venv = venv
        self.bundle = bundle or Bundle.load()
        self.child: Child | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_user(self) -> str:
        return ADMIN_USER

    @property
    def admin_password(self) -> str:
        # SUPERSET_ADMIN_PASSWORD wins, as in docker-compose.yml; otherwise one generated per install.
        return os.environ.get("SUPERSET_ADMIN_PASSWORD") or _secret_file(self.root / "admin_password", 18)

    @property
    def log_path(self) -> Path:
        return self.root / "superset.log"

    def client(self) -> SupersetClient:
        return SupersetClient(self.url, self.admin_user, self.admin_password)

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PILLARSTREAM_", "SUPERSET_"))}
        env.update(
            SUPERSET_CONFIG_PATH=str(self.root / "superset_config.py"),
            SUPERSET_HOME=str(self.root),
            FLASK_APP="superset",
            PYTHONUNBUFFERED="1",
        )
        return env

    def _superset(self, *args: str) -> None:
        """One `superset` CLI call; its output goes to the log, and into the error if it fails."""
        with open(self.log_path, "ab") as log:
            done = subprocess.run(
                [str(self.venv / "bin" / "superset"), *args],
                env=self._env(),
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        if done.returncode != 0:
            tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])
            raise RuntimeError(f"`superset {args[0]}` failed ({done.returncode}):\n{tail}")

    def _version(self) -> str:
        out = subprocess.run(
            [
                str(self.venv / "bin" / "python"),
                "-c",
                "import importlib.metadata as m; print(m.version('apache-superset'))",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()

    def prepare(self) -> None:
        """Install, configure and initialise the metadata database; each step only when needed."""
        if self.venv == SUPERSET_VENV:
            ensure_installed()  # a no-op while its stamp is current; picks up new pins otherwise
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        _secret_file(self.root / "secret_key", 42)
        (self.root / "superset_config.py").write_text(_CONFIG)
        version = self._version()
        stamp = self.root / f".initialised-{version}"
        if not stamp.exists():
            self._initialise(version)
            for old in self.root.glob(".initialised-*"):
                old.unlink()
            stamp.touch()
        self._ensure_admin()

    def _initialise(self, version: str) -> None:
        """`superset db upgrade` and `superset init` take a minute on two cores. A freshly initialised
        metadata database holds no secret (no connection exists yet), so one copy per Superset version is
        kept under .local/cache and reused by new installations, such as each test session's."""
        template = TEMPLATE_CACHE / f"superset-{version}-metadata.db"
        database = self.root / "superset.db"
        if template.exists() and not database.exists():
            shutil.copyfile(template, database)
            return
        self._superset("db", "upgrade")
        self._superset("init")
        if not template.exists():
            template.parent.mkdir(parents=True, exist_ok=True)
            partial = template.with_suffix(".partial")
            shutil.copyfile(database, partial)
            partial.replace(template)

    def _ensure_admin(self) -> None:
        """The admin user with the configured password (SUPERSET_ADMIN_PASSWORD may change between runs)."""
        with open(self.log_path, "ab") as log:
            done = subprocess.run(
                # -P: the script's folder (devstack/, whose modules share names with packages) stays off sys.path
                [str(self.venv / "bin" / "python"), "-P", str(ADMIN_SCRIPT), ADMIN_USER],
                input=(self.admin_password + "\n").encode(),
                env=self._env(),
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if done.returncode != 0:
            tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])
            raise RuntimeError(f"creating Superset's admin user failed ({done.returncode}):\n{tail}")

    def start(self, timeout: float = 240.0, *, import_bundle: bool = True) -> None:
        self.prepare()
        argv = [
            str(self.venv / "bin" / "gunicorn"),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--worker-class",
            "gthread",
            "--threads",
            "8",
            "--timeout",
            "120",
            # Longer than the client's pauses between calls, so the server seldom closes a connection
            # just as the client reuses it (gunicorn's default is 2 s).
            "--keep-alive",
            "75",
            "--limit-request-line",
            "0",
            "--limit-request-field_size",
            "0",
            # gunicorn >= 25.1 otherwise listens on ~/.gunicorn/gunicorn.ctl, one path shared by every gunicorn
            # of the user: a second Superset (or a receiver) would take it over and remove it when it stops.
            "--no-control-socket",
            "superset.app:create_app()",
        ]
        self.child = Child("superset", argv, self.log_path, env=self._env(), cwd=self.root)
        wait_until(
            lambda: self.client().healthy(), timeout=timeout, what=f"Superset on {self.url}", child=self.child
        )
        if import_bundle:
            self.import_bundle()

    def import_bundle(self) -> None:
        target = DatabaseTarget.from_dsn(self.warehouse_reader_dsn)
        self.client().import_bundle(self.bundle, target, refresh_seconds=self.refresh_seconds)

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop(timeout=30)


def main() -> int:
    """`python -m devstack.superset_server [PORT]`: a local Superset in the foreground (Ctrl-C stops it), showing the
    warehouse of PILLARSTREAM_READER_DATABASE_URL or of the running `make up` stack (.local/stack.json)."""
    import json
    import signal
    import time

    dsn = os.environ.get("PILLARSTREAM_READER_DATABASE_URL")
    stack = REPO_ROOT / ".local" / "stack.json"
    if not dsn and stack.exists():
        dsn = json.loads(stack.read_text())["postgres_reader_dsn"]
    if not dsn:
        print("no warehouse: run `make up`, or set PILLARSTREAM_READER_DATABASE_URL", file=sys.stderr)
        return 2
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8088
    server = SupersetServer(REPO_ROOT / ".local" / "superset", port, dsn)

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        server.start()
        print(f"Superset on {server.url}/superset/dashboard/pillarstream-overview/ (user {server.admin_user}, "
              f"password in {server.root / 'admin_password'} unless SUPERSET_ADMIN_PASSWORD is set)", flush=True)
        while server.child is not None and server.child.alive():
            time.sleep(1)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
