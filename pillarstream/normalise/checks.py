"""Compatibility events: check_run, check_suite, workflow_run, workflow_job.

Status moves forward (queued → in_progress → completed), and a re-run of a workflow starts a new attempt
of the same run id, so the version rank is ``attempt * 4 + status rank``: a late "in_progress" never
overwrites "completed", and attempt 2 supersedes attempt 1 even if its timestamps are equal.
"""

from __future__ import annotations

from typing import Any

from pillarstream.normalise.context import Incoming, login
from pillarstream.normalise.fields import (
    PayloadError,
    checked_text,
    integer,
    moment,
    obj,
    required_int,
    required_text,
    text,
)
from pillarstream.normalise.rows import CheckRun, CheckSuite, Facts, WorkflowJob, WorkflowRun
from pillarstream.normalise.version import stamp

_STATUS_RANK = {"completed": 2, "in_progress": 1}  # requested, queued, waiting, pending: 0
MAX_ATTEMPT = 249_999  # the version's rank has six digits (version.py)


def _status_rank(status: str | None, attempt: int = 1) -> int:
    if attempt > MAX_ATTEMPT:
        raise PayloadError(f"run_attempt {attempt} is beyond the {MAX_ATTEMPT} attempts a version can order")
    return max(attempt, 1) * 4 + _STATUS_RANK.get(status or "", 0)


def check_run(ev: Incoming) -> Facts:
    run = obj(ev.body, "check_run")
    status = text(run, "status") or "queued"
    row = CheckRun(
        check_run_id=required_int(run, "id"), repo_id=ev.repo_id, org=ev.org,
        check_suite_id=integer(run, "check_suite", "id"), name=required_text(run, "name"),
        head_sha=required_text(run, "head_sha"), status=status, conclusion=text(run, "conclusion"),
        started_at=moment(run, "started_at"), completed_at=moment(run, "completed_at"),
        app_slug=text(run, "app", "slug"), html_url=text(run, "html_url"), version="",
    )
    return Facts(check_runs=[stamp(row, _status_rank(status), row.completed_at or row.started_at)])


def check_suite(ev: Incoming) -> Facts:
    suite = obj(ev.body, "check_suite")
    status = text(suite, "status")
    row = CheckSuite(
        check_suite_id=required_int(suite, "id"), repo_id=ev.repo_id, org=ev.org,
        head_sha=text(suite, "head_sha"), head_branch=text(suite, "head_branch"), status=status,
        conclusion=text(suite, "conclusion"), app_slug=text(suite, "app", "slug"),
        created_at=moment(suite, "created_at"), updated_at=moment(suite, "updated_at"), version="",
    )
    return Facts(check_suites=[stamp(row, _status_rank(status), row.updated_at)])


def workflow_run(ev: Incoming) -> Facts:
    run = obj(ev.body, "workflow_run")
    status = text(run, "status")
    attempt = integer(run, "run_attempt", bits=32) or 1
    updated_at = moment(run, "updated_at")
    actor = obj(run, "actor") or obj(ev.body, "sender")
    row = WorkflowRun(
        run_id=required_int(run, "id"), repo_id=ev.repo_id, org=ev.org,
        workflow_id=integer(run, "workflow_id"),
        name=text(run, "name") or text(ev.body, "workflow", "name"), event=text(run, "event"),
        head_branch=text(run, "head_branch"), head_sha=text(run, "head_sha"), status=status,
        conclusion=text(run, "conclusion"), run_number=integer(run, "run_number", bits=32), run_attempt=attempt,
        created_at=moment(run, "created_at"), run_started_at=moment(run, "run_started_at"),
        updated_at=updated_at, completed_at=updated_at if status == "completed" else None,
        actor_login=login(actor), actor_is_bot=ev.is_bot(actor), html_url=text(run, "html_url"), version="",
    )
    return Facts(workflow_runs=[stamp(row, _status_rank(status, attempt), updated_at)])


def workflow_job(ev: Incoming) -> Facts:
    job = obj(ev.body, "workflow_job")
    status = text(job, "status")
    attempt = integer(job, "run_attempt", bits=32) or 1
    labels = job.get("labels")
    raw_labels: list[Any] = labels if isinstance(labels, list) else []
    row = WorkflowJob(
        job_id=required_int(job, "id"), run_id=integer(job, "run_id"), run_attempt=attempt,
        repo_id=ev.repo_id, org=ev.org, name=text(job, "name"), workflow_name=text(job, "workflow_name"),
        head_sha=text(job, "head_sha"), head_branch=text(job, "head_branch"), status=status,
        conclusion=text(job, "conclusion"), created_at=moment(job, "created_at"),
        started_at=moment(job, "started_at"), completed_at=moment(job, "completed_at"),
        runner_name=text(job, "runner_name"),
        labels=[checked_text(label, "workflow_job.labels") for label in raw_labels if isinstance(label, str)],
        version="",
    )
    at = row.completed_at or row.started_at or row.created_at
    return Facts(workflow_jobs=[stamp(row, _status_rank(status, attempt), at)])
