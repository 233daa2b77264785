"""How every Kafka client connects: the one place that turns the security settings into client options.

:class:`~pillarstream.kafka_connection.KafkaConnection` (plain data, in the core) says where and how;
:func:`kafka_python_options` gives the kafka-python keyword arguments (producers, admin and consumer
clients) and :func:`faust_credentials` the ``broker_credentials`` of the Faust/aiokafka workers.

OAUTHBEARER always means Google Cloud Managed Service for Apache Kafka: the token is the process's own
Application Default Credentials access token, wrapped in the JWT-shaped envelope the service expects.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import TYPE_CHECKING, Any

from pillarstream.errors import ConfigError, PublishError
from pillarstream.kafka_connection import KafkaConnection, connection

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT

GOOGLE_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
TOKEN_MARGIN_S = 60.0  # a token this close to its expiry is refreshed before it is handed out


def ssl_context(kafka: KafkaConnection) -> ssl.SSLContext:
    """Verifies the broker's certificate and host name; presents the client certificate when one is set."""
    try:
        context = ssl.create_default_context(cafile=kafka.ssl_cafile)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"PILLARSTREAM_KAFKA_SSL_CAFILE={kafka.ssl_cafile}: {_file_error(exc)}") from exc
    if kafka.ssl_certfile:
        try:
            context.load_cert_chain(kafka.ssl_certfile, kafka.ssl_keyfile, kafka.ssl_key_password)
        except (OSError, ssl.SSLError) as exc:
            files = ", ".join(filter(None, (kafka.ssl_certfile, kafka.ssl_keyfile)))
            raise ConfigError(f"PILLARSTREAM_KAFKA_SSL_CERTFILE/KEYFILE ({files}): {_file_error(exc)}") from exc
    return context


def _file_error(exc: OSError) -> str:
    # ssl's errors carry a reason (e.g. PEM_LIB for a wrong key password); plain OSErrors a strerror
    return str(getattr(exc, "reason", None) or exc.strerror or exc)


def kafka_python_options(kafka: KafkaConnection | str) -> dict[str, Any]:
    """Keyword arguments for kafka-python's KafkaProducer, KafkaConsumer and KafkaAdminClient."""
    kafka = connection(kafka)
    options: dict[str, Any] = {"bootstrap_servers": kafka.servers, "security_protocol": kafka.security_protocol}
    if kafka.uses_tls:
        # One context built here rather than kafka-python's ssl_* options, so both client libraries verify
        # exactly the same way.
        options["ssl_context"] = ssl_context(kafka)
    if kafka.uses_sasl:
        options["sasl_mechanism"] = kafka.sasl_mechanism
        if kafka.sasl_mechanism == "OAUTHBEARER":
            options["sasl_oauth_token_provider"] = _kafka_python_token_provider()
        else:
            options["sasl_plain_username"] = kafka.sasl_username
            options["sasl_plain_password"] = kafka.sasl_password
    return options


def faust_credentials(kafka: KafkaConnection) -> CredentialsT | None:
    """Faust's ``broker_credentials`` (passed on to aiokafka); None for PLAINTEXT."""
    import faust

    context = ssl_context(kafka) if kafka.uses_tls else None
    if kafka.uses_sasl:
        if kafka.sasl_mechanism == "OAUTHBEARER":
            return faust.OAuthCredentials(oauth_cb=_aiokafka_token_provider(), ssl_context=context)
        return faust.SASLCredentials(username=kafka.sasl_username, password=kafka.sasl_password,
                                     ssl_context=context, mechanism=kafka.sasl_mechanism)
    if context is not None:
        return faust.SSLCredentials(context)
    return None


class _FirstError(logging.Filter):
    """Keeps the first connection error kafka-python logs and holds its error lines back: the error raised
    from :func:`connect_errors` carries the cause in one line instead."""

    def __init__(self) -> None:
        super().__init__()
        self.reason: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            return True
        if self.reason is None:
            # "<BrokerConnection ... host=...>: SaslAuthenticate error: ..." -> what follows the connection
            self.reason = _plain(record.getMessage().rpartition(">: ")[2].removeprefix("Closing connection. "))
        return False


def _plain(reason: str) -> str:
    """kafka-python reports a failed connect as an errno ("Connect attempt returned error 111. Disconnecting."):
    say what it means ("connection refused")."""
    found = re.match(r"Connect attempt returned error (\d+)", reason)
    return os.strerror(int(found[1])).lower() if found else reason


@contextmanager
def connect_errors(kafka: KafkaConnection) -> Iterator[None]:
    """Around building a kafka-python client: a failure becomes a :class:`PublishError` naming the brokers and
    the cause. kafka-python only logs why a connection failed (bad credentials, a closed port) and then
    raises NoBrokersAvailable or IncompatibleBrokerVersion; the first error it logged is the cause."""
    from kafka.errors import KafkaError

    capture = _FirstError()
    logger = logging.getLogger("kafka.conn")
    # logs.configure silences kafka.conn below CRITICAL; the capture must still see its ERROR records (it
    # holds them back itself), so the level is lowered to ERROR for the build only.
    level = logger.level
    logger.setLevel(min(level, logging.ERROR) if level else level)
    logger.addFilter(capture)
    try:
        yield
    except KafkaError as exc:
        reason = capture.reason or f"{type(exc).__name__}: {exc}"
        error = KafkaAccessRefused if _refused(reason) else PublishError
        raise error(f"cannot connect to Kafka at {kafka.describe()}: {reason}") from exc
    except ssl.SSLError as exc:  # raised through kafka-python: an untrusted broker, a refused client certificate
        raise KafkaAccessRefused(f"cannot connect to Kafka at {kafka.describe()}: TLS: {exc.reason or exc}") from exc
    finally:
        logger.removeFilter(capture)
        logger.setLevel(level)


def _refused(reason: str) -> bool:
    """The broker answered and refused these credentials (not a broker that is down or still starting)."""
    lowered = reason.lower()
    return "authenticat" in lowered or "sasl" in lowered


class KafkaAccessRefused(PublishError):
    """The broker refused our credentials or its TLS certificate is not trusted: waiting will not help, so
    a command exits 1 (not 69); the receiver still answers 503, since GitHub redelivers after a fix."""

    retriable = False


class GoogleKafkaToken:
    """OAUTHBEARER tokens for Managed Service for Apache Kafka from Application Default Credentials.

    The service takes a JWT-shaped token: a header saying the signature slot holds a Google OAuth 2.0
    access token, claims naming the principal (the service account's email), and the access token itself.
    Credentials are refreshed before they expire; one instance serves every connection of a client.
    """

    def __init__(self, credentials: Any = None) -> None:
        self._credentials = credentials
        self._lock = threading.Lock()

    def _fresh_credentials(self) -> Any:
        import google.auth
        from google.auth.exceptions import GoogleAuthError
        from google.auth.transport.requests import Request

        try:
            if self._credentials is None:
                self._credentials, _ = google.auth.default(scopes=[GOOGLE_SCOPE])
            credentials = self._credentials
            if not credentials.valid or _expiry(credentials, 0.0) - time.time() < TOKEN_MARGIN_S:
                credentials.refresh(Request())
        except GoogleAuthError as exc:
            raise ConfigError(f"Kafka OAUTHBEARER: no Google credentials: {exc}") from exc
        return credentials

    def token(self) -> str:
        with self._lock:
            credentials = self._fresh_credentials()
        principal = getattr(credentials, "service_account_email", None)
        if not principal or principal == "default":
            raise ConfigError("Kafka OAUTHBEARER needs service account credentials (Application Default "
                              "Credentials of a service account, or impersonation of one)")
        claims = {"exp": int(_expiry(credentials, time.time() + 3600)), "iat": int(time.time()), "iss": "Google",
                  "scope": "kafka", "sub": principal}
        header = {"typ": "JWT", "alg": "GOOG_OAUTH2_TOKEN"}
        return ".".join(_b64(part) for part in (json.dumps(header), json.dumps(claims), credentials.token))


def _expiry(credentials: Any, default: float) -> float:
    expiry = credentials.expiry
    if expiry is None:
        return default
    # google-auth keeps expiry as a naive UTC datetime
    return float(expiry.replace(tzinfo=expiry.tzinfo or UTC).timestamp())


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _kafka_python_token_provider() -> Any:
    from kafka.sasl.oauth import AbstractTokenProvider

    class Provider(AbstractTokenProvider):  # type: ignore[misc]
        def __init__(self) -> None:
            self._source = GoogleKafkaToken()

        def token(self) -> str:
            return self._source.token()

    return Provider()


def _aiokafka_token_provider() -> Any:
    from aiokafka.abc import AbstractTokenProvider

    class Provider(AbstractTokenProvider):  # type: ignore[misc]
        def __init__(self) -> None:
            self._source = GoogleKafkaToken()

        async def token(self) -> str:
            # A refresh is an HTTP call to the metadata server: off the event loop.
            return await asyncio.to_thread(self._source.token)

    return Provider()
