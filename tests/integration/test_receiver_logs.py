"""The receiver under gunicorn with LOG_FORMAT=json: every line is one JSON object, gunicorn's included;
receivers on one machine do not share (and remove) one gunicorn control socket."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import requests

from devstack.process import free_port, wait_until
from devstack.stack import http_ok, spawn_receiver
from tests.harness import signed_headers

pytestmark = pytest.mark.integration


def start(pipeline, name: str, home: Path):
    port = free_port()
    env = dict(pipeline.env, PILLARSTREAM_LOG_FORMAT="json", PILLARSTREAM_LOG_LEVEL="info", HOME=str(home))
    env.pop("XDG_RUNTIME_DIR", None)
    child = spawn_receiver(env, port, pipeline.root / f"{name}.log", workers=2, threads=2)
    pipeline.children[name] = child
    wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), timeout=30, what=f"{name} /healthz", child=child)
    return child, port


def test_json_lines_only_and_no_shared_control_socket(pipeline, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    first, first_port = start(pipeline, "first", home)
    second, second_port = start(pipeline, "second", home)
    body = b'{"zen": "Keep it logically awesome."}'
    headers = signed_headers(pipeline.secret, body, "ping", "d-logs")
    assert requests.post(f"http://127.0.0.1:{first_port}/webhooks/github", data=body, headers=headers,
                         timeout=15).status_code == 202
    assert requests.post(f"http://127.0.0.1:{first_port}/webhooks/github", data=body,
                         headers={**headers, "X-Hub-Signature-256": "sha256=00"}, timeout=15).status_code == 401
    first.stop()

    lines = (pipeline.root / "first.log").read_text().splitlines()
    assert any("Booting worker" in line for line in lines), lines  # gunicorn's own lines are there ...
    assert any("Shutting down" in line for line in lines), lines
    for line in lines:  # ... and every line, theirs and ours, is one JSON object
        assert isinstance(json.loads(line), dict), line
    # gunicorn's own logger is `gunicorn.error` whatever the level: a search for errors must not find "Booting worker"
    assert [line for line in lines if "error" in line.lower()] == []
    assert not list(home.rglob("*.ctl")) and not (home / ".gunicorn").exists()
    assert http_ok(f"http://127.0.0.1:{second_port}/healthz")  # the other receiver is untouched
    second.stop()
    assert not [p for p in os.listdir(home)]
