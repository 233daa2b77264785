"""A generated organisation history of any size, in the scenario's own dataclasses (tests/scenario/), so
it renders both as webhook deliveries and (history.py) as REST state. Deterministic for a given seed.

Per pull request: a feature-branch push of its head commit, opened (a fifth as drafts, made ready later),
one or two peer reviews, two checks on its head (some flaky), a CI workflow run; most are merged by a push
of head + merge commit to the default branch, whose head gets a check and a workflow run of its own; every
fifth merge is deployed to production (some fail). Every tenth pull request has an issue, some incidents.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from tests import scenario as sc

ZERO = "0" * 40
LANGUAGES = ("Python", "TypeScript", "Go", "Java", "Rust")


def synthetic_history(repos: int = 3, pulls: int = 60, *, seed: int = 7,
                      start: datetime = datetime(2024, 1, 1, tzinfo=UTC)) -> sc.History:
    rng = random.Random(seed)
    people = [sc.User(f"dev{n:02d}", 10_000 + n) for n in range(12)]
    bot = sc.User("dependabot[bot]", 49699333, "Bot")
    history = sc.History()
    team = (3100, "platform")
    history.org_events.append(sc.OrgEvent("team", "created", start, team=team))
    for person in people:
        history.org_events.append(sc.OrgEvent("organization", "member_added", start, user=person))
    for person in people[:4]:
        history.org_events.append(sc.OrgEvent("membership", "added", start, user=person, team=team))
    for r in range(repos):
        repo = sc.Repo(20_000 + r, f"svc-{r:02d}", LANGUAGES[r % len(LANGUAGES)])
        history.repos.append(repo)
        history.org_events.append(sc.OrgEvent("team", "added_to_repository", start, team=team, repo=repo))
        _repository(history, rng, repo, r, pulls, people, bot, start)
    return history


def _repository(h: sc.History, rng: random.Random, repo: sc.Repo, r: int, pulls: int, people: list[sc.User],
                bot: sc.User, start: datetime) -> None:
    base = sc.Commit(f"r{r}-base", people[0], start - timedelta(days=1))
    h.pushes.append(sc.Push(repo, "main", ZERO, (base,), people[0], start - timedelta(hours=20)))
    main_head = base.sha
    ids = r * 1_000_000
    deploys = 0
    for i in range(1, pulls + 1):
        t0 = start + timedelta(hours=3 * i, minutes=rng.randrange(60))
        author = bot if i % 15 == 0 else rng.choice(people)
        head = sc.Commit(f"r{r}-h{i}", author, t0)
        h.pushes.append(sc.Push(repo, f"feature-{i}", ZERO, (head,), author, t0 + timedelta(minutes=10)))
        draft = rng.random() < 0.2
        steps = [sc.PRStep("opened", t0 + timedelta(minutes=15), author, draft=draft)]
        if draft:
            steps.append(sc.PRStep("ready_for_review", t0 + timedelta(minutes=45), author))
        fate = rng.random()
        closer = rng.choice([p for p in people if p != author])
        done_at = t0 + timedelta(hours=4, minutes=rng.randrange(120))
        merged = fate < 0.8
        if fate < 0.9:
            steps.append(sc.PRStep("closed", done_at, closer, merged=merged))
        pr = sc.PullRequest(ids + i, i, repo, author, f"Change {i}", head, rng.randrange(1, 400),
                            rng.randrange(0, 200), tuple(steps))
        h.pull_requests.append(pr)
        reviewers = rng.sample([p for p in people if p != author], rng.choice((1, 2)))
        for n, reviewer in enumerate(reviewers):
            h.reviews.append(sc.Review(ids + 100_000 + i * 10 + n, pr, reviewer,
                                       rng.choice(("approved", "commented", "changes_requested")),
                                       t0 + timedelta(hours=1 + n, minutes=rng.randrange(50))))
        suite = ids + 200_000 + i * 10
        check_at = t0 + timedelta(minutes=20)
        if rng.random() < 0.1:  # flaky: failed once, then passed on the same SHA
            h.check_runs.append(sc.CheckRun(ids + 300_000 + i * 10 + 9, repo, "test", head, check_at,
                                            check_at + timedelta(minutes=5), "failure", suite))
        for n, name in enumerate(("test", "lint")):
            h.check_runs.append(sc.CheckRun(ids + 300_000 + i * 10 + n, repo, name, head,
                                            check_at + timedelta(minutes=10),
                                            check_at + timedelta(minutes=15 + n),
                                            "success" if rng.random() < 0.9 else "failure", suite))
        h.workflow_runs.append(sc.WorkflowRun(ids + 400_000 + i * 10, repo, "CI", head, (
            sc.Attempt(check_at, check_at + timedelta(minutes=12), "success"),), author))
        if merged:
            merge = sc.Commit(f"r{r}-m{i}", closer, done_at, f"Merge pull request #{i}")
            h.pushes.append(sc.Push(repo, "main", main_head, (head, merge), closer, done_at))
            main_head = merge.sha
            h.check_runs.append(sc.CheckRun(ids + 300_000 + i * 10 + 5, repo, "test", merge,
                                            done_at + timedelta(minutes=2), done_at + timedelta(minutes=9),
                                            "success", suite + 5))
            h.workflow_runs.append(sc.WorkflowRun(ids + 400_000 + i * 10 + 1, repo, "CI", merge, (
                sc.Attempt(done_at + timedelta(minutes=1), done_at + timedelta(minutes=14),
                           "success"),), closer))
            deploys += 1
            if deploys % 5 == 0:
                at = done_at + timedelta(minutes=30)
                final = "failure" if rng.random() < 0.15 else "success"
                h.deployments.append(sc.Deployment(ids + 500_000 + i, repo, merge, "production", at, closer, (
                    sc.Status(ids + 600_000 + i * 10, "in_progress", at + timedelta(minutes=1)),
                    sc.Status(ids + 600_000 + i * 10 + 1, final, at + timedelta(minutes=8)))))
        if i % 10 == 0:
            labels = ("incident",) if rng.random() < 0.5 else ("bug",)
            opened = t0 + timedelta(minutes=5)
            closed = opened + timedelta(hours=rng.randrange(1, 30))
            h.issues.append(sc.Issue(ids + 700_000 + i, 10_000 + i, repo, author, f"Problem {i}", labels, (
                sc.IssueStep("opened", opened), sc.IssueStep("closed", closed))))
