"""Every Kafka client over SASL_SSL with mutual TLS, against a real broker with a test CA.

One broker for the module, with a PLAINTEXT listener (the test reads topics through it, independently of
the code under test) and a SASL_SSL listener that requires a client certificate and accepts PLAIN and
SCRAM users. Receiver and workers log in with SCRAM-SHA-512 (password from a file), the backfill with
PLAIN, the replay with SCRAM-SHA-256.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.archive_store import FileStore, open_store
from adapters.kafka_publisher import ensure_topic
from devstack.kafka import KafkaBroker, SaslSslListener
from devstack.process import free_port
from pillarstream.envelope import from_payload, from_record
from pillarstream.kafka_connection import KafkaConnection
from stream_processors.archive_dedupe import DeliveryIndex
from stream_processors.archiver import Consumed, archive_batch
from tests.fake_github.harness import backfill_env, drain, run_backfill
from tests.fake_github.history import rest_state
from tests.fake_github.server import FakeGitHub
from tests.fake_github.synthetic import synthetic_history
from tests.harness import Pipeline, eventually, fixture_bytes, pipeline_env, query, read_topic
from tests.tls import Pki, make_pki

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
USER, PASSWORD = "pillarstream", f"pw-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def broker(pki: Pki) -> Iterator[KafkaBroker]:
    root = REPO / ".local" / f"test-sasl-{uuid.uuid4().hex[:8]}"
    listener = SaslSslListener(free_port(), pki.broker_keystore, pki.ca, {USER: PASSWORD})
    kafka = KafkaBroker(root / "kafka", REPO / ".local" / "cache", free_port(), free_port(), sasl_ssl=listener)
    try:
        kafka.start()
        yield kafka
    finally:
        kafka.stop()
        shutil.rmtree(root, ignore_errors=True)


def security_env(pki: Pki, mechanism: str, *, password: str = PASSWORD,
                 password_file: Path | None = None) -> dict[str, str]:
    env = {"PILLARSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "PILLARSTREAM_KAFKA_SASL_MECHANISM": mechanism,
           "PILLARSTREAM_KAFKA_SASL_USERNAME": USER, "PILLARSTREAM_KAFKA_SSL_CAFILE": str(pki.ca),
           "PILLARSTREAM_KAFKA_SSL_CERTFILE": str(pki.client_cert),
           "PILLARSTREAM_KAFKA_SSL_KEYFILE": str(pki.client_key)}
    if password_file is not None:
        password_file.write_text(password + "\n")
        env["PILLARSTREAM_KAFKA_SASL_PASSWORD_FILE"] = str(password_file)
    else:
        env["PILLARSTREAM_KAFKA_SASL_PASSWORD"] = password
    return env


def secure_topic(broker: KafkaBroker, pki: Pki) -> str:
    """Created over SASL_SSL: the admin client authenticates too."""
    name = f"secure.{uuid.uuid4().hex[:10]}"
    connection = KafkaConnection(broker.sasl_ssl_bootstrap, "SASL_SSL", "SCRAM-SHA-512", USER, PASSWORD,
                                 str(pki.ca), str(pki.client_cert), str(pki.client_key))
    assert ensure_topic(connection, name, 3, 1)
    return name


def run_cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "launcher", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def delivery_ids(records: list[Any]) -> list[str]:
    return [from_record(r.value, r.headers).delivery_id for r in records]


def test_receiver_workers_and_replay_over_sasl_ssl(broker, pki, db, gcs_bucket, secret_file, tmp_path):
    topic = secure_topic(broker, pki)
    env = pipeline_env(bootstrap=broker.sasl_ssl_bootstrap, topic=topic, dsn=db.writer_dsn, archive_url=gcs_bucket,
                       secret_file=secret_file, group=f"sasl-{uuid.uuid4().hex[:8]}",
                       extra=security_env(pki, "SCRAM-SHA-512", password_file=tmp_path / "kafka_password"))
    pipeline = Pipeline(root=tmp_path, env=env, secret=secret_file.read_text().strip())
    try:
        pipeline.start_receiver()
        pipeline.start_worker("archiver")
        pipeline.start_worker("warehouse")
        delivery_id = str(uuid.uuid4())
        assert pipeline.post("push", fixture_bytes("webhooks/push/payload.json"), delivery_id).status_code == 202

        rows = eventually(lambda: query(db.writer_dsn, "SELECT event, source FROM deliveries WHERE delivery_id = %s",
                                        (delivery_id,)), timeout=60, what="the warehouse row")
        assert rows == [("push", "webhook")]
        store = open_store(gcs_bucket)
        eventually(lambda: store.list_names("source=webhook/event=push/"), timeout=60, what="the archive object")
    finally:
        pipeline.stop()
    # The receiver published over SASL_SSL; the PLAINTEXT listener shows the record really is on the topic.
    assert delivery_ids(read_topic(broker.bootstrap, topic, 1)) == [delivery_id]

    replay_topic = secure_topic(broker, pki)
    replay_env = env | security_env(pki, "SCRAM-SHA-256") | {"PILLARSTREAM_RAW_TOPIC": replay_topic}
    replay_env.pop("PILLARSTREAM_KAFKA_SASL_PASSWORD_FILE")
    replayed = run_cli(replay_env, "replay", "--from", TODAY, "--to", TODAY, "--processes", "2")
    assert replayed.returncode == 0, replayed.stderr
    records = read_topic(broker.bootstrap, replay_topic, 1)
    assert delivery_ids(records) == [delivery_id]


def test_backfill_over_sasl_plain(broker, pki, db, tmp_path):
    topic = secure_topic(broker, pki)
    with FakeGitHub(rest_state(synthetic_history(repos=1, pulls=3))) as fake:
        env = backfill_env(bootstrap=broker.sasl_ssl_bootstrap, topic=topic, dsn=db.writer_dsn,
                           archive_url=f"file://{tmp_path / 'archive'}", fake=fake, extra=security_env(pki, "PLAIN"))
        code = run_backfill(env, ["--org", "acme"], tmp_path / "backfill.log")
    assert code == 0, (tmp_path / "backfill.log").read_text()
    assert len(drain(broker.bootstrap, topic)) > 3


TODAY = datetime.now(UTC).date().isoformat()


@pytest.mark.parametrize("command", [["receiver"], ["worker", "archiver"], ["replay", "--from", TODAY, "--to", TODAY]])
def test_a_wrong_password_is_one_line_naming_the_broker(broker, pki, secret_file, tmp_path, command):
    body = fixture_bytes("webhooks/push/payload.json")  # an archived delivery, so that replay has work
    store = FileStore(tmp_path / "archive")
    archive_batch(store, [Consumed("raw", 0, 0, from_payload(
        delivery_id="d-1", event="push", payload=body, parsed=json.loads(body), source="webhook",
        received_at=datetime.now(UTC)))], DeliveryIndex(store))
    env = pipeline_env(bootstrap=broker.sasl_ssl_bootstrap, topic="never.created", dsn="postgresql://unused",
                       archive_url=f"file://{tmp_path / 'archive'}", secret_file=secret_file, group="wrong",
                       extra=security_env(pki, "SCRAM-SHA-512", password="not-the-password"))
    result = run_cli(env, *command, timeout=60)
    assert result.returncode == 1, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert broker.sasl_ssl_bootstrap in line and "Authentication failed" in line, line


def test_an_untrusted_broker_certificate_is_one_line(broker, pki, secret_file, tmp_path):
    other_ca = make_pki(tmp_path / "other").ca
    env = pipeline_env(bootstrap=broker.sasl_ssl_bootstrap, topic="never.created", dsn="postgresql://unused",
                       archive_url=f"file://{tmp_path / 'archive'}", secret_file=secret_file, group="wrong",
                       extra=security_env(pki, "SCRAM-SHA-512") | {"PILLARSTREAM_KAFKA_SSL_CAFILE": str(other_ca)})
    result = run_cli(env, "receiver", timeout=60)
    assert result.returncode == 1, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert broker.sasl_ssl_bootstrap in line and "CERTIFICATE_VERIFY_FAILED" in line, line


class TokenEndpoint(BaseHTTPRequestHandler):
    """Google's OAuth token endpoint as a service account's refresh meets it."""

    requests: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers["Content-Length"]))
        TokenEndpoint.requests.append(self.path)
        body = json.dumps({"access_token": "ya29.test-token", "expires_in": 3600, "token_type": "Bearer"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_oauthbearer_fetches_a_google_token_and_offers_it_to_the_broker(broker, pki, secret_file, tmp_path):
    """The broker's validator only takes unsecured test tokens, so Google's is refused: what this shows is
    that the receiver got the token from the service account's credentials and offered it, in one line."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), TokenEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    account = tmp_path / "service-account.json"
    account.write_text(json.dumps({
        "type": "service_account", "project_id": "test", "private_key_id": "k1", "private_key": key,
        "client_email": "receiver@test.iam.gserviceaccount.com", "client_id": "1",
        "token_uri": f"http://127.0.0.1:{server.server_port}/token"}))
    env = pipeline_env(bootstrap=broker.sasl_ssl_bootstrap, topic="never.created", dsn="postgresql://unused",
                       archive_url=f"file://{tmp_path / 'archive'}", secret_file=secret_file, group="oauth",
                       extra={"PILLARSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                              "PILLARSTREAM_KAFKA_SASL_MECHANISM": "OAUTHBEARER",
                              "PILLARSTREAM_KAFKA_SSL_CAFILE": str(pki.ca),
                              "PILLARSTREAM_KAFKA_SSL_CERTFILE": str(pki.client_cert),
                              "PILLARSTREAM_KAFKA_SSL_KEYFILE": str(pki.client_key),
                              "GOOGLE_APPLICATION_CREDENTIALS": str(account)})
    try:
        result = run_cli(env, "receiver", timeout=60)
    finally:
        server.shutdown()
        server.server_close()
    assert TokenEndpoint.requests == ["/token"]  # fetched once, then reused
    assert result.returncode == 1, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert broker.sasl_ssl_bootstrap in line and "OAUTHBEARER" in line and "SaslAuthenticationFailed" in line, line
