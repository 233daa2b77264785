"""Settings: environment variables prefixed ``PILLARSTREAM_``, validated once at start-up.

Nothing here runs at import time; call :func:`load_settings` from an entry point. Secrets may be given
directly or, better, as files (``*_FILE``); they are held as ``SecretStr`` so they never reach a log line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pillarstream.errors import ConfigError

Compression = Literal["zstd", "gzip", "none"]  # of produced record batches

ENV_PREFIX = "PILLARSTREAM_"
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
    kafka_compression: Compression = Field(
        "zstd", description="Compression of produced record batches (webhook JSON shrinks about 70:1 with zstd).")
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
    github_api_url: str = "https://api.github.com"
    github_token: SecretStr | None = None
    github_token_file: Path | None = None

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

    def token(self) -> str | None:
        if self.github_token:
            return self.github_token.get_secret_value()
        if self.github_token_file:
            return _read_secret_file(self.github_token_file, "github_token_file")
        return None


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
            name = ENV_PREFIX + "_".join(str(p) for p in err["loc"]).upper()
            lines.append(f"  {name}: {err['msg']}")
        raise ConfigError("invalid settings:\n" + "\n".join(lines)) from exc
