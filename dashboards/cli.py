"""`pillarstream dashboards import | export | check`: the bundle in dashboards/assets ⇄ a running Superset.

  import   creates or overwrites the database connection, datasets, charts and dashboards (by UUID, so
           running it again changes nothing else); the warehouse password travels beside the bundle.
  export   writes the bundle's dashboards (with their charts) and every dataset on its database, as
           Superset now has them, back to the files: change dashboards in the UI, export, review the diff.
  check    validates the files without a Superset (no password, only `reporting` views, references resolve).

Credentials never go on the command line (other users can read it): the Superset password comes from
SUPERSET_ADMIN_PASSWORD or --password-file, the warehouse DSN from --warehouse-dsn-file,
PILLARSTREAM_READER_DATABASE_URL, or the running `make up` stack.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from pillarstream.errors import ConfigError
from pillarstream.settings import Settings

DEFAULT_REFRESH_SECONDS = 30


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("dashboards", help="Superset dashboards as code: import, export, check")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in [
        ("import", "create or update the dashboards in a running Superset (idempotent)"),
        ("export", "write dashboards changed in Superset's UI back to dashboards/assets"),
        ("check", "validate dashboards/assets without a Superset"),
    ]:
        p = actions.add_parser(name, help=text)
        p.add_argument("--assets", type=Path, help="bundle folder (default: dashboards/assets)")
        if name == "check":
            continue
        p.add_argument("--superset-url", required=True, help="e.g. http://127.0.0.1:8088")
        p.add_argument(
            "--username", default=None, help="Superset user (default SUPERSET_ADMIN_USERNAME or admin)"
        )
        p.add_argument(
            "--password-file",
            type=Path,
            help="file holding the Superset password (default: SUPERSET_ADMIN_PASSWORD)",
        )
        if name == "import":
            p.add_argument(
                "--warehouse-dsn-file",
                type=Path,
                help="file holding the libpq DSN of the read-only role pillarstream_reader "
                "(default: PILLARSTREAM_READER_DATABASE_URL, else the running `make up` stack, "
                "else keep the connection Superset already has)",
            )
            p.add_argument(
                "--database-host",
                help="host Superset reaches Postgres by, if not the DSN's "
                "(e.g. `postgres` inside docker compose)",
            )
            p.add_argument(
                "--refresh-seconds",
                type=int,
                default=DEFAULT_REFRESH_SECONDS,
                help=f"dashboard auto-refresh interval (default {DEFAULT_REFRESH_SECONDS}; 0 = off)",
            )
        if name == "export":
            p.add_argument(
                "--dashboard",
                action="append",
                default=[],
                metavar="SLUG_OR_ID",
                help="also export this dashboard (one made in the UI); repeatable",
            )
    parser.set_defaults(handler=handler)


def _password(args: argparse.Namespace) -> str:
    if args.password_file:
        return str(args.password_file.read_text(encoding="utf-8")).strip()
    password = os.environ.get("SUPERSET_ADMIN_PASSWORD")
    if not password:
        raise ConfigError("no Superset password: set SUPERSET_ADMIN_PASSWORD or pass --password-file")
    return password


def _warehouse_dsn(args: argparse.Namespace, settings: Settings) -> str | None:
    if args.warehouse_dsn_file:
        return str(args.warehouse_dsn_file.read_text(encoding="utf-8")).strip()
    if settings.reader_database_url:
        return settings.reader_database_url.get_secret_value()
    stack = settings.data_dir.resolve() / "stack.json"  # written by a running `pillarstream up`
    if stack.exists():
        dsn = json.loads(stack.read_text()).get("postgres_reader_dsn")
        return str(dsn) if dsn else None
    return None


def handler(args: argparse.Namespace, settings: Settings) -> int:
    from dashboards import ASSETS_DIR
    from dashboards.bundle import Bundle, BundleError

    assets = args.assets or ASSETS_DIR
    try:
        bundle = Bundle.load(assets)
    except BundleError as exc:
        raise ConfigError(str(exc)) from exc
    if args.action == "check":
        print(
            f"{assets}: {len(bundle.of('dashboards'))} dashboards, {len(bundle.of('charts'))} charts, "
            f"{len(bundle.of('datasets'))} datasets: ok"
        )
        return 0

    from dashboards.client import SupersetClient

    username = args.username or os.environ.get("SUPERSET_ADMIN_USERNAME") or "admin"
    client = SupersetClient(args.superset_url, username, _password(args))
    if args.action == "import":
        return _import(client, bundle, args, settings)
    return _export(client, bundle, assets, args)


def _import(client: Any, bundle: Any, args: argparse.Namespace, settings: Settings) -> int:
    from dashboards.bundle import DatabaseTarget

    dsn = _warehouse_dsn(args, settings)
    if dsn:
        target = DatabaseTarget.from_dsn(dsn, host=args.database_host)
    else:
        existing = client.database_uri(bundle.database_uuid)
        if existing is None:
            raise ConfigError(
                "the first import needs the warehouse: --warehouse-dsn-file or "
                "PILLARSTREAM_READER_DATABASE_URL (the read-only pillarstream_reader DSN)"
            )
        target = DatabaseTarget(existing, None)  # Superset keeps the password it has
    client.import_bundle(bundle, target, refresh_seconds=args.refresh_seconds)
    print(
        f"imported {len(bundle.of('dashboards'))} dashboards, {len(bundle.of('charts'))} charts and "
        f"{len(bundle.of('datasets'))} datasets into {client.url} (auto-refresh {args.refresh_seconds} s)"
    )
    for config in bundle.of("dashboards").values():
        print(f"  {client.url}/superset/dashboard/{config['slug']}/")
    return 0


def _export(client: Any, bundle: Any, assets: Path, args: argparse.Namespace) -> int:
    from dashboards.bundle import from_export

    blobs = client.export_bundle(bundle, extra_dashboards=args.dashboard)
    exported = from_export(blobs, bundle)
    exported.check()
    changed = exported.write(assets)
    print(
        f"exported from {client.url}: {len(changed)} file(s) changed"
        + "".join(f"\n  {path.relative_to(assets)}" for path in changed)
    )
    return 0
