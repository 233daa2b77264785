"""Which records of a batch become dead letters, and what a dead letter keeps of them."""

import json

import pytest

from pillarstream.config import PillarConfig
from pillarstream.envelope import ENVELOPE_HEADER, to_record
from stream_processors.warehouse import dead_letter, prepare_raw
from tests.hostile import enveloped

pytestmark = pytest.mark.unit
CONFIG = PillarConfig()


def record(delivery_id: str, body: dict, offset: int, event: str = "star"):
    payload = json.dumps(body).encode()
    envelope = enveloped(delivery_id, event, payload)
    assert envelope is not None
    _, value, headers = to_record(envelope)
    return ("github.events", 1, offset, value, headers)


def test_unreadable_envelopes_and_unstorable_values_are_dead_letters_and_the_rest_rows():
    good = record("d-good", {"repository": {"id": 1, "full_name": "o/r"}}, 10)
    huge = record("d-huge", {"repository": {"id": 2**63, "full_name": "o/r"}}, 11)
    no_header = ("github.events", 1, 12, b"{}", [])
    garbage = ("github.events", 1, 13, b"{}", [(ENVELOPE_HEADER, b"\xff not json")])

    batch = prepare_raw([good, huge, no_header, garbage], CONFIG)

    assert [row["delivery_id"] for row in json.loads(batch.deliveries[1][0])] == ["d-good"]
    letters = {letter.delivery_id: letter for letter in batch.dead_letters}
    assert set(letters) == {"d-huge", "kafka:github.events:1:12", "kafka:github.events:1:13"}
    assert "bigint" in letters["d-huge"].error and letters["d-huge"].event == "star"
    assert letters["d-huge"].payload == huge[3] and json.loads(letters["d-huge"].envelope)["delivery_id"] == "d-huge"
    assert letters["kafka:github.events:1:12"].error.startswith("envelope not readable")
    assert (letters["kafka:github.events:1:13"].offset, letters["kafka:github.events:1:13"].envelope) == (
        13, b"\xff not json")


def test_a_dead_letter_s_text_is_storable_whatever_the_record_held():
    header = json.dumps({"delivery_id": "d\u0000x", "event": "e\ud800"}).encode()
    letter = dead_letter(("t", 0, 0, b"", [(ENVELOPE_HEADER, header)]), "reason \x00 " + "y" * 5000)

    assert "\x00" not in letter.delivery_id + letter.error
    assert len(letter.error) <= 1000
    assert letter.event is None or letter.event.encode("utf-8")  # no lone surrogate left


def test_committed_dead_letters_are_counted_and_logged_without_their_payload(caplog):
    from stream_processors.dead_letters import DEAD_LETTERS, report

    secret_payload = {"repository": {"id": 2**63, "full_name": "o/secret-name"}}
    batch = prepare_raw([record("d-counted", secret_payload, 1, event="push")], CONFIG)
    before = DEAD_LETTERS.labels("push")._value.get()
    with caplog.at_level("WARNING", logger="stream_processors.dead_letters"):
        report([batch])

    assert DEAD_LETTERS.labels("push")._value.get() == before + 1
    [logged] = [r for r in caplog.records if r.getMessage() == "record dead-lettered"]
    assert (logged.delivery_id, logged.event) == ("d-counted", "push") and "bigint" in logged.reason
    assert "secret-name" not in caplog.text + str(logged.__dict__)
