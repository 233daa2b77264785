"""Rate-limit budget: what GitHub's headers say, what to do about an answer, and which token to use next.

Rules from https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api:

- ``retry-after`` present (403 or 429): wait that many seconds;
- ``x-ratelimit-remaining: 0`` (403 or 429): the primary limit; wait until ``x-ratelimit-reset``;
- otherwise a 403/429 about a secondary limit: wait at least a minute, exponentially longer if it repeats;
- 5xx: transient, retry with exponential backoff.

Every wait is bounded by ``max_wait_s``; a longer one raises :class:`BudgetExhausted` (retriable), so the run
stops with its cursors saved and can be resumed after the reset. A reserve of the primary budget is kept
for live use (the webhook reconciler, people): a token at or below its reserve is not used until it resets.
Requests per token are spaced to stay under the secondary limit's rate (``max_rate`` per second).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pillarstream.errors import GitHubAPIError

SECONDARY_MIN_WAIT_S = 60.0
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
IN_FLIGHT_POLL_S = 0.05  # a token whose budget is all in flight is looked at again this soon


class BudgetExhausted(GitHubAPIError):
    """Every token is at its reserve (or told to wait) for longer than the run may wait."""

    def __init__(self, message: str, resume_at: float) -> None:
        super().__init__(message, retriable=True, status=403)
        self.resume_at = resume_at


@dataclass(frozen=True, slots=True)
class Quota:
    """The ``x-ratelimit-*`` headers of one answer (``None`` where absent)."""

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None  # epoch seconds
    used: int | None = None
    resource: str | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Quota:
        lower = {k.lower(): v for k, v in headers.items()}

        def number(name: str) -> int | None:
            try:
                return int(lower[name])
            except (KeyError, ValueError):
                return None

        reset = number("x-ratelimit-reset")
        return cls(number("x-ratelimit-limit"), number("x-ratelimit-remaining"),
                   float(reset) if reset is not None else None, number("x-ratelimit-used"),
                   lower.get("x-ratelimit-resource"))


Kind = Literal["ok", "not_modified", "retry", "rate_limited", "fail"]


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: Kind
    wait_s: float = 0.0
    reason: str = ""
    retriable: bool = False


def classify(status: int, headers: Mapping[str, str], body: str, attempt: int, *, now: float) -> Verdict:
    """What to do with one answer. ``attempt`` counts from 0 for this request. Pure."""
    if 200 <= status < 300:
        return Verdict("ok")
    if status == 304:
        return Verdict("not_modified")
    lower = {k.lower(): v for k, v in headers.items()}
    if status in (403, 429):
        retry_after = lower.get("retry-after")
        if retry_after is not None:
            try:
                return Verdict("rate_limited", max(0.0, float(retry_after)), "secondary (Retry-After)", True)
            except ValueError:
                pass
        quota = Quota.from_headers(headers)
        if quota.remaining == 0 and quota.reset is not None:
            return Verdict("rate_limited", max(1.0, quota.reset - now + 1.0), "primary (remaining 0)", True)
        message = _message(body).lower()
        if status == 429 or "secondary rate limit" in message or "rate limit" in message:
            return Verdict("rate_limited", SECONDARY_MIN_WAIT_S * 2 ** min(attempt, 4), "secondary", True)
        return Verdict("fail", reason=f"forbidden: {_message(body)}")
    if status in TRANSIENT_STATUSES:
        return Verdict("retry", min(30.0, 0.5 * 2 ** attempt), f"transient {status}", True)
    return Verdict("fail", reason=f"{status}: {_message(body)}", retriable=False)


def _message(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200]
    return str(data.get("message", ""))[:200] if isinstance(data, dict) else body[:200]


@dataclass
class TokenBudget:
    """One credential's view of its primary budget: what GitHub's last answers said, and the requests sent
    and not answered yet."""

    token: object = field(repr=False)  # a token string or a PyGithub Auth (an App installation)
    name: str  # safe to log: "token 1", "app 1 installation 2", never the secret
    limit: int | None = None
    remaining: int | None = None  # as GitHub's headers said (a 304 leaves it where it was)
    reset: float | None = None
    in_flight: int = 0  # sent, not answered: they may cost one each, so they count against the reserve
    blocked_until: float = 0.0  # set by Retry-After / a primary limit
    last_request: float = 0.0
    paced_until: float = 0.0  # GraphQL: points spent, spread to stay under the points-per-minute limit

    def observe(self, quota: Quota) -> None:
        """Take an answer's figures. Answers to concurrent requests arrive in any order, and within one
        reset window the remaining budget only falls: keep the lowest, or an older answer would give back
        requests that are already spent. A new window replaces the figure."""
        same_window = quota.reset is not None and quota.reset == self.reset
        if quota.remaining is not None:
            known = self.remaining if same_window and self.remaining is not None else None
            self.remaining = quota.remaining if known is None else min(known, quota.remaining)
        if quota.limit is not None:
            self.limit = quota.limit
        if quota.reset is not None:
            self.reset = quota.reset

    def available(self) -> int | None:
        """Budget left once every request in flight has cost one (None: unknown until an answer)."""
        return None if self.remaining is None else self.remaining - self.in_flight

    def usable_at(self, reserve: int, now: float) -> float:
        """Earliest time this token may be used (``now`` when it may be used at once)."""
        at = max(now, self.blocked_until)
        left = self.available()
        if left is not None and left <= reserve:
            if self.reset is None or self.reset <= now:
                self.remaining = None  # the window passed: unknown until the next answer
            elif self.remaining is not None and self.remaining <= reserve:
                at = max(at, self.reset + 1.0)
            else:
                at = max(at, now + IN_FLIGHT_POLL_S)  # budget is there once answers in flight come back
        return at

    def pace_s(self, min_interval_s: float, now: float) -> float:
        """Wait needed to keep at most one request per ``min_interval_s`` on this token."""
        spacing = max(0.0, self.last_request + min_interval_s - now) if min_interval_s > 0 else 0.0
        return max(spacing, self.paced_until - now)


class TokenPool:
    """Several tokens share the work; the one with the most budget above the reserve goes next.

    The budget follows GitHub's headers: a request is held against the reserve while it is in flight
    (concurrent threads cannot all take the last request above it) and given back when its answer comes,
    whose ``x-ratelimit-remaining`` then says what it cost -- nothing for a 304.
    """

    def __init__(self, tokens: Sequence[object], *, names: Sequence[str] | None = None, reserve: int = 500,
                 max_wait_s: float = 900.0, max_rate: float = 0.0, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not tokens:
            raise ValueError("at least one token")
        labels = list(names) if names is not None else [f"token {i + 1}" for i in range(len(tokens))]
        self.budgets = [TokenBudget(t, label) for t, label in zip(tokens, labels, strict=True)]
        self.reserve = reserve
        # GitHub's secondary limit for REST is 900 points a minute (a GET is one point): 15 requests a second.
        self.min_interval_s = 1.0 / max_rate if max_rate > 0 else 0.0
        self.max_wait_s = max_wait_s
        self.clock = clock
        self.sleep = sleep
        self.waited_s = 0.0
        self.waits: list[tuple[float, str]] = []  # (seconds, reason), for the run summary and tests
        self._lock = threading.Lock()

    def sibling(self) -> TokenPool:
        """A pool over the same credentials for another budget (GraphQL points are counted apart from REST
        requests), with the same reserve and waits; waits are added up on this pool."""
        other = TokenPool([b.token for b in self.budgets], names=[b.name for b in self.budgets],
                          reserve=self.reserve, max_wait_s=self.max_wait_s, clock=self.clock, sleep=self.sleep)
        other.min_interval_s = self.min_interval_s
        other.waits = self.waits
        return other

    def acquire(self) -> TokenBudget:
        """A token to use now, after waiting (bounded) if every token is blocked or at its reserve. Pair it
        with :meth:`answered` (or :meth:`unanswered`) once the request is done."""
        while True:
            with self._lock:
                now = self.clock()
                best = min(self.budgets, key=lambda b: (max(b.usable_at(self.reserve, now),
                                                            now + b.pace_s(self.min_interval_s, now)),
                                                        -(b.available() or 10**9)))
                wait = best.usable_at(self.reserve, now) - now
                pace = best.pace_s(self.min_interval_s, now)
                in_flight_only = (best.remaining is not None and best.remaining > self.reserve
                                  and best.blocked_until <= now)
                if wait <= 0:
                    best.in_flight += 1
                    best.last_request = now + pace
            if wait <= 0:
                break
            if in_flight_only:
                self.sleep(wait)  # answers in flight give budget back: a short poll, not a rate-limit wait
            else:
                self.wait(wait, "reserve reached", best)
        if pace > 0:
            self.sleep(pace)  # the rate cap: short by construction, not a rate-limit wait
        return best

    def answered(self, budget: TokenBudget, quota: Quota) -> None:
        """The answer to a request made with ``budget`` came: its headers set the budget."""
        with self._lock:
            budget.in_flight = max(0, budget.in_flight - 1)
            budget.observe(quota)

    def spread(self, budget: TokenBudget, points: int, per_minute: float) -> None:
        """Points just spent on ``budget`` push its next request back so that it stays under ``per_minute``
        (GitHub's secondary limit for GraphQL is 2,000 points a minute). Off when the pool has no rate cap."""
        if self.min_interval_s > 0 and points > 0:
            with self._lock:
                budget.paced_until = max(budget.paced_until, self.clock()) + points * 60.0 / per_minute

    def unanswered(self, budget: TokenBudget) -> None:
        """The request got no answer (connection failed): it cost nothing."""
        with self._lock:
            budget.in_flight = max(0, budget.in_flight - 1)

    def wait(self, seconds: float, reason: str, budget: TokenBudget | None = None) -> None:
        if seconds > self.max_wait_s:
            raise BudgetExhausted(
                f"GitHub asks to wait {seconds:.0f}s ({reason}), longer than the {self.max_wait_s:.0f}s "
                "allowed; "
                "cursors are saved, re-run after the reset", self.clock() + seconds)
        with self._lock:
            self.waited_s += seconds
            self.waits.append((seconds, reason))
        self.sleep(seconds)

    def block(self, budget: TokenBudget, seconds: float) -> None:
        with self._lock:
            budget.blocked_until = max(budget.blocked_until, self.clock() + seconds)

    def others_free(self, budget: TokenBudget) -> bool:
        """Another token could be used right away (a rate-limited request then switches, not waits)."""
        with self._lock:
            now = self.clock()
            return any(b is not budget and b.usable_at(self.reserve, now) <= now for b in self.budgets)

    def remaining(self) -> int | None:
        """What GitHub last said is left, summed over the tokens."""
        known = [b.remaining for b in self.budgets if b.remaining is not None]
        return sum(known) if known else None
