"""`make up` takes other ports as make variables, from the command line or the environment (README, "make up
uses ports ..."), and passes each to `pillarstream up`."""

from __future__ import annotations

import os
import subprocess

import pytest

from .contracts import REPO

pytestmark = pytest.mark.unit


def planned_up(*args: str, **env: str) -> str:
    """The `pillarstream up` line `make up` would run (make -n runs nothing)."""
    done = subprocess.run(["make", "-n", "-C", str(REPO), "up", *args], capture_output=True, text=True, timeout=30,
                          env={**os.environ, **env}, check=True)
    return " ".join(done.stdout.replace("\\\n", " ").split())


def test_make_up_passes_the_default_ports():
    line = planned_up()
    assert ("pillarstream up --port 8080 --kafka-port 9092 --controller-port 9093 --postgres-port 5433" in line
            and "--superset" not in line)


def test_make_up_takes_other_ports_on_the_command_line_or_from_the_environment():
    line = planned_up("PORT=8081", "KAFKA_PORT=9192", "CONTROLLER_PORT=9193", "POSTGRES_PORT=5434", "SUPERSET=1",
                      "SUPERSET_PORT=8089")
    assert ("pillarstream up --port 8081 --kafka-port 9192 --controller-port 9193 --postgres-port 5434 "
            "--superset --superset-port 8089") in line
    assert "pillarstream up --port 8082 " in planned_up(PORT="8082")
