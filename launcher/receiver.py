"""``python -m launcher.receiver``: the same command as ``pillarstream receiver``."""

import sys

from launcher.cli import main

sys.exit(main(["receiver", *sys.argv[1:]]))
