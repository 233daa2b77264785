"""GitHub Apps in the fake GitHub: installations, and installation tokens issued for a JWT signed with the
App's private key (RS256, verified with PyJWT against the App's public key), which expire.

https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app -- the App
authenticates with a JWT (``iss`` = the App id, at most 10 minutes long) to ``POST
/app/installations/{id}/access_tokens``; the token it gets is used like a personal token until
``expires_at`` (an hour on GitHub; :attr:`AppRegistry.token_ttl_s` here, so a test can outlive one). An
expired token answers 401. Rate-limit budgets belong to the installation, not to each token.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

if TYPE_CHECKING:
    from tests.fake_github.server import Answer, FakeGitHub, Request

MAX_JWT_LIFETIME_S = 600


def new_private_key() -> tuple[str, str]:
    """An RSA key pair for a test App: (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@dataclass
class App:
    app_id: int
    public_key: str
    installations: dict[str, int] = field(default_factory=dict)  # account login → installation id


@dataclass
class AppRegistry:
    token_ttl_s: float = 3600.0
    apps: dict[int, App] = field(default_factory=dict)
    tokens: dict[str, tuple[int, float]] = field(default_factory=dict)  # token → (installation, expires at)
    issued: list[tuple[int, float]] = field(default_factory=list)  # (installation, when), for tests
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, app_id: int, public_key: str, installations: dict[str, int]) -> App:
        app = App(app_id, public_key, dict(installations))
        self.apps[app_id] = app
        return app

    def installation_of(self, token: str | None) -> int | None:
        """The installation a live token belongs to; None for an unknown or expired one."""
        with self._lock:
            found = self.tokens.get(token or "")
        if found is None or found[1] <= time.time():
            return None
        return found[0]

    def verify(self, req: Request) -> App | None:
        """The App whose key signed the request's JWT (``Authorization: Bearer``), if it is valid now."""
        if not req.token:
            return None
        try:
            claims = jwt.decode(req.token, options={"verify_signature": False})
            app = self.apps.get(int(claims.get("iss", 0)))
            if app is None:
                return None
            claims = jwt.decode(req.token, app.public_key, algorithms=["RS256"], leeway=60,
                                options={"require": ["iat", "exp", "iss"]})
        except (jwt.PyJWTError, ValueError):
            return None
        if int(claims["exp"]) - int(claims["iat"]) > MAX_JWT_LIFETIME_S + 60:
            return None
        return app

    def issue(self, installation: int) -> tuple[str, float]:
        token = "ghs_" + secrets.token_hex(18)
        expires = time.time() + self.token_ttl_s
        with self._lock:
            self.tokens[token] = (installation, expires)
            self.issued.append((installation, time.time()))
        return token, expires


def _unauthorised() -> Answer:
    from tests.fake_github.server import Answer

    return Answer(401, {"message": "A JSON web token could not be decoded",
                        "documentation_url": "https://docs.github.com/rest"}, counted=False)


def access_token(fake: FakeGitHub, req: Request) -> Answer:
    from tests.fake_github.server import Answer

    app = fake.apps.verify(req)
    installation = int(req.params["installation"])
    if app is None:
        return _unauthorised()
    if installation not in app.installations.values():
        return Answer(404, {"message": "Not Found"}, counted=False)
    token, expires = fake.apps.issue(installation)
    when = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Answer(201, {"token": token, "expires_at": when, "permissions": {"metadata": "read"},
                        "repository_selection": "all"}, counted=False)


def installation_for(fake: FakeGitHub, req: Request) -> Answer:
    from tests.fake_github.server import Answer

    app = fake.apps.verify(req)
    if app is None:
        return _unauthorised()
    account = req.params.get("org") or req.params.get("login") or req.params.get("owner") or ""
    found = next((i for login, i in app.installations.items() if login.casefold() == account.casefold()), None)
    if found is None:
        return Answer(404, {"message": "Not Found"}, counted=False)
    return Answer(200, _installation(found, account, app.app_id), counted=False)


def _installation(installation: int, account: str, app_id: int) -> dict[str, Any]:
    return {"id": installation, "app_id": app_id, "target_type": "Organization",
            "account": {"login": account, "id": 1, "type": "Organization"},
            "access_tokens_url": f"https://api.github.com/app/installations/{installation}/access_tokens",
            "permissions": {"metadata": "read"}, "events": [], "repository_selection": "all"}


# JWT-authenticated: these routes check the App's signature themselves.
ROUTES: list[tuple[str, str, Any]] = [
    ("POST", r"/app/installations/(?P<installation>\d+)/access_tokens", access_token),
    ("GET", r"/orgs/(?P<org>[^/]+)/installation", installation_for),
    ("GET", r"/users/(?P<login>[^/]+)/installation", installation_for),
    ("GET", r"/repos/(?P<owner>[^/]+)/[^/]+/installation", installation_for),
]
APP_PATHS = r"^(/app/|/(orgs|users)/[^/]+/installation$|/repos/[^/]+/[^/]+/installation$)"
