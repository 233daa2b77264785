"""`pillarstream webhook`: the org hook as code, and redelivery of what failed while Kafka was down."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid

import pytest

from adapters.kafka_publisher import ensure_topic
from devstack.kafka import KafkaBroker
from devstack.process import free_port, wait_until
from devstack.stack import http_ok
from tests.conftest import REPO
from tests.fake_github.fixtures import TOKEN
from tests.harness import eventually, fixture_bytes, query

pytestmark = pytest.mark.e2e


def webhook(env: dict[str, str], fake, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(env, PILLARSTREAM_GITHUB_TOKEN=TOKEN, PILLARSTREAM_GITHUB_API_URL=fake.url)
    return subprocess.run([sys.executable, "-m", "launcher", "webhook", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def _gauge(port: int) -> float | None:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:  # noqa: S310
            for line in answer.read().decode().splitlines():
                if line.startswith("pillarstream_delivery_gap "):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def writes(fake) -> list[str]:
    return [f"{s.method} {s.path}" for s in fake.requests("/hooks") if s.method in ("POST", "PATCH", "DELETE")]



def test_ensure_takes_another_config_file(pipeline, fake_github, tmp_path):
    """PILLARSTREAM_WEBHOOK_CONFIG (or --config) replaces configs/webhook.json; a misspelt event is refused."""
    fake_github.state.add_owner("acme", 9000)
    url = "https://hooks.acme.example/webhooks/github"
    config = tmp_path / "hook.json"
    config.write_text('{"version": 1, "events": ["push", "pull_requests"]}')
    env = dict(pipeline.env, PILLARSTREAM_WEBHOOK_CONFIG=str(config))
    refused = webhook(env, fake_github, "ensure", "--org", "acme", "--url", url)
    assert refused.returncode == 2 and "pull_requests" in refused.stderr, refused.stderr
    assert fake_github.hooks.of("acme", "Organization") == []

    config.write_text('{"version": 1, "events": ["push", "workflow_run"]}')
    created = webhook(env, fake_github, "ensure", "--org", "acme", "--url", url)
    assert created.returncode == 0, created.stderr
    [hook] = fake_github.hooks.of("acme", "Organization")
    assert sorted(hook.events) == ["push", "workflow_run"]
    other = tmp_path / "other.json"
    other.write_text('{"version": 1, "events": ["push"]}')
    flag = webhook(env, fake_github, "ensure", "--org", "acme", "--url", url, "--config", str(other))
    assert flag.returncode == 0 and "-workflow_run" in flag.stdout, flag.stdout
    assert hook.events == ["push"]

def test_ensure_creates_fixes_and_then_leaves_alone(pipeline, fake_github):
    fake_github.state.add_owner("acme", 9000)
    url = "https://hooks.acme.example/webhooks/github"

    created = webhook(pipeline.env, fake_github, "ensure", "--org", "acme", "--url", url)
    assert created.returncode == 0, created.stderr
    [hook] = fake_github.hooks.of("acme", "Organization")
    assert hook.config["url"] == url and hook.config["content_type"] == "json"
    assert hook.config["secret"] == pipeline.secret and hook.config["insecure_ssl"] == "0"
    assert "push" in hook.events and "pull_request" in hook.events and hook.active

    fake_github.reset_log()
    same = webhook(pipeline.env, fake_github, "ensure", "--org", "acme", "--url", url)
    assert same.returncode == 0 and "nothing to change" in same.stdout
    assert writes(fake_github) == []

    hook.config["content_type"] = "form"
    hook.events = ["push", "star"]
    hook.active = False
    fixed = webhook(pipeline.env, fake_github, "ensure", "--org", "acme", "--url", url)
    assert fixed.returncode == 0, fixed.stderr
    assert "config.content_type: form -> json" in fixed.stdout and "-star" in fixed.stdout
    assert "active: false -> true" in fixed.stdout and pipeline.secret not in fixed.stdout
    assert hook.config["content_type"] == "json" and "star" not in hook.events and hook.active
    assert len(fake_github.hooks.of("acme", "Organization")) == 1

    pinged = webhook(pipeline.env, fake_github, "ping", "--org", "acme")
    assert pinged.returncode == 0 and f"hook {hook.id}" in pinged.stdout
    status = webhook(pipeline.env, fake_github, "status", "--org", "acme")
    assert status.returncode == 0 and " ping " in status.stdout  # the ping's failed attempt is listed
    assert pipeline.secret not in status.stdout


def test_deliveries_failed_while_kafka_was_down_are_redelivered_once(pipeline, db, fake_github):
    """Own broker: it is stopped under a running receiver while GitHub delivers."""
    broker = KafkaBroker(REPO / ".local" / f"redeliver-{uuid.uuid4().hex[:8]}", REPO / ".local" / "cache",
                         free_port(), free_port(), heap="256m")
    broker.start()
    try:
        topic = pipeline.env["PILLARSTREAM_RAW_TOPIC"]
        ensure_topic(broker.bootstrap, topic, 3, 1)
        pipeline.env.update(PILLARSTREAM_KAFKA_BOOTSTRAP=broker.bootstrap, PILLARSTREAM_PUBLISH_TIMEOUT_SECONDS="2")
        pipeline.start_receiver()
        worker = pipeline.start_worker("warehouse")
        # Joined its group before the outage: the running worker must ride it out, not just start later.
        wait_until(lambda: "Worker ready" in worker.tail(200), timeout=60, what="worker ready", child=worker)
        fake_github.state.add_owner("acme", 9000)
        url = f"{pipeline.url}/webhooks/github"
        assert webhook(pipeline.env, fake_github, "ensure", "--org", "acme", "--url", url).returncode == 0

        broker.stop()
        bodies = [fixture_bytes(f"webhooks/{p}") for p in (
            "push/payload.json", "pull_request/opened.payload.json", "check_run/completed.payload.json",
            "issues/opened.payload.json", "workflow_run/completed.payload.json")]
        events = ["push", "pull_request", "check_run", "issues", "workflow_run"]
        sent = [fake_github.deliver("acme", e, b)[0] for e, b in zip(events, bodies, strict=True)]
        assert [d.status_code for d in sent] == [503] * len(sent)

        broker.start()
        wait_until(lambda: http_ok(f"{pipeline.url}/readyz"), timeout=60, what="receiver ready again")
        first = webhook(pipeline.env, fake_github, "redeliver", "--org", "acme", "--since", "1h")
        assert first.returncode == 0, first.stdout + first.stderr
        assert "seen=5 failed=5 already_in_warehouse=0 redelivered=5 still_missing=0" in first.stdout
        guids = sorted(d.guid for d in sent)
        eventually(lambda: sorted(r[0] for r in query(db.writer_dsn, "SELECT delivery_id FROM deliveries")) == guids,
                   timeout=90, what="all five deliveries in the warehouse")

        second = webhook(pipeline.env, fake_github, "redeliver", "--org", "acme", "--since", "1h")
        assert second.returncode == 0 and "redelivered=0" in second.stdout and "gap=0" in second.stdout
        assert query(db.writer_dsn, "SELECT count(*) FROM deliveries")[0][0] == 5

        # As a long-lived reconciler: the gap gauge counts what GitHub sent but the warehouse lacks.
        # GitHub saw this one succeed, so it is not redelivered; losing the row is still a gap to alert on.
        query(db.admin_dsn, "DELETE FROM deliveries WHERE delivery_id = %s RETURNING 1", (guids[0],))
        port = free_port()
        env = dict(pipeline.env, PILLARSTREAM_GITHUB_TOKEN=TOKEN, PILLARSTREAM_GITHUB_API_URL=fake_github.url)
        looping = subprocess.Popen([sys.executable, "-m", "launcher", "webhook", "redeliver", "--org", "acme",
                                    "--since", "1h", "--every", "1s", "--metrics-port", str(port)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert eventually(lambda: _gauge(port), timeout=30, what="the delivery-gap gauge") == 1.0
        finally:
            looping.terminate()
            looping.wait(10)
    finally:
        pipeline.stop()
        broker.stop()
        shutil.rmtree(broker.data_dir, ignore_errors=True)
