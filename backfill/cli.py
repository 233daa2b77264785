"""``pillarstream backfill`` (and ``python -m launcher.backfill``): the command line of a backfill run.

Wiring: ``add_parser(subparsers)`` registers the subcommand with ``handler(args, settings) -> int`` as its
``handler`` default. Exit codes: 0 done, 1 some repositories failed (the rest were backfilled), 2
configuration, 69 GitHub cannot be reached (connection refused, unknown host), 75 the rate limit needs a
longer wait than ``--max-wait`` (cursors are saved: re-run after the reset), 130 interrupted.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime
from typing import Any

from pillarstream.errors import ConfigError
from pillarstream.settings import Settings

EXIT_TEMPFAIL = 75
_SPLIT = re.compile(r"[\s,]+")


def _moment(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date or time (YYYY-MM-DD or ISO 8601)") from exc
    return parsed.replace(tzinfo=parsed.tzinfo or UTC).astimezone(UTC)


def _names(text: str) -> list[str]:
    return [part for part in _SPLIT.split(text) if part]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from backfill.resources import SELECTORS

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "backfill", help="load history from the GitHub REST API (resumable, within rate limits)",
        description="Load an organisation's or user's history from the GitHub REST API onto the raw topic "
                    "(source=backfill). Re-running continues where the last run stopped; a re-run with "
                    "nothing "
                    "new costs next to no requests.")
    owner = parser.add_mutually_exclusive_group(required=True)
    owner.add_argument("--org", help="organisation to backfill")
    owner.add_argument("--user", help="user account to backfill (its own repositories)")
    parser.add_argument("--repo", action="append", default=[], metavar="NAME",
                        help="only these repositories (repeatable; globs like 'api-*' work)")
    parser.add_argument("--since", type=_moment, metavar="DATE", help="history from this date (UTC)")
    parser.add_argument("--until", type=_moment, metavar="DATE",
                        help="history up to this date; a bounded run does not move the cursors")
    parser.add_argument("--resources", type=_names, metavar="LIST",
                        help=f"comma-separated, from: {', '.join(SELECTORS)}; 'default' (what the metrics "
                             "read, "
                             "the default) or 'all'")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan and its estimated request cost")
    parser.add_argument("--api-url",
                        help="GitHub API base URL (GitHub Enterprise Server); default the setting")
    parser.add_argument("--api", choices=("graphql", "rest"), default="graphql",
                        help="pull requests and check runs through GraphQL (default: about 0.1 points per pull "
                             "request) or the REST API only (about 4 requests per pull request)")
    parser.add_argument("--graphql-page", type=int, default=100, metavar="N",
                        help="pull requests per GraphQL query (default and most 100; a page GitHub times out "
                             "on is halved and grows back by itself)")
    parser.add_argument("--concurrency", type=int, default=4, help="repositories fetched at once (default 4)")
    parser.add_argument("--reserve", type=int, default=500,
                        help="requests per token left untouched for live use (default 500)")
    parser.add_argument("--max-rate", type=float, default=15.0, metavar="PER_SECOND",
                        help="requests per second per token (default 15: GitHub's secondary limit is 900 "
                             "points "
                             "a minute for REST); 0 for no cap")
    parser.add_argument("--max-wait", type=float, default=900.0, metavar="SECONDS",
                        help="longest rate-limit wait before stopping to resume later (default 900)")
    parser.add_argument("--progress", choices=("auto", "tty", "lines", "none"), default="auto",
                        help="progress display on stderr (auto: a live line on a terminal)")
    parser.set_defaults(handler=handler)
    return parser


def handler(args: argparse.Namespace, settings: Settings) -> int:
    from adapters.archive_store import open_store
    from adapters.github_client import credentials
    from adapters.kafka_publisher import KafkaPublisher, ensure_topic
    from backfill.archive import PageArchive
    from backfill.cursors import PostgresCursorStore
    from backfill.github_api import GitHubApi, Stats
    from backfill.plan import dry_run
    from backfill.progress import Progress
    from backfill.ratelimit import BudgetExhausted, TokenPool
    from backfill.resources import select
    from backfill.runner import Options, run_backfill

    if args.since and args.until and args.until < args.since:
        raise ConfigError("--until is before --since")
    if not 1 <= args.graphql_page <= 100:
        raise ConfigError("--graphql-page must be between 1 and 100")
    if args.concurrency < 1 or args.reserve < 0 or args.max_wait < 0 or args.max_rate < 0:
        raise ConfigError("--concurrency must be >= 1; --reserve, --max-wait and --max-rate >= 0")
    options = Options(owner=args.org or args.user, kind="org" if args.org else "user",
                      resources=select(args.resources), repos=tuple(args.repo), since=args.since,
                      until=args.until,
                      concurrency=args.concurrency, graphql=args.api == "graphql",
                      graphql_page=args.graphql_page)
    stats = Stats()
    api_url = args.api_url or settings.github_api_url
    found = credentials(settings, api_url, org=args.org, user=args.user)
    pool = TokenPool([c.auth for c in found], names=[c.name for c in found], reserve=args.reserve,
                     max_wait_s=args.max_wait, max_rate=args.max_rate)
    api = GitHubApi(api_url, pool, stats=stats)
    cursors = PostgresCursorStore(settings.dsn())
    try:
        if args.dry_run:
            print(dry_run(options, api, cursors))
            return 0
        ensure_topic(settings.kafka(), settings.raw_topic, settings.topic_partitions,
                     settings.topic_replication)
        publisher = KafkaPublisher(settings.kafka(), settings.raw_topic, timeout_s=30,
                                   compression=settings.kafka_compression)
        progress = Progress(stats, pool, mode=args.progress).start()
        try:
            summary = run_backfill(options, api=api, archive=PageArchive(open_store(settings.archive)),
                                   publisher=publisher, cursors=cursors, progress=progress)
        except BudgetExhausted as exc:
            print(f"backfill: stopped: {exc}", file=sys.stderr)
            return EXIT_TEMPFAIL
        finally:
            progress.stop()
            publisher.close()
    finally:
        cursors.close()
    print(f"backfill: {summary.repositories} repositories, {summary.items} items published, "
          f"{summary.requests} requests (+{summary.not_modified} not modified, {summary.from_archive} pages "
          f"from the archive), {summary.graphql_calls} GraphQL queries ({summary.graphql_points} points), "
          f"waited {summary.waited_s:.0f}s for rate limits", file=sys.stderr)
    for name, error in summary.failed:
        print(f"  failed: {name}: {error}", file=sys.stderr)
    return 1 if summary.failed else 0
