"""`pillarstream up` as a user runs it: a quiet start, ready, demo lands rows from any folder, Ctrl-C or kill -9
leaves nothing behind, and every service killed with -9 comes back by itself."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from adapters.archive_store import open_store
from devstack.demo_history import demo_history
from devstack.postgres import PostgresServer
from devstack.process import free_port
from devstack.supervisor import STABLE_AFTER_S
from pillarstream.envelope import from_archive_line
from stream_processors.archiver import read_object
from tests.conftest import REPO
from tests.harness import eventually, fixture_bytes, query, signed_headers

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
    cli = [sys.executable, "-m", "launcher"]

    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        # A file, not a pipe: nobody reads while it runs, and a full pipe would block it.
        with open(tmp_path / "up.log", "ab") as log:
            started.append(subprocess.Popen([*cli, "up", *ports], env=env, stdout=log, stderr=subprocess.STDOUT))
        return started[-1]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        # From another folder: `status` and `demo` must not depend on the working directory.
        return subprocess.run([*cli, *args], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)

    yield start, run, data
    for up in started:  # a failed test leaves `up` running: its children die with it (parent-death signal)
        up.kill()
        up.wait()
    for pid in processes_mentioning(str(data)):
        os.kill(pid, signal.SIGKILL)
    for log in [*(data / "logs").glob("*.log"), data / "kafka" / "kafka.log", data / "postgres" / "postgres.log"]:
        if log.exists():  # kept with the test's files (pytest keeps the last runs' tmp_path) for a post-mortem
            shutil.copyfile(log, tmp_path / log.name)
    PostgresServer(data / "postgres").remove()  # a cluster relocated for root lives outside data
    shutil.rmtree(data, ignore_errors=True)


ERROR_LINE = re.compile(r'"level": "(error|critical)"|\b(ERROR|CRITICAL|FATAL|PANIC|Traceback)\b|Permission denied')


def error_lines(*files: Path) -> list[str]:
    return [f"{path.name}: {line}" for path in files if path.exists()
            for line in path.read_text(errors="replace").splitlines() if ERROR_LINE.search(line)]


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
    # A normal start says nothing alarming: not on the console, not in any service's log.
    assert error_lines(tmp_path / "up.log", *(data / "logs").glob("*.log"), data / "postgres" / "postgres.log",
                       data / "kafka" / "kafka.log") == []
    assert "Kafka ready" in (tmp_path / "up.log").read_text()

    demo = run("demo", "--timeout", "60")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    sent = len(demo_history())
    assert f"warehouse: {sent}/{sent} deliveries recorded" in demo.stdout, demo.stdout
    assert f"archive: {sent}/{sent} deliveries" in demo.stdout
    for pillar in ("version_control", "compatibility", "infrastructure", "team"):
        assert re.search(rf"dashboards  {pillar} +\d+ metrics", demo.stdout), demo.stdout
    # Uptimes are as of each `status`, not of the last change the supervisor wrote down (nothing restarted since).
    later = ready(run)
    assert all(later["services"][name]["up_for_s"] > service["up_for_s"]
               for name, service in status["services"].items()), (status["services"], later["services"])

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


def post_push(status: dict) -> str | None:
    """A signed push; its delivery id if the receiver accepted it (202)."""
    body = fixture_bytes("webhooks/push/payload.json")
    headers = signed_headers(status["webhook_secret"], body, "push")
    try:
        answer = requests.post(status["webhook_url"], data=body, headers=headers, timeout=15)
    except requests.ConnectionError:
        return None
    return headers["X-GitHub-Delivery"] if answer.status_code == 202 else None


def in_warehouse(status: dict, delivery_id: str) -> bool:
    return bool(query(status["postgres_dsn"], "SELECT 1 FROM deliveries WHERE delivery_id = %s", (delivery_id,)))


def in_archive(status: dict, delivery_id: str) -> bool:
    store = open_store(status["archive_url"])
    return any(from_archive_line(line).delivery_id == delivery_id
               for name in store.list_names("source=webhook/") for line in read_object(store, name))


def zombies_under(pid: int) -> list[str]:
    """<defunct> processes whose parent is ``pid``."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z" and int(fields[1]) == pid:
            found.append(stat[:60])
    return found


def test_up_brings_every_killed_service_back(up_command, tmp_path):
    start, run, data = up_command
    up = start()
    status = eventually(lambda: ready(run), timeout=120, interval=1, what="stack ready")
    first = eventually(lambda: post_push(status), timeout=30, what="a first 202")
    eventually(lambda: in_warehouse(status, first), timeout=60, what="the workers consuming")

    for name in ("kafka", "postgres", "receiver"):
        pid = status["services"][name]["pid"]
        if name == "receiver":  # its metric files go with the stack's folder, not left in the temporary directory
            environ = dict(entry.split("=", 1) for entry in
                           Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in entry)
            assert Path(environ["PROMETHEUS_MULTIPROC_DIR"]).parent == data
        os.kill(pid, signal.SIGKILL)
        status = eventually(lambda n=name, p=pid: (s := ready(run)) and s["services"][n]["pid"] != p
                            and s["services"][n]["running"] and s, timeout=120, interval=0.5,
                            what=f"{name} restarted and the stack ready")
        assert status["services"][name]["restarts"] == 1
        assert status["services"][name]["last_exit"] == "killed by SIGKILL"
        # A child that has just exited is a zombie until the supervisor's next reap; one that stays is the bug.
        eventually(lambda: zombies_under(up.pid) == [], timeout=10, what="no <defunct> child of up")
        # Each comes back as a working part of the pipeline, not just a process.
        delivery = eventually(lambda s=status: post_push(s), timeout=60, what="a 202 after the restart")
        eventually(lambda s=status, d=delivery: in_warehouse(s, d), timeout=60,
                   what=f"a delivery after {name} died")

    # A killed worker is back at work within 10 s: a delivery sent right after the kill lands by then. (The
    # Kafka outage above made the workers exit and restart with growing delays; once each has run for
    # STABLE_AFTER_S its next restart is immediate again.)
    for role, landed in (("warehouse", in_warehouse), ("archiver", in_archive)):
        status = eventually(lambda r=role: (s := ready(run)) and (s["services"][f"worker-{r}"]["up_for_s"] or 0)
                            > STABLE_AFTER_S and s, timeout=60, what=f"the {role} worker running steadily")
        os.kill(status["services"][f"worker-{role}"]["pid"], signal.SIGKILL)
        killed = time.monotonic()
        delivery = post_push(status)
        assert delivery is not None
        eventually(lambda s=status, d=delivery, check=landed: check(s, d), timeout=10, interval=0.2,
                   what=f"a delivery sent after kill -9 of the {role} worker, within 10 s")
        print(f"{role} worker: delivery sent after kill -9 landed in {time.monotonic() - killed:.1f}s")
    status = eventually(lambda: ready(run), timeout=30, what="stack ready")
    assert all(s["restarts"] >= 1 and s["running"] for s in status["services"].values()), status["services"]
    eventually(lambda: zombies_under(up.pid) == [], timeout=10, what="no <defunct> child of up")

    up.send_signal(signal.SIGINT)
    up.wait(timeout=90)
    console = (tmp_path / "up.log").read_text(errors="replace")
    for name in status["services"]:
        assert f"{name} exited (killed by SIGKILL)" in console and f"{name} restarted" in console
    assert processes_mentioning(str(data)) == []
