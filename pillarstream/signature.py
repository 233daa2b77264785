"""GitHub webhook signatures (X-Hub-Signature-256), framework-free.

https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries: HMAC-SHA256 of the raw
request body, hex digest, prefixed ``sha256=``, compared in constant time. The SHA-1 ``X-Hub-Signature``
header is never accepted on its own.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub would send for ``body``."""
    return PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secrets: Sequence[str], body: bytes, header: str | None) -> bool:
    """True when ``header`` matches ``body`` under any active secret (several allow rotation).

    Every secret is tried even after a match so the time taken does not reveal which one matched.
    """
    if not header or not header.startswith(PREFIX):
        return False
    given = header.encode("ascii", "replace")
    matched = False
    for secret in secrets:
        expected = sign(secret, body).encode("ascii")
        matched |= hmac.compare_digest(expected, given)
    return matched
