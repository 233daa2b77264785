"""Fuzz run against a whole local stack: hostile requests in, counts per answer out, and how many of the
accepted deliveries reached the warehouse.

Run: .venv/bin/python bench/fuzz_bench.py [--requests 100000] [--concurrency 48] [--max-seconds 1800]

Starts Kafka, Postgres, the receiver (gunicorn) and both workers of its own on free loopback ports, sends
``--requests`` requests (bounded also by ``--max-seconds``), each on its own connection, drawn from a mix of
unsigned, wrongly signed, deeply nested, unserialisable, hostile-value and valid signed deliveries,
malformed chunked bodies (a tenth with an unknown transfer coding: gunicorn's 501) and uploads that
stall mid-body. Prints the answers per kind and status, the 5xx
other than 501 (goal 0), the requests answered after 10 s or never (goal 0), and the share of accepted
(202) deliveries found in ``deliveries`` or, refused as values, in ``dead_letters`` after the drain wait
(goal 100 %). Then 96 uploads stall at once
and four valid deliveries are timed behind them (issue #14 saw none answered within 10 s).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import random
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.services import bench_services  # noqa: E402
from devstack.postgres import WRITER  # noqa: E402
from devstack.process import free_port, wait_until  # noqa: E402
from devstack.stack import child_env, http_ok, spawn_receiver, spawn_worker  # noqa: E402
from pillarstream.settings import Settings  # noqa: E402
from pillarstream.signature import sign  # noqa: E402
from tests.synthetic import synthetic  # noqa: E402

SECRET = "fuzz-bench-secret"
GITHUB_DEADLINE_S = 10.0
ANSWER_TIMEOUT_S = 30.0

HOSTILE_VALUES: list[Any] = [
    2**63, 2**63 - 1, 2**64, -(2**63) - 1, 10**20, -1, 0, 1e300, -1e20, 1e20, -0.0, "\u0000", "a\u0000b", "\ud800",
    "x\udfffy", "", "2024-13-45T99:99:99Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1e300", "not a date",
    True, None, [], {}, [1, 2], {"id": "x"}, "\U0001f600" * 50,
]
TIME_KEYS = ("created_at", "updated_at", "pushed_at", "submitted_at", "completed_at", "started_at", "timestamp",
             "closed_at", "merged_at", "run_started_at", "published_at")


@dataclass
class Request:
    kind: str
    data: bytes  # everything sent before a stall (or the whole request)
    delivery_id: str | None = None
    stall: bool = False


@dataclass
class Tally:
    by_kind: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    accepted: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    late: int = 0

    def add(self, request: Request, status: str, seconds: float) -> None:
        self.by_kind[request.kind][status] += 1
        if status == "202" and request.delivery_id:
            self.accepted[request.kind].append(request.delivery_id)
        if seconds > GITHUB_DEADLINE_S and not request.stall:
            self.late += 1


def http_request(headers: dict[str, str], body: bytes | None, *, chunked_raw: bytes | None = None,
                 coding: str = "chunked") -> bytes:
    lines = ["POST /webhooks/github HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if chunked_raw is not None:
        lines.append(f"Transfer-Encoding: {coding}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + chunked_raw
    assert body is not None
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def github_headers(event: str, body: bytes, delivery_id: str, *, signature: str | None = "sign") -> dict[str, str]:
    headers = {"Content-Type": "application/json", "X-GitHub-Event": event, "X-GitHub-Delivery": delivery_id,
               "User-Agent": "GitHub-Hookshot/fuzz"}
    if signature == "sign":
        headers["X-Hub-Signature-256"] = sign(SECRET, body)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return headers


class Mix:
    """Draws requests; ``valid`` bodies come from tests.synthetic (real payload shapes, distinct ids)."""

    def __init__(self, rng: random.Random, count: int) -> None:
        self.rng = rng
        self.valid = list(synthetic(min(count, 2000)))
        self.kinds: list[tuple[str, float, Callable[[], Request]]] = [
            ("valid", 0.30, self._valid),
            ("hostile_values", 0.25, self._hostile_values),
            ("unsigned", 0.10, self._unsigned),
            ("wrong_signature", 0.10, self._wrong_signature),
            ("nested", 0.05, self._nested),
            ("unserialisable", 0.05, self._unserialisable),
            ("malformed_chunked", 0.10, self._malformed_chunked),
            ("not_json", 0.04, self._not_json),
            ("stalled_body", 0.01, self._stalled),
        ]

    def draw(self) -> Request:
        pick = self.rng.random()
        for _, weight, make in self.kinds:
            if pick < weight:
                return make()
            pick -= weight
        return self._valid()

    def _signed(self, kind: str, event: str, body: bytes) -> Request:
        delivery_id = str(uuid.uuid4())
        return Request(kind, http_request(github_headers(event, body, delivery_id), body), delivery_id)

    def _valid(self) -> Request:
        event, body = self.rng.choice(self.valid)
        return self._signed("valid", event, body)

    def _hostile_values(self) -> Request:
        event, body = self.rng.choice(self.valid)
        document = json.loads(body)
        for _ in range(self.rng.randint(1, 4)):
            self._mutate(document)
        return self._signed("hostile_values", event, json.dumps(document).encode())

    def _mutate(self, document: dict[str, Any]) -> None:
        targets = [document] + [value for value in document.values() if isinstance(value, dict)]
        target = self.rng.choice(targets)
        keys = [key for key in target if key in TIME_KEYS or key in ("id", "number", "full_name", "login", "action",
                                                                          "name", "ref", "sha", "head_sha")]
        key = self.rng.choice(keys or list(target) or ["id"])
        if self.rng.random() < 0.1:
            target.pop(key, None)  # a missing field or object
        else:
            # A copy: a shared {} or [] put in twice would make the document contain itself.
            target[key] = copy.deepcopy(self.rng.choice(HOSTILE_VALUES))

    def _unsigned(self) -> Request:
        event, body = self.rng.choice(self.valid)
        return Request("unsigned", http_request(github_headers(event, body, str(uuid.uuid4()), signature=None), body))

    def _wrong_signature(self) -> Request:
        event, body = self.rng.choice(self.valid)
        wrong = self.rng.choice(["sha256=" + "0" * 64, "sha1=abc", "sha256=", "x" * 300, sign("other", body)])
        return Request("wrong_signature",
                       http_request(github_headers(event, body, str(uuid.uuid4()), signature=wrong), body))

    def _nested(self) -> Request:
        depth = self.rng.choice([1_100, 10_000, 200_000])
        opener, closer = self.rng.choice([(b'{"a":', b"}"), (b"[", b"]")])
        body = b'{"zen":' + opener * depth + b"1" + closer * depth + b"}"
        return self._signed("nested", "push", body)

    def _unserialisable(self) -> Request:
        body = self.rng.choice([
            b'{"repository": {"id": 9223372036854775808, "full_name": "a/b"}}',
            b'{"repository": {"id": 18446744073709551615, "full_name": "a/b"}}',
            b'{"action": "\\ud800", "repository": {"id": 1, "full_name": "a/b"}}',
            b'{"repository": {"id": 1, "full_name": "x\\udfff"}}',
            b'{"organization": {"login": "\\udbff"}}',
            b'{"zen": NaN}',
        ])
        return self._signed("unserialisable", "push", body)

    def _malformed_chunked(self) -> Request:
        headers = {"Content-Type": "application/json", "X-GitHub-Event": "push",
                   "X-GitHub-Delivery": str(uuid.uuid4())}
        raw = self.rng.choice([b"zz\r\n{}\r\n0\r\n\r\n", b"2\r\n{}XX0\r\n\r\n", b"2;a=\x01\r\n{}\r\n0\r\n\r\n",
                               b"ffffffffffffffffffff\r\n{}", b"2\r\n{}\r\n0\r\nBad Trailer\r\n\r\n", b"5\r\n{}"])
        # An unknown transfer coding is gunicorn's 501 (correct HTTP, the one 5xx allowed).
        coding = "x-unknown, chunked" if self.rng.random() < 0.1 else "chunked"
        return Request("malformed_chunked", http_request(headers, None, chunked_raw=raw, coding=coding))

    def _not_json(self) -> Request:
        body = self.rng.choice([b"", b"{", b"\xff\xfe", b"[1, 2]", b"null", self.rng.randbytes(64)])
        return self._signed("not_json", "push", body)

    def _stalled(self) -> Request:
        event, body = self.rng.choice(self.valid)
        full = http_request(github_headers(event, body, str(uuid.uuid4())), body)
        return Request("stalled_body", full[: len(full) - len(body) // 2], stall=True)


async def send(port: int, request: Request) -> tuple[str, float]:
    started = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), ANSWER_TIMEOUT_S)
    except (OSError, TimeoutError):
        return "connect failed", time.monotonic() - started
    try:
        writer.write(request.data)
        await writer.drain()
        if not request.stall:
            writer.write_eof()
        line = await asyncio.wait_for(reader.readline(), ANSWER_TIMEOUT_S)
        status = line.split(b" ", 2)[1].decode() if line.startswith(b"HTTP/") else "closed"
    except TimeoutError:
        status = "no answer"
    except (OSError, IndexError, UnicodeDecodeError):
        status = "reset"
    finally:
        writer.close()
    return status, time.monotonic() - started


async def run_load(port: int, mix: Mix, total: int, concurrency: int, max_seconds: float) -> tuple[Tally, float]:
    tally = Tally()
    stop_at = time.monotonic() + max_seconds
    remaining = [total]
    stalls = asyncio.Semaphore(max(1, concurrency // 8))  # stalled uploads never take every client slot

    async def client() -> None:
        while remaining[0] > 0 and time.monotonic() < stop_at:
            remaining[0] -= 1
            request = mix.draw()
            if request.stall:
                async with stalls:
                    status, seconds = await send(port, request)
            else:
                status, seconds = await send(port, request)
            tally.add(request, status, seconds)

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return tally, time.monotonic() - started


async def stalled_burst(port: int, mix: Mix, stalled: int, valid: int) -> tuple[Counter[str], list[tuple[str, float]]]:
    """``stalled`` uploads that stop mid-body, then ``valid`` deliveries behind them: the answers to both."""
    burst = [mix._stalled() for _ in range(stalled)]
    stalled_tasks = [asyncio.create_task(send(port, request)) for request in burst]
    await asyncio.sleep(0.5)  # the stalled uploads hold their threads first
    answers = await asyncio.gather(*(send(port, mix._valid()) for _ in range(valid)))
    return Counter(status for status, _ in await asyncio.gather(*stalled_tasks)), answers


def landed(dsn: str, ids: list[str], drain_seconds: float) -> tuple[set[str], set[str]]:
    """Accepted ids found in ``deliveries`` and in ``dead_letters`` (a value the warehouse refused, kept
    for `deadletters retry`), polled until every id is in one of them or nothing moved for 30 s."""
    import psycopg2

    found: tuple[set[str], set[str]] = (set(), set())
    last_change, deadline = time.monotonic(), time.monotonic() + drain_seconds
    while time.monotonic() < deadline:
        with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
            cur.execute("SELECT delivery_id FROM deliveries WHERE delivery_id = ANY(%s)", (ids,))
            written = {row[0] for row in cur.fetchall()}
            cur.execute("SELECT delivery_id FROM dead_letters WHERE delivery_id = ANY(%s)", (ids,))
            dead = {row[0] for row in cur.fetchall()}
        conn.close()
        if (len(written), len(dead)) != tuple(map(len, found)):
            found, last_change = (written, dead), time.monotonic()
        if len(written | dead) == len(ids) or time.monotonic() - last_change > 30:
            break
        time.sleep(2)
    return found


def tracebacks(log: str) -> Counter[tuple[str, str]]:
    """Each traceback in a log, as (the log line that introduced it, the exception line that ended it)."""
    kinds: Counter[tuple[str, str]] = Counter()
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            end = next((j for j in range(i + 1, len(lines)) if lines[j] and not lines[j].startswith(" ")), i)
            kinds[(lines[i - 1] if i else "", lines[end])] += 1
    return kinds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=48)
    parser.add_argument("--max-seconds", type=float, default=1800, help="stop sending after this long")
    parser.add_argument("--drain-seconds", type=float, default=600, help="longest wait for the warehouse")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--stalled-burst", type=int, default=96,
                        help="after the run, this many stalled uploads at once, then 4 valid deliveries (0: skip)")
    args = parser.parse_args()
    if not 1 <= args.requests <= 1_000_000 or not 1 <= args.concurrency <= 512:
        parser.error("--requests must be 1..1,000,000 and --concurrency 1..512")

    with bench_services("fuzz", durable=False, topic="fuzz.raw", partitions=3) as (root, services):
        secret_file = root / "webhook_secret"
        secret_file.write_text(SECRET + "\n")
        env = child_env(kafka_bootstrap=services.kafka.bootstrap, raw_topic="fuzz.raw",
                        database_url=services.postgres.dsn(WRITER), webhook_secret_file=str(secret_file),
                        archive_url=f"file://{root / 'archive'}", log_format="text", data_dir=str(root),
                        consumer_group_prefix="fuzz", topic_partitions="3")
        port = free_port()
        receiver = spawn_receiver(env, port, root / "receiver.log", workers=args.workers, threads=args.threads)
        children = [receiver] + [spawn_worker(env, role, root / f"worker-{role}.log")
                                 for role in ("archiver", "warehouse")]
        try:
            wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/readyz"), timeout=60, what="receiver /readyz",
                       child=receiver)
            mix = Mix(random.Random(args.seed), args.requests)
            print(f"fuzzing the receiver on 127.0.0.1:{port}: {args.requests} requests, concurrency "
                  f"{args.concurrency}, {args.workers} x {args.threads} threads", flush=True)
            tally, seconds = asyncio.run(run_load(port, mix, args.requests, args.concurrency, args.max_seconds))
            sent = sum(sum(c.values()) for c in tally.by_kind.values())
            print(f"\nsent {sent} requests in {seconds:.0f} s ({sent / seconds:.0f}/s)")
            totals: Counter[str] = Counter()
            for kind in sorted(tally.by_kind):
                totals.update(tally.by_kind[kind])
                print(f"  {kind:<18} {dict(sorted(tally.by_kind[kind].items()))}")
            print(f"  {'all':<18} {dict(sorted(totals.items()))}")
            server_errors = sum(n for status, n in totals.items() if status.startswith("5") and status != "501")
            print(f"5xx other than 501: {server_errors} (of which 503: {totals['503']})   (goal 0)")
            print(f"answered after {GITHUB_DEADLINE_S:.0f} s or never (stalled uploads excluded): "
                  f"{tally.late + sum(totals[s] for s in ('no answer', 'connect failed'))}   (goal 0)")
            if args.stalled_burst:
                stalled, valid = asyncio.run(stalled_burst(port, mix, args.stalled_burst, 4))
                print(f"{args.stalled_burst} uploads stalled mid-body ({dict(stalled)}), then 4 valid deliveries: "
                      + ", ".join(f"{status} in {seconds:.1f} s" for status, seconds in valid)
                      + f"   (documented bound: ceil({args.stalled_burst} / {args.workers * args.threads}) x "
                      f"{Settings.model_fields['body_read_timeout_seconds'].default:g} s + the publish)")
            print(f"waiting up to {args.drain_seconds:.0f} s for the warehouse ...", flush=True)
            accepted = [i for ids in tally.accepted.values() for i in ids]
            written, dead = landed(services.postgres.dsn(WRITER), accepted, args.drain_seconds)
            found = written | dead
            share = 100 * len(found) / len(accepted) if accepted else 100.0
            print(f"accepted (202) deliveries that reached the warehouse: {len(found)} of {len(accepted)} "
                  f"({share:.2f} %; {len(written)} in deliveries, {len(dead)} in dead_letters)   (goal 100 %)")
            for kind, ids in sorted(tally.accepted.items()):
                print(f"  {kind:<18} {len(written.intersection(ids))} in deliveries, "
                      f"{len(dead.intersection(ids))} in dead_letters, of {len(ids)}")
            for child in children:
                kinds = tracebacks(child.tail(10**6))
                print(f"{child.name}: alive={child.alive()} tracebacks in log={sum(kinds.values())}")
                for (logged, error), n in kinds.most_common(5):
                    print(f"    {n} x {logged[:110]} -> {error[:110]}")
        finally:
            for child in reversed(children):
                child.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
