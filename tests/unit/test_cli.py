"""The console script as a user meets it: bad settings stop every process with each bad field named."""

import os
import subprocess
import sys

import pytest

from launcher.cli import SUBCOMMANDS, build_parser

pytestmark = pytest.mark.unit


def run(*args, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PILLARSTREAM_")}
    return subprocess.run([sys.executable, "-m", "launcher", *args], env={**clean, **env},
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("command", [["receiver"], ["worker", "warehouse"], ["migrate"]])
def test_bad_settings_stop_start_up_naming_every_field(command):
    answer = run(*command, PILLARSTREAM_TOPIC_PARTITIONS="many", PILLARSTREAM_LOG_FORMAT="xml",
                 PILLARSTREAM_ARCHIVE_URL="ftp://x")
    assert answer.returncode == 2
    for name in ("PILLARSTREAM_TOPIC_PARTITIONS", "PILLARSTREAM_LOG_FORMAT", "PILLARSTREAM_ARCHIVE_URL"):
        assert name in answer.stderr


def test_receiver_without_a_secret_refuses_to_start():
    answer = run("receiver", PILLARSTREAM_KAFKA_BOOTSTRAP="127.0.0.1:1")
    assert answer.returncode == 2 and "no webhook secret" in answer.stderr


def test_every_process_of_the_design_is_a_subcommand():
    assert {"receiver", "worker", "migrate", "up", "status", "demo", "replay", "webhook"} <= set(SUBCOMMANDS)
    assert build_parser().parse_args(["worker", "archiver"]).role == "archiver"


@pytest.mark.parametrize("module", ["launcher", "launcher.receiver", "launcher.worker"])
def test_packages_run_as_modules(module):
    answer = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=60)
    assert answer.returncode == 0 and "usage:" in answer.stdout


def test_bad_pillar_config_stops_the_warehouse_worker(tmp_path):
    bad = tmp_path / "pillars.json"
    bad.write_text('{"version": 1, "incident_labels": "incident", "bots": {"logins": [1]}}')
    answer = run("worker", "warehouse", PILLARSTREAM_PILLARS_CONFIG=str(bad),
                 PILLARSTREAM_DATABASE_URL="postgresql://nobody@127.0.0.1:1/x")
    assert answer.returncode == 2, answer.stderr
    assert "incident_labels" in answer.stderr and "logins" in answer.stderr


@pytest.mark.parametrize("command", ["up", "status", "demo"])
def test_the_local_stack_talks_text_at_the_console_unless_log_format_is_set(monkeypatch, command):
    from launcher.cli import log_format
    from pillarstream.settings import load_settings

    monkeypatch.delenv("PILLARSTREAM_LOG_FORMAT", raising=False)
    assert log_format(command, load_settings()) == "text"  # `make up` printed JSON lines among its progress lines
    assert log_format("receiver", load_settings()) == "json"  # services log JSON by default
    monkeypatch.setenv("PILLARSTREAM_LOG_FORMAT", "json")
    assert log_format(command, load_settings()) == "json"
