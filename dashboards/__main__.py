"""`python -m dashboards import|export|check …`: the same as `pillarstream dashboards …`."""

import sys

from pillarstream.cli import main

sys.exit(main(["dashboards", *sys.argv[1:]]))
