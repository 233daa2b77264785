"""Tolerant readers for webhook payload fields.

GitHub payloads vary across event types and years (``repository.created_at`` is epoch seconds in push
events and ISO 8601 elsewhere; commit timestamps carry offsets), so every read goes through these helpers.
Optional fields come back as ``None``; a missing natural id raises :class:`PayloadError`, because a fact
without its key cannot be stored idempotently.

Values are also checked here, where they are parsed, against what the warehouse can store: an integer
outside Postgres ``bigint`` (or ``integer``, for counts), a timestamp outside 1970..2100 or not a
timestamp at all, text with a NUL or a lone surrogate. Such a value raises :class:`PayloadError` naming
the field, so the one record is rejected (dead-lettered by the worker) instead of its whole batch failing
later with an ``OverflowError`` or a Postgres range error.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

BIGINT = 2**63  # Postgres bigint holds -BIGINT .. BIGINT - 1
INT32 = 2**31  # Postgres integer: counts, numbers, attempts
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)  # exclusive
_EARLIEST_S, _LATEST_S = EARLIEST.timestamp(), LATEST.timestamp()
_SURROGATE = re.compile("[\ud800-\udfff]")


class PayloadError(ValueError):
    """A payload lacks something a fact cannot do without (its natural id), or holds a value the
    warehouse cannot store; the message names the field."""


def obj(value: Any, *path: str) -> dict[str, Any]:
    """The object at ``path`` (empty when absent or not an object)."""
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def array(value: Any, *path: str) -> list[Any]:
    """The list at ``path`` (empty when absent or not a list), as :func:`obj` for objects."""
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, list) else []


def text(value: Any, *path: str) -> str | None:
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, str):
        return None
    # The common case (ASCII without NUL) is checked inline: text() runs dozens of times per payload.
    return value if value.isascii() and "\x00" not in value else checked_text(value, path)


def checked_text(value: str, field: str | tuple[str, ...]) -> str:
    """``value`` if Postgres text can hold it: no NUL, no lone surrogate (the value is never echoed)."""
    if "\x00" in value:
        raise PayloadError(f"{_name(field)} contains a NUL character")
    if not value.isascii() and _SURROGATE.search(value):
        raise PayloadError(f"{_name(field)} contains a lone surrogate")
    return value


def integer(value: Any, *path: str, bits: int = 64) -> int | None:
    """An integer (``bits=32`` for a Postgres ``integer`` column); out of range raises."""
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value if bits == 64 and -BIGINT <= value < BIGINT else checked_int(value, path, bits)
    return None


def checked_int(value: int, field: str | tuple[str, ...], bits: int = 64) -> int:
    bound = BIGINT if bits == 64 else INT32
    if not -bound <= value < bound:
        kind = "bigint" if bits == 64 else "integer"
        raise PayloadError(f"{_name(field)} {_shown(value)} is outside the Postgres {kind} range")
    return value


def flag(value: Any, *path: str) -> bool | None:
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, bool) else None


def required_int(value: Any, *path: str, bits: int = 64) -> int:
    found = integer(value, *path, bits=bits)
    if found is None:
        raise PayloadError(f"payload has no integer at {_name(path)}")
    return found


def required_text(value: Any, *path: str) -> str:
    found = text(value, *path)
    if found is None:
        raise PayloadError(f"payload has no string at {_name(path)}")
    return found


def moment(value: Any, *path: str) -> datetime | None:
    """A timestamp as UTC (see :func:`parse_moment`)."""
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return parse_moment(value, path)


def parse_moment(value: Any, field: str | tuple[str, ...]) -> datetime | None:
    """ISO 8601 text (``Z`` or an offset) or epoch seconds, as UTC; ``None`` when absent (null, empty, or
    neither text nor a number). Text that is no timestamp, or a time outside 1970..2100, raises."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if not (math.isfinite(value) and _EARLIEST_S <= value < _LATEST_S):
            raise PayloadError(f"{_name(field)} {_shown(value)} is not epoch seconds between 1970 and 2100")
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            # A naive timestamp would be ambiguous; GitHub always sends an offset, so treat naive as UTC.
            parsed = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
        except (ValueError, OverflowError):  # OverflowError: an offset that moves year 1 or 9999 out of range
            raise PayloadError(f"{_name(field)} is not an ISO 8601 timestamp") from None
        if not EARLIEST <= parsed < LATEST:
            raise PayloadError(f"{_name(field)} in year {parsed.year} is outside 1970..2100")
        return parsed
    return None


def required_moment(value: Any, *path: str) -> datetime:
    found = moment(value, *path)
    if found is None:
        raise PayloadError(f"payload has no timestamp at {_name(path)}")
    return found


def labels(value: Any) -> list[str]:
    """Label names of an issue or pull request, sorted so equal sets compare equal."""
    found = value if isinstance(value, list) else []
    return sorted({checked_text(name, "labels.name") for item in found
                   if isinstance(name := obj(item).get("name"), str)})


def _name(field: str | tuple[str, ...]) -> str:
    """The field an error is about (joined only on the error path: reads are hot)."""
    name = field if isinstance(field, str) else ".".join(field)
    return name or "a value"


def _shown(value: float) -> str:
    """A number for an error message, bounded: a hostile 10^4000 must not become a 4000-digit log line."""
    if isinstance(value, float) or abs(value) < 10**30:
        return repr(value)[:40]
    return f"(a {value.bit_length()}-bit integer)"


def headline(message: str | None) -> str | None:
    """First line of a commit message, bounded: drill-down needs a hint, not the whole message."""
    if message is None:
        return None
    return message.split("\n", 1)[0][:200]
