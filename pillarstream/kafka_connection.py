"""Where the Kafka brokers are and how to authenticate to them: plain data, read from the settings.

Picklable (``replay`` hands it to the processes it spawns); the client options and credentials built from it
live with the Kafka adapters (``adapters/kafka_client.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]


@dataclass(frozen=True)
class KafkaConnection:
    """Where the brokers are and how to authenticate to them; secrets stay out of ``repr``."""

    bootstrap: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None  # None: the system's trusted CAs
    ssl_certfile: str | None = None  # client certificate (mutual TLS)
    ssl_keyfile: str | None = None
    ssl_key_password: str | None = field(default=None, repr=False)

    @property
    def servers(self) -> list[str]:
        return [server.strip() for server in self.bootstrap.split(",") if server.strip()]

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    def describe(self) -> str:
        """For error messages: where and how, never a secret."""
        how: str = self.security_protocol
        if self.uses_sasl:
            who = f" as {self.sasl_username}" if self.sasl_username else ""
            how += f" {self.sasl_mechanism}{who}"
        return f"{self.bootstrap} ({how})"


def connection(kafka: KafkaConnection | str) -> KafkaConnection:
    """Accept a bare bootstrap string (PLAINTEXT, as the local stack and tests use) or a full connection."""
    return kafka if isinstance(kafka, KafkaConnection) else KafkaConnection(kafka)
