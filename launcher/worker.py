import sys

from launcher.cli import main

sys.exit(main(["worker", *sys.argv[1:]]))
