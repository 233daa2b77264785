"""`pillarstream demo`: real GitHub deliveries, signed, through the running local stack."""

from __future__ import annotations

import time
import uuid
from importlib import resources
from pathlib import Path

import psycopg2
import requests

from devstack.stack import stack_status
from pillarstream.envelope import from_archive_line
from pillarstream.settings import Settings
from pillarstream.signature import sign
from stream_processors.archive_store import open_store
from stream_processors.archiver import read_object


def demo_deliveries() -> list[tuple[str, bytes]]:
    """(event, body) pairs bundled with the package; the file name is the event type."""
    folder = resources.files("pillarstream") / "demo_deliveries"
    return sorted((Path(item.name).stem, item.read_bytes()) for item in folder.iterdir() if item.name.endswith(".json"))


def run_demo(settings: Settings, timeout_s: float = 60.0) -> int:
    stack = stack_status(settings)
    if not stack.get("ready"):
        print(f"demo: the local stack is not ready: {stack.get('error') or stack.get('checks')}")
        return 1
    sent: dict[str, str] = {}
    for event, body in demo_deliveries():
        delivery_id = str(uuid.uuid4())
        answer = requests.post(stack["webhook_url"], data=body, timeout=15, headers={
            "Content-Type": "application/json", "X-GitHub-Event": event, "X-GitHub-Delivery": delivery_id,
            "X-Hub-Signature-256": sign(stack["webhook_secret"], body), "User-Agent": "GitHub-Hookshot/demo"})
        print(f"POST {event:<22} {delivery_id}  -> {answer.status_code}")
        if answer.status_code == 202:
            sent[delivery_id] = event

    deadline = time.monotonic() + timeout_s
    rows: list[tuple[str, str, str | None]] = []
    while time.monotonic() < deadline:
        with psycopg2.connect(stack["postgres_dsn"], connect_timeout=3) as conn, conn.cursor() as cur:
            cur.execute("SELECT delivery_id, event, repo_full_name FROM deliveries WHERE delivery_id = ANY(%s)",
                        (list(sent),))
            rows = cur.fetchall()
        if len(rows) == len(sent):
            break
        time.sleep(0.5)
    print(f"\nwarehouse: {len(rows)}/{len(sent)} deliveries recorded")
    for delivery_id, event, repo in sorted(rows, key=lambda r: r[1]):
        print(f"  deliveries  {event:<22} {repo or '-':<30} {delivery_id}")

    store = open_store(stack["archive_url"])
    found = 0
    for name in store.list_names("source=webhook/"):
        ids = {from_archive_line(line).delivery_id for line in read_object(store, name)} & sent.keys()
        if ids:
            found += len(ids)
            print(f"  archive     {name}  ({len(ids)} of this demo)")
    print(f"archive: {found}/{len(sent)} deliveries in {stack['archive_url']}")
    return 0 if len(rows) == len(sent) and found >= len(sent) else 1
