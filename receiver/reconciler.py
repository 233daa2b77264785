"""Missed-delivery reconciler: ask GitHub to redeliver every delivery that never succeeded.

GitHub does not retry a failed delivery by itself and keeps the delivery log for a few days, so this runs
regularly (``--every``). A delivery counts as done when any attempt got a 2xx, or when its id is already in
the warehouse (it arrived some other way, e.g. a backfill or a manual redelivery).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    """One row of GitHub's delivery log (``GET …/hooks/{id}/deliveries``)."""

    id: int
    guid: str
    delivered_at: datetime
    status_code: int
    event: str
    redelivery: bool = False


@dataclass(frozen=True)
class Plan:
    seen: int
    failed: list[Attempt]  # the latest attempt of each delivery that never succeeded
    already_in_warehouse: int


def plan_redeliveries(attempts: Iterable[Attempt], in_warehouse: set[str]) -> Plan:
    by_guid: dict[str, list[Attempt]] = defaultdict(list)
    for attempt in attempts:
        by_guid[attempt.guid].append(attempt)
    failed, present = [], 0
    for guid, tries in by_guid.items():
        if any(200 <= t.status_code < 300 for t in tries):
            continue
        if guid in in_warehouse:
            present += 1
            continue
        failed.append(max(tries, key=lambda t: (t.delivered_at, t.id)))
    failed.sort(key=lambda t: (t.delivered_at, t.id))
    return Plan(seen=len(by_guid), failed=failed, already_in_warehouse=present)


def delivery_gap(attempts: Iterable[Attempt], in_warehouse: set[str]) -> int:
    """Deliveries GitHub reports as sent but absent from the warehouse."""
    return len({a.guid for a in attempts} - in_warehouse)
