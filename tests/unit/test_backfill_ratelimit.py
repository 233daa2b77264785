"""Rate-limit rules (GitHub's documented headers) and the token pool, on a fake clock."""

import pytest

from backfill.ratelimit import BudgetExhausted, Quota, TokenPool, classify

pytestmark = pytest.mark.unit
NOW = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_quota_from_headers():
    quota = Quota.from_headers({"X-RateLimit-Limit": "5000", "x-ratelimit-remaining": "12",
                                "X-RateLimit-Reset": str(int(NOW) + 60), "X-RateLimit-Used": "4988"})
    assert (quota.limit, quota.remaining, quota.reset, quota.used) == (5000, 12, NOW + 60, 4988)
    assert Quota.from_headers({}) == Quota()


@pytest.mark.parametrize(("status", "headers", "body", "attempt", "kind", "wait"), [
    (200, {}, "[]", 0, "ok", 0),
    (304, {}, "", 0, "not_modified", 0),
    (403, {"Retry-After": "7"}, '{"message": "You have exceeded a secondary rate limit."}', 0,
     "rate_limited", 7),
    (429, {"retry-after": "3"}, "", 0, "rate_limited", 3),
    (403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + 120)},
     '{"message": "API rate limit exceeded for user ID 1."}', 0, "rate_limited", 121),
    (403, {}, '{"message": "You have exceeded a secondary rate limit."}', 0, "rate_limited", 60),
    (403, {}, '{"message": "You have exceeded a secondary rate limit."}', 2, "rate_limited", 240),
    (429, {}, "", 0, "rate_limited", 60),
    (502, {}, "<html>", 0, "retry", 0.5),
    (503, {}, "", 3, "retry", 4.0),
    (404, {}, '{"message": "Not Found"}', 0, "fail", 0),
    (403, {"X-RateLimit-Remaining": "4000"},
     '{"message": "Resource protected by organization SAML enforcement."}',
     0, "fail", 0),
])
def test_classify(status, headers, body, attempt, kind, wait):
    verdict = classify(status, headers, body, attempt, now=NOW)
    assert (verdict.kind, verdict.wait_s) == (kind, wait)
    assert verdict.retriable == (kind in ("rate_limited", "retry"))


def test_a_token_at_its_reserve_waits_for_the_reset():
    clock = Clock()
    pool = TokenPool(["t"], reserve=10, max_wait_s=600, clock=clock, sleep=clock.sleep)
    budget = pool.acquire()
    budget.observe(Quota(5000, 10, NOW + 100))
    assert pool.acquire() is budget
    assert clock.slept == [101.0] and pool.waits == [(101.0, "reserve reached")]


def test_a_wait_longer_than_allowed_stops_the_run():
    clock = Clock()
    pool = TokenPool(["t"], reserve=10, max_wait_s=30, clock=clock, sleep=clock.sleep)
    pool.acquire().observe(Quota(5000, 3, NOW + 3600))
    with pytest.raises(BudgetExhausted) as stopped:
        pool.acquire()
    assert stopped.value.retriable and stopped.value.resume_at == pytest.approx(NOW + 3601)
    assert clock.slept == []


def test_the_token_with_budget_goes_next_and_holds_a_request_until_its_answer():
    clock = Clock()
    pool = TokenPool(["a", "b"], reserve=5, clock=clock, sleep=clock.sleep)
    a, b = pool.budgets
    a.observe(Quota(5000, 6, NOW + 3600))
    b.observe(Quota(5000, 400, NOW + 3600))
    assert pool.acquire() is b and (b.remaining, b.in_flight, b.available()) == (400, 1, 399)
    pool.answered(b, Quota(5000, 5, NOW + 3600))
    assert pool.acquire() is a and a.available() == 5  # the last one above the reserve, taken at once
    assert clock.slept == []
    assert pool.others_free(a) is False


def test_304s_cost_nothing_the_budget_is_what_github_says():
    """A re-run of conditional requests: GitHub keeps saying 4,969 and so does the pool."""
    clock = Clock()
    pool = TokenPool(["t"], reserve=500, clock=clock, sleep=clock.sleep)
    for _ in range(40):
        budget = pool.acquire()
        pool.answered(budget, Quota(5000, 4969, NOW + 3600))  # a 304: remaining unchanged
    assert pool.remaining() == 4969 and pool.budgets[0].in_flight == 0
    budget = pool.acquire()
    pool.unanswered(budget)  # no answer: nothing spent, nothing held
    assert pool.budgets[0].available() == 4969


def test_requests_in_flight_hold_the_last_budget_above_the_reserve():
    """Concurrent threads cannot all take the last request above the reserve; the answer frees it."""
    clock = Clock()
    pool = TokenPool(["t"], reserve=10, max_wait_s=0, clock=clock, sleep=clock.sleep)
    budget = pool.budgets[0]
    budget.observe(Quota(5000, 11, NOW + 3600))
    assert pool.acquire() is budget and budget.available() == 10
    polls = []

    def answer_arrives(seconds: float) -> None:  # another thread's answer (a 304) comes while this one polls
        polls.append(seconds)
        pool.answered(budget, Quota(5000, 11, NOW + 3600))

    pool.sleep = answer_arrives
    assert pool.acquire() is budget and len(polls) == 1 and polls[0] < 1
    assert pool.waits == []  # a short poll, not a rate-limit wait (max_wait_s=0 would have stopped the run)


def test_a_blocked_token_is_skipped_and_the_rate_cap_spaces_requests():
    clock = Clock()
    pool = TokenPool(["a", "b"], reserve=0, max_rate=10, clock=clock, sleep=clock.sleep)
    a, b = pool.budgets
    pool.block(a, 30)
    assert pool.acquire() is b
    assert pool.acquire() is b and clock.slept == [pytest.approx(0.1)]


def test_an_older_answer_does_not_give_back_spent_budget():
    pool = TokenPool(["t"], reserve=0)
    budget = pool.budgets[0]
    budget.observe(Quota(5000, 20, NOW + 60))
    budget.observe(Quota(5000, 21, NOW + 60))  # answered later, sent earlier
    assert budget.remaining == 20
    budget.observe(Quota(5000, 5000, NOW + 3660))  # a new window
    assert budget.remaining == 5000


def test_graphql_points_are_spread_under_the_points_per_minute_limit():
    clock = Clock()
    pool = TokenPool(["t"], reserve=0, max_rate=15, clock=clock, sleep=clock.sleep)
    budget = pool.acquire()
    pool.answered(budget, Quota(5000, 4900, NOW + 3600))
    pool.spread(budget, 100, per_minute=2000)  # 100 points: the next query waits 3 s
    assert pool.acquire() is budget and clock.slept == [pytest.approx(3.0)]
    assert pool.waits == []  # pacing, not a rate-limit wait
    unpaced = TokenPool(["t"], reserve=0, max_rate=0, clock=clock, sleep=clock.sleep)
    unpaced.spread(unpaced.acquire(), 100, per_minute=2000)
    assert unpaced.budgets[0].paced_until == 0.0  # --max-rate 0: no cap of any kind
