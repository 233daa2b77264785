"""Values are checked where they are parsed: one hostile value rejects one record with a reason naming
the field (a PayloadError), never an OverflowError or a row Postgres would refuse."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from pillarstream.config import PillarConfig
from pillarstream.envelope import from_payload
from pillarstream.normalise import Facts, PayloadError, normalise
from pillarstream.normalise.fields import integer, moment, text
from stream_processors.archiver import Consumed
from stream_processors.facts import upserts
from stream_processors.warehouse import prepare
from tests.harness import fixture_bytes
from tests.hostile import RECEIVED, enveloped, hostile_deliveries

pytestmark = pytest.mark.unit
CONFIG = PillarConfig()


def push_with(**repository: Any) -> bytes:
    body = json.loads(fixture_bytes("webhooks/push/payload.json"))
    body["repository"].update(repository)
    return json.dumps(body).encode()


def normalised(event: str, payload: bytes) -> Facts:
    envelope = enveloped("d-1", event, payload)
    assert envelope is not None
    return normalise(envelope, CONFIG)


@pytest.mark.parametrize("value", [1e300, -1e20, 10**20, 4102444800, -1])
def test_epoch_seconds_outside_1970_to_2100_are_rejected_naming_the_field(value):
    with pytest.raises(PayloadError, match=r"repository\.pushed_at .* between 1970 and 2100"):
        normalised("push", push_with(pushed_at=value))


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                                   "2100-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "yesterday", "2024-13-01"])
def test_iso_timestamps_outside_the_range_or_malformed_are_rejected(value):
    with pytest.raises(PayloadError, match=r"created_at"):
        moment({"created_at": value}, "created_at")


def test_timestamps_in_range_still_parse_and_absent_ones_are_none():
    assert moment({"t": "2024-02-29T23:59:59-07:00"}, "t") == datetime(2024, 3, 1, 6, 59, 59, tzinfo=UTC)
    assert moment({"t": 1_700_000_000}, "t") == datetime.fromtimestamp(1_700_000_000, tz=UTC)
    assert [moment({"t": v}, "t") for v in (None, "", True, [], {})] == [None] * 5
    assert moment({}, "t") is None


def test_a_repository_id_beyond_bigint_is_rejected_before_postgres():
    with pytest.raises(PayloadError, match=r"repo_id .*9223372036854775808.* bigint"):
        normalised("push", push_with(id=2**63))
    assert integer({"id": 2**63 - 1}, "id") == 2**63 - 1
    assert integer({"id": -(2**63)}, "id") == -(2**63)


def test_counts_are_checked_against_postgres_integer():
    with pytest.raises(PayloadError, match=r"additions 2147483648 is outside the Postgres integer range"):
        integer({"additions": 2**31}, "additions", bits=32)
    assert integer({"additions": 2**31 - 1}, "additions", bits=32) == 2**31 - 1


@pytest.mark.parametrize("value, reason", [("a\x00b", "NUL"), ("x\ud800", "lone surrogate")])
def test_text_postgres_cannot_store_is_rejected_without_echoing_it(value, reason):
    with pytest.raises(PayloadError, match=rf"^ref contains a {reason}") as raised:
        text({"ref": value}, "ref")
    assert value not in str(raised.value)


def test_a_nul_in_the_envelope_rejects_the_record_even_for_an_event_without_facts():
    payload = json.dumps({"action": "created", "repository": {"id": 1, "full_name": "o/r\u0000"}}).encode()
    envelope = from_payload(delivery_id="d-1", event="star", payload=payload, parsed=json.loads(payload),
                            source="webhook", received_at=RECEIVED)
    with pytest.raises(PayloadError, match="envelope repo_full_name contains a NUL"):
        normalise(envelope, CONFIG)


def test_huge_numbers_in_a_reason_stay_short():
    with pytest.raises(PayloadError) as raised:
        integer({"id": 10**4000}, "id")
    assert len(str(raised.value)) < 100


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_deliveries())
def test_hostile_values_in_real_payloads_give_rows_or_a_payload_error(envelope):
    try:
        facts = normalise(envelope, CONFIG)
    except PayloadError:
        return
    upserts(facts)  # every row renders as the JSON the writer sends


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_deliveries("d-a"), hostile_deliveries("d-b"))
def test_a_prepared_batch_holds_every_record_once_as_rows_or_as_a_dead_letter(first, second):
    batch = prepare([Consumed("t", 0, 0, first), Consumed("t", 0, 1, second)], CONFIG)

    (rows,) = batch.deliveries[1]
    written = {row["delivery_id"] for row in json.loads(rows)}
    dead = {letter.delivery_id for letter in batch.dead_letters}
    assert written | dead == {"d-a", "d-b"} and not written & dead
