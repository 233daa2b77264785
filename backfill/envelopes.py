"""REST item → webhook-shaped envelope, as one table.

The warehouse normalisers are keyed on webhook event types (pillarstream/normalise/dispatch.py), so every
item read from the REST API is published as the webhook GitHub would have sent for it: event type, action,
and a payload with the item under the webhook's key plus ``repository``, ``organization`` and ``sender``.
REST objects and webhook objects share their shapes (a pull request, a check run, a deployment ...), so the
item goes in unchanged; where they differ the row below says how.

Delivery ids are ``derived_delivery_id(kind, object id, version)``: the same object in the same version always
gets the same id, so a re-run publishes nothing the warehouse does not already have. ``version`` is the
object's ``updated_at`` where it has one, else whatever changes when the object does (a review's state, a
membership's role).

Actions for snapshots -- the state of an object as of now, not one event -- are the action GitHub sends for
"something about it changed" (``edited``) where the normaliser reads the state and not the action; pull
request transitions (opened, ready_for_review, closed, ...) are reconstructed in :mod:`backfill.timeline`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from pillarstream.envelope import Envelope, derived_delivery_id, from_payload

Json = dict[str, Any]


def _get(*path: str) -> Callable[[Json], Any]:
    def read(item: Json) -> Any:
        value: Any = item
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value
    return read


def _join(*readers: Callable[[Json], Any]) -> Callable[[Json], str]:
    return lambda item: "|".join("" if r(item) is None else str(r(item)) for r in readers)


def digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _constant(value: str | None) -> Callable[[Json], Any]:
    return lambda item: value


def _by_status(done: str, running: str | None, queued: str) -> Callable[[Json], str]:
    def action(item: Json) -> str:
        status = item.get("status")
        if status == "completed":
            return done
        return running if running and status == "in_progress" else queued
    return action


@dataclass(frozen=True, slots=True)
class Mapping:
    kind: str  # names the object in its delivery id
    event: str  # the webhook event type whose normaliser reads it
    key: str | None  # where the item goes in the payload (None: the caller builds the whole payload)
    action: Callable[[Json], str | None]
    object_id: Callable[[Json], Any]
    version: Callable[[Json], str]
    sender: Callable[[Json], Any]


MAPPINGS: MappingProxyType[str, Mapping] = MappingProxyType({m.kind: m for m in (
    # GET /orgs/{org}/repos: the repository row (language, default branch) every payload also carries.
    Mapping("repository", "repository", "repository", _constant("edited"), _get("id"),
            _join(_get("updated_at"), _get("pushed_at")), _constant(None)),
    # GET /repos/{o}/{r}/activity + the default branch's commits: one push per activity (backfill/pushes.py).
    Mapping("push", "push", None, _constant(None), _get("id"), _get("timestamp"), _get("actor")),
    # GET /repos/{o}/{r}/pulls/{n}: action and sender come from the reconstructed transition.
    Mapping("pull_request", "pull_request", "pull_request", _constant("edited"), _get("id"),
            _get("updated_at"), _constant(None)),
    # GET /repos/{o}/{r}/pulls/{n}/reviews: states are upper-case in REST; the normaliser lower-cases them.
    Mapping("review", "pull_request_review", "review",
            lambda r: "dismissed" if r.get("state") == "DISMISSED" else "submitted", _get("id"),
            _join(_get("submitted_at"), _get("state")), _get("user")),
    # GET /repos/{o}/{r}/commits/{sha}/check-runs?filter=all
    Mapping("check_run", "check_run", "check_run", _by_status("completed", None, "created"), _get("id"),
            _join(_get("status"), _get("conclusion"), _get("started_at"),
                  _get("completed_at")), _constant(None)),
    # GET /repos/{o}/{r}/commits/{sha}/check-suites
    Mapping("check_suite", "check_suite", "check_suite", _by_status("completed", None, "requested"),
            _get("id"),
            _join(_get("status"), _get("conclusion"), _get("updated_at")), _constant(None)),
    # GET /repos/{o}/{r}/actions/runs: the latest attempt of each run.
    Mapping("workflow_run", "workflow_run", "workflow_run",
            _by_status("completed", "in_progress", "requested"), _get("id"),
            _join(_get("run_attempt"), _get("status"), _get("updated_at")), _get("actor")),
    # GET /repos/{o}/{r}/deployments and …/deployments/{id}/statuses (a status carries its deployment).
    Mapping("deployment", "deployment", "deployment", _constant("created"), _get("id"), _get("updated_at"),
            _get("creator")),
    # A status is named by its node id: GraphQL, which the default path reads statuses with, has no
    # database id for it, and the REST path must give the same delivery ids.
    Mapping("deployment_status", "deployment_status", "deployment_status", _constant("created"),
            _get("node_id"), _get("created_at"), _get("creator")),
    # GET /repos/{o}/{r}/issues (pull requests, which the endpoint lists too, are skipped by the runner).
    Mapping("issue", "issues", "issue", _constant("edited"), _get("id"), _get("updated_at"), _get("user")),
    # GET /orgs/{org}/members?role=admin|member: the item is the user; the payload wraps it in a membership.
    # The caller passes ``object_id`` "<org id>:<login>" (a login alone is the same in every organisation).
    Mapping("member", "organization", "membership", _constant("member_added"), _get("user", "login"),
            _get("role"), _constant(None)),
    # GET /orgs/{org}/teams, …/teams/{slug}/members, …/teams/{slug}/repos
    Mapping("team", "team", "team", _constant("edited"), _get("id"),
            lambda t: digest(t.get("name"), t.get("slug"), t.get("privacy"),
                             (t.get("parent") or {}).get("id")),
            _constant(None)),
    Mapping("team_member", "membership", "member", _constant("added"), _get("login"), _constant(""),
            _constant(None)),
    Mapping("team_repo", "team", "team", _constant("added_to_repository"), _get("id"), _get("permission"),
            _constant(None)),
)})


def envelope(kind: str, item: Json, *, received_at: datetime, repository: Json | None,
             organization: Json | None,
             action: str | None = None, sender: Json | None = None, extra: Json | None = None,
             payload: Json | None = None, id_suffix: str = "", object_id: Any = None,
             provenance: str | None = None) -> Envelope:
    """The envelope for one item. ``payload`` replaces the built one (pushes); ``id_suffix`` tells apart
    several envelopes of one object version (a pull request's reconstructed transitions)."""
    mapping = MAPPINGS[kind]
    if payload is None:
        payload = {}
        chosen = action if action is not None else mapping.action(item)
        if chosen is not None:
            payload["action"] = chosen
        if mapping.key is not None:
            payload[mapping.key] = item
        payload.update(extra or {})
        if repository is not None and mapping.key != "repository":
            payload["repository"] = repository
        if organization is not None:
            payload["organization"] = organization
        who = sender if sender is not None else mapping.sender(item)
        if who:
            payload["sender"] = who
    oid = object_id if object_id is not None else mapping.object_id(item)
    delivery_id = derived_delivery_id(kind + id_suffix, oid, mapping.version(item))
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    headers = {"X-GitHub-Event": mapping.event}
    if provenance:
        headers["X-Pillarstream-Archive-Object"] = provenance  # the raw page this item was read from
    return from_payload(delivery_id=delivery_id, event=mapping.event, payload=body, parsed=payload,
                        source="backfill", received_at=received_at, headers=headers)
