"""checkov over terraform/ and the Dockerfile: no failed check, and every skip says why.

checkov pins libraries that clash with the project's (it ships its own `hcl2` module), so it lives in
its own virtualenv; see find_checkov() for where it is looked up. A missing checkov fails the test:
a security scan that silently does not run is worse than none.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .contracts import REPO

pytestmark = pytest.mark.unit

# Resources the scan must have seen; fewer means checkov failed to parse part of terraform/.
MIN_TERRAFORM_RESOURCES = 35
EXPECTED_TYPES = {"google_sql_database_instance", "google_storage_bucket", "google_compute_subnetwork"}


def find_checkov() -> Path | None:
    candidates = [
        os.environ.get("PILLARSTREAM_CHECKOV", ""),
        str(REPO / ".local" / "tools" / "checkov" / "bin" / "checkov"),
        str(Path(sys.executable).parent / "checkov"),
        shutil.which("checkov") or "",
    ]
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


def run_checkov(checkov: Path, *target: str, framework: str) -> dict:
    env = {
        **os.environ,
        "BC_SKIP_MAPPING": "TRUE",
        "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",
        "LOG_LEVEL": "WARNING",
    }
    result = subprocess.run(
        [
            str(checkov),
            *target,
            "--framework",
            framework,
            "--skip-download",
            "--output",
            "json",
            "--soft-fail",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert isinstance(report, dict) and report.get("check_type") == framework, result.stdout[:2000]
    return report


@pytest.fixture(scope="module")
def reports() -> dict[str, dict]:
    checkov = find_checkov()
    if checkov is None:
        pytest.fail(
            "checkov is not installed: `make test-tools` (bash scripts/bootstrap.sh --test-tools) installs it "
            "into .local/tools/checkov (or set PILLARSTREAM_CHECKOV)"
        )
    return {
        "terraform": run_checkov(checkov, "--directory", "terraform", framework="terraform"),
        "dockerfile": run_checkov(checkov, "--file", "Dockerfile", framework="dockerfile"),
    }


def failures(report: dict) -> list[str]:
    return [
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range'][0]}): {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]


def test_terraform_has_no_failed_check(reports: dict[str, dict]) -> None:
    report = reports["terraform"]
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["resource_count"] >= MIN_TERRAFORM_RESOURCES, report["summary"]
    scanned = {c["resource"].split(".")[-2] for c in report["results"]["passed_checks"]}
    assert EXPECTED_TYPES <= scanned, f"checkov did not evaluate {EXPECTED_TYPES - scanned}"
    assert not failures(report), "\n".join(failures(report))


def test_dockerfile_has_no_failed_check(reports: dict[str, dict]) -> None:
    report = reports["dockerfile"]
    assert report["summary"]["passed"] > 0
    assert not failures(report), "\n".join(failures(report))


def test_every_skip_is_justified(reports: dict[str, dict]) -> None:
    skipped = [c for report in reports.values() for c in report["results"]["skipped_checks"]]
    bare = [
        f"{c['check_id']} {c['resource']}"
        for c in skipped
        if len((c["check_result"].get("suppress_comment") or "").strip()) < 30
    ]
    assert not bare, "skips without a reason in the checkov:skip comment: " + ", ".join(bare)
