"""scripts/bootstrap.sh in a scratch copy of the repository whose Python and pip are stand-ins that record their
calls, pip printing terminal escape codes as some package builds do (checkov's printed `ESC[0m`): what it
installs, and that its output is plain."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from .contracts import REPO

pytestmark = pytest.mark.unit

STAND_IN = textwrap.dedent("""\
    #!/usr/bin/env bash
    # Records the call; `-m venv DIR` makes DIR/bin with stand-ins like this one; pip talks in colour.
    echo "$0 $*" >> "{calls}"
    [[ $(basename "$0") == pip ]] && printf '\\033[1mworking\\033[0m\\n' >&2
    if [[ "$1 $2" == "-m venv" ]]; then
      mkdir -p "$3/bin"
      for tool in python pip checkov; do cp "$0" "$3/bin/$tool"; done
    fi
    """)


@pytest.fixture()
def scratch(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "bootstrap.sh", repo / "scripts")
    shutil.copy(REPO / "pyproject.toml", repo)
    calls = tmp_path / "calls.txt"
    python = tmp_path / "python3"
    python.write_text(STAND_IN.format(calls=calls))
    python.chmod(0o755)
    return repo, calls, {**os.environ, "PYTHON": str(python)}


def bootstrap(repo: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(["bash", str(repo / "scripts" / "bootstrap.sh"), *args], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_bootstrap_installs_no_test_tools_and_prints_no_escape_codes(scratch):
    repo, calls, env = scratch
    output = bootstrap(repo, env)
    recorded = calls.read_text()
    assert "pip install -q -e .[dev]" in recorded and "devstack.kafka" in recorded
    assert "checkov" not in recorded and not (repo / ".local" / "tools" / "checkov").exists()
    assert "\x1b" not in output and "working" in output


def test_test_tools_adds_checkov_once(scratch):
    repo, calls, env = scratch
    output = bootstrap(repo, env, "--test-tools")
    assert "pip install -q checkov==" in calls.read_text() and "\x1b" not in output
    before = calls.read_text()
    bootstrap(repo, env, "--test-tools")  # everything in place: nothing is installed again
    again = calls.read_text()[len(before):]
    assert "install" not in again
