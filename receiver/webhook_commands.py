"""`pillarstream webhook ensure | ping | status | redeliver`, over PyGithub (org or repository hooks)."""

from __future__ import annotations

import argparse
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import requests
import urllib3

from adapters.github_client import call, github_for, unreachable
from adapters.postgres import fetch_all
from pillarstream.errors import ConfigError, GitHubAPIError
from pillarstream.settings import Settings
from receiver.hook_admin import HOOK_CONFIG, DesiredHook, desired_hook, hook_changes
from receiver.reconciler import Attempt, delivery_gap, plan_redeliveries

log = logging.getLogger(__name__)
_DURATION = re.compile(r"^(\d+)([smhd])$")


def duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30s, 5m, 72h or 3d")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match[2]]
    return timedelta(**{unit: int(match[1])})


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("webhook", help="the GitHub webhook as code, and the missed-delivery reconciler")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in [("ensure", "create or update the hook to match configs/webhook.json"),
                       ("ping", "ask GitHub to send a ping"),
                       ("status", "the hook's configuration and its last deliveries"),
                       ("redeliver", "redeliver every delivery that never succeeded")]:
        p = actions.add_parser(name, help=text)
        owner = p.add_mutually_exclusive_group(required=True)
        owner.add_argument("--org", help="organisation owning the hook")
        owner.add_argument("--repo", help="OWNER/NAME, for accounts without an organisation")
        p.add_argument("--url", help="the receiver's public webhook URL (default: the URL the hook has)",
                       required=name == "ensure")
        p.add_argument("--api-url", help="GitHub API base URL (GitHub Enterprise Server); default the setting")
        if name == "ensure":
            p.add_argument("--config", type=Path, metavar="PATH",
                           help="webhook config JSON (default PILLARSTREAM_WEBHOOK_CONFIG, else configs/webhook.json)")
            p.add_argument("--rotate-secret", action="store_true",
                           help="write the configured secret even though GitHub cannot show the current one")
            p.add_argument("--dry-run", action="store_true", help="show the changes without writing them")
        if name == "status":
            p.add_argument("--limit", type=int, default=10)
        if name == "redeliver":
            p.add_argument("--since", type=duration, default=timedelta(hours=72))
            p.add_argument("--every", type=duration, help="keep running, reconciling at this interval")
            p.add_argument("--metrics-port", type=int, default=9108, help="Prometheus gauge port with --every")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    api_url = args.api_url or settings.github_api_url
    handlers: dict[str, Callable[..., int]] = {"ensure": _ensure, "ping": _ping, "status": _status,
                                               "redeliver": _redeliver}
    if args.action == "ensure":
        # The secret and the config file before GitHub: a mistake in either is a configuration error (exit 2)
        # whether or not GitHub can be reached. GitHub signs with the first active secret.
        desired = desired_hook(args.url, settings.secrets()[0], args.config or settings.webhook_config or HOOK_CONFIG)
        handlers["ensure"] = partial(_ensure, desired=desired)
    gh = github_for(settings, api_url, org=args.org, repo=args.repo)
    owner = call("find owner", lambda: gh.get_organization(args.org) if args.org else gh.get_repo(args.repo),
                 api_url)
    try:
        return int(handlers[args.action](args, settings, gh, owner))
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:  # e.g. while paging lazily
        raise unreachable(exc, api_url) from exc


def find_hook(owner: Any, url: str | None) -> Any:
    hooks = call("list hooks", lambda: list(owner.get_hooks()))
    web = [h for h in hooks if h.name == "web"]
    if url:
        web = [h for h in web if (h.config or {}).get("url") == url]
    if len(web) > 1 and not url:
        raise ConfigError(f"{len(web)} hooks found; pass --url to choose one")
    return web[0] if web else None


def _ensure(args: argparse.Namespace, settings: Settings, gh: Any, owner: Any, *, desired: DesiredHook) -> int:
    hook = find_hook(owner, args.url)
    if hook is None:
        print(f"no hook for {args.url}: creating it" + (" (dry run)" if args.dry_run else ""))
        for line in hook_changes({}, desired):
            print(f"  {line}")
        if not args.dry_run:
            call("create hook", lambda: owner.create_hook("web", desired.config(), list(desired.events), True))
        return 0
    changes = hook_changes({"config": hook.config, "events": hook.events, "active": hook.active}, desired,
                           rotate_secret=args.rotate_secret)
    if not changes:
        print(f"hook {hook.id} already matches: nothing to change")
        return 0
    print(f"hook {hook.id}: {len(changes)} change(s)" + (" (dry run)" if args.dry_run else ""))
    for line in changes:
        print(f"  {line}")
    if not args.dry_run:
        call("update hook", lambda: hook.edit("web", desired.config(), events=list(desired.events), active=True))
    return 0


def _hook(owner: Any, url: str | None) -> Any:
    hook = find_hook(owner, url)
    if hook is None:
        raise ConfigError("no webhook found: run `pillarstream webhook ensure` first")
    return hook


def _ping(args: argparse.Namespace, settings: Settings, gh: Any, owner: Any) -> int:
    hook = _hook(owner, args.url)
    call("ping", hook.ping)
    print(f"ping sent to hook {hook.id} ({hook.config.get('url')})")
    return 0


def attempts_since(owner: Any, hook: Any, since: datetime) -> list[Attempt]:
    """Pages the delivery log (newest first) back to ``since``."""
    found = []
    for summary in call("list deliveries", lambda: owner.get_hook_deliveries(hook.id)):
        delivered = summary.delivered_at
        if delivered is not None and delivered.tzinfo is None:
            delivered = delivered.replace(tzinfo=UTC)
        if delivered is not None and delivered < since:
            break
        found.append(Attempt(id=summary.id, guid=summary.guid, delivered_at=delivered or since,
                             status_code=summary.status_code or 0, event=summary.event or "",
                             redelivery=bool(summary.redelivery)))
    return found


def _status(args: argparse.Namespace, settings: Settings, gh: Any, owner: Any) -> int:
    hook = _hook(owner, args.url)
    config = {k: v for k, v in (hook.config or {}).items() if k != "secret"}
    print(f"hook {hook.id} active={hook.active} events={','.join(sorted(hook.events))}\n  config {config}")
    attempts = attempts_since(owner, hook, datetime.now(UTC) - timedelta(days=30))[: args.limit]
    for a in attempts:
        print(f"  {a.delivered_at:%Y-%m-%d %H:%M:%S} {a.status_code:>3} {a.event:<22} {a.guid}"
              + (" (redelivery)" if a.redelivery else ""))
    return 0


def warehouse_ids(dsn: str, guids: set[str]) -> set[str]:
    rows = fetch_all(dsn, "SELECT delivery_id FROM deliveries WHERE delivery_id = ANY(%s)", (sorted(guids),))
    return {row[0] for row in rows}


def reconcile_once(settings: Settings, gh: Any, owner: Any, hook: Any, since: timedelta) -> dict[str, int]:
    attempts = attempts_since(owner, hook, datetime.now(UTC) - since)
    present = warehouse_ids(settings.dsn(), {a.guid for a in attempts})
    plan = plan_redeliveries(attempts, present)
    redelivered = 0
    for attempt in plan.failed:
        url = f"{hook.url}/deliveries/{attempt.id}/attempts"
        try:
            call("redeliver", partial(gh.requester.requestJsonAndCheck, "POST", url))
            redelivered += 1
        except GitHubAPIError as exc:
            log.warning("redelivery failed", extra={"delivery_id": attempt.guid, "error": str(exc)})
    report = {"seen": plan.seen, "failed": len(plan.failed) + plan.already_in_warehouse,
              "already_in_warehouse": plan.already_in_warehouse, "redelivered": redelivered,
              "still_missing": len(plan.failed) - redelivered, "gap": delivery_gap(attempts, present)}
    return report


def _redeliver(args: argparse.Namespace, settings: Settings, gh: Any, owner: Any) -> int:
    hook = _hook(owner, args.url)
    gauge = None
    if args.every:
        from prometheus_client import Gauge, start_http_server

        gauge = Gauge("pillarstream_delivery_gap", "Deliveries GitHub reports as sent but absent from the warehouse")
        start_http_server(args.metrics_port)
    while True:
        report = reconcile_once(settings, gh, owner, hook, args.since)
        print(" ".join(f"{k}={v}" for k, v in report.items()), flush=True)
        if gauge is None:
            return 0 if report["still_missing"] == 0 else 1
        gauge.set(report["gap"])
        time.sleep(args.every.total_seconds())
