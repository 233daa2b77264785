"""Settings: environment variables prefixed ``PILLARSTREAM_``, validated once at start-up.

Nothing here runs at import time; call :func:`load_settings` from an entry point. Secrets may be given
directly or, better, as files (``*_FILE``); they are held as ``SecretStr`` so they never reach a log line.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pillarstream.errors import ConfigError
from pillarstream.kafka_connection import KafkaConnection, SaslMechanism, SecurityProtocol

Compression = Literal["zstd", "gzip", "none"]  # of produced record batches

ENV_PREFIX = "PILLARSTREAM_"
# Variables of .env.example that docker-compose.yml reads (the database roles' passwords), no setting: a
# shell that sources .env has them, and they are not typos.
DEPLOYMENT_VARIABLES = frozenset({"PILLARSTREAM_WRITER_PASSWORD", "PILLARSTREAM_READER_PASSWORD"})
MB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    data_dir: Path = Field(Path(".local"), description="Local state: broker and database data, archive, secrets.")
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated.")
    raw_topic: str = Field("github.events.raw", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    topic_partitions: int = Field(6, ge=1, le=10_000)
    topic_replication: int = Field(1, ge=1, le=16)
    database_url: SecretStr | None = Field(None, description="libpq DSN of the warehouse (writer role).")
    database_url_file: Path | None = None
    reader_database_url: SecretStr | None = Field(None, description="Read-only DSN Superset connects with.")
    archive_url: str = Field("", description="gs://bucket/prefix or file:///path; default file://DATA_DIR/archive")
    webhook_secrets: SecretStr | None = Field(None, description="Comma-separated active webhook secrets.")
    webhook_secret_file: Path | None = None
    max_body_bytes: int = Field(25 * MB, ge=1024, le=100 * MB)
    publish_timeout_seconds: float = Field(5.0, gt=0, le=9.0)
    body_read_timeout_seconds: float = Field(
        2.0, gt=0, le=60, description="A request body not received in full by then is answered 408.")
    kafka_compression: Compression = Field(
        "zstd", description="Compression of produced record batches (webhook JSON shrinks about 70:1 with zstd).")
    # How every Kafka client authenticates (docs/operations.md has the table): Managed Service for Apache
    # Kafka wants SASL_SSL with OAUTHBEARER; a self-run cluster may use TLS, mutual TLS, PLAIN or SCRAM.
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_sasl_password_file: Path | None = None
    kafka_ssl_cafile: Path | None = Field(None, description="CA bundle for the brokers; default the system's.")
    kafka_ssl_certfile: Path | None = Field(None, description="Client certificate (PEM), for mutual TLS.")
    kafka_ssl_keyfile: Path | None = Field(None, description="Its private key (PEM), if not in the certfile.")
    kafka_ssl_key_password: SecretStr | None = None
    kafka_ssl_key_password_file: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    consumer_group_prefix: str = Field("pillarstream", pattern=r"^[A-Za-z0-9._-]{1,100}$")
    worker_batch_size: int = Field(2000, ge=1, le=100_000)
    worker_batch_seconds: float = Field(0.5, gt=0, le=60)
    worker_instance_id: str | None = Field(
        None, pattern=r"^[A-Za-z0-9._-]{1,100}$",
        description="Kafka static group membership: a restarted worker with the same id gets its partitions back "
                    "at once. Unique per worker process of a role; unset, membership is dynamic.")
    pillars_config: Path | None = Field(None, description="Pillar config JSON; default configs/pillars.json")
    webhook_config: Path | None = Field(None, description="Webhook config JSON; default configs/webhook.json")
    github_api_url: str = "https://api.github.com"
    github_token: SecretStr | None = None
    github_token_file: Path | None = None
    # GitHub App authentication (instead of personal tokens): the App's id, its private key (PEM file), and
    # the installation (found from the account when unset). Installation tokens are refreshed before expiry.
    github_app_id: int | None = Field(None, ge=1)
    github_app_private_key_file: Path | None = None
    github_app_installation_id: int | None = Field(None, ge=1)

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_any_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value  # LOG_LEVEL=debug is DEBUG

    @field_validator("archive_url")
    @classmethod
    def _archive_scheme(cls, value: str) -> str:
        if value and not value.startswith(("gs://", "file://")):
            raise ValueError("must start with gs:// or file://")
        if value.startswith("gs://") and len(value) <= len("gs://"):
            raise ValueError("gs:// needs a bucket name")
        return value

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"{server!r} is not host:port")
        return value

    @model_validator(mode="after")
    def _kafka_security(self) -> Settings:
        k = ENV_PREFIX + "KAFKA_"
        protocol, mechanism = self.kafka_security_protocol, self.kafka_sasl_mechanism
        sasl, tls = protocol.startswith("SASL_"), protocol.endswith("SSL")
        password = self.kafka_sasl_password or self.kafka_sasl_password_file
        if sasl and mechanism is None:
            raise ValueError(f"{k}SECURITY_PROTOCOL={protocol} needs {k}SASL_MECHANISM")
        if not sasl and (mechanism or self.kafka_sasl_username or password):
            raise ValueError(f"{k}SASL_* settings need {k}SECURITY_PROTOCOL=SASL_SSL or SASL_PLAINTEXT")
        if mechanism == "OAUTHBEARER" and (self.kafka_sasl_username or password):
            raise ValueError("OAUTHBEARER takes no username or password (its token comes from Google credentials)")
        if mechanism not in (None, "OAUTHBEARER") and not (self.kafka_sasl_username and password):
            raise ValueError(f"{mechanism} needs {k}SASL_USERNAME and {k}SASL_PASSWORD (or {k}SASL_PASSWORD_FILE)")
        tls_files = (self.kafka_ssl_cafile, self.kafka_ssl_certfile, self.kafka_ssl_keyfile,
                     self.kafka_ssl_key_password, self.kafka_ssl_key_password_file)
        if not tls and any(tls_files):
            raise ValueError(f"{k}SSL_* settings need {k}SECURITY_PROTOCOL=SSL or SASL_SSL")
        if self.kafka_ssl_keyfile and not self.kafka_ssl_certfile:
            raise ValueError(f"{k}SSL_KEYFILE needs {k}SSL_CERTFILE")
        return self

    # -- resolved values --------------------------------------------------------------------------

    @property
    def archive(self) -> str:
        return self.archive_url or f"file://{(self.data_dir / 'archive').resolve()}"

    def secrets(self) -> list[str]:
        """Active webhook secrets: the variable, the file (one per line), or the generated local one."""
        raw = self.webhook_secrets.get_secret_value() if self.webhook_secrets else ""
        if not raw and self.webhook_secret_file:
            raw = _read_secret_file(self.webhook_secret_file, "webhook_secret_file")
        found = [s.strip() for s in raw.replace("\n", ",").split(",") if s.strip()]
        if not found:
            raise ConfigError("no webhook secret: set PILLARSTREAM_WEBHOOK_SECRETS or PILLARSTREAM_WEBHOOK_SECRET_FILE")
        return found

    def dsn(self) -> str:
        if self.database_url:
            return self.database_url.get_secret_value()
        if self.database_url_file:
            return _read_secret_file(self.database_url_file, "database_url_file")
        raise ConfigError("no database: set PILLARSTREAM_DATABASE_URL or PILLARSTREAM_DATABASE_URL_FILE")

    def kafka(self) -> KafkaConnection:
        """How to reach and authenticate to Kafka, with password files read now."""
        def path(value: Path | None) -> str | None:
            return str(value) if value else None

        return KafkaConnection(
            bootstrap=self.kafka_bootstrap,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=_secret(self.kafka_sasl_password, self.kafka_sasl_password_file, "kafka_sasl_password_file"),
            ssl_cafile=path(self.kafka_ssl_cafile),
            ssl_certfile=path(self.kafka_ssl_certfile),
            ssl_keyfile=path(self.kafka_ssl_keyfile),
            ssl_key_password=_secret(self.kafka_ssl_key_password, self.kafka_ssl_key_password_file,
                                     "kafka_ssl_key_password_file"),
        )

    def token(self) -> str | None:
        if self.github_token:
            return self.github_token.get_secret_value()
        if self.github_token_file:
            return _read_secret_file(self.github_token_file, "github_token_file")
        return None

    def app_private_key(self) -> str:
        """The GitHub App's private key (PEM), from ``GITHUB_APP_PRIVATE_KEY_FILE``."""
        if not self.github_app_private_key_file:
            raise ConfigError("PILLARSTREAM_GITHUB_APP_ID is set: set PILLARSTREAM_GITHUB_APP_PRIVATE_KEY_FILE too")
        key = _read_secret_file(self.github_app_private_key_file, "github_app_private_key_file")
        if "PRIVATE KEY" not in key:
            raise ConfigError(f"github_app_private_key_file: {self.github_app_private_key_file} is not a PEM "
                              "private key")
        return key


def _secret(value: SecretStr | None, file: Path | None, name: str) -> str | None:
    if value:
        return value.get_secret_value()
    return _read_secret_file(file, name) if file else None


def _read_secret_file(path: Path, name: str) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read {path}: {exc.strerror}") from exc


def load_settings(**overrides: object) -> Settings:
    """Read and validate settings; a :class:`ConfigError` names every bad field at once."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            if not err["loc"]:  # a rule across several settings: its message names them
                lines.append(f"  {err['msg'].removeprefix('Value error, ')}")
                continue
            name = ENV_PREFIX + "_".join(str(p) for p in err["loc"]).upper()
            lines.append(f"  {name}: {err['msg']}")
        raise ConfigError("invalid settings:\n" + "\n".join(lines)) from exc


def warn_unknown_variables() -> None:
    """One warning line at start-up; not an error, so a variable meant for another tool stops nothing."""
    unknown = unknown_variables()
    if unknown:
        logging.getLogger("pillarstream.settings").warning(
            "ignoring unknown PILLARSTREAM_* variables", extra={"unknown": unknown})


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """``PILLARSTREAM_*`` variables that are no setting (a typo would otherwise fall back to the default
    silently), each with the closest setting's name when one is close."""
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | DEPLOYMENT_VARIABLES
    found = []
    for name in sorted(os.environ if environ is None else environ):
        if name.startswith(ENV_PREFIX) and name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
            found.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return found
