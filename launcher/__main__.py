"""``python -m launcher``: the ``pillarstream`` command, for an environment whose scripts are not on PATH."""

import sys

from launcher.cli import main

sys.exit(main())
