"""`pillarstream up`'s choices that need no running service: where its files are, which ports it takes."""

from __future__ import annotations

import re
import socket

import pytest

from devstack.kafka import JAR_CACHE
from devstack.process import free_port
from devstack.stack import LocalServices, local_data_dir, run_up
from pillarstream.settings import Settings
from tests.conftest import REPO

pytestmark = pytest.mark.unit


def ports(**kw: int) -> dict[str, int]:
    chosen = {name: free_port() for name in ("receiver_port", "kafka_port", "controller_port", "postgres_port")}
    return {**chosen, **kw}


def test_a_busy_port_is_named_with_its_process_and_a_free_alternative(capsys):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        busy = listener.getsockname()[1]
        assert run_up(Settings(), **ports(postgres_port=busy)) == 1
    message = capsys.readouterr().err.strip()
    assert "\n" not in message
    assert f"port {busy} (PostgreSQL) is in use by python" in message
    assert re.search(r"\(pid \d+\)", message)
    other = int(re.search(r"make up POSTGRES_PORT=(\d+)", message).group(1))
    assert other != busy and f"--postgres-port {other}" in message


def neighbouring_listeners() -> tuple[socket.socket, socket.socket]:
    """Two listening sockets on ports N and N + 1 (the first free port after either is the same)."""
    while True:
        one = socket.socket()
        one.bind(("127.0.0.1", 0))
        two = socket.socket()
        try:
            two.bind(("127.0.0.1", one.getsockname()[1] + 1))
        except OSError:
            one.close()
            two.close()
            continue
        one.listen()
        two.listen()
        return one, two


def test_two_busy_ports_get_two_different_free_alternatives(capsys):
    one, two = neighbouring_listeners()
    with one, two:
        busy = [one.getsockname()[1], two.getsockname()[1]]
        assert run_up(Settings(), **ports(postgres_port=busy[0], kafka_port=busy[1])) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    suggested = [int(re.search(r"make up [A-Z_]+=(\d+)", line).group(1)) for line in lines]
    assert len(lines) == 2 and len(set(suggested)) == 2 and not set(suggested) & set(busy)


def test_one_port_for_two_services_is_refused_before_anything_starts(capsys):
    chosen = ports()
    assert run_up(Settings(), **{**chosen, "kafka_port": chosen["receiver_port"]}) == 1
    message = capsys.readouterr().err.strip()
    assert "\n" not in message
    assert message.startswith(f"pillarstream up: port {chosen['receiver_port']} is given for both the webhook "
                              "receiver and Kafka: make up KAFKA_PORT=")


def test_the_stack_folder_is_the_checkouts_whatever_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("PILLARSTREAM_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert local_data_dir(Settings()) == REPO / ".local"
    monkeypatch.setenv("PILLARSTREAM_DATA_DIR", "mine")
    assert local_data_dir(Settings()) == tmp_path / "mine"


def test_up_and_the_tests_share_one_jar_cache(tmp_path):
    up = LocalServices(REPO / ".local", kafka_port=1, controller_port=2, pg_port=3)
    tests = LocalServices(REPO / ".local" / "test-1", kafka_port=1, controller_port=2, pg_port=3)
    elsewhere = LocalServices(tmp_path / "data", kafka_port=1, controller_port=2, pg_port=3)
    assert up.kafka.cache_dir == tests.kafka.cache_dir == elsewhere.kafka.cache_dir == JAR_CACHE
    assert JAR_CACHE == REPO / ".local" / "cache"
