"""Tolerant readers for webhook payload fields.

GitHub payloads vary across event types and years (``repository.created_at`` is epoch seconds in push
events and ISO 8601 elsewhere; commit timestamps carry offsets), so every read goes through these helpers.
Optional fields come back as ``None``; a missing natural id raises :class:`PayloadError`, because a fact
without its key cannot be stored idempotently.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


class PayloadError(ValueError):
    """A payload lacks something a fact cannot do without (its natural id)."""


def obj(value: Any, *path: str) -> dict[str, Any]:
    """The object at ``path`` (empty when absent or not an object)."""
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def text(value: Any, *path: str) -> str | None:
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else None


def integer(value: Any, *path: str) -> int | None:
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def flag(value: Any, *path: str) -> bool | None:
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, bool) else None


def required_int(value: Any, *path: str) -> int:
    found = integer(value, *path)
    if found is None:
        raise PayloadError(f"payload has no integer at {'.'.join(path)}")
    return found


def required_text(value: Any, *path: str) -> str:
    found = text(value, *path)
    if found is None:
        raise PayloadError(f"payload has no string at {'.'.join(path)}")
    return found


def moment(value: Any, *path: str) -> datetime | None:
    """A timestamp as UTC: ISO 8601 text (``Z`` or an offset) or epoch seconds; ``None`` otherwise."""
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        # A naive timestamp would be ambiguous; GitHub always sends an offset, so treat naive as UTC.
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    return None


def required_moment(value: Any, *path: str) -> datetime:
    found = moment(value, *path)
    if found is None:
        raise PayloadError(f"payload has no timestamp at {'.'.join(path)}")
    return found


def labels(value: Any) -> list[str]:
    """Label names of an issue or pull request, sorted so equal sets compare equal."""
    found = value if isinstance(value, list) else []
    return sorted({name for item in found if isinstance(name := obj(item).get("name"), str)})


def headline(message: str | None) -> str | None:
    """First line of a commit message, bounded: drill-down needs a hint, not the whole message."""
    if message is None:
        return None
    return message.split("\n", 1)[0][:200]
