"""``python -m backfill --org ORG …``: the same command as ``pillarstream backfill``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from backfill.cli import add_parser
from pillarstream.errors import ConfigError, PillarstreamError
from pillarstream.settings import load_settings


def main(argv: Sequence[str] | None = None) -> int:
    sub = argparse.ArgumentParser().add_subparsers(dest="command")
    parser = add_parser(sub)
    parser.prog = "python -m backfill"
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = load_settings()
        from pillarstream.logs import configure

        configure(settings.log_level, settings.log_format)
        return int(args.handler(args, settings))
    except ConfigError as exc:
        print(f"backfill: configuration error: {exc}", file=sys.stderr)
        return 2
    except PillarstreamError as exc:
        print(f"backfill: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
