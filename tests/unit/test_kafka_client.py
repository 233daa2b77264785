"""Kafka security settings: validated together, turned into the same options for both client libraries,
and the Google OAUTHBEARER token in the shape Managed Service for Apache Kafka expects."""

from __future__ import annotations

import base64
import json
import os
import pickle
import ssl
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import faust
import pytest

from adapters.kafka_client import GoogleKafkaToken, faust_credentials, kafka_python_options
from pillarstream.errors import ConfigError
from pillarstream.kafka_connection import KafkaConnection
from pillarstream.settings import load_settings, unknown_variables
from tests.tls import make_pki

pytestmark = pytest.mark.unit
K = "PILLARSTREAM_KAFKA_"


@pytest.fixture(autouse=True)
def no_pillarstream_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("PILLARSTREAM_"):
            monkeypatch.delenv(name)


def test_plaintext_by_default():
    kafka = load_settings().kafka()
    assert kafka.security_protocol == "PLAINTEXT"
    assert kafka_python_options(kafka) == {"bootstrap_servers": ["127.0.0.1:9092"], "security_protocol": "PLAINTEXT"}
    assert faust_credentials(kafka) is None


def test_scram_over_tls_from_a_password_file_never_shows_the_password(monkeypatch, tmp_path):
    pki = make_pki(tmp_path / "pki")
    (tmp_path / "pw").write_text("s3cret-pw\n")
    for name, value in {"SECURITY_PROTOCOL": "SASL_SSL", "SASL_MECHANISM": "SCRAM-SHA-512", "SASL_USERNAME": "svc",
                        "SASL_PASSWORD_FILE": str(tmp_path / "pw"), "SSL_CAFILE": str(pki.ca),
                        "SSL_CERTFILE": str(pki.client_cert), "SSL_KEYFILE": str(pki.client_key),
                        "BOOTSTRAP": "a:9092,b:9092"}.items():
        monkeypatch.setenv(K + name, value)
    settings = load_settings()
    kafka = settings.kafka()
    assert "s3cret-pw" not in repr(settings) + repr(kafka) + kafka.describe()
    assert pickle.loads(pickle.dumps(kafka)) == kafka  # noqa: S301 - replay hands it to spawned processes

    options = kafka_python_options(kafka)
    assert options["bootstrap_servers"] == ["a:9092", "b:9092"]
    assert (options["security_protocol"], options["sasl_mechanism"]) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("svc", "s3cret-pw")
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED and options["ssl_context"].check_hostname

    credentials = faust_credentials(kafka)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL" and credentials.mechanism.value == "SCRAM-SHA-512"
    assert (credentials.username, credentials.password) == ("svc", "s3cret-pw")


def test_tls_without_sasl():
    kafka = KafkaConnection("k:9093", "SSL")
    assert "sasl_mechanism" not in kafka_python_options(kafka)
    credentials = faust_credentials(kafka)
    assert isinstance(credentials, faust.SSLCredentials) and credentials.protocol.value == "SSL"


def test_oauthbearer_uses_a_google_token_provider():
    kafka = KafkaConnection("bootstrap.example:9092", "SASL_SSL", "OAUTHBEARER")
    from kafka.sasl.oauth import AbstractTokenProvider

    assert isinstance(kafka_python_options(kafka)["sasl_oauth_token_provider"], AbstractTokenProvider)
    credentials = faust_credentials(kafka)
    assert isinstance(credentials, faust.OAuthCredentials) and credentials.protocol.value == "SASL_SSL"


@pytest.mark.parametrize(("env", "message"), [
    ({"SECURITY_PROTOCOL": "SASL_SSL"}, "needs PILLARSTREAM_KAFKA_SASL_MECHANISM"),
    ({"SECURITY_PROTOCOL": "SASL_SSL", "SASL_MECHANISM": "PLAIN", "SASL_USERNAME": "u"}, "SASL_PASSWORD"),
    ({"SASL_MECHANISM": "PLAIN"}, "need PILLARSTREAM_KAFKA_SECURITY_PROTOCOL=SASL_SSL"),
    ({"SSL_CAFILE": "/ca.pem"}, "need PILLARSTREAM_KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL"),
    ({"SECURITY_PROTOCOL": "SASL_SSL", "SASL_MECHANISM": "OAUTHBEARER", "SASL_PASSWORD": "x"}, "no username"),
    ({"SECURITY_PROTOCOL": "SSL", "SSL_KEYFILE": "/k.pem"}, "needs PILLARSTREAM_KAFKA_SSL_CERTFILE"),
    ({"SECURITY_PROTOCOL": "TLS"}, "PILLARSTREAM_KAFKA_SECURITY_PROTOCOL"),
    ({"SECURITY_PROTOCOL": "SASL_SSL", "SASL_MECHANISM": "GSSAPI"}, "PILLARSTREAM_KAFKA_SASL_MECHANISM"),
])
def test_inconsistent_security_settings_are_refused(monkeypatch, env, message):
    for name, value in env.items():
        monkeypatch.setenv(K + name, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_an_unreadable_password_file_is_a_config_error(monkeypatch, tmp_path):
    for name, value in {"SECURITY_PROTOCOL": "SASL_PLAINTEXT", "SASL_MECHANISM": "PLAIN", "SASL_USERNAME": "u",
                        "SASL_PASSWORD_FILE": str(tmp_path / "missing")}.items():
        monkeypatch.setenv(K + name, value)
    with pytest.raises(ConfigError, match="kafka_sasl_password_file"):
        load_settings().kafka()


class FakeCredentials:
    """What google-auth's service account / Compute Engine credentials expose (email known after refresh)."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.expiry: datetime | None = None
        self.service_account_email = "default"
        self.refreshes = 0

    @property
    def valid(self) -> bool:
        now = datetime.now(UTC).replace(tzinfo=None)
        return self.token is not None and self.expiry is not None and self.expiry > now

    def refresh(self, request: object) -> None:
        self.refreshes += 1
        self.token = f"ya29.access-{self.refreshes}"
        self.expiry = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)  # naive UTC, as google-auth
        self.service_account_email = "receiver@project.iam.gserviceaccount.com"


def _decode(part: str) -> str:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()


def test_google_token_wraps_the_access_token_for_managed_kafka():
    credentials = FakeCredentials()
    source = GoogleKafkaToken(credentials)
    header, claims, token = source.token().split(".")
    assert json.loads(_decode(header)) == {"typ": "JWT", "alg": "GOOG_OAUTH2_TOKEN"}
    body = json.loads(_decode(claims))
    assert body["sub"] == "receiver@project.iam.gserviceaccount.com" and body["iss"] == "Google"
    assert body["scope"] == "kafka" and body["exp"] > body["iat"]
    assert _decode(token) == "ya29.access-1"

    source.token()
    assert credentials.refreshes == 1  # a valid token is reused
    credentials.expiry = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=10)
    assert _decode(source.token().split(".")[2]) == "ya29.access-2"  # refreshed before it expires


def test_unknown_variables_are_named_with_the_closest_setting():
    found = unknown_variables({K + "SECURITY_PROTCOL": "SASL_SSL", "PILLARSTREAM_SOMETHING_ELSE": "1",
                               "PILLARSTREAM_RAW_TOPIC": "t", "OTHER": "x",
                               "PILLARSTREAM_WRITER_PASSWORD": "from .env, for docker-compose.yml"})
    assert found == ["PILLARSTREAM_KAFKA_SECURITY_PROTCOL (did you mean PILLARSTREAM_KAFKA_SECURITY_PROTOCOL?)",
                     "PILLARSTREAM_SOMETHING_ELSE"]


def test_every_command_warns_about_unknown_variables_once():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PILLARSTREAM_")}
    env |= {"PILLARSTREAM_KAFKA_SASL_MECHANSIM": "PLAIN", "PILLARSTREAM_DATA_DIR": str(Path("/nonexistent/x")),
            "PILLARSTREAM_LOG_FORMAT": "json"}
    answer = subprocess.run([sys.executable, "-m", "launcher", "status"], env=env, capture_output=True,
                            text=True, timeout=60)
    warnings = [json.loads(line) for line in answer.stderr.splitlines() if "unknown" in line]
    assert len(warnings) == 1 and warnings[0]["level"] == "warning"
    assert warnings[0]["unknown"] == ["PILLARSTREAM_KAFKA_SASL_MECHANSIM "
                                      "(did you mean PILLARSTREAM_KAFKA_SASL_MECHANISM?)"]


def test_unusable_tls_files_name_the_setting(tmp_path):
    missing = KafkaConnection("k:9093", "SSL", ssl_cafile=str(tmp_path / "no-ca.pem"))
    with pytest.raises(ConfigError, match=r"PILLARSTREAM_KAFKA_SSL_CAFILE=.*no-ca.pem: No such file"):
        kafka_python_options(missing)
    pki = make_pki(tmp_path / "pki")
    swapped = KafkaConnection("k:9093", "SSL", ssl_cafile=str(pki.ca), ssl_certfile=str(pki.client_key),
                              ssl_keyfile=str(pki.client_cert))
    with pytest.raises(ConfigError, match="PILLARSTREAM_KAFKA_SSL_CERTFILE/KEYFILE"):
        faust_credentials(swapped)
