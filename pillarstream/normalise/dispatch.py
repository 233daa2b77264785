"""Event type (and action) → normaliser, as a table. Events not in it are recorded as deliveries only."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import orjson

from pillarstream.config import PillarConfig
from pillarstream.envelope import Envelope
from pillarstream.normalise import checks, code, infra, org
from pillarstream.normalise.context import Incoming
from pillarstream.normalise.fields import BIGINT, EARLIEST, LATEST, PayloadError, checked_int, checked_text
from pillarstream.normalise.rows import Facts

Normaliser = Callable[[Incoming], Facts]

# (event, action): the action-specific entry wins over the event's ``None`` entry. An event listed only
# with actions (organization, team's repository actions) ignores its other actions.
NORMALISERS: Mapping[tuple[str, str | None], Normaliser] = MappingProxyType({
    ("push", None): code.push,
    ("pull_request", None): code.pull_request,
    ("pull_request_review", None): code.pull_request_review,
    ("create", None): code.create,
    ("delete", None): code.delete,
    ("release", None): code.release,
    ("repository", None): code.repository_event,
    ("check_run", None): checks.check_run,
    ("check_suite", None): checks.check_suite,
    ("workflow_run", None): checks.workflow_run,
    ("workflow_job", None): checks.workflow_job,
    ("deployment", None): infra.deployment,
    ("deployment_status", None): infra.deployment_status,
    ("issues", None): infra.issues,
    ("membership", None): org.membership,
    ("team", None): org.team,
    ("team", "added_to_repository"): org.team_repository,
    ("team", "removed_from_repository"): org.team_repository,
    ("organization", "member_added"): org.org_member,
    ("organization", "member_removed"): org.org_member,
    ("organization", "member_invited"): org.org_member,
})
HANDLED_EVENTS: frozenset[str] = frozenset(event for event, _ in NORMALISERS)


def normaliser_for(event: str, action: str | None) -> Normaliser | None:
    return NORMALISERS.get((event, action)) or NORMALISERS.get((event, None))


def normalise(envelope: Envelope, config: PillarConfig) -> Facts:
    """All facts one delivery states. Pure: no I/O, same input → same rows.

    Raises :class:`PayloadError` when the payload lacks what its facts are keyed by, or the envelope or
    payload holds a value the warehouse cannot store.
    """
    check_envelope(envelope)
    handler = normaliser_for(envelope.event, envelope.action)
    if handler is None:
        return Facts()
    try:
        # orjson: parsing is the largest single cost of normalising (profiled under bench/warehouse_bench.py).
        body = orjson.loads(envelope.payload)
    except ValueError as exc:
        raise PayloadError(f"{envelope.event} payload is not JSON") from exc
    if not isinstance(body, dict):
        raise PayloadError(f"{envelope.event} payload is not a JSON object")
    incoming = Incoming(envelope, body, config)
    facts = handler(incoming)
    repo = code.repository(incoming)
    if repo is not None:
        facts.repositories.append(repo)
    return facts


_ENVELOPE_TEXT = ("delivery_id", "event", "source", "action", "org", "repo_full_name", "hook_id", "origin")


def check_envelope(envelope: Envelope) -> None:
    """The envelope's values that the delivery log stores, checked like payload fields (every event has a
    delivery row, handled or not)."""
    e = envelope
    joined = "".join(v for v in (e.delivery_id, e.event, e.source, e.action, e.org, e.repo_full_name, e.hook_id,
                                 e.origin) if v is not None)
    if not joined.isascii() or "\x00" in joined:  # the rare case: find the field to name
        for name in _ENVELOPE_TEXT:
            value = getattr(envelope, name)
            if value is not None:
                checked_text(value, f"envelope {name}")
    if e.repo_id is not None and not -BIGINT <= e.repo_id < BIGINT:
        checked_int(e.repo_id, "envelope repo_id (repository.id)")
    if not EARLIEST <= envelope.received_at < LATEST:
        raise PayloadError(f"envelope received_at in year {envelope.received_at.year} is outside 1970..2100")
