"""``python -m launcher.backfill --org ORG …``: the same command as ``pillarstream backfill``."""

import sys

from launcher.cli import main

sys.exit(main(["backfill", *sys.argv[1:]]))
