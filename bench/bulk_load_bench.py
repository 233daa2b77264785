"""A bulk load of history through the real write path, with live webhooks arriving meanwhile: this branch's
warehouse worker next to a baseline commit's (default: main), each on Kafka and Postgres of its own, in
the same run.

Run: .venv/bin/python bench/bulk_load_bench.py [--repos 100] [--days 365] [--base main] [--fresh-rate 5]

For each of baseline and this checkout:
1. A random history of N repositories × D days ending yesterday (tests/history.py, ~4 deliveries per
   repository-day) is produced to a topic in time order, as `pillarstream replay` publishes it; one
   `pillarstream worker warehouse` (the code under test, windows maintained) writes it to Postgres.
   Prints the ingest rate every 10 s, the overall rate from the first row to the last, and how long after
   the last row the window queue is empty (every window settled).
2. Meanwhile a receiver and a second warehouse worker of the same code on a topic of their own take signed
   webhooks (pull requests opened now) at --fresh-rate per second; for each, the time from POST until the
   organisation-level `prs_opened` 1-day value for today in reporting.pillar_metrics counts it. Prints
   p50 / p99 while the bulk load runs.
Then the ratios this checkout / baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg2  # noqa: E402

from adapters.kafka_publisher import ensure_topic  # noqa: E402
from bench.dashboard_bench import SECRET, _freshness, unseen  # noqa: E402
from bench.services import bench_services, keep_logs, publish_history  # noqa: E402
from devstack.postgres import READER, WRITER  # noqa: E402
from devstack.process import Child, free_port, wait_until  # noqa: E402
from devstack.stack import LocalServices, child_env, http_ok  # noqa: E402
from tests.history import Delivery, deliveries, random_history  # noqa: E402


def spawn(code: Path, name: str, args: list[str], env: dict[str, str], log: Path) -> Child:
    """`pillarstream ARGS` of the checkout at ``code`` (its folder first on sys.path); a baseline from before
    the launcher package started the command as ``python -m pillarstream``."""
    command = "launcher" if (code / "launcher").is_dir() else "pillarstream"
    return Child(name, [sys.executable, "-m", command, *args], log, env=env, cwd=code)


@contextmanager
def live_pipeline(code: Path, services: LocalServices, root: Path) -> Iterator[str]:
    topic = f"live.{uuid.uuid4().hex[:6]}"
    ensure_topic(services.kafka.bootstrap, topic, 6, 1)
    env = child_env(kafka_bootstrap=services.kafka.bootstrap, raw_topic=topic,
                    database_url=services.postgres.dsn(WRITER), webhook_secrets=SECRET,
                    consumer_group_prefix=f"live-{uuid.uuid4().hex[:6]}", log_level="WARNING")
    port = free_port()
    receiver = spawn(code, "receiver", ["receiver", "--bind", f"127.0.0.1:{port}", "--workers", "2"], env,
                     root / "receiver.log")
    worker = spawn(code, "worker-live", ["worker", "warehouse"], env, root / "live-worker.log")
    try:
        wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/readyz"), timeout=60, what="receiver", child=receiver)
        yield f"http://127.0.0.1:{port}/webhooks/github"
    finally:
        worker.stop()
        receiver.stop()


def one_run(label: str, code: Path, items: list[Delivery], repos: list[Any], fresh_rate: float,
            limit_s: float | None = None) -> dict[str, float]:
    """``limit_s``: stop measuring after that long (a baseline too slow to wait for); no settle time then."""
    print(f"--- {label} ({code}) ---", flush=True)
    with bench_services(f"bench-bulk-{label}", topic="unused", partitions=1) as (root, services):
        topic = publish_history(services, items, "bulk")
        dsn = services.postgres.dsn(WRITER)
        conn = psycopg2.connect(dsn)
        conn.autocommit = True

        def scalar(sql: str) -> int:
            with conn.cursor() as cur:
                cur.execute(sql)
                return int(cur.fetchone()[0])

        result: dict[str, float] = {}
        with live_pipeline(code, services, root) as url:
            time.sleep(8)  # the live worker joins its group
            env = child_env(kafka_bootstrap=services.kafka.bootstrap, raw_topic=topic, database_url=dsn,
                            consumer_group_prefix=f"bulk-{uuid.uuid4().hex[:6]}", log_level="WARNING")
            worker = spawn(code, "worker-bulk", ["worker", "warehouse"], env, root / "bulk-worker.log")
            latencies: list[float] = []
            stop = threading.Event()
            fresh = threading.Thread(target=lambda: None)

            def live() -> None:  # webhooks for as long as the bulk load runs, in rounds of 10 s
                while not stop.is_set():
                    started = time.perf_counter() - t0
                    round_ = asyncio.run(_freshness(url, services.postgres.dsn(READER), fresh_rate, 10, repos))
                    latencies.extend(round_)
                    if round_:  # where in the load the slow ones were
                        print(f"  {label} t={started:5.0f} s  freshness of {len(round_)} webhooks: p50 "
                              f"{round_[len(round_) // 2]:,.0f} ms, max {round_[-1]:,.0f} ms, "
                              f"{unseen(round_)} not seen within 60 s", flush=True)

            try:
                # Counting the history's rows every 2 s took the system measured 0.15 s of a core each time at a
                # million rows (bench/ingest_profile.py): they are counted once per 10 s span,
                # and the end is watched through the table's insert counter, which costs nothing. The counter
                # holds the live webhooks' rows too (today's: counted apart, through the index) and lags by a
                # backend's last second of writes (or ten, once it is idle): near the end, exact counts.
                exact_rows = "SELECT count(*) FROM deliveries WHERE received_at < date_trunc('day', now(), 'UTC')"
                counted_rows = ("SELECT n_tup_ins - (SELECT count(*) FROM deliveries "
                                "WHERE received_at >= date_trunc('day', now(), 'UTC')) "
                                "FROM pg_stat_user_tables WHERE relname = 'deliveries'")
                wait_until(lambda: scalar(exact_rows) > 0, timeout=180, what="first rows", child=worker)
                t0 = last_t = now = time.perf_counter()
                fresh = threading.Thread(target=live, daemon=True)
                fresh.start()
                first_n = last_n = n = scalar(exact_rows)
                rates: list[float] = []
                while n < len(items):
                    time.sleep(1)
                    if time.perf_counter() - last_t >= 10 or scalar(counted_rows) >= len(items) - 10_000:
                        n = scalar(exact_rows)
                    now = time.perf_counter()
                    if now - last_t >= 10:  # whole 10 s spans only: the last few seconds' rate says little
                        rates.append((n - last_n) / (now - last_t))
                        print(f"  {label} t={now - t0:5.0f} s  {n:9,} rows  {rates[-1]:8,.0f} events/s", flush=True)
                        if len(rates) >= 12 and sum(rates[-12:]) == 0:
                            raise RuntimeError("the bulk worker stopped writing")
                        last_n, last_t = n, now
                    if limit_s is not None and now - t0 >= limit_s:
                        break
                done = time.perf_counter()
                result["rate"] = (n - first_n) / (done - t0)
                result["min_rate"] = min(rates)
                print(f"{label}: {n - first_n:,} of {len(items):,} deliveries, {result['rate']:,.0f} events/s from the "
                      f"first row on (per 10 s: min {min(rates):,.0f}, max {max(rates):,.0f})", flush=True)
                if n < len(items):
                    print(f"{label}: stopped after {now - t0:.0f} s (--base-seconds)", flush=True)
                    result["settled_s"] = float("nan")
                else:
                    # Keys of days after today (the windows ahead, queued by every live rebuild) keep coming
                    # while the live webhooks do; the history's windows are those up to today.
                    history_keys = ("SELECT count(*) FROM metric_windows_pending "
                                    "WHERE day <= (now() AT TIME ZONE 'UTC')::date")
                    # Counted every 2 s: at wait_until's pace (5 a second) the count of 200,000 queued keys
                    # took a fifth of a core from the settling it waits for.
                    wait_until(lambda: time.sleep(2) or scalar(history_keys) == 0, timeout=1800,
                               what="every window settled", child=worker)
                    result["settled_s"] = time.perf_counter() - done
                    print(f"{label}: windows settled {result['settled_s']:.1f} s after the last row", flush=True)
            finally:
                stop.set()
                worker.stop()
            fresh.join(timeout=120)
        conn.close()
        print(f"{label}: logs kept in {keep_logs(root, f'bulk-{label}')}", flush=True)
    lat = sorted(latencies)
    if lat:
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
        result["p50"], result["p99"] = p(0.5), p(0.99)
        print(f"{label}: freshness during the bulk load (POST → organisation prs_opened today), {len(lat)} webhooks "
              f"at {fresh_rate:.0f}/s: p50 {p(0.5):.0f} ms, p99 {p(0.99):.0f} ms, max {lat[-1]:.0f} ms, "
              f"{unseen(lat)} not seen within 60 s", flush=True)
    return result


def bulk_history(repos: int, days: int) -> tuple[Any, list[Delivery]]:
    """The random history of ``repos`` × ``days`` ending yesterday, and its deliveries: up to yesterday, so
    today's organisation value counts the live webhooks only."""
    today = datetime.now(UTC).date()
    first = today - timedelta(days=days)
    started = time.perf_counter()
    history = random_history(repos, days, start=first, seed=1)
    items = deliveries(history, until=datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(minutes=1))
    print(f"history: {repos} repositories × {days} days from {first}: {len(items):,} deliveries "
          f"(generated in {time.perf_counter() - started:.0f} s)", flush=True)
    return history, items


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repos", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--base", default="main", help="the baseline commit (its warehouse worker)")
    parser.add_argument("--fresh-rate", type=float, default=5)
    parser.add_argument("--only", choices=("base", "now"), help="measure one side only")
    parser.add_argument("--base-seconds", type=float, help="measure the baseline for this long only")
    args = parser.parse_args()
    history, items = bulk_history(args.repos, args.days)
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-base-") as base_dir:
        subprocess.run(f"git -C {REPO} archive {args.base} | tar -x -C {base_dir}", shell=True, check=True)  # noqa: S602
        for label, code in (("base", Path(base_dir)), ("now", REPO)):
            if args.only in (None, label):
                results[label] = one_run(label, code, items, history.repos[:20], args.fresh_rate,
                                         args.base_seconds if label == "base" else None)
    if len(results) == 2:
        base, now = results["base"], results["now"]
        print(f"ratio now/{args.base}: ingest {now['rate'] / base['rate']:.2f}x, "
              f"slowest 10 s {now['min_rate']:,.0f} vs {base['min_rate']:,.0f} events/s, windows settled after "
              f"{now['settled_s']:.0f} s vs {base['settled_s']:.0f} s, freshness p50 {now.get('p50', 0):.0f} ms vs "
              f"{base.get('p50', 0):.0f} ms, p99 {now.get('p99', 0):.0f} ms vs {base.get('p99', 0):.0f} ms   "
              "(targets: >= 5,000 events/s sustained, p99 <= 5,000 ms)")


if __name__ == "__main__":
    main()
