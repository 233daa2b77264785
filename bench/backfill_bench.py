"""Backfill cost: a full backfill of a generated organisation and a re-run with nothing changed, for the
GraphQL path (the default) and the REST-only path (``--api rest``) in the same run.

Run: .venv/bin/python bench/backfill_bench.py [--repos 20] [--pulls 500] [--concurrency 4] [--resources default]

The organisation comes from tests/fake_github/synthetic.py (per pull request: a branch push, reviews, two
checks on its head, a workflow run; most are merged by a push whose head has its own check and run; every
fifth merge is deployed). It is served by the fake GitHub REST API (tests/fake_github), and the backfill
runs in this process with the real Kafka broker, Postgres cursors and a file archive, exactly as the CLI
wires them. Figures are counted by the fake (requests that spend rate-limit budget; 304s do not).

For each path: REST requests, GraphQL queries and GraphQL points per pull request, budget units (REST
requests + GraphQL points) per pull request, and the hours a 50,000-pull-request organisation takes under one
token (5,000 REST requests and, separately, 5,000 GraphQL points an hour). For the REST path also each list's
calls against the lower bound of one call per 100 items and the REST floor (see floor()). Then the re-run's
budget units against the target (repositories + 10), and last the summary line
``budget units per pull request: <figure>`` of the GraphQL path.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg2

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from adapters.archive_store import FileStore  # noqa: E402
from adapters.kafka_publisher import KafkaPublisher  # noqa: E402
from backfill.archive import PageArchive  # noqa: E402
from backfill.cursors import PostgresCursorStore  # noqa: E402
from backfill.github_api import GitHubApi, Stats  # noqa: E402
from backfill.progress import Progress  # noqa: E402
from backfill.ratelimit import TokenPool  # noqa: E402
from backfill.resources import select  # noqa: E402
from backfill.runner import Options, Summary, run_backfill  # noqa: E402
from bench.services import bench_services  # noqa: E402
from devstack.postgres import ADMIN, DATABASE  # noqa: E402
from devstack.stack import LocalServices  # noqa: E402
from tests.fake_github.history import rest_state  # noqa: E402
from tests.fake_github.server import FakeGitHub, Served  # noqa: E402
from tests.fake_github.state import RestState  # noqa: E402
from tests.fake_github.synthetic import synthetic_history  # noqa: E402

TOKEN = "bench-token"  # noqa: S105 - the fake's token, not a secret
# Request path → what it is; list endpoints first, fan-out (per item) after.
KINDS = [
    ("owner", r"^/orgs/[^/]+$", "list"), ("repositories", r"^/orgs/[^/]+/repos$", "list"),
    ("members", r"^/orgs/[^/]+/members$", "list"), ("teams", r"^/orgs/[^/]+/teams$", "list"),
    ("team members/repos", r"^/orgs/[^/]+/teams/[^/]+/(members|repos)$", "list"),
    ("pulls", r"/pulls$", "list"), ("issue events", r"/issues/events$", "list"),
    ("activity", r"/activity$", "list"), ("commits", r"/commits$", "list"), ("compare", r"/compare/", "list"),
    ("workflow runs", r"/actions/runs$", "list"), ("deployments", r"/deployments$", "list"),
    ("issues", r"/issues$", "list"),
    ("pull detail", r"/pulls/\d+$", "fan-out"), ("reviews", r"/pulls/\d+/reviews$", "fan-out"),
    ("pr commits", r"/pulls/\d+/commits$", "fan-out"), ("check runs", r"/check-runs$", "fan-out"),
    ("check suites", r"/check-suites$", "fan-out"), ("deployment statuses", r"/statuses$", "fan-out"),
]


def kind_of(path: str) -> tuple[str, str]:
    for name, pattern, phase in KINDS:
        if re.search(pattern, path):
            return name, phase
    return "other", "list"


def lower_bounds(state: RestState) -> dict[str, int]:
    """One call per 100 items of every list the backfill pages on a first run."""
    def pages(n: int) -> int:
        return max(1, math.ceil(n / 100))

    bound: Counter[str] = Counter()
    for owner in state.owners.values():
        bound["owner"] += 1
        bound["repositories"] += pages(len(owner.repos))
        roles = Counter(role for _, role in owner.members.values())
        bound["members"] += pages(roles["admin"]) + pages(roles["member"])
        bound["teams"] += pages(len(owner.teams))
        bound["team members/repos"] += sum(pages(len(owner.team_members.get(s, []))) +
                                           pages(len(owner.team_repos.get(s, []))) for s in owner.teams)
    for repo in state.repos.values():
        bound["pulls"] += pages(len(repo.pulls))
        bound["issue events"] += pages(len(repo.issue_events))
        bound["activity"] += pages(len(repo.activity))
        bound["commits"] += pages(len(repo.commits))
        bound["workflow runs"] += pages(len(repo.workflow_runs))
        bound["deployments"] += pages(len(repo.deployments))
        bound["issues"] += pages(len(repo.issues))
    return dict(bound)


def floor(state: RestState, bounds: dict[str, int]) -> dict[str, int]:
    """The fewest counted requests a full-fidelity first run can make for this history through the REST API,
    granting an oracle that knows which SHAs have check runs (GitHub offers none): every list at one call
    per 100 items; per pull request its detail (size and merge fields are in no list) and its reviews (no
    listing spans a repository's reviews, and nothing says which pull requests have none); per SHA with
    check runs one call (runs are listed per SHA only); per deployment its statuses (listed per deployment
    only). Fan-out lists of more than 100 items take a page per 100."""
    def pages(n: int) -> int:
        return max(1, math.ceil(n / 100))

    repos = state.repos.values()
    return {"lists": sum(bounds.values()),
            "pull detail": sum(len(r.pulls) for r in repos),
            "reviews": sum(pages(len(r.reviews.get(n, []))) for r in repos for n in r.pulls),
            "check runs": sum(pages(len(runs)) for r in repos for runs in r.check_runs.values()),
            "deployment statuses": sum(pages(len(r.statuses.get(d["id"], []))) for r in repos
                                       for d in r.deployments)}


def check_run_split(counted: list[Served], state: RestState) -> tuple[int, int, int]:
    """Check-run requests for pull request heads, for other SHAs (default-branch push heads), and how many
    of all asked a SHA without any check run."""
    heads = {(full, p["head"]["sha"]) for full, r in state.repos.items() for p in r.pulls.values()}
    pr_heads = others = empty = 0
    for served in counted:
        match = re.match(r"^/repos/([^/]+/[^/]+)/commits/([^/]+)/check-runs$", served.path)
        if not match:
            continue
        key = (match[1], match[2])
        pr_heads, others = (pr_heads + 1, others) if key in heads else (pr_heads, others + 1)
        empty += not state.repos[key[0]].check_runs.get(key[1])
    return pr_heads, others, empty


def backfill(fake: FakeGitHub, services: LocalServices, root: Path, topic: str, resources: list[str],
             concurrency: int, graphql: bool) -> tuple[Summary, float]:
    stats = Stats()
    pool = TokenPool([TOKEN], reserve=0, max_rate=0)
    cursors = PostgresCursorStore(services.postgres.dsn(ADMIN, DATABASE))
    publisher = KafkaPublisher(services.kafka.bootstrap, topic, timeout_s=30)
    started = time.monotonic()
    try:
        summary = run_backfill(Options("acme", "org", select(resources), concurrency=concurrency, graphql=graphql),
                               api=GitHubApi(fake.url, pool, stats=stats),
                               archive=PageArchive(FileStore(root / "archive")), publisher=publisher,
                               cursors=cursors, progress=Progress(stats, pool, mode="none"))
    finally:
        publisher.close()
        cursors.close()
    return summary, time.monotonic() - started


def report(served: list[Served], state: RestState, pulls: int, repos: int) -> None:
    counted = [s for s in served if s.counted]
    by_kind = Counter(kind_of(s.path) for s in counted)
    bounds = lower_bounds(state)
    total = len(counted)
    print(f"  {'request':<22}{'phase':<9}{'calls':>8}{'per PR':>9}{'lower bound':>13}{'ratio':>7}")
    for (name, phase), calls in sorted(by_kind.items(), key=lambda kv: (kv[0][1] != "list", kv[0][0])):
        bound = bounds.get(name)
        ratio = f"{calls / bound:.2f}" if bound else ""
        print(f"  {name:<22}{phase:<9}{calls:>8}{calls / pulls:>9.3f}{bound or '':>13}{ratio:>7}")
    listed = sum(c for (_, phase), c in by_kind.items() if phase == "list")
    print(f"  list requests: {listed} = {listed / pulls:.3f} per pull request; pull request list alone "
          f"{by_kind[('pulls', 'list')] / pulls:.4f} per pull request (target <= 0.01)")
    pr_heads, others, empty = check_run_split(counted, state)
    print(f"  REST check-run requests: {pr_heads} for pull request heads, {others} for default-branch push heads; "
          f"{empty} of them asked a SHA without checks")
    least = floor(state, bounds)
    smallest = sum(least.values())
    print(f"  REST floor for this history at full fidelity: {smallest} requests = {smallest / pulls:.2f} per pull "
          f"request; this run {total / smallest:.4f} x the REST floor")


def forget_cursors(dsn: str) -> None:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM backfill.cursors")
    conn.close()


ORG_PULLS = 50_000
HOURLY = 5_000  # one token: 5,000 REST requests an hour, and 5,000 GraphQL points an hour besides


def run_path(name: str, graphql: bool, fake: FakeGitHub, services: LocalServices, root: Path,
             args: argparse.Namespace, resources: list[str], state: RestState) -> tuple[float, int]:
    """A first run and a re-run on one path; returns (budget units per pull request, re-run units)."""
    pulls = args.repos * args.pulls
    topic = f"bench.backfill.{name}"
    forget_cursors(services.postgres.dsn(ADMIN, DATABASE))  # each path starts afresh
    fake.reset_log()
    fake.graphql.log.clear()
    fake.graphql.operations.clear()
    first, seconds = backfill(fake, services, root, topic, resources, args.concurrency, graphql)
    served = fake.requests()
    rest = sum(1 for s in served if s.counted)
    calls = sum(1 for status, _, _ in fake.graphql.log if status == 200)
    points = fake.graphql.points()
    units = (rest + points) / pulls
    hours = max(rest, points) / pulls * ORG_PULLS / HOURLY
    print(f"\n{name} path, first run: {first.items} items in {seconds:.1f}s")
    print(f"  REST requests {rest} = {rest / pulls:.3f} per pull request; GraphQL queries {calls} = "
          f"{calls / pulls:.4f} per pull request, {points} points = {points / pulls:.3f} per pull request")
    print(f"  budget units (REST requests + GraphQL points) {rest + points} = {units:.3f} per pull request "
          f"(target <= 0.3)")
    print(f"  a {ORG_PULLS:,}-pull-request organisation under one token: {hours:.1f} hours")
    if not graphql or args.verbose:
        report(served, state, pulls, args.repos)
    else:
        listed = sum(1 for s in served if s.counted and kind_of(s.path)[1] == "list")
        pages = sum(1 for s in served if s.counted and kind_of(s.path)[0] == "pulls")
        pages += fake.graphql.operations["PullRequests"]
        print(f"  pull request list: {pages} calls (the REST probe and the GraphQL pages) = "
              f"{pages / pulls:.4f} per pull request (target <= 0.01); all REST lists {listed} = "
              f"{listed / pulls:.4f} per pull request")
    fake.reset_log()
    fake.graphql.log.clear()
    second, seconds = backfill(fake, services, root, topic, resources, args.concurrency, graphql)
    rerun = fake.requests()
    counted = sum(1 for s in rerun if s.counted)
    rerun_units = counted + fake.graphql.points()
    print(f"  re-run with nothing changed: {rerun_units} budget units ({counted} REST requests, "
          f"{fake.graphql.points()} GraphQL points; target <= repositories + 10 = {args.repos + 10}), "
          f"{len(rerun) - counted} answered 304, {second.items} items published, {seconds:.1f}s")
    return units, rerun_units


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=20)
    parser.add_argument("--pulls", type=int, default=500, help="pull requests per repository")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--resources", default="default", help="as the CLI's --resources (default, all, ...)")
    parser.add_argument("--verbose", action="store_true", help="the per-request table for the GraphQL path too")
    args = parser.parse_args()
    resources = [r for r in args.resources.split(",") if r]
    generated = time.monotonic()
    history = synthetic_history(args.repos, args.pulls)
    state = rest_state(history)
    print(f"organisation: {args.repos} repositories x {args.pulls} pull requests, {len(history.reviews)} reviews, "
          f"{len(history.check_runs)} check runs, {len(history.workflow_runs)} workflow runs, "
          f"{len(history.deployments)} deployments, {len(history.pushes)} pushes "
          f"(generated in {time.monotonic() - generated:.1f}s); resources: {args.resources}")
    with bench_services("bench-backfill", durable=False, topic="bench.backfill", partitions=6) as (root, services):
        with FakeGitHub(state, tokens=(TOKEN,), rate_limit=10_000_000) as fake:
            graphql_units, _ = run_path("graphql", True, fake, services, root, args, resources, state)
            rest_units, _ = run_path("rest", False, fake, services, root, args, resources, state)
    print(f"\nGraphQL path / REST-only path: {graphql_units / rest_units:.3f} of the budget units")
    print(f"budget units per pull request: {graphql_units:.3f}")


if __name__ == "__main__":
    main()
