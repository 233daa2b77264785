import sys

from pillarstream.cli import main

sys.exit(main(["worker", *sys.argv[1:]]))
