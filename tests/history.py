"""A random organisation history of N repositories × D days, rendered with the scenario's webhook shapes.

Each repository has, on most days: a pull request (opened, sometimes reviewed, usually merged hours or days
later, its commits then pushed to the default branch), check runs on its head (sometimes failing first:
flaky), a workflow run, and production deployments of the default branch's head; now and then an incident.
Merges, reviews and deployments spread over the following days, so late events reach back in time as they
do on GitHub. Used by the window tests and by bench/dashboard_bench.py; the same seed gives the same
deliveries.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from tests.scenario import (
    DEPENDABOT,
    Attempt,
    CheckRun,
    Commit,
    Deployment,
    History,
    Issue,
    IssueStep,
    OrgEvent,
    PRStep,
    PullRequest,
    Push,
    Repo,
    Review,
    Status,
    User,
    WorkflowRun,
    render,
)

LANGUAGES = ("Python", "TypeScript", "Go", "Java", "Rust")
_NAMESPACE = uuid.UUID("1f0e6a52-7d3c-4a8e-b0b5-9c3f6e2d7a14")


@dataclass(frozen=True)
class Delivery:
    at: datetime  # when it happened (the receiver gets it a second later)
    event: str
    delivery_id: str
    body: bytes


def random_history(repos: int, days: int, *, start: date = date(2024, 1, 1), seed: int = 0,
                   first_repo_id: int = 200_000) -> History:
    rng = random.Random(seed)
    people = [User(f"dev{i}", 20_000 + i) for i in range(max(4, repos // 2 + 3))]
    h = History(repos=[Repo(first_repo_id + i, f"repo{i}", LANGUAGES[(i * 7 + seed) % len(LANGUAGES)])
                       for i in range(repos)])
    ids = iter(range(first_repo_id * 100, first_repo_id * 100 + 10**8))
    # Two teams: "platform" has access to the first two repositories, "apps" to every third one.
    day0 = _at(start, 0)
    for team, members in (((first_repo_id + 1, "platform"), h.repos[:2]), ((first_repo_id + 2, "apps"), h.repos[::3])):
        h.org_events.append(OrgEvent("team", "created", day0, team=team))
        h.org_events += [OrgEvent("team", "added_to_repository", day0 + timedelta(minutes=1), team=team, repo=repo)
                         for repo in members]
    for repo in h.repos:
        head = Commit(f"{repo.id}-base", people[0], _at(start, 0))
        landed: list[tuple[datetime, Commit]] = []  # default-branch heads by landing time
        merges: list[tuple[datetime, Commit]] = []
        for d in range(days):
            day = start + timedelta(days=d)
            if rng.random() < 0.8:
                author = rng.choice(people)
                opened = _at(day, rng.uniform(7, 18))
                commit = Commit(f"{repo.id}-{next(ids)}", author, opened - timedelta(hours=rng.uniform(0.5, 30)))
                number = next(ids)
                steps = [PRStep("opened", opened, author, draft=rng.random() < 0.1)]
                if steps[0].draft:
                    steps.append(PRStep("ready_for_review", opened + timedelta(hours=rng.uniform(0.2, 5)), author))
                merge_at = opened + timedelta(hours=rng.expovariate(1 / 20))
                if rng.random() < 0.85:
                    steps.append(PRStep("closed", merge_at, author, merged=True))
                    merges.append((merge_at, commit))
                elif rng.random() < 0.5:
                    steps.append(PRStep("closed", merge_at, author))
                pr = PullRequest(number, number % 100_000, repo, author, "change", commit,
                                 rng.randint(1, 400), rng.randint(0, 200), tuple(steps))
                h.pull_requests.append(pr)
                if rng.random() < 0.8:
                    reviewer = rng.choice([p for p in people if p != author])
                    ready = steps[1].at if steps[0].draft else opened
                    h.reviews.append(Review(next(ids), pr, reviewer, rng.choice(("approved", "commented")),
                                            ready + timedelta(hours=rng.uniform(0.1, 6))))
                suite = next(ids)
                for name in ("test", "lint"):
                    started = opened + timedelta(minutes=rng.uniform(1, 10))
                    if rng.random() < 0.1:  # fails, then passes on the same commit: flaky
                        h.check_runs.append(CheckRun(next(ids), repo, name, commit, started,
                                                     started + timedelta(minutes=5), "failure", suite))
                        started += timedelta(minutes=20)
                    h.check_runs.append(CheckRun(next(ids), repo, name, commit, started,
                                                 started + timedelta(minutes=rng.uniform(1, 15)),
                                                 rng.choice(("success",) * 8 + ("failure", "cancelled")), suite))
                wf_start = opened + timedelta(minutes=2)
                h.workflow_runs.append(WorkflowRun(next(ids), repo, "CI", commit, (
                    Attempt(wf_start, wf_start + timedelta(minutes=rng.uniform(3, 30)),
                            rng.choice(("success",) * 6 + ("failure",))),), author))
            if rng.random() < 0.03:
                opened = _at(day, rng.uniform(0, 23))
                steps2 = [IssueStep("opened", opened)]
                if rng.random() < 0.8:
                    steps2.append(IssueStep("closed", opened + timedelta(hours=rng.expovariate(1 / 8))))
                number = next(ids)
                h.issues.append(Issue(number, number % 100_000, repo, rng.choice(people), "outage",
                                      ("incident",), tuple(steps2)))
        # Pushes to the default branch: each merge lands its commit; a bot bump now and then.
        for merge_at, commit in sorted(merges, key=lambda m: m[0]):
            commits: tuple[Commit, ...] = (commit,)
            if rng.random() < 0.1:
                commits += (Commit(f"{repo.id}-{next(ids)}", DEPENDABOT, merge_at - timedelta(minutes=5)),)
            h.pushes.append(Push(repo, repo.default_branch, head.sha, commits, commit.author, merge_at))
            head = commits[-1]
            landed.append((merge_at, head))
        # Production deployments of the head at the time, on about half of the days.
        for d in range(days):
            if rng.random() >= 0.5:
                continue
            moment = _at(start + timedelta(days=d), rng.uniform(9, 20))
            current = [c for t, c in landed if t <= moment]
            if not current:
                continue
            deployment_id = next(ids)
            state = "success" if rng.random() < 0.9 else "failure"
            h.deployments.append(Deployment(deployment_id, repo, current[-1], "production", moment, people[1], (
                Status(next(ids), state, moment + timedelta(minutes=rng.uniform(2, 20))),)))
    return h


def deliveries(history: History, until: datetime | None = None) -> list[Delivery]:
    """The history's deliveries in the order they happened (those after ``until`` left out)."""
    out = []
    for item in render(history):
        if item.event == "ping" or (until is not None and item.at > until):
            continue
        out.append(Delivery(item.at, item.event, str(uuid.uuid5(_NAMESPACE, item.key)),
                            json.dumps(item.payload).encode()))
    return out


def _at(day: date, hours: float) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hours)

