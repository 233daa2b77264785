"""Compatibility: check runs (and the suites they make up) and workflow runs, with their jobs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from tests.scenario.base import (
    ALICE,
    ALL,
    API,
    BOB,
    D1,
    D2,
    D3,
    ORG,
    WEB,
    A,
    Commit,
    History,
    Out,
    Repo,
    User,
    W,
    at,
    c3,
    c4,
    c5,
    c6,
    envelope,
    iso,
    m1,
    user_json,
)


@dataclass(frozen=True)
class CheckRun:
    id: int
    repo: Repo
    name: str
    head: Commit
    started_at: datetime
    completed_at: datetime
    conclusion: str
    suite_id: int


@dataclass(frozen=True)
class Attempt:
    started_at: datetime
    completed_at: datetime
    conclusion: str


@dataclass(frozen=True)
class WorkflowRun:
    id: int
    repo: Repo
    name: str
    head: Commit
    attempts: tuple[Attempt, ...]
    actor: User


def add_compatibility(h: History) -> None:
    """Check runs (flaky ones on D1 and D3) and workflow runs (one retried)."""
    def run(id_: int, repo: Repo, name: str, head: Commit, day: date, start: str, end: str, conclusion: str
            ) -> CheckRun:
        return CheckRun(id_, repo, name, head, at(day, start), at(day, end), conclusion, 100_000 + id_ // 10)

    h.check_runs += [
        run(9001, API, "test", c3, D1, "10:10", "10:20", "failure"),     # } same SHA and name: flaky on D1
        run(9002, API, "test", c3, D1, "10:30", "10:42", "success"),     # }
        run(9003, API, "lint", c3, D1, "10:10", "10:13", "success"),
        run(9004, API, "test", m1, D2, "11:05", "11:15", "success"),
        run(9005, API, "lint", m1, D2, "11:05", "11:06", "neutral"),     # not decisive: out of rate/duration
        run(9006, API, "e2e", m1, D2, "11:05", "11:35", "timed_out"),    # } timed_out + success: not flaky
        run(9007, API, "e2e", m1, D3, "08:00", "08:20", "success"),      # }
        run(9008, API, "build", c4, D3, "09:05", "09:15", "failure"),    # } flaky on D3
        run(9009, API, "build", c4, D3, "09:20", "09:30", "success"),    # }
        run(9010, WEB, "test", c6, D1, "14:05", "14:25", "success"),
    ]

    h.workflow_runs += [
        WorkflowRun(8001, API, "CI", c3, (Attempt(at(D1, "10:05"), at(D1, "10:45"), "failure"),
                                           Attempt(at(D1, "11:00"), at(D1, "11:20"), "success")), BOB),
        WorkflowRun(8002, API, "CI", m1, (Attempt(at(D2, "11:05"), at(D2, "11:40"), "success"),), BOB),
        WorkflowRun(8003, API, "Deploy", m1, (Attempt(at(D2, "11:05"), at(D2, "11:50"), "cancelled"),), BOB),
        WorkflowRun(8004, API, "CI", c5, (Attempt(at(D3, "09:05"), at(D3, "09:40"), "failure"),), ALICE),
    ]


def _render_check_run(run: CheckRun) -> Iterator[Out]:
    for action, moment in (("created", run.started_at), ("completed", run.completed_at)):
        done = action == "completed"
        body = {
            "id": run.id, "node_id": f"CR_{run.id}", "head_sha": run.head.sha, "external_id": "",
            "html_url": f"https://github.com/{run.repo.full_name}/runs/{run.id}",
            "status": "completed" if done else "in_progress", "conclusion": run.conclusion if done else None,
            "started_at": iso(run.started_at), "completed_at": iso(run.completed_at) if done else None,
            "output": {"title": None, "summary": None, "text": None, "annotations_count": 0},
            "name": run.name,
            "check_suite": {"id": run.suite_id, "head_branch": "main", "head_sha": run.head.sha},
            "app": {"id": 15368, "slug": "github-actions", "name": "GitHub Actions"}, "pull_requests": [],
        }
        payload = envelope(run.repo, ALICE, action=action, check_run=body)
        yield Out(moment, "check_run", f"check_run:{run.id}:{action}", payload)


def _render_check_suites(runs: list[CheckRun]) -> Iterator[Out]:
    suites: dict[int, list[CheckRun]] = {}
    for run in runs:
        suites.setdefault(run.suite_id, []).append(run)
    for suite_id, members in sorted(suites.items()):
        first, done = min(r.started_at for r in members), max(r.completed_at for r in members)
        failed = any(r.conclusion in ("failure", "timed_out") for r in members)
        body = {"id": suite_id, "node_id": f"CS_{suite_id}", "head_branch": "main",
                "head_sha": members[0].head.sha,
                "status": "completed", "conclusion": "failure" if failed else "success",
                "before": None, "after": members[0].head.sha, "pull_requests": [],
                "app": {"id": 15368, "slug": "github-actions", "name": "GitHub Actions"},
                "created_at": iso(first), "updated_at": iso(done), "latest_check_runs_count": len(members)}
        payload = envelope(members[0].repo, ALICE, action="completed", check_suite=body)
        yield Out(done, "check_suite", f"check_suite:{suite_id}", payload)


def _render_workflow_run(run: WorkflowRun) -> Iterator[Out]:
    created = run.attempts[0].started_at
    for number, attempt in enumerate(run.attempts, start=1):
        for action, moment in (("requested", attempt.started_at), ("completed", attempt.completed_at)):
            done = action == "completed"
            body = {
                "id": run.id, "name": run.name, "node_id": f"WR_{run.id}", "head_branch": "main",
                "head_sha": run.head.sha, "path": ".github/workflows/ci.yml", "display_title": run.name,
                "run_number": run.id % 1000, "event": "push", "status": "completed" if done else "queued",
                "conclusion": attempt.conclusion if done else None, "workflow_id": 77,
                "check_suite_id": 200_000 + run.id,
                "html_url": f"https://github.com/{run.repo.full_name}/actions/runs/{run.id}",
                "pull_requests": [], "created_at": iso(created), "updated_at": iso(moment),
                "actor": user_json(run.actor), "triggering_actor": user_json(run.actor), "run_attempt": number,
                "run_started_at": iso(attempt.started_at),
            }
            payload = envelope(run.repo, run.actor, action=action, workflow_run=body,
                                workflow={"id": 77, "name": run.name, "path": ".github/workflows/ci.yml"})
            yield Out(moment, "workflow_run", f"workflow_run:{run.id}:{number}:{action}", payload)
        job = {"id": run.id * 10 + number, "run_id": run.id, "run_attempt": number, "head_sha": run.head.sha,
               "head_branch": "main", "status": "completed", "conclusion": attempt.conclusion,
               "created_at": iso(attempt.started_at), "started_at": iso(attempt.started_at),
               "completed_at": iso(attempt.completed_at), "name": "build", "steps": [],
               "labels": ["ubuntu-latest"], "runner_name": "GitHub Actions 2", "workflow_name": run.name}
        payload = envelope(run.repo, run.actor, action="completed", workflow_job=job)
        yield Out(attempt.completed_at, "workflow_job", f"workflow_job:{run.id}:{number}", payload)


def render(h: History) -> Iterator[Out]:
    """The pillar's deliveries: check_run, check_suite, workflow_run and workflow_job."""
    for run in h.check_runs:
        yield from _render_check_run(run)
    yield from _render_check_suites(h.check_runs)
    for wf in h.workflow_runs:
        yield from _render_workflow_run(wf)


# --- the answers, by hand (keys: see tests/scenario/__init__.py) --------------------------------------

EXPECTED_DAILY: dict[tuple[date, str, str | None, str], float] = {
    # --- D1 ---------------------------------------------------------------------------------------
    (D1, ORG, A, "check_runs_completed"): 3,
    (D1, ORG, A, "check_success_rate"): 2 / 3,
    (D1, ORG, A, "check_duration_minutes_p50"): 10,    # 3, 10, 12
    (D1, ORG, A, "flaky_checks"): 1,                   # test on c3
    (D1, ORG, A, "workflow_runs_completed"): 1,        # run 8001, its attempt 2 succeeded
    (D1, ORG, A, "workflow_success_rate"): 1,
    (D1, ORG, W, "check_runs_completed"): 1,
    (D1, ORG, W, "check_success_rate"): 1,
    (D1, ORG, W, "check_duration_minutes_p50"): 20,
    (D1, ORG, ALL, "check_runs_completed"): 4,
    (D1, ORG, ALL, "check_success_rate"): 0.75,
    (D1, ORG, ALL, "check_duration_minutes_p50"): 11,    # 3, 10, 12, 20
    (D1, ORG, ALL, "flaky_checks"): 1,
    (D1, ORG, ALL, "workflow_runs_completed"): 1,
    (D1, ORG, ALL, "workflow_success_rate"): 1,
    # --- D2 ---------------------------------------------------------------------------------------
    (D2, ORG, A, "check_runs_completed"): 3,
    (D2, ORG, A, "check_success_rate"): 0.5,           # success, timed_out (neutral left out)
    (D2, ORG, A, "check_duration_minutes_p50"): 20,    # 10, 30
    (D2, ORG, A, "workflow_runs_completed"): 2,
    (D2, ORG, A, "workflow_success_rate"): 0.5,        # success, cancelled
    (D2, ORG, ALL, "check_runs_completed"): 3,
    (D2, ORG, ALL, "check_success_rate"): 0.5,
    (D2, ORG, ALL, "check_duration_minutes_p50"): 20,
    (D2, ORG, ALL, "workflow_runs_completed"): 2,
    (D2, ORG, ALL, "workflow_success_rate"): 0.5,
    # --- D3 ---------------------------------------------------------------------------------------
    (D3, ORG, A, "check_runs_completed"): 3,
    (D3, ORG, A, "check_success_rate"): 2 / 3,
    (D3, ORG, A, "check_duration_minutes_p50"): 10,    # 10, 10, 20
    (D3, ORG, A, "flaky_checks"): 1,                   # build on c4
    (D3, ORG, A, "workflow_runs_completed"): 1,
    (D3, ORG, A, "workflow_success_rate"): 0,
    (D3, ORG, ALL, "check_runs_completed"): 3,
    (D3, ORG, ALL, "check_success_rate"): 2 / 3,
    (D3, ORG, ALL, "check_duration_minutes_p50"): 10,
    (D3, ORG, ALL, "flaky_checks"): 1,
    (D3, ORG, ALL, "workflow_runs_completed"): 1,
    (D3, ORG, ALL, "workflow_success_rate"): 0,
}

EXPECTED_WINDOWS: dict[tuple[date, str, str | None, str, int], float] = {
    (D3, ORG, A, "check_success_rate", 7): 5 / 8,                  # (2 + 1 + 2) / (3 + 2 + 3)
}
