"""Receiver throughput and latency against the HTTP ceiling, with the real broker and acks=all.

Run: .venv/bin/python bench/receiver_bench.py [--seconds 15] [--concurrency 32] [--workers 2] [--threads 16]

Both servers run under gunicorn with the same worker class and counts; the load is a mix of real GitHub
payloads (1–50 KB, signed). Prints deliveries/s and p50/p99 for both, the ratio, and the receiver's p99 at
half its maximum rate.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import uuid
from pathlib import Path
from typing import get_args

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from adapters.kafka_publisher import ensure_topic  # noqa: E402
from bench.loadgen import closed_loop, open_loop  # noqa: E402
from devstack.kafka import KafkaBroker  # noqa: E402
from devstack.process import Child, free_port, wait_until  # noqa: E402
from devstack.stack import child_env, http_ok, spawn_receiver  # noqa: E402
from pillarstream.settings import Compression  # noqa: E402
from pillarstream.signature import sign  # noqa: E402

SECRET = "bench-secret"
MIX = ["push/payload.json", "pull_request/opened.payload.json", "pull_request_review/submitted.payload.json",
       "check_run/completed.payload.json", "check_suite/completed.payload.json",
       "workflow_run/completed.payload.json", "deployment_status/payload.json", "issues/opened.payload.json",
       "workflow_job/queued.payload.json", "ping/payload.json", "delete/payload.json",
       "push/with-new-branch.payload.json"]


def payload_mix() -> list[tuple[str, bytes, str]]:
    root = REPO / "tests" / "fixtures" / "webhooks"
    mix = []
    for relative in MIX:
        body = (root / relative).read_bytes()
        if 1000 <= len(body) <= 50_000:
            mix.append((relative.split("/")[0], body, sign(SECRET, body)))
    return mix


def producer_ceiling(bootstrap: str, mix: list[tuple[str, bytes, str]], threads: int, seconds: float) -> float:
    """Records/s of a bare kafka-python producer, each thread waiting for its acks=all acknowledgement:
    the most any receiver built on kafka-python can answer on this machine."""
    import threading
    import time

    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=[bootstrap], acks="all", enable_idempotence=True, linger_ms=2,
                             max_request_size=27 * 2**20)
    count = [0]
    deadline = time.monotonic() + seconds

    def run(i: int) -> None:
        while time.monotonic() < deadline:
            producer.send("bench", key=b"k%d" % i, value=mix[count[0] % len(mix)][1]).get(10)
            count[0] += 1

    started = time.monotonic()
    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    producer.close()
    return count[0] / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--compression", default="zstd", choices=get_args(Compression),
                        help="PILLARSTREAM_KAFKA_COMPRESSION of the receiver (default: the setting's default)")
    args = parser.parse_args()
    root = REPO / ".local" / f"bench-{uuid.uuid4().hex[:8]}"
    broker = KafkaBroker(root / "kafka", REPO / ".local" / "cache", free_port(), free_port())
    children: list[Child] = []
    mix = payload_mix()
    sizes = sorted(len(body) for _, body, _ in mix)
    print(f"payload mix: {len(mix)} real deliveries, {sizes[0]}–{sizes[-1]} bytes; "
          f"gunicorn gthread workers={args.workers} threads={args.threads}; concurrency {args.concurrency}")
    try:
        broker.start()
        ensure_topic(broker.bootstrap, "bench", 6, 1)
        env = child_env(kafka_bootstrap=broker.bootstrap, raw_topic="bench", webhook_secrets=SECRET,
                        log_level="WARNING", kafka_compression=args.compression)
        port = free_port()
        children.append(spawn_receiver(env, port, root / "receiver.log", workers=args.workers, threads=args.threads))
        bare_port = free_port()
        children.append(Child("bare", [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", str(args.workers),
                                       "--threads", str(args.threads), "-b", f"127.0.0.1:{bare_port}",
                                       "bench.bare_app:app"], root / "bare.log", cwd=REPO))
        for p, child in ((port, children[0]), (bare_port, children[1])):
            wait_until(lambda p=p: http_ok(f"http://127.0.0.1:{p}/healthz") or _answers(p), timeout=30,
                       what="server", child=child)
        receiver_url = f"http://127.0.0.1:{port}/webhooks/github"
        bare_url = f"http://127.0.0.1:{bare_port}/webhooks/github"

        asyncio.run(closed_loop(receiver_url, mix, args.concurrency, 3))  # warm-up: producer, connections
        asyncio.run(closed_loop(bare_url, mix, args.concurrency, 3))
        bare = asyncio.run(closed_loop(bare_url, mix, args.concurrency, args.seconds))
        real = asyncio.run(closed_loop(receiver_url, mix, args.concurrency, args.seconds))
        half = asyncio.run(open_loop(receiver_url, mix, real.rate / 2, args.seconds))
        print(bare.line("baseline (bare Flask 202)"))
        print(real.line("receiver (Kafka acks=all)"))
        print(half.line(f"receiver at half max ({real.rate / 2:.0f}/s)"))
        ceiling = producer_ceiling(broker.bootstrap, mix, args.concurrency, args.seconds)
        print(f"{'kafka-python producer alone':<28} {ceiling:8.0f} records/s    ({args.concurrency} threads, acks=all)")
        print(f"ratio receiver/baseline: {real.rate / bare.rate:.2f}   (target >= 0.6)")
        print(f"ratio receiver/producer ceiling: {real.rate / ceiling:.2f}")
        print(f"p99 at half max rate:    {half.pct(0.99):.1f} ms   (target <= 100 ms)")
    finally:
        for child in children:
            child.stop()
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)


def _answers(port: int) -> bool:
    from devstack.process import port_open

    return port_open(port)


if __name__ == "__main__":
    main()
