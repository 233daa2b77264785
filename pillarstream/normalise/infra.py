"""Infrastructure events: deployment, deployment_status, issues (incidents are labelled issues)."""

from __future__ import annotations

from typing import Any

from pillarstream.normalise.context import Incoming, login
from pillarstream.normalise.fields import (
    integer,
    labels,
    moment,
    obj,
    required_int,
    required_moment,
    required_text,
    text,
)
from pillarstream.normalise.rows import Deployment, DeploymentStatus, Facts, Issue
from pillarstream.normalise.version import stamp


def _deployment_row(ev: Incoming, dep: dict[str, Any]) -> Deployment:
    creator = obj(dep, "creator")
    environment = text(dep, "environment")
    row = Deployment(
        deployment_id=required_int(dep, "id"), repo_id=ev.repo_id, org=ev.org, sha=text(dep, "sha"),
        ref=text(dep, "ref"), task=text(dep, "task"), environment=environment,
        is_production=ev.config.is_production(environment), creator_login=login(creator),
        creator_is_bot=ev.is_bot(creator), created_at=moment(dep, "created_at"),
        updated_at=moment(dep, "updated_at"), version="",
    )
    return stamp(row, 0, row.updated_at)


def deployment(ev: Incoming) -> Facts:
    return Facts(deployments=[_deployment_row(ev, obj(ev.body, "deployment"))])


def deployment_status(ev: Incoming) -> Facts:
    """A status is an immutable fact; the deployment it belongs to comes along as a newer snapshot."""
    status = obj(ev.body, "deployment_status")
    dep = obj(ev.body, "deployment")
    creator = obj(status, "creator")
    # The status names its environment (it may differ from the deployment's original one).
    environment = text(status, "environment") or text(dep, "environment")
    row = DeploymentStatus(
        status_id=integer(status, "id"), deployment_id=required_int(dep, "id"), repo_id=ev.repo_id,
        org=ev.org, state=(text(status, "state") or "unknown").lower(), environment=environment,
        is_production=ev.config.is_production(environment), sha=text(dep, "sha"),
        created_at=required_moment(status, "created_at"), creator_login=login(creator),
        creator_is_bot=ev.is_bot(creator), node_id=required_text(status, "node_id"),
    )
    return Facts(deployment_statuses=[row], deployments=[_deployment_row(ev, dep)])


def issues(ev: Incoming) -> Facts:
    issue = obj(ev.body, "issue")
    author = obj(issue, "user")
    names = labels(issue.get("labels"))
    # A transferred issue leaves this repository (it reappears under a new id in the other one).
    gone = ev.action in ("deleted", "transferred")
    row = Issue(
        issue_id=required_int(issue, "id"), repo_id=ev.repo_id, org=ev.org,
        number=required_int(issue, "number", bits=32),
        title=text(issue, "title"), state=text(issue, "state") or "open", author_login=login(author),
        author_is_bot=ev.is_bot(author), labels=names, is_incident=ev.config.is_incident(names),
        created_at=required_moment(issue, "created_at"), updated_at=required_moment(issue, "updated_at"),
        closed_at=moment(issue, "closed_at"), deleted=gone, html_url=text(issue, "html_url"), version="",
    )
    return Facts(issues=[stamp(row, 1 if gone else 0, row.updated_at)])
