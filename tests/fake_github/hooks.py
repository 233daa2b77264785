"""Webhooks on the fake GitHub: org and repository hooks, pings, the delivery log and redelivery.

Shapes follow tests/fixtures/rest/list-org-webhooks.json, list-org-webhook-deliveries.json and
get-org-webhook-delivery.json. A delivery really is POSTed to the hook's ``config.url``, signed with the
hook's secret (``X-Hub-Signature-256``,
               https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries),
and recorded with the status code the receiver answered, the way GitHub's delivery log shows it.
A redelivery (``POST …/deliveries/{id}/attempts``) sends the stored body again with the same
``X-GitHub-Delivery`` guid and records a new attempt with ``redelivery: true``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from tests.fake_github.server import Answer, Request, cursor_page
from tests.fake_github.state import API, user

if TYPE_CHECKING:
    from tests.fake_github.server import FakeGitHub

MASKED = "********"
DELIVERY_TIMEOUT_S = 10.0
NOT_FOUND = Answer(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class Delivery:
    id: int
    guid: str
    hook_id: int
    event: str
    action: str | None
    delivered_at: str
    redelivery: bool
    status_code: int
    duration: float
    repository_id: int | None
    request_headers: dict[str, str]
    payload: bytes  # the body as sent
    response_body: str

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "guid": self.guid, "delivered_at": self.delivered_at,
                "redelivery": self.redelivery,
                "duration": self.duration, "status": _status_text(self.status_code),
                "status_code": self.status_code,
                "event": self.event, "action": self.action, "installation_id": None,
                "repository_id": self.repository_id, "throttled_at": None}


def _status_text(code: int) -> str:
    if code == 0:
        return "failed to connect to host"
    return "OK" if 200 <= code < 300 else f"Invalid HTTP Response: {code}"


@dataclass
class Hook:
    id: int
    owner: str  # org login, or OWNER/NAME for a repository hook
    kind: str  # Organization | Repository
    config: dict[str, str]
    events: list[str]
    active: bool = True
    name: str = "web"
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    deliveries: list[Delivery] = field(default_factory=list)  # every attempt, oldest first

    @property
    def path(self) -> str:
        base = f"/orgs/{self.owner}" if self.kind == "Organization" else f"/repos/{self.owner}"
        return f"{base}/hooks/{self.id}"

    def as_json(self) -> dict[str, Any]:
        config = {k: (MASKED if k == "secret" and v else v) for k, v in self.config.items()}
        last = self.deliveries[-1] if self.deliveries else None
        data = {"type": self.kind, "id": self.id, "name": self.name, "active": self.active,
                "events": self.events,
                "config": config, "updated_at": self.updated_at, "created_at": self.created_at,
                "url": f"{API}{self.path}", "ping_url": f"{API}{self.path}/pings",
                "deliveries_url": f"{API}{self.path}/deliveries",
                "last_response": {"code": last.status_code if last else None,
                                  "status": _status_text(last.status_code) if last else "unused",
                                  "message": None}}
        if self.kind == "Repository":
            data["test_url"] = f"{API}{self.path}/test"
        return data

    def wants(self, event: str) -> bool:
        return self.active and (event in self.events or "*" in self.events or event == "ping")


class HookRegistry:
    """All hooks of the fake, and the act of delivering to them."""

    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake
        self.hooks: dict[int, Hook] = {}
        self._hook_ids = itertools.count(400_000_001)
        self._delivery_ids = itertools.count(90_000_000_001)

    def create(self, owner: str, kind: str, config: dict[str, str], events: list[str],
               active: bool = True) -> Hook:
        with self.fake.lock:
            hook = Hook(next(self._hook_ids), owner, kind, dict(config), sorted(set(events)) or ["push"],
                        active)
            self.hooks[hook.id] = hook
            return hook

    def of(self, owner: str, kind: str) -> list[Hook]:
        with self.fake.lock:
            return [h for h in self.hooks.values() if h.owner.casefold() == owner.casefold()
                    and h.kind == kind]

    def deliver(self, owner: str, event: str, body: dict[str, Any] | bytes, *, action: str | None = None,
                guid: str | None = None, hook_id: int | None = None) -> list[Delivery]:
        """POST a delivery to every hook of ``owner`` (org login or OWNER/NAME) subscribed to ``event``."""
        kind = "Repository" if "/" in owner else "Organization"
        raw = body if isinstance(body, bytes) else json.dumps(body, indent=2).encode()
        parsed = json.loads(raw) if raw.strip() else {}
        if action is None and isinstance(parsed, dict) and isinstance(parsed.get("action"), str):
            action = parsed["action"]
        repo_id = (parsed.get("repository") or {}).get("id") if isinstance(parsed, dict) else None
        hooks = [h for h in self.of(owner, kind) if h.wants(event) and (hook_id is None or h.id == hook_id)]
        return [self._send(h, event, action, raw, guid or str(uuid.uuid4()), repo_id, redelivery=False)
                for h in hooks]

    def redeliver(self, hook: Hook, original: Delivery) -> Delivery:
        return self._send(hook, original.event, original.action, original.payload, original.guid,
                          original.repository_id, redelivery=True)

    def _send(self, hook: Hook, event: str, action: str | None, raw: bytes, guid: str, repo_id: int | None, *,
              redelivery: bool) -> Delivery:
        form = hook.config.get("content_type") == "form"
        sent = urlencode({"payload": raw.decode()}).encode() if form else raw
        headers = {
            "Accept": "*/*", "User-Agent": "GitHub-Hookshot/fake",
            "Content-Type": "application/x-www-form-urlencoded" if form else "application/json",
            "X-GitHub-Delivery": guid, "X-GitHub-Event": event, "X-GitHub-Hook-ID": str(hook.id),
            "X-GitHub-Hook-Installation-Target-Type": hook.kind.lower(),
            "X-GitHub-Hook-Installation-Target-ID": str(self._target_id(hook)),
        }
        secret = hook.config.get("secret")
        if secret:
            key = secret.encode()
            headers["X-Hub-Signature"] = "sha1=" + hmac.new(key, sent, hashlib.sha1).hexdigest()
            headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(key, sent, hashlib.sha256).hexdigest()
        started = time.monotonic()
        status, answer = _post(hook.config.get("url", ""), sent, headers)
        delivery = Delivery(next(self._delivery_ids), guid, hook.id, event, action, _now(), redelivery,
                            status,
                            round(time.monotonic() - started, 3), repo_id, headers, raw, answer)
        with self.fake.lock:
            hook.deliveries.append(delivery)
        return delivery

    def _target_id(self, hook: Hook) -> int:
        if hook.kind == "Organization":
            owner = self.fake.state.owner(hook.owner)
            return owner.id if owner else 0
        repo = self.fake.state.repos.get(hook.owner)
        return int(repo.repo["id"]) if repo else 0


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    if not url.startswith(("http://", "https://")):
        return 0, ""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - checked
    try:
        with urllib.request.urlopen(request, timeout=DELIVERY_TIMEOUT_S) as response:  # noqa: S310
            return int(response.status), response.read(4096).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read(4096).decode(errors="replace")
    except OSError:
        return 0, ""


# --- routes -----------------------------------------------------------------------------------------

def _owner(req: Request) -> tuple[str, str]:
    if "org" in req.params:
        return req.params["org"], "Organization"
    return f"{req.params['owner']}/{req.params['repo']}", "Repository"


def _hook(fake: FakeGitHub, req: Request) -> Hook | None:
    owner, kind = _owner(req)
    hook = fake.hooks.hooks.get(int(req.params["hook_id"]))
    if hook is None or hook.kind != kind or hook.owner.casefold() != owner.casefold():
        return None
    return hook


def _owner_exists(fake: FakeGitHub, req: Request) -> bool:
    owner, kind = _owner(req)
    if kind == "Organization":
        found = fake.state.owner(owner)
        return found is not None and found.type == "Organization"
    return owner in fake.state.repos


def list_hooks(fake: FakeGitHub, req: Request) -> Answer:
    if not _owner_exists(fake, req):
        return NOT_FOUND
    owner, kind = _owner(req)
    return Answer(200, [h.as_json() for h in fake.hooks.of(owner, kind)])


def create_hook(fake: FakeGitHub, req: Request) -> Answer:
    if not _owner_exists(fake, req):
        return NOT_FOUND
    data = req.json()
    config = data.get("config") or {}
    if data.get("name", "web") != "web" or not config.get("url"):
        problem = {"resource": "Hook", "code": "custom", "message": "config.url is required"}
        return Answer(422, {"message": "Validation Failed", "errors": [problem]})
    owner, kind = _owner(req)
    hook = fake.hooks.create(owner, kind, {k: str(v) for k, v in config.items()},
                             list(data.get("events") or ["push"]),
                             bool(data.get("active", True)))
    return Answer(201, hook.as_json())


def get_hook(fake: FakeGitHub, req: Request) -> Answer:
    hook = _hook(fake, req)
    return Answer(200, hook.as_json()) if hook else NOT_FOUND


def edit_hook(fake: FakeGitHub, req: Request) -> Answer:
    hook = _hook(fake, req)
    if hook is None:
        return NOT_FOUND
    data = req.json()
    with fake.lock:
        if isinstance(data.get("config"), dict):
            hook.config.update({k: str(v) for k, v in data["config"].items()})
        if isinstance(data.get("events"), list):
            hook.events = sorted(set(data["events"]))
        hook.events = sorted((set(hook.events) | set(data.get("add_events") or []))
                             - set(data.get("remove_events") or []))
        if "active" in data:
            hook.active = bool(data["active"])
        hook.updated_at = _now()
    return Answer(200, hook.as_json())


def edit_hook_config(fake: FakeGitHub, req: Request) -> Answer:
    hook = _hook(fake, req)
    if hook is None:
        return NOT_FOUND
    if req.method == "PATCH":
        with fake.lock:
            hook.config.update({k: str(v) for k, v in req.json().items()})
    return Answer(200, hook.as_json()["config"])


def delete_hook(fake: FakeGitHub, req: Request) -> Answer:
    hook = _hook(fake, req)
    if hook is None:
        return NOT_FOUND
    with fake.lock:
        fake.hooks.hooks.pop(hook.id, None)
    return Answer(204)


def ping_hook(fake: FakeGitHub, req: Request) -> Answer:
    hook = _hook(fake, req)
    if hook is None:
        return NOT_FOUND
    owner = fake.state.owner(hook.owner.split("/")[0])
    body: dict[str, Any] = {"zen": "Design for failure.", "hook_id": hook.id, "hook": hook.as_json(),
                            "sender": user("octocat", 1)}
    if hook.kind == "Organization" and owner is not None:
        body["organization"] = owner.account()
    elif hook.owner in fake.state.repos:
        body["repository"] = fake.state.repos[hook.owner].repo
    raw = json.dumps(body, indent=2).replace(API, fake.url).encode()
    fake.hooks._send(hook, "ping", None, raw, str(uuid.uuid4()), (body.get("repository") or {}).get("id"),
                     redelivery=False)
    return Answer(204)


def list_deliveries(fake: FakeGitHub, req: Request) -> Answer:
    hook = _hook(fake, req)
    if hook is None:
        return NOT_FOUND
    with fake.lock:
        newest_first = [d.summary() for d in reversed(hook.deliveries)]
    return cursor_page(fake, req, newest_first, param="cursor")


def get_delivery(fake: FakeGitHub, req: Request) -> Answer:
    hook = _hook(fake, req)
    found = next((d for d in hook.deliveries if d.id == int(req.params["delivery_id"])),
                 None) if hook else None
    if hook is None or found is None:
        return NOT_FOUND
    detail = {**found.summary(), "url": hook.config.get("url"),
              "request": {"headers": found.request_headers, "payload": json.loads(found.payload or b"null")},
              "response": {"headers": {"Content-Type": "text/plain"}, "payload": found.response_body}}
    return Answer(200, detail)


def redeliver(fake: FakeGitHub, req: Request) -> Answer:
    hook = _hook(fake, req)
    found = next((d for d in hook.deliveries if d.id == int(req.params["delivery_id"])),
                 None) if hook else None
    if hook is None or found is None:
        return NOT_FOUND
    fake.hooks.redeliver(hook, found)
    return Answer(202, {})


_ORG = r"/orgs/(?P<org>[^/]+)/hooks"
_REPO = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/hooks"
ROUTES: list[tuple[str, str, Any]] = []
for _base in (_ORG, _REPO):
    ROUTES += [
        ("GET", _base, list_hooks),
        ("POST", _base, create_hook),
        ("GET", rf"{_base}/(?P<hook_id>\d+)", get_hook),
        ("PATCH", rf"{_base}/(?P<hook_id>\d+)", edit_hook),
        ("DELETE", rf"{_base}/(?P<hook_id>\d+)", delete_hook),
        ("GET", rf"{_base}/(?P<hook_id>\d+)/config", edit_hook_config),
        ("PATCH", rf"{_base}/(?P<hook_id>\d+)/config", edit_hook_config),
        ("POST", rf"{_base}/(?P<hook_id>\d+)/pings", ping_hook),
        ("GET", rf"{_base}/(?P<hook_id>\d+)/deliveries", list_deliveries),
        ("GET", rf"{_base}/(?P<hook_id>\d+)/deliveries/(?P<delivery_id>\d+)", get_delivery),
        ("POST", rf"{_base}/(?P<hook_id>\d+)/deliveries/(?P<delivery_id>\d+)/attempts", redeliver),
    ]
