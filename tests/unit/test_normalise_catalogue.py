"""docs/metrics.md and the metric_definitions rows of the migrations describe the same catalogue."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
PILLAR_HEADINGS = {"version_control", "compatibility", "infrastructure", "team"}


def catalogue_in_sql() -> dict[str, tuple[str, str, str | None, int]]:
    text = (ROOT / "stream_processors" / "sql" / "migrations" / "003_metrics.sql").read_text()
    rows = re.findall(r"\('(\w+)', '(\w+)', '(\w+)', (NULL|[\d.]+), '[^']*', (\d+),", text)
    return {metric: (pillar, kind, None if q == "NULL" else q, int(v)) for metric, pillar, kind, q, v in rows}


def catalogue_in_docs() -> dict[str, tuple[str, str, str | None, int]]:
    found, pillar = {}, None
    for line in (ROOT / "docs" / "metrics.md").read_text().splitlines():
        if heading := re.match(r"^## .*\(`(\w+)`\)$", line):
            pillar = heading[1]
        elif (row := re.match(r"^\| `(\w+)` \| (\d+) \| (\w+)(?: ([\d.]+))? \|", line)) and pillar:
            found[row[1]] = (pillar, row[3], row[4], int(row[2]))
    return found


def test_docs_and_migrations_define_the_same_metrics_kinds_and_versions():
    sql = catalogue_in_sql()
    assert len(sql) == 26
    assert {pillar for pillar, *_ in sql.values()} == PILLAR_HEADINGS
    assert catalogue_in_docs() == sql
