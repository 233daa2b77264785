"""Typed fact rows, one NamedTuple per warehouse table; field order is the table's column order.

NamedTuples because they are cheap to build by the thousand and the writer zips them with the column
names as they are (``stream_processors/facts.py``). Times are timezone-aware UTC datetimes. ``version``
columns are sortable strings (see :mod:`pillarstream.normalise.version`): of two snapshots of one entity
the greater version wins, whatever order they arrive in. ``*_is_bot``, ``is_production`` and
``is_incident`` are derived from the pillar configuration and left out of the version hash, so a replay
after a config change re-derives them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import NamedTuple


class Repository(NamedTuple):
    repo_id: int
    org: str | None
    full_name: str
    name: str | None
    owner_login: str | None
    language: str | None
    default_branch: str | None
    private: bool | None
    archived: bool | None
    fork: bool | None
    visibility: str | None
    created_at: datetime | None
    updated_at: datetime | None
    deleted: bool
    version: str


class Commit(NamedTuple):
    repo_id: int
    sha: str
    org: str | None
    committed_at: datetime | None
    author_name: str | None
    author_email: str | None
    author_login: str | None
    author_key: str | None  # who the commit is by, for distinct counts: login, else e-mail, else name
    author_is_bot: bool
    message_headline: str | None
    first_default_push_at: datetime | None  # earliest push that put it on the default branch, if any


class Push(NamedTuple):
    repo_id: int
    ref: str
    before_sha: str
    after_sha: str
    org: str | None
    pushed_at: datetime
    pusher_login: str | None
    pusher_is_bot: bool
    to_default_branch: bool
    created: bool
    deleted: bool
    forced: bool
    commit_count: int


class PullRequest(NamedTuple):
    pr_id: int
    repo_id: int
    org: str | None
    number: int
    title: str | None
    html_url: str | None
    author_login: str | None
    author_is_bot: bool
    state: str
    draft: bool | None
    merged: bool
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    merged_at: datetime | None
    merged_by_login: str | None
    base_ref: str | None
    head_ref: str | None
    head_sha: str | None
    merge_commit_sha: str | None
    additions: int | None
    deletions: int | None
    changed_files: int | None
    commits: int | None
    version: str


class PullRequestEvent(NamedTuple):
    pr_id: int
    action: str
    occurred_at: datetime
    repo_id: int
    org: str | None
    actor_login: str | None
    actor_is_bot: bool
    draft: bool | None  # the PR's draft flag right after this action


class Review(NamedTuple):
    review_id: int
    pr_id: int
    repo_id: int
    org: str | None
    reviewer_login: str | None
    reviewer_is_bot: bool
    pr_author_login: str | None
    state: str | None  # approved | changes_requested | commented; a dismissal only sets ``dismissed``
    submitted_at: datetime | None
    commit_id: str | None
    dismissed: bool


class CheckSuite(NamedTuple):
    check_suite_id: int
    repo_id: int
    org: str | None
    head_sha: str | None
    head_branch: str | None
    status: str | None
    conclusion: str | None
    app_slug: str | None
    created_at: datetime | None
    updated_at: datetime | None
    version: str


class CheckRun(NamedTuple):
    check_run_id: int
    repo_id: int
    org: str | None
    check_suite_id: int | None
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    started_at: datetime | None
    completed_at: datetime | None
    app_slug: str | None
    html_url: str | None
    version: str


class WorkflowRun(NamedTuple):
    run_id: int
    repo_id: int
    org: str | None
    workflow_id: int | None
    name: str | None
    event: str | None
    head_branch: str | None
    head_sha: str | None
    status: str | None
    conclusion: str | None
    run_number: int | None
    run_attempt: int
    created_at: datetime | None
    run_started_at: datetime | None
    updated_at: datetime | None
    completed_at: datetime | None  # GitHub sends no completion time: ``updated_at`` of a completed run
    actor_login: str | None
    actor_is_bot: bool
    html_url: str | None
    version: str


class WorkflowJob(NamedTuple):
    job_id: int
    run_id: int | None
    run_attempt: int
    repo_id: int
    org: str | None
    name: str | None
    workflow_name: str | None
    head_sha: str | None
    head_branch: str | None
    status: str | None
    conclusion: str | None
    created_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    runner_name: str | None
    labels: list[str]
    version: str


class Deployment(NamedTuple):
    deployment_id: int
    repo_id: int
    org: str | None
    sha: str | None
    ref: str | None
    task: str | None
    environment: str | None
    is_production: bool
    creator_login: str | None
    creator_is_bot: bool
    created_at: datetime | None
    updated_at: datetime | None
    version: str


class DeploymentStatus(NamedTuple):
    status_id: int | None  # GitHub's database id; GraphQL has none (the backfill reads statuses with it)
    deployment_id: int
    repo_id: int
    org: str | None
    state: str
    environment: str | None
    is_production: bool
    sha: str | None
    created_at: datetime
    creator_login: str | None
    creator_is_bot: bool
    node_id: str  # the key: webhooks, REST and GraphQL all carry it


class Issue(NamedTuple):
    issue_id: int
    repo_id: int
    org: str | None
    number: int
    title: str | None
    state: str
    author_login: str | None
    author_is_bot: bool
    labels: list[str]
    is_incident: bool
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    deleted: bool
    html_url: str | None
    version: str


class Release(NamedTuple):
    release_id: int
    repo_id: int
    org: str | None
    tag_name: str | None
    name: str | None
    draft: bool | None
    prerelease: bool | None
    created_at: datetime | None
    published_at: datetime | None
    author_login: str | None
    deleted: bool
    version: str


class RefEvent(NamedTuple):
    delivery_id: str
    repo_id: int
    org: str | None
    ref_type: str | None
    ref: str | None
    action: str  # created | deleted
    actor_login: str | None
    actor_is_bot: bool
    occurred_at: datetime


class OrgMembership(NamedTuple):
    org: str
    user_login: str
    user_id: int | None
    role: str | None
    state: str  # active | pending | removed
    is_bot: bool
    version: str


class Team(NamedTuple):
    team_id: int
    org: str
    slug: str | None
    name: str | None
    privacy: str | None
    parent_team_id: int | None
    deleted: bool
    version: str


class TeamMembership(NamedTuple):
    team_id: int
    user_login: str
    org: str
    user_id: int | None
    state: str  # added | removed
    is_bot: bool
    version: str


class TeamRepository(NamedTuple):
    team_id: int
    repo_id: int
    org: str
    state: str  # added | removed
    permission: str | None
    version: str


@dataclass(slots=True)
class Facts:
    """Everything one or more deliveries say, grouped by table."""

    repositories: list[Repository] = field(default_factory=list)
    commits: list[Commit] = field(default_factory=list)
    pushes: list[Push] = field(default_factory=list)
    pull_requests: list[PullRequest] = field(default_factory=list)
    pull_request_events: list[PullRequestEvent] = field(default_factory=list)
    pull_request_reviews: list[Review] = field(default_factory=list)
    check_suites: list[CheckSuite] = field(default_factory=list)
    check_runs: list[CheckRun] = field(default_factory=list)
    workflow_runs: list[WorkflowRun] = field(default_factory=list)
    workflow_jobs: list[WorkflowJob] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)
    deployment_statuses: list[DeploymentStatus] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)
    ref_events: list[RefEvent] = field(default_factory=list)
    org_memberships: list[OrgMembership] = field(default_factory=list)
    teams: list[Team] = field(default_factory=list)
    team_memberships: list[TeamMembership] = field(default_factory=list)
    team_repositories: list[TeamRepository] = field(default_factory=list)

    def extend(self, other: Facts) -> None:
        for name in FACT_TABLE_NAMES:  # the hot path of a batch: no dataclasses.fields() per call
            if rows := getattr(other, name):
                getattr(self, name).extend(rows)

    def tables(self) -> dict[str, list[tuple[object, ...]]]:
        """Non-empty tables by name."""
        return {name: rows for name in FACT_TABLE_NAMES if (rows := getattr(self, name))}

    def __len__(self) -> int:
        return sum(len(getattr(self, name)) for name in FACT_TABLE_NAMES)


FACT_TABLE_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Facts))
