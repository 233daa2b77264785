"""How long a warehouse worker killed with -9 and restarted at once takes to write again, with static group
membership (`PILLARSTREAM_WORKER_INSTANCE_ID`, what `pillarstream up` sets) and without (the baseline).

Run: .venv/bin/python bench/worker_resume_bench.py [--rounds 2]

For each mode: a worker consumes until a first delivery is in Postgres; then, per round, it is killed with -9,
started again 0.5 s later (as `up`'s supervisor does) and one delivery is published right after the kill; the
figure is the time from the kill to that delivery's row. Without static membership the new member waits for
the dead one's session (Faust's broker_session_timeout, 60 s) to expire.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg2  # noqa: E402

from adapters.kafka_publisher import KafkaPublisher, ensure_topic  # noqa: E402
from bench.services import bench_services  # noqa: E402
from devstack.postgres import WRITER  # noqa: E402
from devstack.stack import LocalServices, child_env, spawn_worker  # noqa: E402
from tests.synthetic import envelopes  # noqa: E402


def landed(dsn: str, delivery_id: str) -> bool:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM deliveries WHERE delivery_id = %s", (delivery_id,))
        found = cur.fetchone() is not None
    conn.close()
    return found


def publish_one(publisher: KafkaPublisher) -> str:
    envelope = next(envelopes(1))
    publisher.publish(envelope)
    return envelope.delivery_id


def wait_landed(dsn: str, delivery_id: str, since: float, limit: float = 180.0) -> float:
    while time.monotonic() - since < limit:
        if landed(dsn, delivery_id):
            return time.monotonic() - since
        time.sleep(0.1)
    raise TimeoutError(f"delivery {delivery_id} not written within {limit:.0f}s")


def measure(services: LocalServices, root: Path, static: bool, rounds: int) -> list[float]:
    topic = f"resume.{uuid.uuid4().hex[:8]}"
    ensure_topic(services.kafka.bootstrap, topic, 6, 1)
    env = child_env(kafka_bootstrap=services.kafka.bootstrap, raw_topic=topic, topic_partitions="6",
                    database_url=services.postgres.dsn(WRITER), archive_url=f"file://{root / 'archive'}",
                    consumer_group_prefix=f"resume-{uuid.uuid4().hex[:6]}", log_format="text",
                    data_dir=str(root), **({"worker_instance_id": "bench-warehouse"} if static else {}))
    log = root / f"worker-{'static' if static else 'dynamic'}.log"
    publisher = KafkaPublisher(services.kafka.bootstrap, topic, timeout_s=10)
    worker = spawn_worker(env, "warehouse", log)
    figures = []
    try:
        wait_landed(services.postgres.dsn(WRITER), publish_one(publisher), time.monotonic())
        for _ in range(rounds):
            worker.kill()
            killed = time.monotonic()
            delivery_id = publish_one(publisher)
            time.sleep(0.5)
            worker = spawn_worker(env, "warehouse", log)
            figures.append(wait_landed(services.postgres.dsn(WRITER), delivery_id, killed))
    finally:
        worker.stop()
        publisher.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with bench_services("resume-bench") as (root, services):
        static = measure(services, root, static=True, rounds=args.rounds)
        dynamic = measure(services, root, static=False, rounds=args.rounds)
    print(f"kill -9 of a warehouse worker to its next row written, {args.rounds} rounds each:")
    print(f"  static membership (up):  median {statistics.median(static):5.1f} s   {[round(f, 1) for f in static]}")
    print(f"  dynamic (baseline):      median {statistics.median(dynamic):5.1f} s   {[round(f, 1) for f in dynamic]}")
    print(f"  baseline / static: {statistics.median(dynamic) / statistics.median(static):.1f}x faster")


if __name__ == "__main__":
    main()
