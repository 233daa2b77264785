"""The PyGithub adapter: one GET of one page, with its raw body and headers, within the rate-limit budget.

PyGithub's typed objects and ``PaginatedList`` hide what a resumable backfill needs: page boundaries, the raw
bytes (archived before anything is published), ``ETag``/``304`` and the rate-limit headers of each answer.
So pages are fetched through ``Github.requester`` -- PyGithub's documented way to call any endpoint -- and
PyGithub still provides the base URL (GitHub Enterprise Server), authentication, connection pooling and
its urllib3 retry, configured here so it never sleeps unbounded: it retries only connection errors and
transient 5xx a few times with capped backoff; rate limits come back to :func:`ratelimit.classify`.
Library errors become :class:`GitHubAPIError` here and nowhere else.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import requests
import urllib3
from github import Auth, Github, GithubException
from urllib3.util.retry import Retry

from adapters.github_client import make_github, unreachable
from backfill.ratelimit import Quota, TokenBudget, TokenPool, classify
from pillarstream.envelope import parse_time
from pillarstream.errors import GitHubAPIError, GitHubUnreachable

log = logging.getLogger(__name__)
Json = dict[str, Any]
_LINK = re.compile(r'<([^>]+)>;\s*rel="([a-z]+)"')
KEPT_HEADERS = ("etag", "link", "last-modified", "x-ratelimit-limit", "x-ratelimit-remaining",
                "x-ratelimit-reset",
                "x-ratelimit-used", "x-ratelimit-resource", "x-github-request-id", "date")
MAX_ATTEMPTS = 8
GRAPHQL_POINTS_PER_MINUTE = 2000  # GitHub's secondary limit for the GraphQL endpoint


@dataclass(frozen=True)
class Page:
    """One answer: the raw body as GitHub sent it, and what the backfill needs from the headers."""

    url: str  # the request, query included
    status: int
    body: str
    headers: dict[str, str]
    fetched_at: datetime
    archived_as: str | None = None

    @property
    def data(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    def link(self, rel: str = "next") -> str | None:
        for url, name in _LINK.findall(self.headers.get("link", "")):
            if name == rel:
                return str(url)
        return None

    def items(self, key: str | None = None) -> list[Any]:
        data = self.data
        if key is not None:
            data = data.get(key) if isinstance(data, dict) else None
        return data if isinstance(data, list) else []


def request_url(url: str, params: Mapping[str, Any] | None) -> str:
    """The canonical request: path (or absolute URL from a Link header) plus sorted query."""
    if not params:
        return url
    query = urlencode(sorted((k, str(v)) for k, v in params.items() if v is not None))
    return f"{url}{'&' if '?' in url else '?'}{query}"


@dataclass
class Stats:
    requests: int = 0  # every request sent (urllib3's own transient retries not included)
    counted: int = 0  # answers that spend primary budget (not 304, not rate-limit refusals)
    not_modified: int = 0
    retries: int = 0
    graphql_calls: int = 0  # GraphQL queries answered (not rate-limit refusals or timeouts)
    graphql_points: int = 0  # their cost, as GitHub's rateLimit.cost said
    by_resource: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, resource: str, status: int, counted: bool) -> None:
        with self._lock:
            self.requests += 1
            if counted:
                self.counted += 1
                self.by_resource[resource] = self.by_resource.get(resource, 0) + 1
            if status == 304:
                self.not_modified += 1


def make_retry() -> Retry:
    """Transport-level retry: 502/503/504 and dropped connections, never longer than 4 s; a connection
    that cannot be made is not retried (an unreachable GitHub fails fast)."""
    return Retry(total=3, connect=0, read=2, status=2, backoff_factor=0.25, backoff_max=4.0,
                 status_forcelist=(502, 503, 504), allowed_methods=frozenset({"GET"}),
                 respect_retry_after_header=False, raise_on_status=False)


class GraphQLTooLarge(GitHubAPIError):
    """GitHub gave up on a query (its 10-second timeout, a 502/504): ask again for a smaller page."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message, retriable=True, status=status)


class GitHubApi:
    """GETs pages and runs GraphQL queries with any of several tokens. Thread-safe: each thread keeps its
    own PyGithub clients. REST requests and GraphQL points are separate budgets (``pool`` and
    ``graphql_pool``, over the same credentials)."""

    def __init__(self, api_url: str, pool: TokenPool, *, timeout_s: int = 30, pace_s: float = 0.0,
                 stats: Stats | None = None, graphql_pool: TokenPool | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.pool = pool
        self.graphql_pool = graphql_pool or pool.sibling()
        self.timeout_s = timeout_s
        self.pace_s = pace_s
        self.stats = stats or Stats()
        self._local = threading.local()

    def _client(self, budget: TokenBudget) -> Github:
        clients: dict[str, Github] = self._local.__dict__.setdefault("clients", {})
        client = clients.get(budget.name)
        if client is None:
            auth = budget.token if isinstance(budget.token, Auth.Auth) else Auth.Token(str(budget.token))
            client = make_github(self.api_url, auth, timeout=self.timeout_s, retry=make_retry(),
                                 pace_s=self.pace_s or None)
            clients[budget.name] = client
        return client

    def get(self, url: str, params: Mapping[str, Any] | None = None, *, etag: str | None = None,
            resource: str = "other") -> Page:
        """One page. 200 and 304 come back as a :class:`Page`; anything else raises GitHubAPIError."""
        target = request_url(url, params)
        headers = {"Accept": "application/vnd.github+json"}
        if etag:
            headers["If-None-Match"] = etag
        failure: GitHubAPIError | None = None
        last = "no answer"
        for attempt in range(MAX_ATTEMPTS):
            budget = self.pool.acquire()
            try:
                status, answer_headers, body = self._send(budget, target, headers)
            except GitHubAPIError as exc:
                self.pool.unanswered(budget)
                if not isinstance(exc, GitHubUnreachable) or exc.refused:
                    raise  # nothing listens there: no wait will change that
                failure = exc
                self.stats.retries += 1
                log.debug("github did not answer", extra={"url": target, "error": str(exc), "attempt": attempt})
                self.pool.wait(min(30.0, 0.5 * 2 ** attempt), "no answer", budget)
                continue
            quota = Quota.from_headers(answer_headers)
            self.pool.answered(budget, quota)
            verdict = classify(status, answer_headers, body, attempt, now=self.pool.clock())
            self.stats.record(resource, status, verdict.kind in ("ok", "fail"))
            log.debug("github answer", extra={"resource": resource, "url": target, "status": status,
                                              "remaining": quota.remaining, "attempt": attempt})
            if verdict.kind in ("ok", "not_modified"):
                kept = {k: v for k, v in answer_headers.items() if k in KEPT_HEADERS}
                return Page(target, status, body, kept, datetime.now(UTC))
            if verdict.kind == "fail":
                raise GitHubAPIError(f"GET {target}: {verdict.reason}", retriable=False, status=status)
            self.stats.retries += 1
            last = verdict.reason
            log.warning("github asks to wait", extra={
                "resource": resource, "url": target, "status": status, "reason": verdict.reason,
                "wait_s": round(verdict.wait_s, 1), "token": budget.name})
            if verdict.kind == "rate_limited":
                self.pool.block(budget, verdict.wait_s)
                if self.pool.others_free(budget):
                    continue  # another token takes over; this one rests until it may be used again
            self.pool.wait(verdict.wait_s, verdict.reason, budget)
        if failure is not None:
            raise failure
        raise GitHubAPIError(f"GET {self.api_url}{target if target.startswith('/') else ''}: gave up after "
                             f"{MAX_ATTEMPTS} attempts (last: {last})", retriable=True)

    def graphql(self, name: str, query: str, variables: Json, *, resource: str) -> GraphQLAnswer:
        """One GraphQL query through PyGithub's ``Requester.graphql_query`` (its auth, base URL -- GitHub
        Enterprise Server's ``/api/graphql`` -- and connections). Answers with data, even partial, come back;
        rate limits are waited for (bounded, like REST); a timeout or 502 raises :class:`GraphQLTooLarge`
        so the caller asks for a smaller page; errors without data raise GitHubAPIError."""
        target = f"POST /graphql {name} " + json.dumps(variables, sort_keys=True, separators=(",", ":"))
        pool = self.graphql_pool
        failure: GitHubAPIError | None = None
        for attempt in range(MAX_ATTEMPTS):
            budget = pool.acquire()
            try:
                status, headers, data = self._query(budget, query, variables)
            except GitHubAPIError as exc:
                pool.unanswered(budget)
                if not isinstance(exc, GitHubUnreachable) or exc.refused:
                    raise
                failure = exc
                pool.wait(min(30.0, 0.5 * 2 ** attempt), "no answer", budget)
                continue
            quota = Quota.from_headers(headers)
            limits = data.get("data") if isinstance(data, dict) else None  # PyGithub wraps a non-JSON body
            rate = (limits.get("rateLimit") if isinstance(limits, dict) else None) or {}
            if quota.remaining is None and rate.get("remaining") is not None:
                reset = parse_time(rate["resetAt"]).timestamp() if rate.get("resetAt") else None
                quota = Quota(rate.get("limit"), int(rate["remaining"]), reset)
            pool.answered(budget, quota)
            body = json.dumps(data, separators=(",", ":"), ensure_ascii=False) if data is not None else ""
            kept = {k: v for k, v in headers.items() if k in KEPT_HEADERS}
            answer = GraphQLAnswer(Page(target, status, body, kept, datetime.now(UTC)))
            log.debug("github graphql answer", extra={"resource": resource, "query": name, "status": status,
                                                      "cost": rate.get("cost"), "remaining": quota.remaining})
            if status == 200 and answer.rate_limited:
                wait = max(1.0, (quota.reset or pool.clock() + 60) - pool.clock() + 1.0)
                log.warning("github graphql rate limit", extra={"query": name, "wait_s": round(wait, 1),
                                                                "token": budget.name})
                pool.block(budget, wait)
                if pool.others_free(budget):
                    continue
                pool.wait(wait, "GraphQL points spent", budget)
                continue
            if status in (502, 504) or (status == 200 and answer.data is None and _timed_out(answer.errors)):
                raise GraphQLTooLarge(f"GraphQL {name}: GitHub gave up on the query ({status})", status)
            if status != 200:
                verdict = classify(status, headers, body, attempt, now=pool.clock())
                if verdict.kind in ("rate_limited", "retry"):
                    self.stats.retries += 1
                    if verdict.kind == "rate_limited":
                        pool.block(budget, verdict.wait_s)
                        if pool.others_free(budget):
                            continue
                    pool.wait(verdict.wait_s, verdict.reason, budget)
                    continue
                raise GitHubAPIError(f"GraphQL {name}: {verdict.reason}", retriable=False, status=status)
            if answer.data is None:
                messages = "; ".join(str(e.get("message")) for e in answer.errors) or "no data"
                raise GitHubAPIError(f"GraphQL {name}: {messages}", retriable=False, status=status)
            cost = int(rate.get("cost") or 0)
            pool.spread(budget, cost, GRAPHQL_POINTS_PER_MINUTE)
            with self.stats._lock:
                self.stats.graphql_calls += 1
                self.stats.graphql_points += cost
            return answer
        if failure is not None:
            raise failure
        raise GitHubAPIError(f"GraphQL {name} at {self.api_url}: gave up after {MAX_ATTEMPTS} attempts",
                             retriable=True)

    def _query(self, budget: TokenBudget, query: str, variables: Json) -> tuple[int, dict[str, str], Any]:
        requester = self._client(budget).requester
        try:
            headers, data = requester.graphql_query(query, variables)
            status = 200
        except GithubException as exc:
            data, headers = exc.data, dict(exc.headers or {})
            # graphql_query raises for an answer with "errors" (HTTP 200 from GitHub): keep it as one.
            status = 200 if isinstance(data, dict) and "errors" in data and exc.status in (400, 404) else exc.status
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise unreachable(exc, self.api_url) from exc
        return status, {k.lower(): str(v) for k, v in headers.items()}, data

    def _send(self, budget: TokenBudget, target: str,
              headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
        requester = self._client(budget).requester
        try:
            status, answer_headers, body = requester.requestJson("GET", target, None, headers)
        except GithubException as exc:  # minting an App installation token failed
            raise GitHubAPIError(f"GitHub App installation token: GitHub answered {exc.status}: {exc.data}",
                                 retriable=exc.status in (429, 500, 502, 503, 504), status=exc.status) from exc
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            # No answer even after urllib3's quick retries: refused fails the run, a dropped one backs off.
            raise unreachable(exc, self.api_url) from exc
        return status, {k.lower(): v for k, v in answer_headers.items()}, body


def _timed_out(errors: list[Json]) -> bool:
    return any("timeout" in str(e.get("message", "")).lower() for e in errors)


class GraphQLAnswer:
    """One GraphQL answer, classified. ``page`` keeps the raw answer for the archive."""

    def __init__(self, page: Page) -> None:
        self.page = page
        data = page.data if page.body else None
        self.data: Any = data.get("data") if isinstance(data, dict) else None
        self.errors: list[Json] = list(data.get("errors") or []) if isinstance(data, dict) else []

    @property
    def rate_limited(self) -> bool:
        return any(e.get("type") == "RATE_LIMITED" for e in self.errors)

    def missing(self) -> list[list[Any]]:
        """Paths of fields that came back null with an error (a partial result)."""
        return [list(e["path"]) for e in self.errors if e.get("path")]

