"""One error hierarchy for the whole project.

Adapters wrap library errors at their boundary (``raise ... from exc``) so callers decide on
``retriable`` alone: retry (and answer 503) when it is true, give up loudly when it is false.

A command that fails ends with one line on stderr and one of these exit codes (the console script maps
every error to them in one place, ``launcher.cli.main``; docs/operations.md has the table):
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # the command ran and found a problem (differences, deliveries still missing, ...)
EXIT_CONFIG = 2  # bad arguments, settings, configuration files or DSN: fix them, then run again
EXIT_UNAVAILABLE = 69  # a service it needs (Kafka, Postgres, the archive, GitHub) failed or is unreachable
EXIT_BUG = 70  # an unexpected error: PILLARSTREAM_LOG_LEVEL=DEBUG shows the traceback
EXIT_RATE_LIMITED = 75  # backfill: the GitHub rate limit would have to be waited out past --max-wait
EXIT_INTERRUPTED = 130


class PillarstreamError(Exception):
    """Base class; ``retriable`` says whether trying the same thing again may succeed."""

    retriable: bool = False

    @property
    def exit_code(self) -> int:
        """Retriable errors are failing services (69): trying again later may succeed; the rest failed (1)."""
        return EXIT_UNAVAILABLE if self.retriable else EXIT_FAILED


class ConfigError(PillarstreamError):
    """Settings or configuration files are invalid; the message lists every bad field."""

    @property
    def exit_code(self) -> int:
        return EXIT_CONFIG


class Unavailable(PillarstreamError):
    """A service could not be reached or failed; the message names it and where (host, port, path)."""

    retriable = True


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


class GitHubUnreachable(GitHubAPIError):
    """No answer from GitHub at all (connection refused, unknown host, timed out): not a rate limit, so
    nothing waits for it. Commands exit with :data:`exit_code` (EX_UNAVAILABLE from sysexits.h)."""

    exit_code = 69

    def __init__(self, message: str, *, refused: bool = True) -> None:
        super().__init__(message, retriable=True)
        self.refused = refused
