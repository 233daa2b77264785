"""``python -m launcher.worker archiver|warehouse``: the same command as ``pillarstream worker``."""

import sys

from launcher.cli import main

sys.exit(main(["worker", *sys.argv[1:]]))
