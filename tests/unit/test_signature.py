import pytest

from pillarstream.signature import sign, verify

pytestmark = pytest.mark.unit

# GitHub's published test vector (docs: "Testing the webhook payload validation").
VECTOR_SECRET = "It's a Secret to Everybody"
VECTOR_BODY = b"Hello, World!"
VECTOR_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_github_published_vector():
    assert sign(VECTOR_SECRET, VECTOR_BODY) == VECTOR_SIGNATURE
    assert verify([VECTOR_SECRET], VECTOR_BODY, VECTOR_SIGNATURE)


@pytest.mark.parametrize("header", [
    None, "", "sha256=", "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59",
    VECTOR_SIGNATURE.upper(), VECTOR_SIGNATURE[:-1] + "0", "sha256=ünïcode",
])
def test_refuses_missing_legacy_or_wrong_signatures(header):
    assert not verify([VECTOR_SECRET], VECTOR_BODY, header)


def test_any_active_secret_matches_during_rotation():
    assert verify(["new-secret", VECTOR_SECRET], VECTOR_BODY, VECTOR_SIGNATURE)
    assert not verify(["new-secret"], VECTOR_BODY, VECTOR_SIGNATURE)
    assert not verify([], VECTOR_BODY, VECTOR_SIGNATURE)


def test_signature_covers_every_byte():
    assert not verify([VECTOR_SECRET], VECTOR_BODY + b" ", VECTOR_SIGNATURE)
