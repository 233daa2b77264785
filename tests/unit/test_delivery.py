"""The delivery contract as a pure function: every refusal has its status, none is a 5xx."""

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote_from_bytes

import pytest

from pillarstream.errors import DeliveryRejected
from pillarstream.signature import sign
from receiver.delivery import parse_delivery

pytestmark = pytest.mark.unit
SECRET = "s3cret"
BODY = (Path(__file__).parent.parent / "fixtures" / "webhooks" / "push" / "payload.json").read_bytes()


def headers(body=BODY, **override):
    base = {"Content-Type": ["application/json"], "X-GitHub-Event": ["push"],
            "X-GitHub-Delivery": ["72d3162e-cc78-11e3-81ab-4c9367dc0958"],
            "X-Hub-Signature-256": [sign(SECRET, body)]}
    for name, value in override.items():
        name = name.replace("_", "-")
        if value is None:
            base.pop(name, None)
        else:
            base[name] = value if isinstance(value, list) else [value]
    return base


def parse(body=BODY, **override):
    return parse_delivery(headers=headers(body, **override), body=body, secrets=[SECRET],
                          received_at=datetime.now(UTC))


def status_of(body=BODY, **override):
    with pytest.raises(DeliveryRejected) as err:
        parse(body, **override)
    return err.value.status


def test_accepts_a_signed_json_delivery_byte_exact():
    env = parse()
    assert env.payload == BODY and env.event == "push" and env.source == "webhook"
    assert env.headers["X-GitHub-Delivery"] == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    assert "X-Hub-Signature-256" not in env.headers


def test_accepts_form_encoded_delivery_signed_over_the_raw_body():
    form = b"payload=" + quote_from_bytes(BODY).encode()
    env = parse(form, Content_Type="application/x-www-form-urlencoded")
    assert env.payload == BODY


def test_content_type_parameters_are_allowed():
    assert parse(Content_Type="application/json; charset=utf-8").event == "push"


@pytest.mark.parametrize(("override", "status"), [
    ({"Content_Type": "text/plain"}, 415),
    ({"Content_Type": None}, 415),
    ({"X_GitHub_Event": None}, 400),
    ({"X_GitHub_Delivery": None}, 400),
    ({"X_GitHub_Event": "Push Event!"}, 400),
    ({"X_GitHub_Delivery": "x" * 500}, 400),
    ({"X_GitHub_Delivery": ["a", "b"]}, 400),
    ({"X_Hub_Signature_256": None}, 401),
    ({"X_Hub_Signature_256": sign("wrong", BODY)}, 401),
    ({"X_Hub_Signature_256": None, "X_Hub_Signature": "sha1=00"}, 401),
])
def test_refusals(override, status):
    assert status_of(**override) == status


@pytest.mark.parametrize("body", [b"", b"{", b"[1, 2]", b'"text"', b"\xff\xfe{}", BODY[:100]])
def test_malformed_bodies_are_400_even_when_signed(body):
    assert status_of(body) == 400


@pytest.mark.parametrize("form", [b"payload=%ff", b"other=1", b"payload=1&payload=2", b"%%%", b"payload=[]"])
def test_malformed_form_bodies_are_400(form):
    assert status_of(form, Content_Type="application/x-www-form-urlencoded") == 400


def test_header_names_are_case_insensitive():
    lower = {k.lower(): v for k, v in headers().items()}
    env = parse_delivery(headers=lower, body=BODY, secrets=[SECRET], received_at=datetime.now(UTC))
    assert env.event == "push"
