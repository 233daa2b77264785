"""What a backfill asks GitHub for checks: each SHA that matters once per run, and again in a later run
when it comes back (a push to the default branch starts new runs on a SHA already asked as a pull request
head). In process, against the fake GitHub only: no Kafka, no Postgres."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from backfill.cursors import MemoryCursorStore
from tests import scenario as sc
from tests.fake_github.harness import backfill_in_process, repeated_requests
from tests.fake_github.history import rest_state
from tests.fake_github.server import FakeGitHub

pytestmark = pytest.mark.integration
CHECK_RUNS = re.compile(r"^/repos/([^/]+/[^/]+)/commits/([0-9a-f]{40})/check-runs$")
ZERO = "0" * 40


def asked_shas(fake: FakeGitHub) -> Counter[tuple[str, str]]:
    found: Counter[tuple[str, str]] = Counter()
    for served in fake.requests():
        match = CHECK_RUNS.match(served.path)
        if served.counted and match:
            found[(match[1], match[2])] += 1
    return found


def test_each_pull_request_head_and_default_branch_push_head_is_asked_once(tmp_path):
    history = sc.acme_history()
    pr_heads = {(pr.repo.full_name, pr.head.sha) for pr in history.pull_requests}
    push_heads = {(p.repo.full_name, p.commits[-1].sha) for p in history.pushes
                  if p.branch == p.repo.default_branch}
    assert pr_heads & push_heads  # heads of pull requests that were pushed to main as they were
    with FakeGitHub(rest_state(history)) as fake:
        backfill_in_process(fake, tmp_path, owner=sc.ORG, graphql=False)
        asked = asked_shas(fake)
        repeats = repeated_requests(fake.requests())
    assert set(asked) == pr_heads | push_heads
    assert max(asked.values()) == 1, asked
    assert repeats == []


def _fast_forward_histories() -> tuple[sc.History, sc.History]:
    """A pull request whose head is checked, then pushed to main as it is (a fast-forward), which starts CI
    on the same SHA. ``before`` is the history until the first backfill, ``after`` all of it."""
    t0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
    repo = sc.Repo(31_001, "ff", "Python")
    base = sc.Commit("ff-base", sc.ALICE, t0 - timedelta(days=1))
    head = sc.Commit("ff-head", sc.BOB, t0)
    opened = sc.PRStep("opened", t0 + timedelta(minutes=5), sc.BOB)
    merged = sc.PRStep("closed", t0 + timedelta(hours=3), sc.ALICE, merged=True)

    def history(done: bool) -> sc.History:
        h = sc.History(repos=[repo])
        h.pushes += [sc.Push(repo, "main", ZERO, (base,), sc.ALICE, t0 - timedelta(hours=20)),
                     sc.Push(repo, "feature", ZERO, (head,), sc.BOB, t0 + timedelta(minutes=1))]
        steps = (opened, merged) if done else (opened,)
        h.pull_requests.append(sc.PullRequest(41_001, 1, repo, sc.BOB, "Fast", head, 10, 2, steps))
        h.check_runs.append(sc.CheckRun(91_001, repo, "test", head, t0 + timedelta(minutes=10),
                                        t0 + timedelta(minutes=20), "success", 81_001))
        if done:  # the push to main, and the CI it started on the same SHA
            h.pushes.append(sc.Push(repo, "main", base.sha, (head,), sc.ALICE, merged.at))
            h.check_runs.append(sc.CheckRun(91_002, repo, "test", head, merged.at + timedelta(minutes=1),
                                            merged.at + timedelta(minutes=9), "success", 81_002))
        return h

    return history(False), history(True)


def test_a_sha_asked_in_an_earlier_run_is_asked_again_when_it_is_pushed_to_main(tmp_path):
    before, after = _fast_forward_histories()
    cursors = MemoryCursorStore()
    with FakeGitHub(rest_state(before)) as fake:
        first = backfill_in_process(fake, tmp_path, owner=sc.ORG, cursors=cursors, graphql=False)
        assert {json.loads(e.payload)["check_run"]["id"] for e in first if e.event == "check_run"} == {91_001}
        with fake.lock:
            fake.state = rest_state(after)
        fake.reset_log()
        second = backfill_in_process(fake, tmp_path, owner=sc.ORG, cursors=cursors, graphql=False)
        asked = asked_shas(fake)
    # Asked once in the second run (as the head of the pull request that changed, not again as the push
    # head), and the run the push started is published: the first answer does not stand for the SHA.
    assert asked == Counter({("acme/ff", sc.sha("ff-head")): 1})
    assert 91_002 in {json.loads(e.payload)["check_run"]["id"] for e in second if e.event == "check_run"}
