"""The supervisor behind `pillarstream up`, with real processes: a dead one is reaped, reported and restarted,
with growing delays while it keeps dying."""

from __future__ import annotations

import os
import signal
import sys
import time
from functools import partial
from pathlib import Path

import pytest

from devstack.process import Child
from devstack.supervisor import Supervisor
from tests.harness import eventually

pytestmark = pytest.mark.integration


def is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False  # gone: reaped


def test_a_killed_process_is_reaped_and_restarted(tmp_path):
    said: list[str] = []
    supervisor = Supervisor(say=said.append)
    supervisor.add("sleeper", partial(Child, "sleeper", ["sleep", "60"], tmp_path / "sleeper.log"))
    first = supervisor.services["sleeper"].child.pid
    try:
        os.kill(first, signal.SIGKILL)
        eventually(lambda: supervisor.check() or supervisor.services["sleeper"].restarts == 1, timeout=10,
                   interval=0.1, what="a restart")
        state = supervisor.state()["sleeper"]
        assert state["running"] and state["pid"] != first
        assert state["restarts"] == 1 and state["last_exit"] == "killed by SIGKILL"
        assert not is_zombie(first)
        assert said[0].startswith("sleeper exited (killed by SIGKILL)") and said[1].startswith("sleeper restarted")
    finally:
        supervisor.stop()


def test_a_crashing_process_is_restarted_with_growing_delays(tmp_path):
    said: list[str] = []
    supervisor = Supervisor(say=said.append)
    crash = [sys.executable, "-c", "import sys; print('ERROR: no config here'); sys.exit(3)"]
    supervisor.add("crasher", partial(Child, "crasher", crash, tmp_path / "crasher.log"))
    try:
        deadline = time.monotonic() + 10
        while supervisor.services["crasher"].restarts < 3 and time.monotonic() < deadline:
            supervisor.check()
            time.sleep(0.05)
        exits = [line for line in said if "exited" in line]
        assert "crasher exited (exit 3): ERROR: no config here; restarting in 0.5s" in exits[0]
        assert "restarting in 1s" in exits[1] and "restarting in 2s" in exits[2]
    finally:
        supervisor.stop()
