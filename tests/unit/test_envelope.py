import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pillarstream.envelope import (
    derived_delivery_id,
    from_archive_line,
    from_payload,
    from_record,
    replay_record,
    to_archive_line,
    to_record,
)

pytestmark = pytest.mark.unit
FIXTURES = Path(__file__).parent.parent / "fixtures" / "webhooks"
WHEN = datetime(2026, 11, 23, 9, 5, 7, 123456, tzinfo=UTC)


def envelope_for(relative, event, source="webhook"):
    body = (FIXTURES / relative).read_bytes()
    return from_payload(delivery_id="d-1", event=event, payload=body, parsed=json.loads(body),
                        source=source, received_at=WHEN, headers={"X-GitHub-Hook-ID": "42"})


def test_fields_come_from_the_payload():
    env = envelope_for("pull_request/opened.with-organization.payload.json", "pull_request")
    body = json.loads(env.payload)
    assert env.action == "opened"
    assert env.org == body["organization"]["login"]
    assert env.repo_id == body["repository"]["id"]
    assert env.repo_full_name == body["repository"]["full_name"]
    assert env.hook_id == "42"
    assert env.key == f"repo:{body['repository']['id']}".encode()


def test_org_level_events_are_keyed_by_org():
    env = envelope_for("ping/with-organization.payload.json", "ping")
    assert env.repo_id is None
    assert env.key == f"org:{env.org}".encode()


def test_kafka_record_round_trip_keeps_payload_bytes_exact():
    env = envelope_for("push/payload.json", "push")
    key, value, headers = to_record(env)
    assert value == env.payload
    assert from_record(value, headers) == env
    assert from_record(value, dict(headers)) == env


def test_archive_line_round_trip_keeps_payload_bytes_exact():
    env = envelope_for("check_suite/requested.payload.with-email-with-special-characters.json", "check_suite")
    line = to_archive_line(env)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    back = from_archive_line(line)
    assert back == env and back.payload == env.payload
    assert back.received_at == WHEN


def test_record_without_envelope_header_is_refused():
    with pytest.raises(ValueError, match="pillarstream-envelope"):
        from_record(b"{}", [("other", b"x")])


def test_derived_delivery_ids_are_deterministic_per_version():
    a = derived_delivery_id("pull_request", 1, "2026-01-01T00:00:00Z")
    assert a == derived_delivery_id("pull_request", 1, "2026-01-01T00:00:00Z")
    assert a != derived_delivery_id("pull_request", 1, "2026-01-02T00:00:00Z")
    assert a != derived_delivery_id("issue", 1, "2026-01-01T00:00:00Z")


def test_backfilled_items_archive_under_api():
    assert envelope_for("push/payload.json", "push", source="backfill").archive_source == "api"
    assert envelope_for("push/payload.json", "push", source="webhook").archive_source == "webhook"


@pytest.mark.parametrize("path", sorted(p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*.json")))
def test_replay_record_is_the_record_of_the_replayed_envelope(path):
    line = to_archive_line(envelope_for(path, path.split("/")[0], source="backfill"))
    assert replay_record(line) == to_record(from_archive_line(line).as_replay())
    replayed_once = to_archive_line(from_archive_line(line).as_replay())  # a replay of a replay keeps its origin
    assert replay_record(replayed_once) == to_record(from_archive_line(replayed_once).as_replay())
    assert from_record(replay_record(line)[1], replay_record(line)[2]).first_source == "backfill"


@pytest.mark.parametrize("damage", [
    lambda rec: rec["envelope"].pop("delivery_id"),
    lambda rec: rec["envelope"].update(surprise=1),
    lambda rec: rec.pop("payload"),
])
def test_replay_record_refuses_a_damaged_line(damage):
    record = json.loads(to_archive_line(envelope_for("push/payload.json", "push")))
    damage(record)
    with pytest.raises((ValueError, KeyError)):
        replay_record(json.dumps(record).encode())
