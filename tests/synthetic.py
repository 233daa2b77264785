"""Many distinct, real-shaped deliveries: corpus payloads with their ids varied per item."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pillarstream.envelope import Envelope, from_payload

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "webhooks"
TEMPLATES = [
    ("push", "push/with-organization.payload.json", "head_commit"),
    ("pull_request", "pull_request/opened.with-organization.payload.json", "pull_request"),
    ("pull_request", "pull_request/closed.with-organization.payload.json", "pull_request"),
    ("pull_request_review", "pull_request_review/submitted.with-organization.payload.json", "review"),
    ("check_run", "check_run/completed.with-organization.payload.json", "check_run"),
    ("workflow_run", "workflow_run/completed.payload.json", "workflow_run"),
    ("deployment_status", "deployment_status/payload.json", "deployment_status"),
    ("issues", "issues/opened.with-organization.payload.json", "issue"),
]


def _templates() -> list[tuple[str, dict[str, Any], str]]:
    return [(event, json.loads((FIXTURES / path).read_text()), field) for event, path, field in TEMPLATES]


def synthetic(count: int, repos: int = 20, start: datetime | None = None) -> Iterator[tuple[str, bytes]]:
    """(event, body) pairs; object ids and repository ids vary so facts do not collapse onto one row."""
    templates = _templates()
    start = start or datetime.now(UTC) - timedelta(days=2)
    for i in range(count):
        event, body, field = templates[i % len(templates)]
        body = json.loads(json.dumps(body))
        repo = body.get("repository") or {}
        repo["id"] = 500_000 + i % repos
        repo["full_name"] = f"{(repo.get('owner') or {}).get('login', 'org')}/repo{i % repos}"
        item = body.get(field)
        when = (start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        if isinstance(item, dict):
            if "id" in item:
                item["id"] = 10_000_000 + i
            if "node_id" in item:  # deployment statuses are keyed by it
                item["node_id"] = f"N_{10_000_000 + i}"
            if "number" in item:
                item["number"] = i + 1
            for key in ("updated_at", "created_at", "submitted_at", "completed_at", "timestamp"):
                if key in item:
                    item[key] = when
        yield event, json.dumps(body).encode()


def envelopes(count: int, repos: int = 20) -> Iterator[Envelope]:
    now = datetime.now(UTC)
    for event, body in synthetic(count, repos):
        yield from_payload(delivery_id=str(uuid.uuid4()), event=event, payload=body, parsed=json.loads(body),
                           source="webhook", received_at=now)
