"""`python -m dashboards import|export|check …`: the same as `pillarstream dashboards …`."""

from __future__ import annotations

import argparse
import sys

from dashboards.cli import add_parser
from pillarstream.errors import ConfigError, PillarstreamError
from pillarstream.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["dashboards", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.handler(args, load_settings()))
    except ConfigError as exc:
        print(f"dashboards: configuration error: {exc}", file=sys.stderr)
        return 2
    except PillarstreamError as exc:
        print(f"dashboards: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
