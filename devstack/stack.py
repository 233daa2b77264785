"""`pillarstream up` and `pillarstream status`: the whole pipeline on one machine, in the foreground.

The same :class:`LocalServices` starts the broker and database for the test harness, on ports and folders
of its own, so tests can run while `make up` is running.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import psycopg2

from devstack.kafka import KAFKA_VERSION, KafkaBroker
from devstack.postgres import ADMIN, DATABASE, READER, WRITER, PostgresServer
from devstack.process import Child, port_open, wait_until
from pillarstream.settings import ENV_PREFIX, Settings

STACK_FILE = "stack.json"


class LocalServices:
    """Kafka (KRaft) and PostgreSQL under one folder, migrated and with the raw topic created."""

    def __init__(self, root: Path, *, kafka_port: int, controller_port: int, pg_port: int,
                 durable: bool = True, topic: str = "github.events.raw", partitions: int = 6) -> None:
        self.root = root.resolve()
        self.kafka = KafkaBroker(self.root / "kafka", self.root.parent / "cache", kafka_port, controller_port)
        self.postgres = PostgresServer(self.root / "postgres", pg_port, durable=durable)
        self.topic = topic
        self.partitions = partitions

    def start(self) -> None:
        from receiver.publisher import ensure_topic
        from stream_processors.migrations import migrate

        self.kafka.start()
        self.postgres.start()
        migrate(self.postgres.dsn(ADMIN, DATABASE))
        ensure_topic(self.kafka.bootstrap, self.topic, self.partitions, 1)

    def stop(self) -> None:
        self.kafka.stop()
        self.postgres.stop()


def webhook_secret_file(data_dir: Path) -> Path:
    """The local webhook secret, generated once and kept (mode 0600) under the ignored data folder."""
    path = data_dir / "secrets" / "webhook_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(secrets.token_hex(32) + "\n")
        path.chmod(0o600)
    return path


def child_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env.update({ENV_PREFIX + k.upper(): v for k, v in settings.items()})
    return env


def spawn_receiver(env: dict[str, str], port: int, log: Path, *, workers: int = 4, threads: int = 8) -> Child:
    return Child("receiver", [sys.executable, "-m", "pillarstream", "receiver", "--bind", f"127.0.0.1:{port}",
                              "--workers", str(workers), "--threads", str(threads)], log, env=env)


def spawn_worker(env: dict[str, str], role: str, log: Path) -> Child:
    return Child(f"worker-{role}", [sys.executable, "-m", "pillarstream", "worker", role], log, env=env)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - local URL we built
            return bool(answer.status == 200)
    except OSError:
        return False


def run_up(settings: Settings, *, receiver_port: int = 8080, kafka_port: int = 9092, controller_port: int = 9093,
           postgres_port: int = 5433, superset: bool = False, superset_port: int = 8088) -> int:
    data = settings.data_dir.resolve()
    for port in (kafka_port, controller_port, postgres_port, receiver_port, *([superset_port] if superset else [])):
        if port_open(port):
            print(f"pillarstream up: port {port} is in use (another `make up`?). Stop it first.", file=sys.stderr)
            return 1
    services = LocalServices(data, kafka_port=kafka_port, controller_port=controller_port, pg_port=postgres_port,
                             topic=settings.raw_topic, partitions=settings.topic_partitions)
    children: list[Child] = []
    superset_server = None
    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        print(f"starting Kafka {KAFKA_VERSION} and PostgreSQL ...", flush=True)
        services.start()
        secret_file = webhook_secret_file(data)
        env = child_env(kafka_bootstrap=services.kafka.bootstrap, database_url=services.postgres.dsn(WRITER),
                        webhook_secret_file=str(secret_file), archive_url=settings.archive,
                        raw_topic=settings.raw_topic, data_dir=str(data), log_level=settings.log_level,
                        # Text files for a person at the console, unless LOG_FORMAT was asked for.
                        log_format=settings.log_format if "log_format" in settings.model_fields_set else "text")
        logs = data / "logs"
        children.append(spawn_receiver(env, receiver_port, logs / "receiver.log"))
        children += [spawn_worker(env, role, logs / f"worker-{role}.log") for role in ("archiver", "warehouse")]
        webhook = f"http://127.0.0.1:{receiver_port}/webhooks/github"
        wait_until(lambda: http_ok(f"http://127.0.0.1:{receiver_port}/readyz"), timeout=60,
                   what="receiver /readyz", child=children[0])
        if superset:
            from dashboards.local import SupersetServer

            print("starting Superset (installs it on first use) ...", flush=True)
            superset_server = SupersetServer(data / "superset", superset_port, services.postgres.dsn(READER))
            superset_server.start()
        stack = {
            "webhook_url": webhook,
            "webhook_secret_file": str(secret_file),
            "postgres_dsn": services.postgres.dsn(WRITER),
            "postgres_reader_dsn": services.postgres.dsn(READER),
            "kafka_bootstrap": services.kafka.bootstrap,
            "raw_topic": settings.raw_topic,
            "archive_url": settings.archive,
            "logs": str(logs),
            "versions": {"kafka": KAFKA_VERSION, "postgres": services.postgres.version},
        }
        if superset_server is not None:
            stack["superset_url"] = superset_server.url
        (data / STACK_FILE).write_text(json.dumps(stack, indent=2))
        (data / STACK_FILE).chmod(0o600)
        print("\npillarstream is running (Ctrl-C stops everything)\n"
              f"  webhook URL     {webhook}\n"
              f"  webhook secret  {secret_file.read_text().strip()}   (kept in {secret_file})\n"
              f"  Postgres DSN    {stack['postgres_dsn']}\n"
              f"  Kafka           {services.kafka.bootstrap}  topic {settings.raw_topic}\n"
              f"  archive         {settings.archive}\n"
              f"  logs            {logs}\n"
              + (f"  Superset        {superset_server.url}/superset/dashboard/pillarstream-overview/  (user admin, "
                 f"password in {data / 'superset' / 'admin_password'})\n" if superset_server else "")
              +
              "Try: pillarstream demo      (in another terminal)\n", flush=True)
        while not stopping:
            for i, child in enumerate(children):
                if not child.alive() and not stopping:
                    print(f"{child.name} exited ({child.proc.returncode}); restarting. Last lines:\n{child.tail(15)}",
                          file=sys.stderr, flush=True)
                    children[i] = Child(child.name, child.proc.args, child.log_path, env=env)  # type: ignore[arg-type]
            time.sleep(0.5)
        print("stopping ...", flush=True)
        return 0
    finally:
        if superset_server is not None:
            superset_server.stop()
        for child in reversed(children):
            child.stop()
        services.stop()
        (data / STACK_FILE).unlink(missing_ok=True)


def stack_status(settings: Settings) -> dict[str, Any]:
    path = settings.data_dir.resolve() / STACK_FILE
    if not path.exists():
        return {"ready": False, "error": f"no running stack ({path} missing): run `make up`"}
    stack: dict[str, Any] = json.loads(path.read_text())
    stack["webhook_secret"] = Path(stack.pop("webhook_secret_file")).read_text().strip()
    base = stack["webhook_url"].rsplit("/webhooks/", 1)[0]
    try:
        psycopg2.connect(stack["postgres_dsn"], connect_timeout=2).close()
        postgres_ready = True
    except psycopg2.OperationalError:
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
