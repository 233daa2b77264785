"""Turn one HTTP request into an envelope or a refusal: the whole delivery contract, framework-free.

Order of checks: size, content type, GitHub headers, signature (over the raw body), body. Everything a
client can get wrong ends in :class:`DeliveryRejected` with a 4xx status, never in a 5xx.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from urllib.parse import parse_qs

import orjson

from pillarstream import signature
from pillarstream.envelope import Envelope, EnvelopeError, from_payload
from pillarstream.errors import DeliveryRejected

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
_EVENT = re.compile(r"^[a-z_]{1,64}$")
_DELIVERY = re.compile(r"^[A-Za-z0-9-]{1,128}$")
# GitHub headers copied into the envelope (and so into the archive); signatures are not kept.
KEPT_HEADERS = (
    "X-GitHub-Event",
    "X-GitHub-Delivery",
    "X-GitHub-Hook-ID",
    "X-GitHub-Hook-Installation-Target-Type",
    "X-GitHub-Hook-Installation-Target-ID",
    "X-GitHub-Enterprise-Version",
    "X-GitHub-Enterprise-Host",
    "User-Agent",
    "Content-Type",
)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_delivery(
    *,
    headers: Mapping[str, Sequence[str]],
    body: bytes,
    secrets: Sequence[str],
    received_at: datetime,
) -> Envelope:
    """Validate a delivery; ``headers`` maps each header name (any case) to all its values."""
    folded = {name.lower(): values for name, values in headers.items()}

    def single(name: str) -> str | None:
        values = folded.get(name.lower(), [])
        if len(values) > 1:
            raise DeliveryRejected(400, f"header {name} given more than once")
        return values[0] if values else None

    kind = media_type(single("Content-Type"))
    if kind not in (JSON_TYPE, FORM_TYPE):
        raise DeliveryRejected(415, "content type must be application/json or application/x-www-form-urlencoded")
    event = single("X-GitHub-Event")
    delivery_id = single("X-GitHub-Delivery")
    if not event or not _EVENT.match(event):
        raise DeliveryRejected(400, "missing or malformed X-GitHub-Event")
    if not delivery_id or not _DELIVERY.match(delivery_id):
        raise DeliveryRejected(400, "missing or malformed X-GitHub-Delivery")
    if not signature.verify(secrets, body, single("X-Hub-Signature-256")):
        raise DeliveryRejected(401, "missing or invalid X-Hub-Signature-256")

    payload = _form_payload(body) if kind == FORM_TYPE else body
    parsed = _parse_json(payload)
    kept = {name: value for name in KEPT_HEADERS if (value := single(name)) is not None}
    try:
        return from_payload(
            delivery_id=delivery_id,
            event=event,
            payload=payload,
            parsed=parsed,
            source="webhook",
            received_at=received_at,
            headers=kept,
        )
    except EnvelopeError as exc:
        raise DeliveryRejected(400, str(exc)) from exc


def _parse_json(payload: bytes) -> dict[str, object]:
    """The payload as a JSON object, parsed as the workers parse it (orjson), so whatever is accepted here
    can be read there: UTF-8 only, no NaN, no lone surrogates, nesting at most 1024 deep (a depth error,
    never a RecursionError)."""
    try:
        parsed = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise DeliveryRejected(400, f"body is not UTF-8 JSON: {exc}") from exc
    except RecursionError as exc:  # belt and braces: orjson has its own depth limit
        raise DeliveryRejected(400, "body nests too deeply") from exc
    if not isinstance(parsed, dict):
        raise DeliveryRejected(400, "body must be a JSON object")
    return parsed


def _form_payload(body: bytes) -> bytes:
    try:
        fields = parse_qs(body.decode("ascii"), keep_blank_values=True, strict_parsing=True, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise DeliveryRejected(400, "form body is not URL-encoded") from exc
    values = fields.get("payload", [])
    if len(values) != 1:
        raise DeliveryRejected(400, "form body must carry exactly one payload field")
    try:
        return values[0].encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates cannot be UTF-8
        raise DeliveryRejected(400, "payload is not UTF-8") from exc
