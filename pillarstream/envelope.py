"""The one envelope every raw GitHub event travels in, and its only serialisation.

A Kafka record carries the payload byte-exact as its value and the envelope metadata as one JSON header,
so consumers that only need the metadata never parse the payload, and the bytes GitHub signed survive
unchanged. The archive keeps one JSON line per delivery: the metadata plus the payload as a string, which
decodes back to exactly the bytes that were received.
"""

from __future__ import annotations

import uuid
from dataclasses import MISSING, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

Source = Literal["webhook", "backfill", "replay"]
SOURCES: tuple[str, ...] = ("webhook", "backfill", "replay")
ENVELOPE_HEADER = "pillarstream-envelope"
# repo_id is a Postgres bigint downstream (and a partition key): ids outside it are refused here.
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
# Namespace for the deterministic delivery ids of items that did not come by webhook.
_BACKFILL_NAMESPACE = uuid.UUID("0b6f3f3e-5d0a-4c55-9a59-3f0c2b7f8a11")


class EnvelopeError(ValueError):
    """A payload whose metadata the envelope cannot carry (an id out of range, a string that is not UTF-8)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    delivery_id: str
    event: str
    source: str
    received_at: datetime
    payload: bytes = field(repr=False)
    action: str | None = None
    hook_id: str | None = None
    installation_target_type: str | None = None
    installation_target_id: str | None = None
    org: str | None = None
    repo_id: int | None = None
    repo_full_name: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # For a replayed record: the source it first came by, so a rebuilt warehouse equals the original.
    origin: str | None = None

    @property
    def key(self) -> bytes:
        return partition_key(self.repo_id, self.org)

    @property
    def archive_source(self) -> str:
        """Archive folder: what came from GitHub's REST API lands under ``source=api``."""
        return "api" if self.source == "backfill" else "webhook"

    def payload_json(self) -> Any:
        return orjson.loads(self.payload)

    def metadata(self) -> dict[str, Any]:
        """Every field but the payload (built directly: ``asdict`` deep-copies, which is slow per delivery)."""
        meta = {name: getattr(self, name) for name in _METADATA_FIELDS}
        meta["received_at"] = format_time(self.received_at)
        return meta

    def as_replay(self) -> Envelope:
        return replace(self, source="replay", origin=self.origin or self.source)

    @property
    def first_source(self) -> str:
        return self.origin or self.source


_METADATA_FIELDS = tuple(name for name in Envelope.__dataclass_fields__ if name != "payload")
_METADATA_KEYS = frozenset(_METADATA_FIELDS)
_REQUIRED_METADATA = frozenset(name for name, f in Envelope.__dataclass_fields__.items()
                               if name != "payload" and f.default is MISSING and f.default_factory is MISSING)


def partition_key(repo_id: int | None, org: str | None) -> bytes:
    """Partition key: the repository keeps one repository's events in order; org-level events by org."""
    if repo_id is not None:
        return f"repo:{repo_id}".encode()
    if org:
        return f"org:{org}".encode()
    return b"none"


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def from_payload(
    *,
    delivery_id: str,
    event: str,
    payload: bytes,
    parsed: Any,
    source: str,
    received_at: datetime,
    headers: dict[str, str] | None = None,
) -> Envelope:
    """Build an envelope, taking action, organisation and repository from the parsed payload.

    Raises :class:`EnvelopeError` when the result could not be serialised, so every envelope that exists
    can become a Kafka record and an archive line (payloads are untrusted, even when signed).
    """
    headers = headers or {}
    body = parsed if isinstance(parsed, dict) else {}
    action = body.get("action") if isinstance(body.get("action"), str) else None
    repo = _object(body, "repository")
    org_obj = _object(body, "organization")
    owner = _object(repo, "owner")
    org = org_obj.get("login") or owner.get("login")
    repo_id = repo.get("id")
    if isinstance(repo_id, int) and not isinstance(repo_id, bool) and not BIGINT_MIN <= repo_id <= BIGINT_MAX:
        raise EnvelopeError(f"repository.id {repo_id} is out of range")
    envelope = Envelope(
        delivery_id=delivery_id,
        event=event,
        action=action,
        source=source,
        received_at=received_at,
        payload=payload,
        hook_id=headers.get("X-GitHub-Hook-ID"),
        installation_target_type=headers.get("X-GitHub-Hook-Installation-Target-Type"),
        installation_target_id=headers.get("X-GitHub-Hook-Installation-Target-ID"),
        org=org if isinstance(org, str) else None,
        repo_id=repo_id if isinstance(repo_id, int) and not isinstance(repo_id, bool) else None,
        repo_full_name=repo.get("full_name") if isinstance(repo.get("full_name"), str) else None,
        headers=dict(headers),
    )
    envelope_header(envelope)
    return envelope


def _object(body: dict[str, Any], key: str) -> dict[str, Any]:
    """A nested JSON object, or an empty one when absent or of another type (payloads are untrusted)."""
    value = body.get(key)
    return value if isinstance(value, dict) else {}


def derived_delivery_id(kind: str, object_id: object, updated_at: str | None) -> str:
    """Deterministic delivery id for an item read from the REST API: same object, same version, same id."""
    return str(uuid.uuid5(_BACKFILL_NAMESPACE, f"{kind}:{object_id}:{updated_at or ''}"))


# --- Kafka record ------------------------------------------------------------------------------------

Record = tuple[bytes, bytes, list[tuple[str, bytes]]]  # key, value, headers


def envelope_header(envelope: Envelope) -> bytes:
    """The metadata as the record's JSON header; :class:`EnvelopeError` names what cannot be serialised."""
    try:
        return orjson.dumps(envelope.metadata(), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:  # e.g. a lone surrogate in action or full_name
        raise EnvelopeError(f"envelope cannot be serialised: {exc}") from exc


def to_record(envelope: Envelope) -> Record:
    return envelope.key, envelope.payload, [(ENVELOPE_HEADER, envelope_header(envelope))]


def from_record(value: bytes, headers: Any) -> Envelope:
    """Inverse of :func:`to_record`; ``headers`` is a list of pairs or a mapping, as Kafka clients give."""
    pairs = headers.items() if isinstance(headers, dict) else headers
    for name, raw in pairs or ():
        if name == ENVELOPE_HEADER:
            return _from_metadata(orjson.loads(raw), value)
    raise ValueError(f"Kafka record has no {ENVELOPE_HEADER} header")


# --- archive line ------------------------------------------------------------------------------------

def to_archive_line(envelope: Envelope) -> bytes:
    line = {"envelope": envelope.metadata(), "payload": envelope.payload.decode("utf-8")}
    return orjson.dumps(line) + b"\n"


def replay_record(line: bytes) -> Record:
    """The Kafka record of ``from_archive_line(line).as_replay()``, built without the Envelope.

    Replay is bounded by per-record Python work; this skips parsing and re-formatting the timestamp and
    two object copies, and checks the field names so a damaged line fails here, not in the workers.
    """
    record = orjson.loads(line)
    meta = record["envelope"]
    if not _REQUIRED_METADATA <= meta.keys() <= _METADATA_KEYS:
        raise ValueError(f"archive line has unexpected envelope fields: {sorted(meta.keys() ^ _METADATA_KEYS)}")
    meta["origin"] = meta.get("origin") or meta["source"]
    meta["source"] = "replay"
    header = orjson.dumps(meta, option=orjson.OPT_SORT_KEYS)
    return partition_key(meta.get("repo_id"), meta.get("org")), record["payload"].encode(), [(ENVELOPE_HEADER, header)]


def from_archive_line(line: bytes) -> Envelope:
    record = orjson.loads(line)
    return _from_metadata(record["envelope"], record["payload"].encode("utf-8"))


def _from_metadata(meta: dict[str, Any], payload: bytes) -> Envelope:
    fields = dict(meta)
    fields["received_at"] = parse_time(fields["received_at"])
    fields["payload"] = payload
    return Envelope(**fields)
