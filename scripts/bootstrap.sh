#!/usr/bin/env bash
# Installs everything pillarstream needs on a fresh Debian machine: the Python environment (.venv),
# PostgreSQL server binaries, a JRE and Maven, and the Apache Kafka broker jars (from Maven Central).
# `--test-tools` also installs what only the tests use (checkov, about 290 MB); `make test` passes it.
# Safe to run again: each step is skipped when already done. Plain output: no colours, no progress bars.
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_COLOR=1 PIP_NO_COLOR=1 PIP_PROGRESS_BAR=off PIP_DISABLE_PIP_VERSION_CHECK=1 TERM=dumb
# pip shows the build backend's warnings; setuptools warns at every editable install that a folder named like
# the package would shadow it (9 lines of stars on a first `make up`). Only that notice is silenced.
export PYTHONWARNINGS="ignore:Editable installation"
# Some package builds colour their output whatever they are told (a first checkov install printed `ESC[0m`).
plain() { sed -u 's/\x1b\[[0-9;?]*[A-Za-z]//g'; }

test_tools=0
for arg in "$@"; do
  case $arg in
    --test-tools) test_tools=1 ;;
    *) echo "bootstrap: unknown option $arg (usage: bootstrap.sh [--test-tools])" >&2; exit 2 ;;
  esac
done

PYTHON=${PYTHON:-python3}
need_apt=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need_apt+=(postgresql)
command -v java >/dev/null 2>&1 || need_apt+=(default-jre-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
if ((${#need_apt[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "bootstrap: please install: ${need_apt[*]} (sudo apt-get install ${need_apt[*]})" >&2
    exit 1
  fi
  echo "bootstrap: apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [[ ! -x .venv/bin/python ]]; then
  echo "bootstrap: creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [[ ! -f $stamp ]]; then
  echo "bootstrap: installing Python packages"
  .venv/bin/pip install -q --upgrade pip 2>&1 | plain
  .venv/bin/pip install -q -e '.[dev]' 2>&1 | plain
  rm -f .venv/.installed-* && touch "$stamp"
fi

# checkov pins versions that clash with the project's (its HCL parser shares python-hcl2's module name),
# so it lives in a virtualenv of its own, used by tests/static/test_checkov.py.
if ((test_tools)) && [[ ! -x .local/tools/checkov/bin/checkov ]]; then
  echo "bootstrap: installing checkov (for the tests) into .local/tools/checkov"
  rm -rf .local/tools/checkov
  "$PYTHON" -m venv .local/tools/checkov
  .local/tools/checkov/bin/pip install -q checkov==3.3.30 2>&1 | plain
fi

# The same folder `up` and the tests use (devstack.kafka.JAR_CACHE), whatever PILLARSTREAM_DATA_DIR says.
.venv/bin/python -c 'from devstack.kafka import kafka_libs; print("bootstrap: kafka jars in", kafka_libs())'
