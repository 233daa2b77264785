"""Real recorded webhook payloads with hostile values put in (for property tests of normalise and the
warehouse writer): huge and negative ids, out-of-range and malformed timestamps, NUL bytes, lone
surrogates, wrong types, missing objects."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import reject
from hypothesis import strategies as st

from pillarstream.envelope import Envelope, EnvelopeError, from_payload

WEBHOOKS = Path(__file__).resolve().parent / "fixtures" / "webhooks"
FIXTURES = sorted(WEBHOOKS.glob("*/*.json"))
RECEIVED = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)
DELETE = object()  # "remove this key"

HOSTILE_VALUES = st.one_of(
    st.sampled_from([
        2**63, 2**63 - 1, -(2**63), -(2**63) - 1, 2**64, 10**20, -1, 0, 2**31, -(2**31) - 1,  # ids and counts
        1e300, -1e20, 1e20, 10**20, 4102444800, -1.5, 1.5,  # epoch seconds
        "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "2100-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z", "not a date", "2024-13-45T99:99:99Z", "", " ",  # timestamps
        "a\x00b", "\x00", "\ud800", "x\udfffy", "é\ud83d",  # NUL, lone surrogates
        [], {}, [1, "a"], {"id": None}, True, False, None, DELETE,  # wrong types, missing objects
    ]),
    st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
)


def paths(value: Any, prefix: tuple[Any, ...] = (), depth: int = 4) -> list[tuple[Any, ...]]:
    """Every key path into a payload's objects (and the first item of lists), up to ``depth`` levels."""
    found: list[tuple[Any, ...]] = []
    if depth == 0:
        return found
    if isinstance(value, dict):
        for key, child in value.items():
            found.append((*prefix, key))
            found += paths(child, (*prefix, key), depth - 1)
    elif isinstance(value, list) and value:
        found += paths(value[0], (*prefix, 0), depth - 1)
    return found


def with_value(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    changed = copy.deepcopy(body)
    target = changed
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


@st.composite
def hostile_deliveries(draw: st.DrawFn, delivery_id: str = "d-hostile") -> Envelope:
    """A recorded delivery with one to three of its values replaced, enveloped as the receiver does (from
    the body as Python's json parses it, so the envelope may carry the hostile values too)."""
    fixture = draw(st.sampled_from(FIXTURES))
    body = json.loads(fixture.read_bytes())
    candidates = paths(body)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(candidates))
        try:
            body = with_value(body, path, draw(HOSTILE_VALUES))
        except (KeyError, IndexError, TypeError):  # an earlier change removed or replaced the parent
            continue
    payload = json.dumps(body).encode()  # lone surrogates become \ud800 escapes, as a sender would write them
    envelope = enveloped(delivery_id, fixture.parent.name, payload)
    if envelope is None:
        reject()  # the receiver answers 400: no such record reaches the topic
    return envelope


def enveloped(delivery_id: str, event: str, payload: bytes, received_at: datetime = RECEIVED) -> Envelope | None:
    """The envelope as the receiver builds it. Where the receiver refuses the delivery only because its
    repository id is beyond bigint, the envelope another producer (an older receiver, a hand-made replay)
    could still have written, so the worker's own checks are tested; None for anything else refused."""
    parsed = json.loads(payload)
    try:
        return from_payload(delivery_id=delivery_id, event=event, payload=payload, parsed=parsed,
                            source="webhook", received_at=received_at)
    except EnvelopeError:
        repo = parsed.get("repository") if isinstance(parsed, dict) else None
        if not isinstance(repo, dict) or not isinstance(repo.get("id"), int):
            return None
        try:
            unchecked = from_payload(delivery_id=delivery_id, event=event, payload=payload,
                                     parsed={**parsed, "repository": {**repo, "id": None}},
                                     source="webhook", received_at=received_at)
        except EnvelopeError:
            return None
        return replace(unchecked, repo_id=repo["id"])
