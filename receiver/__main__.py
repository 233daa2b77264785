import sys

from pillarstream.cli import main

sys.exit(main(["receiver", *sys.argv[1:]]))
