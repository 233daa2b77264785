"""/metrics of a receiver with several gunicorn workers counts every worker's deliveries, in every scrape."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.harness import Pipeline, fixture_bytes, pipeline_env

pytestmark = pytest.mark.integration
DELIVERIES = 24
SCRAPES = 8


def scrape(url: str) -> dict[str, float]:
    # A new connection each time, so scrapes land on different workers as GitHub's deliveries do.
    text = requests.get(f"{url}/metrics", timeout=10, headers={"Connection": "close"}).text
    wanted = ('pillarstream_deliveries_total{event="push",status="202"}', "pillarstream_publish_seconds_count",
              "pillarstream_payload_bytes_count", "pillarstream_publishes_in_flight")
    values = {}
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name in wanted:
            values[name.split("{")[0]] = float(value)
    return values


def test_every_scrape_counts_the_deliveries_of_all_workers(services, topic, secret_file: Path, tmp_path: Path):
    env = pipeline_env(bootstrap=services.kafka.bootstrap, topic=topic, dsn="postgresql://unused",
                       archive_url=f"file://{tmp_path / 'archive'}", secret_file=secret_file, group="metrics")
    receiver = Pipeline(root=tmp_path, env=env, secret=secret_file.read_text().strip())
    try:
        receiver.start_receiver(workers=3, threads=4)
        body = fixture_bytes("webhooks/push/payload.json")

        def post(_: int) -> int:
            return receiver.post("push", body, str(uuid.uuid4())).status_code

        with ThreadPoolExecutor(8) as pool:  # concurrent, so every worker takes some
            assert list(pool.map(post, range(DELIVERIES))) == [202] * DELIVERIES

        scrapes = [scrape(receiver.url) for _ in range(SCRAPES)]
        expected = {"pillarstream_deliveries_total": DELIVERIES, "pillarstream_publish_seconds_count": DELIVERIES,
                    "pillarstream_payload_bytes_count": DELIVERIES, "pillarstream_publishes_in_flight": 0}
        assert scrapes == [expected] * SCRAPES
    finally:
        receiver.stop()
