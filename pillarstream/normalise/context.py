"""What every normaliser receives: the envelope, its parsed payload and the pillar configuration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pillarstream.config import PillarConfig
from pillarstream.envelope import Envelope
from pillarstream.normalise.fields import PayloadError, obj, text


@dataclass(frozen=True, slots=True)
class Incoming:
    envelope: Envelope
    body: dict[str, Any]
    config: PillarConfig

    @property
    def action(self) -> str | None:
        return self.envelope.action

    @property
    def org(self) -> str | None:
        return self.envelope.org

    @property
    def received_at(self) -> datetime:
        return self.envelope.received_at

    @property
    def repo_id(self) -> int:
        """The repository every repository-scoped fact is filed under (the envelope's: the Kafka key's)."""
        if self.envelope.repo_id is None:
            raise PayloadError(f"{self.envelope.event} payload has no repository.id")
        return self.envelope.repo_id

    def is_bot(self, user: Any) -> bool:
        """Bot policy applied to a GitHub user object (``login`` and ``type``)."""
        account = obj(user)
        return self.config.bots.is_bot(text(account, "login"), text(account, "type"))

    def is_bot_login(self, login: str | None) -> bool:
        """Bot policy for a bare login (commit authors carry no account type)."""
        return self.config.bots.is_bot(login)


def login(user: Any) -> str | None:
    return text(user, "login")
