"""Every command fails with one line naming what failed and where, a documented exit code, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from devstack.process import free_port
from pillarstream.errors import EXIT_CONFIG, EXIT_UNAVAILABLE

pytestmark = pytest.mark.integration


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PILLARSTREAM_")}
    return subprocess.run([sys.executable, "-m", "launcher", *args], capture_output=True, text=True,
                          timeout=120, env={**clean, "PILLARSTREAM_WEBHOOK_SECRETS": "s", **env})


def one_line(answer: subprocess.CompletedProcess[str]) -> str:
    output = (answer.stdout + answer.stderr).strip().splitlines()
    assert "Traceback" not in answer.stderr
    assert len(output) == 1, output
    return output[0]


@pytest.mark.parametrize("command", [["receiver"], ["worker", "archiver"], ["worker", "warehouse"]])
def test_kafka_unreachable(command, tmp_path):
    bootstrap = f"127.0.0.1:{free_port()}"
    answer = run(*command, PILLARSTREAM_KAFKA_BOOTSTRAP=bootstrap, PILLARSTREAM_DATA_DIR=str(tmp_path),
                 PILLARSTREAM_DATABASE_URL=f"postgresql://nobody@127.0.0.1:{free_port()}/x")
    line = one_line(answer)
    assert answer.returncode == EXIT_UNAVAILABLE
    assert line.startswith(f"pillarstream {command[0]}: ") and "Kafka" in line and bootstrap in line
    assert line.endswith(": connection refused"), line  # the cause in words, not kafka-python's "error 111"


def test_migrate_with_a_dsn_that_is_not_one():
    answer = run("migrate", "--dsn", "notadsn")
    line = one_line(answer)
    assert answer.returncode == EXIT_CONFIG
    assert "--dsn is not a libpq connection string" in line


def test_migrate_with_a_dsn_that_does_not_leak_its_password():
    answer = run("migrate", "--dsn", "host=127.0.0.1 password=hunter2 port")
    assert answer.returncode == EXIT_CONFIG and "hunter2" not in one_line(answer)


def test_replay_verify_with_postgres_down(tmp_path):
    port = free_port()
    answer = run("replay", "--from", "2026-01-01", "--to", "2026-01-02", "--verify",
                 PILLARSTREAM_DATABASE_URL=f"postgresql://nobody@127.0.0.1:{port}/x",
                 PILLARSTREAM_ARCHIVE_URL=f"file://{tmp_path}")
    line = one_line(answer)
    assert answer.returncode == EXIT_UNAVAILABLE
    assert "Postgres" in line and "127.0.0.1" in line and str(port) in line


def test_debug_shows_the_traceback(tmp_path):
    answer = run("replay", "--from", "2026-01-01", "--to", "2026-01-02", "--verify", PILLARSTREAM_LOG_LEVEL="DEBUG",
                 PILLARSTREAM_DATABASE_URL=f"postgresql://nobody@127.0.0.1:{free_port()}/x",
                 PILLARSTREAM_ARCHIVE_URL=f"file://{tmp_path}", PILLARSTREAM_LOG_FORMAT="text")
    assert answer.returncode == EXIT_UNAVAILABLE and "Traceback" in answer.stderr


def test_dashboards_import_with_superset_unreachable():
    port = free_port()
    answer = run("dashboards", "import", "--superset-url", f"http://127.0.0.1:{port}", SUPERSET_ADMIN_PASSWORD="x")
    # one line naming where and why (not urllib3's retry warnings and its MaxRetryError text)
    assert one_line(answer) == f"pillarstream dashboards: cannot reach Superset at http://127.0.0.1:{port} " \
                               "(connection refused)"
    assert answer.returncode == EXIT_UNAVAILABLE
