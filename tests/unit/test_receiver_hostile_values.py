"""Signed payloads with hostile values through the receiver's Flask app: a 4xx or a 202, never a 5xx.

The stand-in publisher does what the real one and the archiver do with an envelope before Kafka is
involved (serialise it as a record and as an archive line), so an accepted envelope that could not travel
fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pillarstream.envelope import Envelope, to_archive_line, to_record
from pillarstream.settings import load_settings
from receiver.app import create_app
from tests.harness import signed_headers

pytestmark = pytest.mark.unit
SECRET = "hostile-values-secret"
WEBHOOKS = Path(__file__).parent.parent / "fixtures" / "webhooks"
BASES = ["push/payload.json", "pull_request/opened.with-organization.payload.json", "issues/opened.payload.json",
         "workflow_run/completed.payload.json", "check_run/completed.payload.json", "release/published.payload.json",
         "deployment_status/payload.json", "repository/created.payload.json"]


class SerialisingPublisher:
    def __init__(self) -> None:
        self.accepted: list[Envelope] = []

    def publish(self, envelope: Envelope) -> None:
        to_record(envelope)
        to_archive_line(envelope)
        self.accepted.append(envelope)

    def publish_many(self, envelopes: Any) -> int:
        for envelope in envelopes:
            self.publish(envelope)
        return len(self.accepted)

    def ready(self) -> bool:
        return True

    def close(self) -> None:
        pass


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in a JSON document (list items by index), to aim mutations at real fields."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):
            found += _paths(item, (*prefix, index))
    return found


DOCUMENTS = {name: json.loads((WEBHOOKS / name).read_bytes()) for name in BASES}
PATHS = {name: _paths(doc) for name, doc in DOCUMENTS.items()}
# Fields the receiver itself reads get mutated more often.
HOT_PATHS = [("action",), ("repository",), ("repository", "id"), ("repository", "full_name"),
             ("repository", "owner"), ("repository", "owner", "login"), ("organization",),
             ("organization", "login"), ("repository", "pushed_at"), ("repository", "created_at")]

hostile_values = st.one_of(
    st.sampled_from([2**63, 2**63 - 1, 2**64, 2**64 - 1, -(2**63) - 1, -(2**63), 10**20, 10**30, -1, 0]),
    st.integers(),
    st.sampled_from([1e300, -1e300, -1e20, 1e20, 1e-300, 0.5, -0.0]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["\u0000", "a\u0000b", "\ud800", "x\udfffy", "\ud83d", "\uffff", "", " " * 3,
                     "2024-13-45T99:99:99Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "99999-01-01",
                     "1e300", "-1e20", "not a date", "2024-01-01T00:00:00+25:00", "\U0001f600"]),
    st.text(max_size=20),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@st.composite
def hostile_payloads(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(BASES))
    document = json.loads(json.dumps(DOCUMENTS[name]))
    for _ in range(draw(st.integers(1, 6))):
        path = draw(st.one_of(st.sampled_from(HOT_PATHS), st.sampled_from(PATHS[name])))
        _mutate(document, path, draw(hostile_values), delete=draw(st.integers(0, 7)) == 0)
    # json.dumps writes a lone surrogate as its \\u escape, and integers of any size as digits.
    return name.split("/", 1)[0], json.dumps(document).encode()


def _mutate(document: Any, path: tuple[Any, ...], value: Any, *, delete: bool) -> None:
    parent = document
    for key in path[:-1]:
        if isinstance(parent, dict) and key in parent:
            parent = parent[key]
        elif isinstance(parent, list) and isinstance(key, int) and key < len(parent):
            parent = parent[key]
        else:
            return
    last = path[-1]
    if isinstance(parent, dict):
        if delete:
            parent.pop(last, None)
        else:
            parent[last] = value
    elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
        parent[last] = value


@pytest.fixture(scope="module")
def app_and_publisher():
    publisher = SerialisingPublisher()
    app = create_app(load_settings(webhook_secrets=SECRET), publisher=publisher)
    return app, publisher


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sample=hostile_payloads())
def test_signed_hostile_values_never_give_a_server_error(app_and_publisher, sample):
    app, publisher = app_and_publisher
    event, body = sample
    before = len(publisher.accepted)
    answer = app.test_client().post("/webhooks/github", data=body, headers=signed_headers(SECRET, body, event))
    assert answer.status_code in (202, 400), (answer.status_code, answer.get_data(as_text=True))
    assert answer.json and ("error" in answer.json or answer.json["status"] == "accepted")
    assert len(publisher.accepted) == before + (answer.status_code == 202)


@pytest.mark.parametrize(("mutation", "reason"), [
    ({"repository": {"id": 2**64, "full_name": "a/b"}}, None),  # orjson reads 2^64 as a float: not an id
    ({"repository": {"id": 2**63, "full_name": "a/b"}}, "out of range"),
    ({"repository": {"id": -(2**63) - 1, "full_name": "a/b"}}, None),  # a float too
    ({"action": "\ud800"}, "surrogate"),
    ({"repository": {"id": 1, "full_name": "x\udfff"}}, "surrogate"),
])
def test_values_the_envelope_cannot_carry_are_400_with_a_reason(app_and_publisher, mutation, reason):
    app, _ = app_and_publisher
    body = json.dumps({"zen": "hostile", **mutation}).encode()
    answer = app.test_client().post("/webhooks/github", data=body, headers=signed_headers(SECRET, body, "push"))
    if reason is None:
        assert answer.status_code == 202
    else:
        assert answer.status_code == 400 and reason in answer.json["error"], answer.json


def test_deeply_nested_signed_json_is_400_not_a_recursion_error(app_and_publisher):
    app, _ = app_and_publisher
    for depth in (1_100, 100_000):
        body = b'{"a":' * depth + b"1" + b"}" * depth
        answer = app.test_client().post("/webhooks/github", data=body,
                                        headers=signed_headers(SECRET, body, "push"))
        assert answer.status_code == 400 and "depth" in answer.json["error"], answer.json
