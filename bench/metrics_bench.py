"""What the receiver's multiprocess metrics cost per delivery, against in-process metrics (the baseline).

Run: .venv/bin/python bench/metrics_bench.py [--deliveries 200000]

Each mode runs in a fresh interpreter (prometheus_client picks its value store at import): the metric
updates one delivery makes (ReceiverMetrics: counter, publish-time histogram, in-flight gauge, size
histogram), then the time of one /metrics scrape. Multiprocess mode scrapes the files of four worker pids,
as a receiver with four gunicorn workers would.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, os, sys, time
sys.path.insert(0, sys.argv[2])
from receiver.app import ReceiverMetrics
from receiver.metrics import exposition
n = int(sys.argv[1])
pids = [11, 12, 13, 14] if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else [os.getpid()]
from prometheus_client import values
per_worker = []
for pid in pids:
    if len(pids) > 1:
        values.ValueClass = values.MultiProcessValue(lambda pid=pid: pid)
    metrics = ReceiverMetrics()
    started = time.perf_counter()
    for i in range(n // len(pids)):
        with metrics.publish_seconds.time(), metrics.in_flight.track_inprogress():
            pass
        metrics.payload_bytes.observe(4000 + i % 30000)
        metrics.deliveries.labels(("push", "pull_request", "check_run")[i % 3], "202").inc()
    per_worker.append(time.perf_counter() - started)
started = time.perf_counter()
for _ in range(20):
    text = exposition(metrics.registry)
scrape = (time.perf_counter() - started) / 20
print(json.dumps({"us_per_delivery": sum(per_worker) / n * 1e6, "scrape_ms": scrape * 1e3, "bytes": len(text)}))
"""


def run(deliveries: int, multiprocess: bool) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with tempfile.TemporaryDirectory(prefix="metrics-bench-") as folder:
        if multiprocess:
            env["PROMETHEUS_MULTIPROC_DIR"] = folder
        out = subprocess.run([sys.executable, "-c", CHILD, str(deliveries), str(REPO)], env=env, check=True,
                             capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=200_000)
    args = parser.parse_args()
    baseline = run(args.deliveries, multiprocess=False)
    multi = run(args.deliveries, multiprocess=True)
    print(f"in-process metrics (baseline): {baseline['us_per_delivery']:.2f} µs per delivery, "
          f"scrape {baseline['scrape_ms']:.2f} ms")
    print(f"multiprocess, 4 workers:       {multi['us_per_delivery']:.2f} µs per delivery, "
          f"scrape {multi['scrape_ms']:.2f} ms")
    print(f"ratio multiprocess / baseline: {multi['us_per_delivery'] / baseline['us_per_delivery']:.2f}x per delivery,"
          f" {multi['scrape_ms'] / baseline['scrape_ms']:.2f}x per scrape")


if __name__ == "__main__":
    main()
