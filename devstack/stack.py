"""`pillarstream up` and `pillarstream status`: the whole pipeline on one machine, in the foreground.

The same :class:`LocalServices` starts the broker and database for the test harness, on ports and folders
of its own, so tests can run while `make up` is running.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from adapters.postgres import connect
from devstack.kafka import JAR_CACHE, KAFKA_VERSION, REPO_ROOT, KafkaBroker
from devstack.postgres import ADMIN, DATABASE, READER, WRITER, PostgresServer, write_private
from devstack.process import Child, StartError, become_subreaper, port_busy, port_open, port_owner, wait_until
from devstack.supervisor import Supervisor
from pillarstream.errors import WarehouseError
from pillarstream.settings import ENV_PREFIX, Settings

STACK_FILE = "stack.json"


def local_data_dir(settings: Settings) -> Path:
    """The local stack's folder: ``PILLARSTREAM_DATA_DIR`` when set, else the checkout's ``.local``, so `status`
    and `demo` find a running `make up` from any folder."""
    if "data_dir" in settings.model_fields_set:
        return settings.data_dir.resolve()
    return REPO_ROOT / ".local"


def local_archive(settings: Settings, data: Path) -> str:
    return settings.archive_url or f"file://{data / 'archive'}"


class LocalServices:
    """Kafka (KRaft) and PostgreSQL under one folder, migrated and with the raw topic created."""

    def __init__(self, root: Path, *, kafka_port: int, controller_port: int, pg_port: int,
                 durable: bool = True, topic: str = "github.events.raw", partitions: int = 6) -> None:
        self.root = root.resolve()
        self.kafka = KafkaBroker(self.root / "kafka", JAR_CACHE, kafka_port, controller_port)
        self.postgres = PostgresServer(self.root / "postgres", pg_port, durable=durable)
        self.topic = topic
        self.partitions = partitions

    def start(self, say: Callable[[str], None] = lambda line: None) -> None:
        """Starts both and waits until each is ready; ``say`` hears a progress line for each step that takes time."""
        from adapters.kafka_publisher import ensure_topic
        from stream_processors.migrations import migrate

        began = time.monotonic()
        say(f"starting Kafka {KAFKA_VERSION} on {self.kafka.bootstrap} ...")
        self.kafka.start()
        say(f"  Kafka ready ({time.monotonic() - began:.1f}s)")
        began = time.monotonic()
        fresh = not (self.postgres.cluster / "PG_VERSION").exists()
        say(f"starting PostgreSQL {self.postgres.version} on 127.0.0.1:{self.postgres.port}"
            + (" (creating its cluster first) ..." if fresh else " ..."))
        self.postgres.start()
        where = self.postgres.cluster
        say(f"  PostgreSQL ready ({time.monotonic() - began:.1f}s); cluster in {where}"
            + ("  (the postgres user cannot enter " + str(self.root) + ", so it lives there)"
               if self.postgres.relocated else ""))
        applied = migrate(self.postgres.dsn(ADMIN, DATABASE))
        if applied:
            say(f"  applied {len(applied)} migration(s)")
        ensure_topic(self.kafka.bootstrap, self.topic, self.partitions, 1)

    def stop(self) -> None:
        self.kafka.stop()
        self.postgres.stop()

    def remove(self) -> None:
        """Deletes every file of this stack, including a relocated Postgres cluster (stop it first)."""
        self.postgres.remove()
        shutil.rmtree(self.root, ignore_errors=True)


def webhook_secret_file(data_dir: Path) -> Path:
    """The local webhook secret, generated once and kept (mode 0600) under the ignored data folder."""
    path = data_dir / "secrets" / "webhook_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(path, secrets.token_hex(32) + "\n")
    return path


def child_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env.update({ENV_PREFIX + k.upper(): v for k, v in settings.items()})
    return env


def spawn_receiver(env: dict[str, str], port: int, log: Path, *, workers: int = 4, threads: int = 8) -> Child:
    return Child("receiver", [sys.executable, "-m", "launcher", "receiver", "--bind", f"127.0.0.1:{port}",
                              "--workers", str(workers), "--threads", str(threads)], log, env=env)


def spawn_worker(env: dict[str, str], role: str, log: Path) -> Child:
    return Child(f"worker-{role}", [sys.executable, "-m", "launcher", "worker", role], log, env=env)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - local URL we built
            return bool(answer.status == 200)
    except OSError:
        return False


@dataclass(frozen=True)
class Port:
    number: int
    what: str
    flag: str
    make_variable: str


def free_port_after(number: int, taken: set[int]) -> int | None:
    """The first port after ``number`` that is free and not ``taken``; it is added to ``taken``."""
    candidates = (p for p in range(number + 1, min(number + 500, 65536)) if p not in taken)
    found = next((p for p in candidates if not port_busy(p)), None)
    if found:
        taken.add(found)
    return found


def _instead(port: Port, other: int | None) -> str:
    instead = f"{other}" if other else "N"
    return f"make up {port.make_variable}={instead}  (or pillarstream up {port.flag} {instead})"


def busy_port_message(port: Port, taken: set[int]) -> str:
    """One line: which port, for what, held by which process (when /proc shows it), and a free one to use (each
    suggestion a different port: ``taken`` holds the ports chosen and suggested so far)."""
    owner = port_owner(port.number)
    return (f"pillarstream up: port {port.number} ({port.what}) is in use"
            + (f" by {owner}" if owner else "") + ". Stop that process, or choose another port: "
            + _instead(port, free_port_after(port.number, taken)))


def port_problems(ports: list[Port]) -> list[str]:
    """One line for each port given to two services and each port in use; empty when ``up`` may start."""
    taken = {port.number for port in ports}
    lines = []
    for port in ports:
        first = next(p for p in ports if p.number == port.number)
        if first is not port:
            lines.append(f"pillarstream up: port {port.number} is given for both {first.what} and {port.what}: "
                         + _instead(port, free_port_after(port.number, taken)))
        elif port_busy(port.number):
            lines.append(busy_port_message(port, taken))
    return lines


def run_up(settings: Settings, *, receiver_port: int = 8080, kafka_port: int = 9092, controller_port: int = 9093,
           postgres_port: int = 5433, superset: bool = False, superset_port: int = 8088) -> int:
    data = local_data_dir(settings)
    archive = local_archive(settings, data)
    ports = [Port(receiver_port, "the webhook receiver", "--port", "PORT"),
             Port(kafka_port, "Kafka", "--kafka-port", "KAFKA_PORT"),
             Port(controller_port, "Kafka's KRaft controller", "--controller-port", "CONTROLLER_PORT"),
             Port(postgres_port, "PostgreSQL", "--postgres-port", "POSTGRES_PORT"),
             *([Port(superset_port, "Superset", "--superset-port", "SUPERSET_PORT")] if superset else [])]
    problems = port_problems(ports)
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        return 1
    say = partial(print, flush=True)
    services = LocalServices(data, kafka_port=kafka_port, controller_port=controller_port, pg_port=postgres_port,
                             topic=settings.raw_topic, partitions=settings.topic_partitions)
    supervisor = Supervisor()
    superset_server = None
    stopping = False
    supervising = False
    stack: dict[str, Any] = {}

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        if not supervising:  # Ctrl-C while starting: stop waiting now (the finally below stops what runs)
            raise KeyboardInterrupt

    def write_stack() -> None:
        if stack:
            stack["services"] = supervisor.state()
            path = data / STACK_FILE
            partial_file = path.with_suffix(".partial")
            partial_file.unlink(missing_ok=True)
            write_private(partial_file, json.dumps(stack, indent=2))
            partial_file.replace(path)

    supervisor.on_change = write_stack
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    become_subreaper()
    try:
        try:
            services.start(say)
        except (StartError, OSError) as exc:
            print(f"pillarstream up: {exc}", file=sys.stderr)
            return 1
        supervisor.adopt("kafka", services.kafka.launch, services.kafka.child)  # type: ignore[arg-type]
        supervisor.adopt("postgres", services.postgres.launch, services.postgres.child)  # type: ignore[arg-type]
        secret_file = webhook_secret_file(data)
        env = child_env(kafka_bootstrap=services.kafka.bootstrap, database_url=services.postgres.dsn(WRITER),
                        webhook_secret_file=str(secret_file), archive_url=archive,
                        raw_topic=settings.raw_topic, topic_partitions=str(settings.topic_partitions),
                        data_dir=str(data), log_level=settings.log_level,
                        # Text files for a person at the console, unless LOG_FORMAT was asked for.
                        log_format=settings.log_format if "log_format" in settings.model_fields_set else "text")
        # The receiver's per-worker metric files under DATA_DIR, cleared at each (re)start: a receiver killed
        # with -9 (and restarted) leaves no folder of its own in the temporary directory.
        env["PROMETHEUS_MULTIPROC_DIR"] = str(data / "receiver-metrics")
        logs = data / "logs"
        began = time.monotonic()
        say("starting the receiver and the workers ...")
        supervisor.add("receiver", partial(spawn_receiver, env, receiver_port, logs / "receiver.log"))
        for role in ("archiver", "warehouse"):
            # Static membership: a restarted worker takes its partitions back at once, instead of waiting for
            # the dead member's session to time out (a minute).
            worker_env = {**env, ENV_PREFIX + "WORKER_INSTANCE_ID": f"up-{role}"}
            supervisor.add(f"worker-{role}", partial(spawn_worker, worker_env, role, logs / f"worker-{role}.log"))
        webhook = f"http://127.0.0.1:{receiver_port}/webhooks/github"
        try:
            wait_until(lambda: http_ok(f"http://127.0.0.1:{receiver_port}/readyz"), timeout=60,
                       what="receiver /readyz", child=supervisor.services["receiver"].child)
        except StartError as exc:
            print(f"pillarstream up: {exc}", file=sys.stderr)
            return 1
        say(f"  receiver ready ({time.monotonic() - began:.1f}s)")
        if superset:
            from devstack.superset_server import SupersetServer

            say("starting Superset (installs it on first use) ...")
            superset_server = SupersetServer(data / "superset", superset_port, services.postgres.dsn(READER))
            superset_server.start()
            if superset_server.child is not None:
                supervisor.adopt("superset", superset_server.child.respawn, superset_server.child)
        stack.update({
            "webhook_url": webhook,
            "webhook_secret_file": str(secret_file),
            "postgres_dsn": services.postgres.dsn(WRITER),
            "postgres_reader_dsn": services.postgres.dsn(READER),
            "postgres_cluster": str(services.postgres.cluster),
            "kafka_bootstrap": services.kafka.bootstrap,
            "raw_topic": settings.raw_topic,
            "archive_url": archive,
            "logs": str(logs),
            "versions": {"kafka": KAFKA_VERSION, "postgres": services.postgres.version},
            "supervisor_pid": os.getpid(),
        })
        if superset_server is not None:
            stack["superset_url"] = superset_server.url
        write_stack()
        say("\npillarstream is running (Ctrl-C stops everything; a service that dies is restarted)\n"
            f"  webhook URL     {webhook}\n"
            f"  webhook secret  {secret_file.read_text().strip()}   (kept in {secret_file})\n"
            f"  Postgres DSN    {stack['postgres_dsn']}\n"
            f"  Postgres data   {services.postgres.cluster}\n"
            f"  Kafka           {services.kafka.bootstrap}  topic {settings.raw_topic}\n"
            f"  archive         {archive}\n"
            f"  logs            {logs}\n"
            + (f"  Superset        {superset_server.url}/superset/dashboard/pillarstream-overview/  (user admin, "
               f"password in {data / 'superset' / 'admin_password'})\n" if superset_server else "")
            + "Try: pillarstream demo      (in another terminal, from any folder)\n")
        supervising = True
        while not stopping:
            supervisor.check()
            time.sleep(0.25)
        say("stopping ...")
        return 0
    finally:
        if superset_server is not None:
            superset_server.stop()
        supervisor.stop()
        services.stop()
        (data / STACK_FILE).unlink(missing_ok=True)


def stack_status(settings: Settings) -> dict[str, Any]:
    path = local_data_dir(settings) / STACK_FILE
    if not path.exists():
        return {"ready": False, "error": f"no running stack ({path} missing): run `make up`"}
    stack: dict[str, Any] = json.loads(path.read_text())
    stack["webhook_secret"] = Path(stack.pop("webhook_secret_file")).read_text().strip()
    for service in stack.get("services", {}).values():  # the file is written when something changes: uptime is now's
        if service.get("running") and service.get("started_at"):
            since = datetime.fromisoformat(service["started_at"]).timestamp()
            service["up_for_s"] = round(max(0.0, time.time() - since), 1)
    base = stack["webhook_url"].rsplit("/webhooks/", 1)[0]
    try:
        connect(stack["postgres_dsn"], connect_timeout=2).close()
        postgres_ready = True
    except WarehouseError:
        postgres_ready = False
    host, _, port = stack["kafka_bootstrap"].rpartition(":")
    archive = stack["archive_url"]
    checks = {
        "receiver": http_ok(f"{base}/readyz"),
        "kafka": port_open(int(port), host),
        "postgres": postgres_ready,
        "archive": (not archive.startswith("file://")) or Path(archive[len("file://"):]).parent.exists(),
    }
    stack["checks"] = checks
    stack["ready"] = all(checks.values())
    return stack
