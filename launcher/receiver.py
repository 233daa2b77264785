import sys

from launcher.cli import main

sys.exit(main(["receiver", *sys.argv[1:]]))
