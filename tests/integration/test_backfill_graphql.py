"""GraphQL's limits, handled: queries GitHub would reject fail, points follow GitHub's formula and headers,
timeouts and 502s shrink the page (and it grows back), partial answers are completed, rate-limit errors
(HTTP 200 with errors) are waited out or stop the run with its cursors saved. Every run ends with exactly
the deliveries of a REST-only backfill of the same history."""

from __future__ import annotations

import time

import pytest
from github import Auth

from backfill import graphql_queries as gq
from backfill.cursors import MemoryCursorStore
from backfill.github_api import GitHubApi
from backfill.ratelimit import BudgetExhausted, TokenPool
from pillarstream.errors import GitHubAPIError
from tests.fake_github.graphql_api import Points
from tests.fake_github.harness import TOKEN, backfill_in_process
from tests.fake_github.history import rest_state
from tests.fake_github.server import FakeGitHub
from tests.fake_github.synthetic import synthetic_history

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def state():
    return rest_state(synthetic_history(repos=2, pulls=120))


@pytest.fixture(scope="module")
def rest_ids(state, tmp_path_factory) -> set[str]:
    with FakeGitHub(state) as fake:
        return {e.delivery_id for e in backfill_in_process(fake, tmp_path_factory.mktemp("rest"), graphql=False)}


def api(fake: FakeGitHub, **kw) -> GitHubApi:
    return GitHubApi(fake.url, TokenPool([Auth.Token(TOKEN)], reserve=0, **kw))


def test_queries_are_checked_against_githubs_schema_and_charged_by_its_formula(state):
    with FakeGitHub(state) as fake:
        client = api(fake)
        with pytest.raises(GitHubAPIError, match="Cannot query field 'additionz' on type 'PullRequest'") as bad:
            client.graphql("Bad", gq.PULL_REQUESTS.replace("additions", "additionz"),
                           {"owner": "acme", "name": "svc-00", "first": 10, "after": None}, resource="pulls")
        assert not bad.value.retriable
        with pytest.raises(GitHubAPIError, match="must provide a `first` or `last`"):
            client.graphql("Unbounded", "query { repository(owner: \"acme\", name: \"svc-00\") "
                                        "{ pullRequests { totalCount } } }", {}, resource="pulls")
        answer = client.graphql("PullRequests", gq.PULL_REQUESTS,
                                {"owner": "acme", "name": "svc-00", "first": 100, "after": None}, resource="pulls")
    # One connection for the page, then per pull request: commits, check suites, 5 x check runs, timeline:
    # (1 + 100 x 8) / 100 = 8 points, as GitHub's documented calculation gives.
    assert answer.data["rateLimit"]["cost"] == 8
    assert len(answer.data["repository"]["pullRequests"]["nodes"]) == 100
    assert client.graphql_pool.remaining() == answer.data["rateLimit"]["remaining"] == 5000 - 8
    assert client.pool.remaining() is None  # REST's budget is another one


def test_timeouts_and_502s_shrink_the_page_which_grows_back(state, rest_ids, tmp_path):
    with FakeGitHub(state) as fake:
        fake.graphql.timeout_nodes = 40 * 147  # a page of over 40 pull requests "takes over 10 s"
        fake.inject(r"^/graphql$", "transient", times=3, method="POST")  # and a few plain 502s
        got = {e.delivery_id for e in backfill_in_process(fake, tmp_path)}
        sizes = [nodes // 147 for status, _, nodes in fake.graphql.log if nodes % 147 == 0]
        statuses = [status for status, _, nodes in fake.graphql.log if nodes % 147 == 0]
        bad_gateways = len(fake.requests(r"^/graphql$")) - len(fake.graphql.log)
    assert got == rest_ids  # nothing dropped
    assert bad_gateways == 3  # the injected ones, each answered by asking for half the page
    assert 502 in statuses  # and the pages the fake timed out on
    assert max(s for s, st in zip(sizes, statuses, strict=True) if st == 200) <= 40
    assert any(b > a for a, b in zip(sizes, sizes[1:], strict=False)), sizes  # grew back after good pages


def test_a_partial_answer_is_completed_not_kept_with_a_hole(state, rest_ids, tmp_path):
    with FakeGitHub(state) as fake:
        fake.graphql.partial = ["checkSuites", "timelineItems", "pullRequests"]
        got = {e.delivery_id for e in backfill_in_process(fake, tmp_path)}
        asked = fake.counts()
        queries = len(fake.graphql.log)
    with FakeGitHub(state) as fake:
        backfill_in_process(fake, tmp_path / "clean")
        clean = len(fake.graphql.log)
    assert got == rest_ids
    assert sum(n for k, n in asked.items() if k.endswith("/check-runs")) == 1  # only the commit with a hole
    assert queries == clean + 2  # the pages whose pull request or list came back null, asked again


def test_a_rate_limit_error_is_waited_out_or_stops_the_run_with_cursors_saved(state, rest_ids, tmp_path):
    with FakeGitHub(state) as fake:
        fake.graphql.budgets[TOKEN] = Points(5000, 3, int(time.time()) + 2)  # less than one page costs
        started = time.monotonic()
        got = {e.delivery_id for e in backfill_in_process(fake, tmp_path / "a")}
        waited = time.monotonic() - started
        refused = [entry for entry in fake.graphql.log if entry[1] == 0 and entry[0] == 200]
    assert got == rest_ids and refused and waited >= 1.5

    with FakeGitHub(state) as fake:
        fake.graphql.budgets[TOKEN] = Points(5000, 3, int(time.time()) + 3600)
        cursors = MemoryCursorStore()
        pool = TokenPool([TOKEN], reserve=0, max_wait_s=5)
        with pytest.raises(BudgetExhausted, match="re-run after the reset"):
            backfill_in_process(fake, tmp_path / "b", cursors=cursors, pool=pool)
        assert any(c.state for c in cursors.rows.values())  # stopped half-way, state saved
        fake.graphql.budgets[TOKEN] = Points(5000, 5000, int(time.time()) + 3600)
        second = backfill_in_process(fake, tmp_path / "b", cursors=cursors)
    assert {e.delivery_id for e in second} <= rest_ids


def test_deployment_statuses_past_the_page_or_with_an_error_are_asked_for_that_deployment_only(tmp_path):
    state = rest_state(synthetic_history(repos=1, pulls=60))
    repo = next(iter(state.repos.values()))
    busy = repo.deployments[1]  # more statuses than the batch query's first page holds
    first = repo.statuses[busy["id"]][-1]
    repo.statuses[busy["id"]] += [{**first, "id": 10_000_000 + i, "node_id": f"DES_{10_000_000 + i}",
                                   "created_at": first["created_at"].replace("Z", f".{i:03d}Z")[:19] + "Z",
                                   "state": "inactive"} for i in range(gq.STATUSES + 5)]
    with FakeGitHub(state) as fake:
        rest = backfill_in_process(fake, tmp_path / "rest", graphql=False)
    with FakeGitHub(state) as fake:
        # the first deployment's statuses come back null, with an error
        fake.graphql.partial = ["DeploymentStatuses:statuses"]
        got = backfill_in_process(fake, tmp_path / "graphql")
        operations = fake.graphql.operations
        rest_statuses = fake.requests(r"/statuses$")
    wanted = [e for e in rest if e.event == "deployment_status"]
    assert len(wanted) > gq.STATUSES + 5
    assert sorted(e.delivery_id for e in got) == sorted(e.delivery_id for e in rest)  # nothing lost or doubled
    assert operations["DeploymentStatuses"] == 1 and not rest_statuses  # one query for the page of deployments
    assert operations["MoreStatuses"] == 2  # the one with a hole, the one past the page: nothing else
