"""Installing the project with the real pip and setuptools, in bootstrap's environment, prints nothing: a first
`make up` printed 52 lines of setuptools warnings (a deprecated `license` table three times, then the
editable-install notice). Integration: pip's isolated build fetches setuptools (from its cache after once)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .contracts import REPO

pytestmark = pytest.mark.integration


def test_installing_the_project_prints_no_build_warnings(tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(REPO / "pyproject.toml", repo)
    shutil.copy(REPO / "README.md", repo)
    (repo / "pillarstream").mkdir()
    (repo / "pillarstream" / "__init__.py").write_text("")
    exports = "\n".join(line for line in (REPO / "scripts" / "bootstrap.sh").read_text().splitlines()
                        if line.startswith("export "))
    pip = f"{sys.executable} -m pip install -q --no-deps --target {tmp_path / 'site'} -e {repo}"
    done = subprocess.run(["bash", "-c", f"{exports}\n{pip}"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout + done.stderr == ""
