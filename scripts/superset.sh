#!/usr/bin/env bash
# Installs Apache Superset from PyPI into a virtualenv of its own (.local/tools/superset), never into the
# project's .venv: Superset pins Flask 2, SQLAlchemy 1.4, pandas and a hundred more that would clash with
# pillarstream's own dependencies. Safe to run again: a stamp file skips the work when nothing changed.
#
#   scripts/superset.sh              # Superset + the Postgres driver (what `make up SUPERSET=1` needs)
#   scripts/superset.sh --browser    # also Debian's chromium and Playwright's Python driver (tests, PNG)
#
# Versions are pinned by dashboards/superset-constraints.txt (a known-good `pip freeze` of this venv), so
# a new release of one of Superset's many dependencies cannot break an install that worked yesterday.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${SUPERSET_VENV:-.local/tools/superset}
CONSTRAINTS=dashboards/superset-constraints.txt
browser=0
for arg in "$@"; do
  case $arg in
    --browser) browser=1 ;;
    *) echo "usage: $0 [--browser]" >&2; exit 2 ;;
  esac
done

# The browser: Debian's chromium package (Playwright drives it by path; it never downloads a browser).
if ((browser)) && [[ ! -x /usr/bin/chromium ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "superset.sh: please install Debian's chromium (sudo apt-get install chromium)" >&2
    exit 1
  fi
  echo "superset.sh: apt-get install chromium"
  # Another apt run (unattended upgrades, a second checkout) may hold dpkg's lock: wait for it.
  apt=(apt-get -o DPkg::Lock::Timeout=600 -qq)
  "${apt[@]}" update
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

packages=(-r dashboards/superset-requirements.txt)
((browser)) && packages+=(playwright)
stamp="$VENV/.installed-$( (cat "$self" dashboards/superset-requirements.txt "$CONSTRAINTS"; echo "$browser") \
  | sha256sum | cut -c1-16)"
# A browser-less stamp does not cover a --browser request; a --browser stamp covers both.
browser_stamp="$VENV/.installed-$( (cat "$self" dashboards/superset-requirements.txt "$CONSTRAINTS"; echo 1) \
  | sha256sum | cut -c1-16)"
if [[ -f $stamp || -f $browser_stamp ]]; then
  exit 0
fi

if [[ ! -x $VENV/bin/python ]]; then
  echo "superset.sh: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
echo "superset.sh: installing Apache Superset into $VENV (a few minutes on a cold pip cache)"
"$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip setuptools wheel
"$VENV/bin/pip" install -q --disable-pip-version-check -c "$CONSTRAINTS" "${packages[@]}"
"$VENV/bin/superset" version >/dev/null 2>&1 || "$VENV/bin/python" -c "import superset" \
  || { echo "superset.sh: Superset does not import" >&2; exit 1; }
rm -f "$VENV"/.installed-* && touch "$stamp"
echo "superset.sh: $("$VENV/bin/python" -c 'import importlib.metadata as m; print("apache-superset", m.version("apache-superset"))') in $VENV"
