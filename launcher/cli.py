"""The ``pillarstream`` console script: one subcommand per process or task.

Each handler imports what it needs when it runs, so ``pillarstream --help`` stays fast and importing this
module reads no environment.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date
from functools import partial

from pillarstream.errors import EXIT_BUG, EXIT_INTERRUPTED, ConfigError, PillarstreamError, Unavailable
from pillarstream.settings import Settings, load_settings, warn_unknown_variables

# One more than the cores measured best on 2 (bench/replay_bench.py): each process waits on acks too.
REPLAY_PROCESSES = min(4, (os.cpu_count() or 1) + 1)


def _receiver(args: argparse.Namespace, settings: Settings) -> int:
    from adapters.kafka_publisher import ensure_topic
    from receiver.server import ReceiverServer

    settings.secrets()  # fail at start-up, not on the first delivery
    ensure_topic(settings.kafka(), settings.raw_topic, settings.topic_partitions, settings.topic_replication)
    ReceiverServer(settings, args.bind, args.workers, args.threads).run()
    return 0


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from adapters.kafka_publisher import ensure_topic
    from pillarstream.config import load_pillar_config
    from stream_processors.app import run_worker

    if args.role == "warehouse":
        load_pillar_config(settings.pillars_config)  # a bad file stops start-up before Kafka is touched
    ensure_topic(settings.kafka(), settings.raw_topic, settings.topic_partitions, settings.topic_replication)
    run_worker(settings, args.role, metrics_port=args.metrics_port)
    return 0


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from stream_processors.migrations import migrate

    applied = migrate(args.dsn or settings.dsn())
    print(f"applied {len(applied)} migration(s)" + "".join(f"\n  {m.version:03d} {m.name}" for m in applied))
    return 0


def _up(args: argparse.Namespace, settings: Settings) -> int:
    from devstack.stack import run_up

    return run_up(settings, receiver_port=args.port, kafka_port=args.kafka_port,
                  controller_port=args.controller_port, postgres_port=args.postgres_port,
                  superset=args.superset, superset_port=args.superset_port)


def _status(args: argparse.Namespace, settings: Settings) -> int:
    from devstack.stack import stack_status

    status = stack_status(settings)
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        for name, value in status.items():
            print(f"{name:>16}: {value}")
    return 0 if status.get("ready") else 1


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from devstack.demo import run_demo

    return run_demo(settings, timeout_s=args.timeout)


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from adapters.archive_store import open_store
    from adapters.kafka_publisher import KafkaPublisher, ensure_topic
    from stream_processors.replay import Selection, replay, verify, warehouse_delivery_ids

    if args.to < args.from_:
        raise ConfigError("--to is before --from")
    selection = Selection(args.from_, args.to, args.event, args.source)
    if args.verify:
        in_warehouse = warehouse_delivery_ids(settings.dsn(), selection)
        only_archive, only_warehouse = verify(open_store(settings.archive), selection, in_warehouse)
        print(f"only in the archive: {len(only_archive)}" + "".join(f"\n  {d}" for d in sorted(only_archive)))
        print(f"only in the warehouse: {len(only_warehouse)}" + "".join(f"\n  {d}" for d in sorted(only_warehouse)))
        return 1 if only_archive or only_warehouse else 0
    # Connects once up front, so bad credentials stop the replay with their cause (a producer only sees
    # its sends time out), and a topic that is missing is created as the receiver would.
    ensure_topic(settings.kafka(), settings.raw_topic, settings.topic_partitions, settings.topic_replication)
    open_publisher = partial(KafkaPublisher, settings.kafka(), settings.raw_topic, timeout_s=30,
                             linger_ms=20, compression=settings.kafka_compression)
    replay(partial(open_store, settings.archive), open_publisher, selection, processes=args.processes)
    return 0


def _deadletters(args: argparse.Namespace, settings: Settings) -> int:
    from stream_processors import dead_letters

    dsn = settings.dsn()
    if args.action == "list":
        letters = dead_letters.list_letters(dsn, include_resolved=args.all, limit=args.limit)
        for letter in letters:
            resolved = f"  resolved {letter.resolved_at:%Y-%m-%d %H:%M:%S}" if letter.resolved_at else ""
            print(f"{letter.delivery_id}  {letter.event or '-'}  first seen {letter.first_seen:%Y-%m-%d %H:%M:%S%z}"
                  f"  attempts {letter.attempts}{resolved}\n    {letter.error}")
        print(f"{len(letters)} dead letter(s)" + ("" if args.all else " open"))
        return 0
    if args.action == "show":
        found = dead_letters.show_letter(dsn, args.delivery_id)
        if found is None:
            print(f"no dead letter {args.delivery_id}", file=sys.stderr)
            return 1
        print(json.dumps({
            "delivery_id": found.delivery_id, "event": found.event, "error": found.error,
            "first_seen": found.first_seen.isoformat(), "last_seen": found.last_seen.isoformat(),
            "attempts": found.attempts, "resolved_at": found.resolved_at and found.resolved_at.isoformat(),
            "kafka": found.kafka, "envelope": found.envelope.decode("utf-8", "backslashreplace"),
            "payload": found.payload.decode("utf-8", "backslashreplace")}, indent=2))
        return 0
    from pillarstream.config import load_pillar_config

    if bool(args.delivery_ids) == args.all:
        raise ConfigError("retry takes delivery ids or --all")
    ids = dead_letters.open_ids(dsn) if args.all else args.delivery_ids
    outcomes = dead_letters.retry(dsn, ids, load_pillar_config(settings.pillars_config))
    for outcome in outcomes:
        print(f"{outcome.delivery_id}: {outcome.outcome}" + (f" ({outcome.reason})" if outcome.reason else ""))
    return 1 if any(o.outcome in ("still failing", "not found") for o in outcomes) else 0


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pillarstream", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("receiver", help="run the webhook receiver under gunicorn")
    p.add_argument("--bind", default="127.0.0.1:8080")
    # 4 processes x 8 threads measured best on 2 cores (bench/receiver_bench.py); scale with cores.
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--threads", type=int, default=8)
    p.set_defaults(handler=_receiver)

    p = sub.add_parser("worker", help="run a Faust stream processor")
    p.add_argument("role", choices=("archiver", "warehouse"))
    p.add_argument("--metrics-port", type=int, help="serve Prometheus metrics (pillarstream_dead_letters_total) here")
    p.set_defaults(handler=_worker)

    p = sub.add_parser("migrate", help="apply the warehouse's SQL migrations (idempotent)")
    p.add_argument("--dsn", help="owner DSN; default PILLARSTREAM_DATABASE_URL")
    p.set_defaults(handler=_migrate)

    p = sub.add_parser("replay", help="publish archived events again (source=replay), or --verify the archive")
    p.add_argument("--from", dest="from_", type=_day, required=True, metavar="DATE", help="first day (UTC), YYYY-MM-DD")
    p.add_argument("--to", type=_day, required=True, metavar="DATE", help="last day (UTC), inclusive")
    p.add_argument("--event", help="only this event type")
    p.add_argument("--source", choices=("webhook", "api"), help="only this archive source")
    p.add_argument("--verify", action="store_true", help="compare archive and warehouse delivery ids instead")
    p.add_argument("--processes", type=_positive, default=REPLAY_PROCESSES,
                   help="publishing processes, each with a share of the objects (default: cores + 1, at most 4)")
    p.set_defaults(handler=_replay)

    p = sub.add_parser("deadletters", help="records the warehouse left out: list, show one, retry after a fix")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = actions.add_parser("list", help="open dead letters: delivery id, event, first seen, reason")
    a.add_argument("--all", action="store_true", help="resolved ones too")
    a.add_argument("--limit", type=_positive, default=100)
    a = actions.add_parser("show", help="one dead letter with its envelope and payload (JSON)")
    a.add_argument("delivery_id")
    a = actions.add_parser("retry", help="normalise and write again, with the code and config deployed now")
    a.add_argument("delivery_ids", nargs="*", metavar="DELIVERY_ID")
    a.add_argument("--all", action="store_true", help="every open dead letter")
    p.set_defaults(handler=_deadletters)

    from backfill.cli import add_parser as add_backfill_parser
    from dashboards.cli import add_parser as add_dashboards_parser
    from receiver.webhook_commands import add_parser as add_webhook_parser

    add_backfill_parser(sub)
    add_webhook_parser(sub)
    add_dashboards_parser(sub)

    p = sub.add_parser("up", help="install and run the whole pipeline locally, in the foreground")
    p.add_argument("--port", type=int, default=8080, help="receiver port")
    p.add_argument("--kafka-port", type=int, default=9092)
    p.add_argument("--controller-port", type=int, default=9093, help="Kafka KRaft controller port")
    p.add_argument("--postgres-port", type=int, default=5433)
    p.add_argument("--superset", action="store_true", help="also run Superset with the dashboards (installs it)")
    p.add_argument("--superset-port", type=int, default=8088)
    p.set_defaults(handler=_up)

    p = sub.add_parser("status", help="endpoints of the running local stack and whether each is ready")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_status)

    p = sub.add_parser("demo", help="send bundled real GitHub deliveries to the local stack")
    p.add_argument("--timeout", type=float, default=60.0)
    p.set_defaults(handler=_demo)
    return parser


def _handlers(parser: argparse.ArgumentParser) -> dict[str, Callable[..., int]]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: sp.get_default("handler") for name, sp in action.choices.items()}


SUBCOMMANDS: tuple[str, ...] = tuple(_handlers(build_parser()))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings: Settings | None = None
    try:
        settings = load_settings()
        from pillarstream.logs import configure

        configure(settings.log_level, log_format(args.command, settings))
        warn_unknown_variables()
        return int(args.handler(args, settings))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the one place every failure becomes one line and an exit code
        error = as_project_error(exc, settings, getattr(args, "dsn", None))
        logging.getLogger("pillarstream").debug("%s failed", args.command, exc_info=exc)
        prefix = f"pillarstream {args.command}: " + ("configuration error: " if isinstance(error, ConfigError) else "")
        print(prefix + " ".join(str(error).split()), file=sys.stderr)  # one line, however the error was worded
        return error.exit_code


# The local stack's commands talk to a person at a terminal.
CONSOLE_COMMANDS = ("up", "status", "demo")


def log_format(command: str, settings: Settings) -> str:
    """``LOG_FORMAT`` when it is set; otherwise JSON, except text for the local stack's console commands."""
    if command in CONSOLE_COMMANDS and "log_format" not in settings.model_fields_set:
        return "text"
    return settings.log_format


def as_project_error(exc: Exception, settings: Settings | None, dsn: str | None = None) -> PillarstreamError:
    """The error a user is told about: ours as raised; a client library's wrapped, naming the service and
    where it was looked for (never a DSN or a secret); anything else as unexpected (exit 70)."""
    if isinstance(exc, PillarstreamError):
        return exc
    import psycopg2
    from kafka.errors import KafkaError

    if isinstance(exc, KafkaError):
        where = settings.kafka_bootstrap if settings else "PILLARSTREAM_KAFKA_BOOTSTRAP"
        return Unavailable(f"cannot reach Kafka at {where}: {type(exc).__name__}")
    if isinstance(exc, psycopg2.ProgrammingError) and "invalid dsn" in str(exc):
        given = "--dsn" if dsn else "PILLARSTREAM_DATABASE_URL"
        return ConfigError(f"{given} is not a libpq connection string "
                           "(postgresql://USER@HOST:PORT/DB or key=value pairs)")
    if isinstance(exc, psycopg2.OperationalError):
        # libpq names the host and port it tried ('connection to server at "h", port 5432 failed: ...').
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return Unavailable(f"Postgres: {first_line}")
    return _Unexpected(f"unexpected {type(exc).__name__}: {exc} (PILLARSTREAM_LOG_LEVEL=DEBUG shows the traceback)")


class _Unexpected(PillarstreamError):
    @property
    def exit_code(self) -> int:
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
