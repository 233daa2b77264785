"""One error hierarchy for the whole project.

Adapters wrap library errors at their boundary (``raise ... from exc``) so callers decide on
``retriable`` alone: retry (and answer 503) when it is true, give up loudly when it is false.
"""

from __future__ import annotations


class PillarstreamError(Exception):
    """Base class; ``retriable`` says whether trying the same thing again may succeed."""

    retriable: bool = False


class ConfigError(PillarstreamError):
    """Settings or configuration files are invalid; the message lists every bad field."""


class DeliveryRejected(PillarstreamError):
    """A webhook delivery that is not acceptable as sent; ``status`` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class PublishError(PillarstreamError):
    """Kafka did not acknowledge a record in time."""

    retriable = True


class ArchiveError(PillarstreamError):
    """The archive store could not read or write an object."""

    retriable = True


class WarehouseError(PillarstreamError):
    """Postgres refused or lost a write."""

    retriable = True


class WarehouseDataError(WarehouseError):
    """Postgres refused a value a batch holds: one of its records is at fault, not the server, so the
    worker isolates that record (a dead letter) instead of retrying the batch."""

    retriable = False


class GitHubAPIError(PillarstreamError):
    """The GitHub REST API answered with an error."""

    def __init__(self, message: str, *, retriable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retriable = retriable
        self.status = status
