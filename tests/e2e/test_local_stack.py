"""`pillarstream up` as a user runs it: ready, demo lands rows, Ctrl-C or kill -9 leaves nothing behind."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import uuid

import pytest

from devstack.demo_history import demo_history
from devstack.process import free_port
from tests.conftest import REPO
from tests.harness import eventually

pytestmark = pytest.mark.e2e


def processes_mentioning(text: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if text.encode() in handle.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found


@pytest.fixture()
def up_command(tmp_path):
    data = REPO / ".local" / f"up-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PILLARSTREAM_")}
    env.update(PILLARSTREAM_DATA_DIR=str(data), PILLARSTREAM_TOPIC_PARTITIONS="2", PILLARSTREAM_LOG_FORMAT="json")
    ports = ["--port", str(free_port()), "--kafka-port", str(free_port()),
             "--controller-port", str(free_port()), "--postgres-port", str(free_port())]
    cli = [sys.executable, "-m", "pillarstream"]

    def start() -> subprocess.Popen[bytes]:
        # A file, not a pipe: nobody reads while it runs, and a full pipe would block it.
        with open(tmp_path / "up.log", "ab") as log:
            return subprocess.Popen([*cli, "up", *ports], env=env, stdout=log, stderr=subprocess.STDOUT)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *args], env=env, capture_output=True, text=True, timeout=120)

    yield start, run, data
    for pid in processes_mentioning(str(data)):
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(data, ignore_errors=True)


def ready(run) -> dict | None:
    answer = run("status", "--json")
    status = json.loads(answer.stdout)
    return status if answer.returncode == 0 and status["ready"] else None


def test_up_demo_and_ctrl_c(up_command, tmp_path):
    start, run, data = up_command
    up = start()
    status = eventually(lambda: ready(run), timeout=120, interval=1, what="`pillarstream status` ready")
    assert status["webhook_url"].endswith("/webhooks/github")
    assert len(status["webhook_secret"]) >= 32 and status["postgres_dsn"].startswith("postgresql://")
    assert status["archive_url"] == f"file://{data}/archive"

    demo = run("demo", "--timeout", "60")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    sent = len(demo_history())
    assert f"warehouse: {sent}/{sent} deliveries recorded" in demo.stdout, demo.stdout
    assert f"archive: {sent}/{sent} deliveries" in demo.stdout
    for pillar in ("version_control", "compatibility", "infrastructure", "team"):
        assert re.search(rf"dashboards  {pillar} +\d+ metrics", demo.stdout), demo.stdout

    up.send_signal(signal.SIGINT)
    up.wait(timeout=90)
    out = (tmp_path / "up.log").read_text(errors="replace")
    assert up.returncode == 0, out[-2000:]
    # LOG_FORMAT=json reaches every child: each line of the receiver's and workers' logs is a JSON object.
    for name in ("receiver", "worker-archiver", "worker-warehouse"):
        lines = (data / "logs" / f"{name}.log").read_text().splitlines()
        assert lines and all(line.startswith("{") and isinstance(json.loads(line), dict) for line in lines), name
    assert "webhook secret" in out and status["webhook_secret"] in out
    assert processes_mentioning(str(data)) == []
    assert run("status", "--json").returncode == 1


def test_up_again_after_kill_9(up_command):
    start, run, data = up_command
    first = start()
    eventually(lambda: ready(run), timeout=120, interval=1, what="first stack ready")
    secret = ready(run)["webhook_secret"]
    first.kill()
    first.wait()
    # The kernel stops every child of a killed supervisor (PR_SET_PDEATHSIG).
    eventually(lambda: processes_mentioning(str(data)) == [], timeout=60, what="children to exit")

    second = start()
    status = eventually(lambda: ready(run), timeout=120, interval=1, what="second stack ready")
    assert status["webhook_secret"] == secret  # generated once, kept
    second.send_signal(signal.SIGINT)
    second.wait(timeout=90)
    assert processes_mentioning(str(data)) == []
