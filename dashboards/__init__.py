"""Superset dashboards as code: the bundle under ``dashboards/assets`` (Superset's import format), commands
that import it into a running Superset and export UI changes back to the files. The local Superset runner
lives with the other local services (``devstack/superset_server.py``).

Superset itself is never imported here: it lives in its own virtualenv (``scripts/superset.sh``) and is
reached over its REST API or started as a child process, so the project's dependencies stay its own.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
ASSETS_DIR = PACKAGE_DIR / "assets"
# Superset's own virtualenv (scripts/superset.sh): the local runner (devstack/superset_server.py) starts Superset
# from it, and render.py runs headless Chromium under it.
SUPERSET_VENV = REPO_ROOT / ".local" / "tools" / "superset"
