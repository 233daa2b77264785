"""`python -m launcher.dashboards import|export|check …`: the same as `pillarstream dashboards …`."""

import sys

from launcher.cli import main

sys.exit(main(["dashboards", *sys.argv[1:]]))
