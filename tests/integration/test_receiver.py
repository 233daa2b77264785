"""The receiver over a real Kafka broker: exact records, every answer code, and no 5xx for garbage."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pillarstream.envelope import from_record
from pillarstream.settings import load_settings
from receiver.app import create_app
from tests.harness import fixture_bytes, read_topic, signed_headers

pytestmark = pytest.mark.integration
SECRET = "receiver-test-secret"


@pytest.fixture()
def app(services, topic):
    settings = load_settings(kafka_bootstrap=services.kafka.bootstrap, raw_topic=topic, webhook_secrets=SECRET,
                             max_body_bytes=2 * 2**20, publish_timeout_seconds=3)
    app = create_app(settings)
    yield app
    app.extensions["pillarstream"]["publisher"].close()


@pytest.fixture()
def client(app):
    return app.test_client()


def post(client, event, body, **headers):
    sent = signed_headers(SECRET, body, event)
    sent.update(headers)
    return client.post("/webhooks/github", data=body, headers=sent)


def test_delivery_arrives_on_the_topic_exactly(client, services, topic):
    body = fixture_bytes("webhooks/pull_request/opened.with-organization.payload.json")
    delivery_id = str(uuid.uuid4())
    answer = post(client, "pull_request", body, **{"X-GitHub-Delivery": delivery_id})
    assert answer.status_code == 202 and answer.json["delivery_id"] == delivery_id

    [record] = read_topic(services.kafka.bootstrap, topic, 1)
    envelope = from_record(record.value, record.headers)
    payload = json.loads(body)
    assert record.value == body
    assert record.key == f"repo:{payload['repository']['id']}".encode()
    assert (envelope.delivery_id, envelope.event, envelope.action, envelope.source) == (
        delivery_id, "pull_request", "opened", "webhook")
    assert envelope.org == payload["organization"]["login"]
    assert envelope.repo_full_name == payload["repository"]["full_name"]
    assert envelope.hook_id == "292430182"


def test_form_encoded_delivery_is_published_as_its_json_payload(client, services, topic):
    body = fixture_bytes("webhooks/issues/opened.payload.json")
    form = b"payload=" + quote_from_bytes(body).encode()
    answer = post(client, "issues", form, **{"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 202
    [record] = read_topic(services.kafka.bootstrap, topic, 1)
    assert record.value == body


def test_ignored_event_types_and_ping_are_accepted(client):
    for event, path in [("ping", "webhooks/ping/payload.json"), ("star", "webhooks/ping/payload.json")]:
        assert post(client, event, fixture_bytes(path)).status_code == 202


def test_answer_codes(client):
    body = fixture_bytes("webhooks/push/payload.json")
    assert post(client, "push", body, **{"X-Hub-Signature-256": "sha256=" + "0" * 64}).status_code == 401
    assert post(client, "push", body, **{"Content-Type": "text/xml"}).status_code == 415
    assert post(client, "push", b"{not json").status_code == 400
    assert post(client, "push", b"").status_code == 400
    assert post(client, "push", b"\xc3\x28").status_code == 400
    assert client.get("/webhooks/github").status_code == 405
    assert client.put("/webhooks/github").status_code == 405
    big = b'{"pad": "' + b"x" * (2 * 2**20) + b'"}'
    assert post(client, "push", big).status_code == 413


def test_huge_headers_are_refused_cleanly(client):
    body = fixture_bytes("webhooks/push/payload.json")
    answer = post(client, "push", body, **{"X-GitHub-Delivery": "d" * 100_000})
    assert answer.status_code == 400


def test_health_ready_and_metrics(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    post(client, "push", fixture_bytes("webhooks/push/payload.json"))
    text = client.get("/metrics").get_data(as_text=True)
    assert 'pillarstream_deliveries_total{event="push",status="202"} 1.0' in text
    assert "pillarstream_publish_seconds_bucket" in text
    assert "pillarstream_payload_bytes_count 1.0" in text


def test_log_line_has_delivery_fields_and_no_secret(client, caplog):
    body = fixture_bytes("webhooks/push/payload.json")
    with caplog.at_level("INFO", logger="receiver.delivery"):
        post(client, "push", body, **{"X-GitHub-Delivery": "log-check-1"})
    [record] = [r for r in caplog.records if r.name == "receiver.delivery"]
    assert (record.delivery_id, record.event, record.status) == ("log-check-1", "push", 202)
    assert record.repository == "Codertocat/Hello-World"
    logged = json.dumps(vars(record), default=str)
    assert SECRET not in logged and "sha256=" not in logged and "Codertocat/Hello-World\"" in logged
    assert '"commits"' not in logged  # never the payload


header_names = st.sampled_from(["Content-Type", "X-GitHub-Event", "X-GitHub-Delivery", "X-Hub-Signature-256",
                                "X-Hub-Signature", "Content-Length", "Transfer-Encoding", "X-Other"])
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=2048), headers=st.dictionaries(header_names, header_values, max_size=6),
       method=st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "DELETE", "PATCH"]))
def test_garbage_never_causes_a_server_error(client, body, headers, method):
    answer = client.open("/webhooks/github", method=method, data=body, headers=headers)
    assert answer.status_code < 500 or answer.status_code == 503


def test_broker_outage_gives_503_then_recovers_without_restart(tmp_path):
    """A broker of this test's own is stopped and restarted under a running app."""
    from devstack.kafka import KafkaBroker
    from devstack.process import free_port
    from tests.conftest import REPO

    broker = KafkaBroker(REPO / ".local" / f"outage-{uuid.uuid4().hex[:8]}", REPO / ".local" / "cache",
                         free_port(), free_port(), heap="256m")
    broker.start()
    try:
        settings = load_settings(kafka_bootstrap=broker.bootstrap, raw_topic="outage", webhook_secrets=SECRET,
                                 publish_timeout_seconds=2)
        app = create_app(settings)
        client = app.test_client()
        body = fixture_bytes("webhooks/push/payload.json")
        assert post(client, "push", body).status_code == 202

        broker.stop()
        started = time.monotonic()
        down = post(client, "push", body)
        took = time.monotonic() - started
        assert down.status_code == 503 and down.headers["Retry-After"]
        assert took < 9, f"GitHub waits 10 s at most; the receiver answered after {took:.1f}s"
        assert client.get("/readyz").status_code == 503

        broker.start()
        answers = [post(client, "push", body).status_code for _ in range(3)]
        assert answers[-1] == 202, answers
        app.extensions["pillarstream"]["publisher"].close()
    finally:
        broker.stop()
        import shutil

        shutil.rmtree(broker.data_dir, ignore_errors=True)
