"""`replay` publishes the archive in the order events happened, across event types and sources."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from adapters.archive_store import FileStore
from stream_processors.replay import Selection, selected_objects

pytestmark = pytest.mark.unit


def _name(source: str, event: str, day: int, hour: int, offsets: str = "0+0") -> str:
    return (f"source={source}/event={event}/year=2024/month=03/day={day:02d}/hour={hour:02d}/"
            f"github.events.raw+0+{offsets}.ndjson.gz")


def test_objects_come_in_time_order_across_event_types(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    names = [_name("webhook", "push", 4, 9), _name("webhook", "push", 5, 8), _name("webhook", "push", 6, 0),
             _name("webhook", "deployment_status", 4, 10), _name("webhook", "deployment_status", 5, 23),
             _name("webhook", "pull_request", 5, 8, "1+5"), _name("api", "pull_request", 4, 23)]
    for name in names:
        store.put_if_absent(name, b"")

    ordered = selected_objects(store, Selection(date(2024, 3, 4), date(2024, 3, 6)))

    assert [(n.split("/")[4], n.split("/")[5], n.split("/")[1]) for n in ordered] == [
        ("day=04", "hour=09", "event=push"),
        ("day=04", "hour=10", "event=deployment_status"),
        ("day=04", "hour=23", "event=pull_request"),
        ("day=05", "hour=08", "event=pull_request"),
        ("day=05", "hour=08", "event=push"),
        ("day=05", "hour=23", "event=deployment_status"),
        ("day=06", "hour=00", "event=push"),
    ]
