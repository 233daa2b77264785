"""Chaos run against `pillarstream up`: a steady signed load while its services are killed with -9 in turn.

Run: .venv/bin/python bench/chaos_bench.py [--duration 180] [--rate 20] [--concurrency 16] [--rounds 2]

Starts ``pillarstream up`` (its supervisor, Kafka, Postgres, the receiver and both workers) on free loopback
ports in a data folder of its own under ``.local``, and sends real GitHub payloads (every file under
``tests/fixtures/webhooks``, each with a new delivery id) at up to ``--rate`` deliveries a second from at most
``--concurrency`` senders, for ``--duration`` seconds. Meanwhile it kills with -9, in turn, the Kafka broker,
each worker, the Postgres postmaster and the receiver (``--rounds`` rounds), each time waiting until the
supervisor has brought the stack back and then ``--pause`` seconds more.

Senders behave like GitHub: an answer other than 202 within 10 s (a 503, a timeout, a refused or reset
connection) fails the attempt, and the delivery is redelivered ``--redeliver-after`` seconds later with the
same delivery id and body (as GitHub's redeliver and the reconciler do), at most ``--attempts`` times in
all. An answer is waited for up to 30 s so that late answers are told apart from none. A share of the
acknowledged deliveries (``--redeliver-acknowledged``, 2 %) is redelivered once more, as a person pressing
Redeliver would; with the attempts that reached Kafka although their sender saw them fail, these are the
delivery ids the raw topic holds twice, which the archive must still hold once.

After a drain wait, prints the attempts by answer, then per delivery: acknowledged (202 within 10 s), lost
(acknowledged, not in the warehouse's ``deliveries``), missing from the archive, ids in Kafka more than once,
archived twice (more than one archive line), dead letters, the supervisor's restarts per service, and one
summary line. Exits 1 if anything acknowledged was lost (warehouse or archive) or any delivery was archived
twice.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from adapters.archive_store import open_store  # noqa: E402
from bench.fuzz_bench import Request, http_request, send, tracebacks  # noqa: E402
from devstack.postgres import PostgresServer  # noqa: E402
from devstack.process import free_port  # noqa: E402
from devstack.stack import stack_status  # noqa: E402
from pillarstream.envelope import from_archive_line, from_record  # noqa: E402
from pillarstream.settings import ENV_PREFIX, Settings  # noqa: E402
from pillarstream.signature import sign  # noqa: E402
from stream_processors.archiver import read_object  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "webhooks"
GITHUB_DEADLINE_S = 10.0
TARGETS = ("kafka", "worker-archiver", "worker-warehouse", "postgres", "receiver")


def fixture_payloads() -> list[tuple[str, bytes]]:
    """(event, body) for every fixture delivery; the folder names the event."""
    return [(path.parent.name, path.read_bytes()) for path in sorted(FIXTURES.glob("*/*.json"))]


@dataclass
class Delivery:
    delivery_id: str
    event: str
    body: bytes
    attempts: int = 0
    acknowledged: bool = False


@dataclass
class Tally:
    answers: Counter[str] = field(default_factory=Counter)  # per attempt
    deliveries: list[Delivery] = field(default_factory=list)
    gave_up: int = 0
    extra_redeliveries: int = 0  # of acknowledged deliveries

    def record(self, status: str, seconds: float) -> str:
        """The attempt's outcome as GitHub sees it: '202', '503', 'answered after 10 s', 'never answered', ..."""
        if status.isdigit() and seconds > GITHUB_DEADLINE_S:
            outcome = "answered after 10 s"
        elif status == "no answer":
            outcome = "never answered"
        elif status in ("connect failed", "reset", "closed"):
            outcome = f"connection {'refused' if status == 'connect failed' else status}"
        else:
            outcome = status
        self.answers[outcome] += 1
        return outcome


class Stack:
    """`pillarstream up` in a folder of its own, run as a user runs it, and `status` read in-process."""

    def __init__(self) -> None:
        self.data = REPO / ".local" / f"chaos-{uuid.uuid4().hex[:8]}"
        self.data.mkdir(parents=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
        self.env.update({ENV_PREFIX + "DATA_DIR": str(self.data), ENV_PREFIX + "LOG_FORMAT": "text"})
        self.console = self.data / "up-console.log"
        self.settings = Settings.model_validate({"data_dir": self.data})  # only where `status` looks
        self.up: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        ports = ["--port", str(free_port()), "--kafka-port", str(free_port()),
                 "--controller-port", str(free_port()), "--postgres-port", str(free_port())]
        with open(self.console, "ab") as log:  # a file: nobody reads a pipe while it runs
            self.up = subprocess.Popen([sys.executable, "-m", "launcher", "up", *ports], env=self.env,
                                       stdout=log, stderr=subprocess.STDOUT, cwd=REPO)

    def status(self) -> dict[str, Any]:
        if self.up is not None and self.up.poll() is not None:
            raise RuntimeError(f"pillarstream up exited ({self.up.returncode}):\n" + self.console_tail())
        return stack_status(self.settings)

    def ready(self) -> dict[str, Any] | None:
        status = self.status()
        services = status.get("services", {})
        if status.get("ready") and services and all(s["running"] for s in services.values()):
            return status
        return None

    def wait_ready(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if status := self.ready():
                return status
            time.sleep(0.5)
        raise TimeoutError(f"stack not ready after {timeout:.0f} s:\n" + self.console_tail())

    def console_tail(self, lines: int = 30) -> str:
        return "\n".join(self.console.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.up is not None and self.up.poll() is None:
            self.up.send_signal(signal.SIGINT)
            try:
                self.up.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.up.kill()  # its children get the parent-death signal
                self.up.wait()

    def remove(self, keep_logs: bool) -> Path | None:
        kept = None
        if keep_logs:
            kept = REPO / ".local" / f"{self.data.name}-logs"
            kept.mkdir(exist_ok=True)
            for log in [self.console, *(self.data / "logs").glob("*.log"), self.data / "kafka" / "kafka.log",
                        self.data / "postgres" / "postgres.log"]:
                if log.exists():
                    shutil.copyfile(log, kept / log.name)
        PostgresServer(self.data / "postgres").remove()  # a cluster relocated for root lives elsewhere
        shutil.rmtree(self.data, ignore_errors=True)
        return kept


class Load:
    """New deliveries at up to ``rate`` a second, and GitHub-like redeliveries, through ``concurrency`` senders."""

    def __init__(self, port: int, secret: str, args: argparse.Namespace) -> None:
        self.port, self.secret, self.args = port, secret, args
        self.tally = Tally()
        self.slots = asyncio.Semaphore(args.concurrency)
        self.rng = random.Random(args.seed)
        self.pending: set[asyncio.Task[None]] = set()

    def request(self, delivery: Delivery) -> Request:
        headers = {"Content-Type": "application/json", "X-GitHub-Event": delivery.event,
                   "X-GitHub-Delivery": delivery.delivery_id, "User-Agent": "GitHub-Hookshot/chaos",
                   "X-Hub-Signature-256": sign(self.secret, delivery.body)}
        return Request("valid", http_request(headers, delivery.body), delivery.delivery_id)

    async def deliver(self, delivery: Delivery) -> None:
        """One attempt, holding a sender slot already; a failed one schedules the redelivery."""
        try:
            delivery.attempts += 1
            status, seconds = await send(self.port, self.request(delivery))
        finally:
            self.slots.release()
        if self.tally.record(status, seconds) == "202":
            if not delivery.acknowledged and self.rng.random() < self.args.redeliver_acknowledged:
                self.tally.extra_redeliveries += 1
                self.spawn(self.redeliver(delivery))  # someone presses Redeliver on a delivered one
            delivery.acknowledged = True
        elif delivery.acknowledged:
            pass  # an extra redelivery of an acknowledged delivery failed: GitHub keeps the first success
        elif delivery.attempts < self.args.attempts:
            self.spawn(self.redeliver(delivery))
        else:
            self.tally.gave_up += 1

    async def redeliver(self, delivery: Delivery) -> None:
        low, high = self.args.redeliver_after
        await asyncio.sleep(self.rng.uniform(low, high))
        await self.slots.acquire()
        await self.deliver(delivery)

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def run(self, payloads: list[tuple[str, bytes]]) -> float:
        """Sends for ``duration`` seconds, then waits for the redeliveries; returns the sending time."""
        started = time.monotonic()
        for i in range(int(self.args.rate * self.args.duration)):
            delay = started + i / self.args.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.monotonic() - started >= self.args.duration:
                break
            await self.slots.acquire()  # all senders busy: the rate drops rather than the queue growing
            event, body = payloads[i % len(payloads)]
            delivery = Delivery(str(uuid.uuid4()), event, body)
            self.tally.deliveries.append(delivery)
            self.spawn(self.deliver(delivery))
        sending = time.monotonic() - started
        while self.pending:
            await asyncio.gather(*list(self.pending))
        return sending


async def kill_in_turn(stack: Stack, args: argparse.Namespace, stop_at: float,
                       say: Callable[[str], None]) -> Counter[str]:
    """kill -9 each target in turn, each after the stack is whole again and ``pause`` seconds have passed."""
    killed: Counter[str] = Counter()
    await asyncio.sleep(args.warmup)
    for _ in range(args.rounds):
        for name in TARGETS:
            await asyncio.sleep(args.pause)
            if time.monotonic() >= stop_at:
                return killed
            status = await asyncio.to_thread(stack.status)
            pid = status["services"][name]["pid"]
            if pid is None:
                continue
            os.kill(pid, signal.SIGKILL)
            at = time.monotonic()
            killed[name] += 1
            await asyncio.sleep(1)  # the supervisor notices within 0.25 s and restarts after its backoff
            while not await asyncio.to_thread(stack.ready):
                if time.monotonic() - at > 300:
                    raise TimeoutError(f"the stack is not whole 300 s after kill -9 {name}:\n"
                                       + stack.console_tail())
                await asyncio.sleep(0.5)
            say(f"  {time.strftime('%H:%M:%S')} kill -9 {name} (pid {pid}): stack whole again (status ready, "
                f"every service running) after {time.monotonic() - at:.1f} s")
    return killed


class Outcome:
    """Where the acknowledged deliveries ended up: warehouse rows, archive lines per id, dead letters."""

    def __init__(self, status: dict[str, Any]) -> None:
        self.dsn = status["postgres_dsn"]
        self.store = open_store(status["archive_url"])
        self.read_objects: dict[str, Counter[str]] = {}  # archive objects are create-only: read each once
        self.in_warehouse: set[str] = set()

    def archive_lines(self) -> Counter[str]:
        for name in self.store.list_names("source=webhook/"):
            if name not in self.read_objects:
                self.read_objects[name] = Counter(from_archive_line(line).delivery_id
                                                  for line in read_object(self.store, name))
        lines: Counter[str] = Counter()
        for counts in self.read_objects.values():
            lines.update(counts)
        return lines

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg2

        conn = psycopg2.connect(self.dsn, connect_timeout=5)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall())
        finally:
            conn.close()

    def drain(self, acknowledged: list[str], seconds: float, quiet: float) -> Counter[str]:
        """Polls until every acknowledged id is in both sinks, nothing moved for ``quiet`` s, or ``seconds``."""
        deadline, last_change, seen = time.monotonic() + seconds, time.monotonic(), (-1, -1)
        lines: Counter[str] = Counter()
        while True:
            self.in_warehouse = {row[0] for row in self.query(
                "SELECT delivery_id FROM deliveries WHERE delivery_id = ANY(%s)", (acknowledged,))}
            lines = self.archive_lines()
            now = (len(self.in_warehouse), sum(1 for i in acknowledged if lines[i]))
            if now != seen:
                seen, last_change = now, time.monotonic()
            if now == (len(acknowledged), len(acknowledged)) or time.monotonic() > deadline \
                    or time.monotonic() - last_change > quiet:
                return lines
            time.sleep(3)


def records_per_delivery(bootstrap: str, topic: str) -> Counter[str]:
    """How many records of the raw topic carry each delivery id: more than one where an attempt that failed for
    the sender had reached Kafka all the same, and its redelivery added another (what the archive dedupes)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=[bootstrap], enable_auto_commit=False, consumer_timeout_ms=1000)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        counts: Counter[str] = Counter()
        deadline = time.monotonic() + 120
        while any(consumer.position(p) < ends[p] for p in partitions) and time.monotonic() < deadline:
            for record in consumer:
                counts[from_record(record.value, record.headers).delivery_id] += 1
        return counts
    finally:
        consumer.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=180, help="seconds of load (and of kills)")
    parser.add_argument("--rate", type=float, default=20, help="new deliveries per second, at most")
    parser.add_argument("--concurrency", type=int, default=16, help="senders at once (new and redeliveries)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of kills over " + ", ".join(TARGETS))
    parser.add_argument("--pause", type=float, default=5, help="seconds after the stack is whole before a kill")
    parser.add_argument("--warmup", type=float, default=10, help="seconds of load before the first kill")
    parser.add_argument("--attempts", type=int, default=6, help="attempts per delivery, redeliveries included")
    parser.add_argument("--redeliver-after", type=float, nargs=2, default=(5.0, 20.0), metavar=("MIN", "MAX"),
                        help="a failed delivery is redelivered after a random delay in this range (s)")
    parser.add_argument("--redeliver-acknowledged", type=float, default=0.02, metavar="SHARE",
                        help="this share of acknowledged deliveries is redelivered once more, as a person "
                             "pressing Redeliver would (exercises the archive's one line per delivery id)")
    parser.add_argument("--drain-seconds", type=float, default=300, help="longest wait for the sinks")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    if not (1 <= args.duration <= 3600 and 0 < args.rate <= 500 and 1 <= args.concurrency <= 256
            and 1 <= args.attempts <= 20 and 0 <= args.rounds <= 20):
        parser.error("--duration 1..3600, --rate up to 500, --concurrency 1..256, --attempts 1..20, "
                     "--rounds 0..20")
    def say(line: str) -> None:
        print(line, flush=True)

    payloads = fixture_payloads()
    stack = Stack()
    failed = True
    try:
        began = time.monotonic()
        stack.start()
        status = stack.wait_ready(timeout=300)
        port = int(status["webhook_url"].split(":")[-1].split("/")[0])
        say(f"pillarstream up ready in {time.monotonic() - began:.0f} s ({stack.data}); sending {len(payloads)} "
            f"fixture payloads at up to {args.rate:g}/s from {args.concurrency} senders for {args.duration:g} s, "
            f"{args.rounds} round(s) of kill -9 over {', '.join(TARGETS)}")
        load = Load(port, status["webhook_secret"], args)

        async def run() -> tuple[float, Counter[str]]:
            stop_at = time.monotonic() + args.duration
            sending, killed = await asyncio.gather(load.run(payloads), kill_in_turn(stack, args, stop_at, say))
            return sending, killed

        sending, killed = asyncio.run(run())
        tally = load.tally
        deliveries = tally.deliveries
        acknowledged = [d.delivery_id for d in deliveries if d.acknowledged]
        say(f"\nsent {len(deliveries)} deliveries in {sending:.0f} s ({len(deliveries) / sending:.1f}/s), "
            f"{sum(tally.answers.values())} attempts; kills: {dict(killed)}")
        say("attempts by answer: " + ", ".join(f"{k}: {n}" for k, n in tally.answers.most_common()))

        say(f"waiting up to {args.drain_seconds:.0f} s for the warehouse and the archive ...")
        status = stack.wait_ready(timeout=120)
        outcome = Outcome(status)
        lines = outcome.drain(acknowledged, args.drain_seconds, quiet=60)
        ours = {d.delivery_id for d in deliveries}
        lost = [i for i in acknowledged if i not in outcome.in_warehouse]
        unarchived = [i for i in acknowledged if not lines[i]]
        twice = {i: n for i, n in lines.items() if n > 1 and i in ours}
        strangers = sum(1 for i in lines if i not in ours)
        dead = outcome.query("SELECT event, left(error, 100), count(*) FROM dead_letters GROUP BY 1, 2 "
                             "ORDER BY 3 DESC")
        unacknowledged = [d.delivery_id for d in deliveries if not d.acknowledged]
        late_landed = len({row[0] for row in outcome.query(
            "SELECT delivery_id FROM deliveries WHERE delivery_id = ANY(%s)", (unacknowledged,))})
        final = stack.status()
        published = records_per_delivery(status["kafka_bootstrap"], status["raw_topic"])
        republished = sum(1 for i in ours if published[i] > 1)

        def row(label: str, value: object, note: str = "") -> None:
            say(f"{label:<44} {value!s:>6}" + (f"   {note}" if note else ""))

        say("")
        row("deliveries sent", len(deliveries))
        row("  acknowledged (202 within 10 s)", len(acknowledged), "(goal: all)")
        row(f"  never acknowledged ({args.attempts} attempts)", tally.gave_up,
            f"(of these, {late_landed} reached the warehouse anyway)")
        row("  acknowledged, then redelivered once more", tally.extra_redeliveries, "(--redeliver-acknowledged)")
        row("attempts answered 503", tally.answers["503"], "(retried later, like GitHub)")
        row("attempts answered after 10 s", tally.answers["answered after 10 s"], "(goal 0)")
        row("attempts never answered (30 s)", tally.answers["never answered"], "(goal 0)")
        row("attempts refused / reset / closed", f"{tally.answers['connection refused']} / "
            f"{tally.answers['connection reset']} / {tally.answers['connection closed']}", "(receiver down)")
        row("lost: acknowledged, not in deliveries", len(lost), "(goal 0)")
        row("lost: acknowledged, not in the archive", len(unarchived), "(goal 0)")
        row("in Kafka more than once", republished, f"(of {sum(published.values())} records: a redelivery of an "
            "attempt that had landed)")
        row("archived twice (ids with > 1 archive line)", len(twice),
            "(goal 0)" + (f"; archive lines of other ids: {strangers}" if strangers else ""))
        row("dead letters", sum(n for _, _, n in dead))
        for event, error, n in dead[:10]:
            say(f"    {n} x {event}: {error}")
        say("supervisor restarts per service (kills): "
            + ", ".join(f"{name} {s['restarts']} ({killed[name]})" for name, s in final["services"].items()))
        for name in ("receiver", "worker-archiver", "worker-warehouse"):
            log = stack.data / "logs" / f"{name}.log"
            kinds = tracebacks(log.read_text(errors="replace")) if log.exists() else Counter()
            for (logged, error), n in kinds.most_common(3):
                say(f"    {name}: {n} x {logged[:100]} -> {error[:100]}")
        for sample in (lost[:3], unarchived[:3], list(twice)[:3]):
            if sample:
                say(f"    e.g. {', '.join(sample)}")
        failed = bool(lost or unarchived or twice)
        say(f"\nchaos: {len(deliveries)} sent, {len(acknowledged)} acknowledged, {len(lost)} lost, "
            f"{len(unarchived)} not archived, {len(twice)} archived twice, "
            f"{tally.answers['answered after 10 s']} answered after 10 s, "
            f"{tally.answers['never answered']} never answered, {sum(killed.values())} kills, "
            f"{sum(s['restarts'] for s in final['services'].values())} restarts -> {'FAIL' if failed else 'ok'}")
    finally:
        stack.stop()
        kept = stack.remove(keep_logs=failed)
        if kept:
            say(f"logs kept in {kept}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
