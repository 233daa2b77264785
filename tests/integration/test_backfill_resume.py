"""Resume: a backfill killed (-9) mid-run and run again leaves the warehouse an uninterrupted run leaves,
and asks GitHub again for nothing but the requests in flight when it was killed."""

from __future__ import annotations

import pytest

from tests.conftest import (
    new_topic,  # noqa: E402
)
from tests.fake_github.harness import (
    backfill_env,
    drain,
    load,
    metric_buckets,
    repeated_requests,
    run_backfill,
    start_backfill,
)
from tests.fake_github.history import rest_state
from tests.fake_github.server import FakeGitHub
from tests.fake_github.synthetic import synthetic_history
from tests.harness import query
from tests.integration.test_backfill_convergence import differences, facts

pytestmark = pytest.mark.integration
# Requests served before each kill. REST: mid pull-request fan-out, and later. GraphQL (pages of 10 pull
# requests, so a repository takes several queries): mid pull-request pages, and in the REST lists after.
KILL_AFTER = {"rest": (120, 430), "graphql": (9, 30)}




@pytest.mark.parametrize("api", ["graphql", "rest"])
def test_killed_backfill_resumes_where_it_stopped(services, db, second_db, tmp_path, api):
    state = rest_state(synthetic_history(repos=3, pulls=60))
    bootstrap = services.kafka.bootstrap
    args = ["--org", "acme", "--concurrency", "2", "--api", api, "--graphql-page", "10"]

    with FakeGitHub(state) as fake:  # uninterrupted
        topic_a = new_topic(services)
        env = backfill_env(bootstrap=bootstrap, topic=topic_a, dsn=db.writer_dsn,
                           archive_url=f"file://{tmp_path / 'archive-a'}", fake=fake)
        assert run_backfill(env, args, tmp_path / "a.log") == 0, (tmp_path / "a.log").read_text()
        uninterrupted = fake.counted()
        url_a = fake.url
    records_a = drain(bootstrap, topic_a)
    load(db.writer_dsn, records_a)

    with FakeGitHub(state) as fake:  # killed twice, then run to the end
        topic_b = new_topic(services)
        env = backfill_env(bootstrap=bootstrap, topic=topic_b, dsn=second_db.writer_dsn,
                           archive_url=f"file://{tmp_path / 'archive-b'}", fake=fake)
        for number, after in enumerate(KILL_AFTER[api]):
            fake.pause_after(after)
            child = start_backfill(env, args, tmp_path / f"b{number}.log")
            assert fake.gate_reached.wait(60), child.tail()
            child.kill()  # SIGKILL: no clean-up of any kind
            child.stop()  # only closes its log
            fake.release()
        finished = "SELECT count(*) FROM backfill.cursors WHERE state = '{}'"
        finished_at_kill = query(second_db.admin_dsn, finished)[0][0]
        assert run_backfill(env, args, tmp_path / "b.log") == 0, (tmp_path / "b.log").read_text()
        assert finished_at_kill < query(second_db.admin_dsn, finished)[0][0]  # it really was stopped half-way
        repeats = repeated_requests(fake.served)
        interrupted = fake.counted()
        # GraphQL path: a repository whose pull requests were done before a kill is swept again by the next
        # run like any re-run, with the one-request REST probe (a first run makes none; see docs/backfill.md).
        probes = sum(1 for s in fake.served if s.counted and s.path.endswith("/pulls")) if api == "graphql" else 0
        url_b = fake.url
    records_b = drain(bootstrap, topic_b)
    load(second_db.writer_dsn, records_b)

    # The same items, byte for byte (but for the API URLs, which name each fake's port), under the same
    # delivery ids ...
    published_a = {r.envelope.delivery_id: r.envelope.payload.replace(url_a.encode(), b"API")
                   for r in records_a}
    published_b = {r.envelope.delivery_id: r.envelope.payload.replace(url_b.encode(), b"API")
                   for r in records_b}
    assert published_a == published_b
    # ... so the same warehouse: every metric bucket and every fact.
    assert differences(metric_buckets(db.admin_dsn), metric_buckets(second_db.admin_dsn)) == []
    assert differences(facts(db.admin_dsn), facts(second_db.admin_dsn)) == []
    # Asked again: at most the request in flight at each kill (one per thread).
    print(f"uninterrupted {uninterrupted} requests; killed twice: {interrupted}, "
          f"repeated {len(repeats)}: {repeats}")
    assert len(repeats) <= 2 * len(KILL_AFTER[api])
    assert probes <= 3 * len(KILL_AFTER[api])  # at most one per repository and kill
    assert interrupted <= uninterrupted + len(repeats) + probes
