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


class GitHubAPIError(PillarstreamError):
    """The GitHub REST API answered with an error."""

    def __init__(self, message: str, *, retriable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retriable = retriable
        self.status = status


class GitHubUnreachable(GitHubAPIError):
    """No answer from GitHub at all (connection refused, unknown host, timed out): not a rate limit, so
    nothing waits for it. Commands exit with :data:`exit_code` (EX_UNAVAILABLE from sysexits.h)."""

    exit_code = 69

    def __init__(self, message: str, *, refused: bool = True) -> None:
        super().__init__(message, retriable=True)
        self.refused = refused
