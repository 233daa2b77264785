"""A GitHub that cannot be reached (nothing listening, unknown host): every GitHub-facing command stops at
once with one line naming the host and the cause, and exit code 69 -- no retry storm, no traceback."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from devstack.process import free_port
from devstack.stack import child_env
from tests.conftest import new_topic

pytestmark = pytest.mark.integration
UNREACHABLE = 69


def run(args: list[str], env: dict[str, str]) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "launcher", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    return done.returncode, done.stderr + done.stdout, time.monotonic() - started


@pytest.mark.parametrize("dry_run", [False, True])
def test_backfill_against_an_unreachable_api_fails_fast_in_one_line(services, db, tmp_path, dry_run):
    port = free_port()
    env = child_env(database_url=db.writer_dsn, github_api_url=f"http://127.0.0.1:{port}", github_token="t",
                    archive_url=f"file://{tmp_path}", kafka_bootstrap=services.kafka.bootstrap,
                    raw_topic=new_topic(services), log_format="text")
    code, output, seconds = run(["backfill", "--org", "acme", *(["--dry-run"] if dry_run else [])], env)
    assert code == UNREACHABLE, output
    lines = output.strip().splitlines()
    assert lines[-1] == f"pillarstream backfill: cannot reach GitHub at 127.0.0.1:{port} (connection refused)"
    assert all(line.startswith("backfill: repositories 0/0") for line in lines[:-1]), output  # progress only
    assert seconds < 30  # was 104 s of retries, logged as rate-limit waits


def test_webhook_ensure_against_an_unreachable_github_fails_fast_in_one_line(tmp_path):
    env = child_env(github_api_url="http://no-such-host.invalid/api/v3", github_token="t", webhook_secrets="s",
                    log_format="text")
    code, output, _ = run(["webhook", "ensure", "--org", "acme", "--url", "https://hooks.example.com/"], env)
    assert code == UNREACHABLE, output
    assert output.strip().splitlines() == [
        "pillarstream webhook: cannot reach GitHub at no-such-host.invalid:80 (host name not resolved)"]


def test_webhook_ensure_checks_its_config_before_github(tmp_path):
    # A config GitHub would refuse is a configuration error (2), named before any call to GitHub; it was
    # reported as an unreachable GitHub (69) when GitHub was down, and only after calling it when it was up.
    config = tmp_path / "hook.json"
    config.write_text('{"version": 1, "events": ["push", "pull_requests"]}')
    env = child_env(github_api_url=f"http://127.0.0.1:{free_port()}", github_token="t", webhook_secrets="s",
                    webhook_config=str(config), log_format="text")
    code, output, _ = run(["webhook", "ensure", "--org", "acme", "--url", "https://hooks.example.com/"], env)
    assert code == 2, output
    (line,) = output.strip().splitlines()
    assert line.startswith(f"pillarstream webhook: configuration error: {config} is invalid: at $.events[1]: "
                           "'pull_requests' is not one of the ")
    assert line.endswith("allowed values (did you mean 'pull_request'?)")


def test_log_level_debug_adds_the_traceback(tmp_path):
    env = child_env(github_api_url=f"http://127.0.0.1:{free_port()}", github_token="t", webhook_secrets="s",
                    log_format="text", log_level="DEBUG")
    code, output, _ = run(["webhook", "status", "--org", "acme"], env)
    assert code == UNREACHABLE
    assert "Traceback" in output and "ConnectionRefusedError" in output
    assert output.strip().splitlines()[-1].startswith("pillarstream webhook: cannot reach GitHub at 127.0.0.1:")
