"""Replay rate from the archive into Kafka, next to the warehouse worker's rate on the same topic.

Run: .venv/bin/python bench/replay_bench.py [--events 30000]

An archive of N real-shaped deliveries is written (file:// store, the archiver's own layout), then
`replay` publishes it to a fresh topic (timed), then one warehouse worker consumes that topic into Postgres
(timed from its first row to its last).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from adapters.archive_store import FileStore  # noqa: E402
from adapters.kafka_publisher import KafkaPublisher, ensure_topic  # noqa: E402
from bench.services import bench_services  # noqa: E402
from bench.warehouse_bench import RowCounter  # noqa: E402
from devstack.postgres import WRITER  # noqa: E402
from devstack.process import wait_until  # noqa: E402
from devstack.stack import child_env, spawn_worker  # noqa: E402
from launcher.cli import REPLAY_PROCESSES  # noqa: E402
from stream_processors.archive_dedupe import DeliveryIndex  # noqa: E402
from stream_processors.archiver import Consumed, archive_batch  # noqa: E402
from stream_processors.replay import Selection, replay  # noqa: E402
from tests.synthetic import envelopes  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--processes", type=int, default=REPLAY_PROCESSES,
                        help="as `pillarstream replay --processes` (default: the same)")
    args = parser.parse_args()
    with bench_services("bench-replay", topic="unused", partitions=1) as (root, services):
        store = FileStore(root / "archive")
        batch = [Consumed("raw", i % 6, i, e) for i, e in enumerate(envelopes(args.events))]
        index = DeliveryIndex(store)
        for start in range(0, len(batch), 500):
            archive_batch(store, batch[start:start + 500], index)
        day = batch[0].envelope.received_at.date()

        topic = f"replay.{uuid.uuid4().hex[:6]}"
        ensure_topic(services.kafka.bootstrap, topic, 6, 1)
        open_publisher = partial(KafkaPublisher, services.kafka.bootstrap, topic, timeout_s=60, linger_ms=20)
        started = time.perf_counter()
        progress = replay(lambda: store, open_publisher, Selection(day, day), processes=args.processes)
        replay_rate = progress.records / (time.perf_counter() - started)

        dsn = services.postgres.dsn(WRITER)
        env = child_env(kafka_bootstrap=services.kafka.bootstrap, raw_topic=topic, database_url=dsn,
                        consumer_group_prefix="replay-bench", log_level="WARNING")
        count_rows = RowCounter(dsn)
        worker = spawn_worker(env, "warehouse", root / "worker.log")
        try:
            wait_until(lambda: count_rows() > 0, timeout=120, what="first rows", child=worker)
            first, t0 = count_rows(), time.perf_counter()
            wait_until(lambda: count_rows() >= args.events, timeout=900, what="all rows", child=worker)
            worker_rate = (args.events - first) / (time.perf_counter() - t0)
        finally:
            worker.stop()
            count_rows.close()
        print(f"replay archive → Kafka       {replay_rate:10,.0f} events/s   ({progress.records} records, "
              f"{progress.total_objects} objects)   target >= 10,000")
        print(f"warehouse worker → Postgres  {worker_rate:10,.0f} events/s")
        print(f"ratio replay/worker: {replay_rate / worker_rate:.2f}")


if __name__ == "__main__":
    main()
