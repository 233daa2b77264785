"""`pillarstream demo`: a recent history of one organisation, as signed GitHub deliveries, through the running
local stack (see devstack/demo_history.py); then what landed in the warehouse, the archive and the dashboards."""

from __future__ import annotations

import time
import uuid
from collections import Counter

import requests

from adapters.archive_store import open_store
from adapters.postgres import fetch_all
from devstack.demo_history import DAYS, ORG, demo_history
from devstack.stack import stack_status
from pillarstream.envelope import from_archive_line
from pillarstream.settings import Settings
from pillarstream.signature import sign
from stream_processors.archiver import read_object


def run_demo(settings: Settings, timeout_s: float = 60.0) -> int:
    stack = stack_status(settings)
    if not stack.get("ready"):
        print(f"demo: the local stack is not ready: {stack.get('error') or stack.get('checks')}")
        return 1
    history = demo_history()
    print(f"sending {len(history)} deliveries: {DAYS} days of organisation {ORG} ending now")
    sent: dict[str, str] = {}
    answers: Counter[tuple[str, int]] = Counter()
    with requests.Session() as session:
        for event, body in history:
            delivery_id = str(uuid.uuid4())
            answer = session.post(stack["webhook_url"], data=body, timeout=15, headers={
                "Content-Type": "application/json", "X-GitHub-Event": event, "X-GitHub-Delivery": delivery_id,
                "X-Hub-Signature-256": sign(stack["webhook_secret"], body), "User-Agent": "GitHub-Hookshot/demo"})
            answers[(event, answer.status_code)] += 1
            if answer.status_code == 202:
                sent[delivery_id] = event
    for (event, status), count in sorted(answers.items()):
        print(f"POST {event:<22} x{count:<4} -> {status}")

    deadline = time.monotonic() + timeout_s
    rows: list[tuple[str, str, str | None]] = []
    while time.monotonic() < deadline:
        rows = fetch_all(stack["postgres_dsn"], "SELECT delivery_id, event, repo_full_name FROM deliveries "
                         "WHERE delivery_id = ANY(%s)", (list(sent),), connect_timeout=3)
        if len(rows) == len(sent):
            break
        time.sleep(0.5)
    print(f"\nwarehouse: {len(rows)}/{len(sent)} deliveries recorded")
    for (event, repo), count in sorted(Counter((r[1], r[2] or "-") for r in rows).items()):
        print(f"  deliveries  {event:<22} {repo:<30} {count}")
    if stack.get("postgres_reader_dsn"):  # the reporting views are the reader's (Superset's) to see
        _print_pillars(stack["postgres_reader_dsn"])

    store = open_store(stack["archive_url"])
    found = 0
    objects = 0
    for name in store.list_names("source=webhook/"):
        ids = {from_archive_line(line).delivery_id for line in read_object(store, name)} & sent.keys()
        if ids:
            found, objects = found + len(ids), objects + 1
    print(f"  archive     {objects} objects under {stack['archive_url']}/source=webhook/")
    print(f"archive: {found}/{len(sent)} deliveries in {stack['archive_url']}")
    return 0 if len(rows) == len(sent) and found >= len(sent) else 1


def _print_pillars(dsn: str) -> None:
    """What the dashboards will show: metric values per pillar for the organisation, last 28 days."""
    rows = fetch_all(dsn, "SELECT pillar, count(DISTINCT metric), count(*) FROM reporting.pillar_metrics "
                     "WHERE org = %s AND day > current_date - 28 AND value IS NOT NULL GROUP BY pillar ORDER BY pillar",
                     (ORG,), connect_timeout=3)
    for pillar, metrics, values in rows:
        print(f"  dashboards  {pillar:<22} {metrics} metrics, {values} values for {ORG} in the last 28 days")
