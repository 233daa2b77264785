"""A fake GitHub REST API on 127.0.0.1: the protocol parts a client has to get right, nothing more.

- Link-header pagination (``page``/``per_page`` up to 100, or opaque cursors where GitHub uses them);
- rate-limit headers per token, a primary limit (403, ``X-RateLimit-Remaining: 0``) when the budget is spent,
  and injected faults: transient 502s, primary limits, secondary limits (403/429 with ``Retry-After``);
- ETags on every GET and ``304 Not Modified`` for ``If-None-Match``, which does not spend budget
  (https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api);
- a log of every request, so tests count requests per path and find repeated ones.

Routes live in :mod:`tests.fake_github.rest_routes` (history endpoints), :mod:`tests.fake_github.hooks`
(webhooks, their delivery log and redelivery), :mod:`tests.fake_github.graphql_api` (``POST /graphql``, its
points budget, rate-limit errors, timeouts and partial answers) and :mod:`tests.fake_github.apps` (GitHub Apps:
installation tokens for a signed JWT, which expire). Everything is bounded: request bodies, socket timeouts, the
gate a test can close, and :meth:`FakeGitHub.stop` ends the server thread.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from devstack.process import free_port
from tests.fake_github.state import API, RestState

MAX_BODY = 2 * 2**20
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 30
PRIMARY_MESSAGE = ("API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, "
                   "please include the request ID.")
SECONDARY_MESSAGE = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try "
                     "again.")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # from the route pattern
    token: str | None = None

    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    def int_param(self, name: str, default: int) -> int:
        try:
            return int(self.query.get(name, default))
        except ValueError:
            return default


@dataclass
class Answer:
    status: int
    body: Any = None  # JSON-able, raw bytes, or None for no body
    headers: dict[str, str] = field(default_factory=dict)
    counted: bool = True  # spends rate-limit budget

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body, separators=(",", ":")).encode()


Handler = Callable[["FakeGitHub", Request], Answer]


@dataclass(frozen=True)
class Served:
    """One request as the fake answered it."""

    method: str
    path: str
    query: str  # canonical: sorted, url-encoded
    status: int
    token: str | None
    counted: bool
    at: float

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}" + (f"?{self.query}" if self.query else "")


@dataclass
class Fault:
    pattern: re.Pattern[str]
    kind: str  # transient | primary | secondary | secondary429 | status
    times: int
    retry_after: int = 1
    reset_in: int = 1
    status: int = 502
    method: str | None = "GET"


@dataclass
class Budget:
    limit: int
    remaining: int
    reset: int  # epoch seconds


class FakeGitHub:
    """The server; ``state`` is what it serves (mutable while running, under :attr:`lock`)."""

    def __init__(self, state: RestState | None = None, *, tokens: Sequence[str] = ("test-token",),
                 rate_limit: int = 5000, window_s: int = 3600, latency_s: float = 0.0) -> None:
        self.state = state or RestState()
        self.tokens = list(tokens)
        self.rate_limit = rate_limit
        self.window_s = window_s
        self.latency_s = latency_s
        self.lock = threading.RLock()
        self.served: list[Served] = []
        self.faults: list[Fault] = []
        self.budgets: dict[str, Budget] = {}
        self._gate_after: int | None = None
        self._gate = threading.Event()
        self._gate.set()
        self.gate_reached = threading.Event()
        self.port = free_port()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        from tests.fake_github import apps, graphql_api, hooks, rest_routes

        self.apps = apps.AppRegistry()
        self.graphql = graphql_api.GraphQLFake(limit=rate_limit)
        self._app_paths = re.compile(apps.APP_PATHS)
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        for method, pattern, handler in [*apps.ROUTES, *graphql_api.ROUTES, *rest_routes.ROUTES, *hooks.ROUTES]:
            self.routes.append((method, re.compile(f"^{pattern}$"), handler))
        self.hooks = hooks.HookRegistry(self)

    # --- lifecycle ----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeGitHub:
        fake = self

        class _Handler(_RequestHandler):
            server_fake = fake

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="fake-github", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._gate.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests ask --------------------------------------------------------------------------

    def counts(self, *, counted_only: bool = False) -> Counter[str]:
        """Requests per path (method and path, no query)."""
        with self.lock:
            return Counter(f"{s.method} {s.path}" for s in self.served if s.counted or not counted_only)

    def requests(self, pattern: str | None = None) -> list[Served]:
        regex = re.compile(pattern) if pattern else None
        with self.lock:
            return [s for s in self.served if regex is None or regex.search(s.path)]

    def counted(self) -> int:
        """Requests that spent rate-limit budget (304s and rate-limit refusals do not)."""
        with self.lock:
            return sum(1 for s in self.served if s.counted)

    def reset_log(self) -> None:
        with self.lock:
            self.served.clear()

    def inject(self, pattern: str, kind: str, times: int = 1, *, retry_after: int = 1, reset_in: int = 1,
               status: int = 502, method: str | None = "GET") -> None:
        """The next ``times`` requests whose path matches ``pattern`` (a regex) get this fault."""
        if kind not in ("transient", "primary", "secondary", "secondary429", "status"):
            raise ValueError(f"unknown fault kind {kind!r}")
        with self.lock:
            self.faults.append(Fault(re.compile(pattern), kind, times, retry_after, reset_in, status, method))

    def pause_after(self, requests: int) -> None:
        """Hold every request after the first ``requests`` until :meth:`release` (or stop)."""
        with self.lock:
            self._gate_after = requests
            self._gate.clear()
            self.gate_reached.clear()

    def release(self) -> None:
        with self.lock:
            self._gate_after = None
        self._gate.set()

    def set_budget(self, token: str, remaining: int, reset_in: int = 3600) -> None:
        with self.lock:
            self.budgets[token] = Budget(self.rate_limit, remaining, int(time.time()) + reset_in)

    def deliver(self, owner: str, event: str, body: dict[str, Any] | bytes, **kw: Any) -> list[Any]:
        """Send a webhook delivery to every matching hook of ``owner`` (see :class:`hooks.HookRegistry`)."""
        return self.hooks.deliver(owner, event, body, **kw)

    # --- request handling ---------------------------------------------------------------------------

    def link(self, path: str, query: dict[str, str], **changes: object) -> str:
        merged = {**query, **{k: str(v) for k, v in changes.items()}}
        return f"{self.url}{path}?{urlencode(merged)}"

    def handle(self, req: Request) -> Answer:
        self._wait_at_gate()
        if self.latency_s:
            time.sleep(self.latency_s)
        with self.lock:
            if not self._authorised(req):
                return Answer(401, {"message": "Bad credentials",
                                    "documentation_url": "https://docs.github.com/rest"}, counted=False)
            fault = self._take_fault(req)
        if fault is not None:
            return self._fault_answer(req, fault)
        for method, pattern, handler in self.routes:
            match = pattern.match(req.path)
            if match and method == req.method:
                req.params = match.groupdict()
                with self.lock:
                    if req.path not in ("/rate_limit", "/graphql", "/api/graphql") and self._spent(req.token):
                        return self._primary_limit(req.token)
                return handler(self, req)
        return Answer(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})

    def _authorised(self, req: Request) -> bool:
        """A known personal token, a live installation token, or an App route (which checks its JWT)."""
        if req.path.startswith("/_fake") or self._app_paths.search(req.path):
            return True
        if self.apps.installation_of(req.token) is not None:
            return True
        return not self.tokens or req.token in self.tokens

    def budget_key(self, token: str | None) -> str:
        """Installation tokens share their installation's budget; a personal token has its own."""
        installation = self.apps.installation_of(token)
        return f"installation {installation}" if installation is not None else (token or "")

    def _wait_at_gate(self) -> None:
        with self.lock:
            closed = self._gate_after is not None and len(self.served) >= self._gate_after
        if closed:
            self.gate_reached.set()
            self._gate.wait(timeout=60)

    def _take_fault(self, req: Request) -> Fault | None:
        for fault in self.faults:
            if fault.times > 0 and fault.pattern.search(req.path) and fault.method in (None, req.method):
                fault.times -= 1
                return fault
        return None

    def _budget(self, token: str | None) -> Budget:
        key = self.budget_key(token)
        now = int(time.time())
        budget = self.budgets.get(key)
        if budget is None or now >= budget.reset:
            budget = Budget(self.rate_limit, self.rate_limit, now + self.window_s)
            self.budgets[key] = budget
        return budget

    def _spent(self, token: str | None) -> bool:
        return self._budget(token).remaining <= 0

    def rate_headers(self, token: str | None) -> dict[str, str]:
        with self.lock:
            budget = self._budget(token)
            return {"X-RateLimit-Limit": str(budget.limit), "X-RateLimit-Remaining": str(budget.remaining),
                    "X-RateLimit-Reset": str(budget.reset),
                    "X-RateLimit-Used": str(budget.limit - budget.remaining),
                    "X-RateLimit-Resource": "core"}

    def _primary_limit(self, token: str | None) -> Answer:
        return Answer(403, {"message": PRIMARY_MESSAGE,
                            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"},
                      counted=False)

    def _fault_answer(self, req: Request, fault: Fault) -> Answer:
        if fault.kind == "transient":
            return Answer(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                          {"Content-Type": "text/html"}, counted=False)
        if fault.kind == "primary":
            with self.lock:
                budget = self._budget(req.token)
                budget.remaining = 0
                budget.reset = int(time.time()) + fault.reset_in
            return self._primary_limit(req.token)
        if fault.kind in ("secondary", "secondary429"):
            return Answer(403 if fault.kind == "secondary" else 429,
                          {"message": SECONDARY_MESSAGE,
                           "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"},
                          {"Retry-After": str(fault.retry_after)}, counted=False)
        return Answer(fault.status, {"message": f"injected {fault.status}"})

    def finish(self, req: Request, answer: Answer) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body as sent: URL rewrite, ETag/304, budget and the log entry."""
        body = answer.encoded().replace(API.encode(), self.url.encode())
        headers = {"Content-Type": "application/json; charset=utf-8", **answer.headers}
        status = answer.status
        counted = answer.counted
        if req.method == "GET" and status == 200:
            etag = 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            headers["ETag"] = etag
            if etag in (req.headers.get("if-none-match") or "").replace(", ", ",").split(","):
                status, body, counted = 304, b"", False
        with self.lock:
            if counted:
                self._budget(req.token).remaining -= 1
            if answer.headers.get("X-RateLimit-Resource") != "graphql":  # GraphQL has a budget of its own
                headers.update(self.rate_headers(req.token))
            if status in (403, 429) and "Retry-After" not in headers and self._spent(req.token):
                headers["X-RateLimit-Remaining"] = "0"
            query = urlencode(sorted(req.query.items()))
            if req.method == "POST" and req.path.endswith("/graphql"):  # queries differ by their body
                query = "body=" + hashlib.sha256(req.body).hexdigest()[:16]
            self.served.append(Served(req.method, req.path, query, status, req.token, counted,
                                      time.monotonic()))
        return status, headers, body


class _RequestHandler(BaseHTTPRequestHandler):
    server_fake: FakeGitHub
    protocol_version = "HTTP/1.1"
    timeout = 30

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as separate writes; without TCP_NODELAY, Nagle's algorithm holds the body
        # until the client's delayed ACK (~40 ms per request on loopback).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        pass  # tests read the request log instead

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        auth = self.headers.get("Authorization") or ""
        token = auth.split(" ", 1)[1].strip() if " " in auth else None
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        req = Request(self.command, parts.path.rstrip("/") or "/", query,
                      {k.lower(): v for k, v in self.headers.items()}, body, token=token)
        fake = self.server_fake
        try:
            answer = fake.handle(req)
        except Exception as exc:  # noqa: BLE001 - a bug in a fake route must show up as a 500, not a hang
            answer = Answer(500, {"message": f"fake github: {type(exc).__name__}: {exc}"})
        status, headers, payload = fake.finish(req, answer)
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload and self.command != "HEAD":
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away (a test killed it): nothing to answer

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve


# --- helpers for routes ------------------------------------------------------------------------------

def paginate(fake: FakeGitHub, req: Request, items: Sequence[Any], *, wrap: str | None = None,
             total: int | None = None, cap: int | None = None) -> Answer:
    """Page-number pagination with a ``Link`` header, as most list endpoints do."""
    per_page = max(1, min(req.int_param("per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE))
    page = max(1, req.int_param("page", 1))
    reachable = list(items if cap is None else items[:cap])
    last = max(1, -(-len(reachable) // per_page))
    chunk = reachable[(page - 1) * per_page: page * per_page]
    links = []
    if page < last:
        links.append(f'<{fake.link(req.path, req.query, page=page + 1, per_page=per_page)}>; rel="next"')
        links.append(f'<{fake.link(req.path, req.query, page=last, per_page=per_page)}>; rel="last"')
    if page > 1:
        links.append(f'<{fake.link(req.path, req.query, page=1, per_page=per_page)}>; rel="first"')
        links.append(f'<{fake.link(req.path, req.query, page=page - 1, per_page=per_page)}>; rel="prev"')
    headers = {"Link": ", ".join(links)} if links else {}
    body: Any = chunk if wrap is None else {"total_count": len(items) if total is None else total,
                                            wrap: chunk}
    return Answer(200, body, headers)


def cursor_page(fake: FakeGitHub, req: Request, items: Sequence[Any], *, param: str = "after") -> Answer:
    """Cursor pagination (``after=``/``cursor=``), as the activity and delivery-log endpoints do."""
    per_page = max(1, min(req.int_param("per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE))
    start = 0
    token = req.query.get(param)
    if token:
        try:
            start = int(token.removeprefix("v1_"))
        except ValueError:
            return Answer(422, {"message": f"invalid {param} cursor"})
    chunk = list(items[start:start + per_page])
    headers = {}
    if start + per_page < len(items):
        next_query = {k: v for k, v in req.query.items() if k != param}
        following = fake.link(req.path, next_query, **{param: f"v1_{start + per_page}"})
        headers["Link"] = f'<{following}>; rel="next"'
    return Answer(200, chunk, headers)
