"""docs/metrics.md and the metric_definitions rows of the migrations describe the same catalogue."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dashboards.bundle import Bundle
from dashboards.catalogue import Metric, catalogue, label_expression, sync

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
PILLAR_HEADINGS = {"version_control", "compatibility", "infrastructure", "team"}
MIGRATIONS = ROOT / "stream_processors" / "sql" / "migrations"


def catalogue_in_sql(directory: Path = MIGRATIONS) -> dict[str, tuple[str, str, str | None, int]]:
    """Every metric any migration defines (a metric may be added by a later migration)."""
    return {m.name: (m.pillar, m.kind, None if m.quantile is None else f"{m.quantile:g}", m.version)
            for m in catalogue(directory).values()}


def catalogue_in_docs() -> dict[str, tuple[str, str, str | None, int]]:
    found, pillar = {}, None
    for line in (ROOT / "docs" / "metrics.md").read_text().splitlines():
        if heading := re.match(r"^## .*\(`(\w+)`\)$", line):
            pillar = heading[1]
        elif (row := re.match(r"^\| `(\w+)` \| (\d+) \| (\w+)(?: ([\d.]+))? \|", line)) and pillar:
            found[row[1]] = (pillar, row[3], row[4], int(row[2]))
    return found


def test_docs_and_migrations_define_the_same_metrics_kinds_and_versions(tmp_path: Path):
    sql = catalogue_in_sql()
    # Catalogue v1 (003) is all there; later migrations may add metrics, which the docs must list too.
    (tmp_path / "003_metrics.sql").write_text((MIGRATIONS / "003_metrics.sql").read_text())
    v1 = catalogue_in_sql(tmp_path)
    assert len(v1) == 26 and set(v1) <= set(sql)
    assert {pillar for pillar, *_ in sql.values()} == PILLAR_HEADINGS
    assert catalogue_in_docs() == sql


def test_every_metric_has_one_label_and_the_bundle_derives_what_it_shows_from_it():
    metrics = catalogue()
    assert all(m.label for m in metrics.values())
    assert metrics["review_load_top_share"].label == "Busiest reviewer's share"
    bundle = Bundle.load()
    assert sync(bundle, metrics) == [], "run: .venv/bin/python -m dashboards.catalogue"
    # every dataset with a metric column can show its label
    for path, dataset in bundle.of("datasets").items():
        names = {c["column_name"] for c in dataset["columns"]}
        assert "metric" not in names or {"metric_label", "label"} & names, path


def test_a_changed_label_reaches_every_dataset_chart_and_dashboard_title():
    metrics = catalogue()
    old = metrics["reviews_submitted"]
    metrics["reviews_submitted"] = Metric(old.name, old.pillar, old.kind, old.quantile, old.unit, old.version,
                                          old.description, "Peer reviews")
    bundle = Bundle.load()

    changed = sync(bundle, metrics)

    files = bundle.files
    assert files["charts/headline_reviews_submitted.yaml"]["slice_name"] == "Peer reviews · 28 days"
    assert files["charts/headline_reviews_submitted.yaml"]["params"]["metric"]["label"] == "Peer reviews"
    assert [m["label"] for m in files["charts/team_by_team.yaml"]["params"]["metrics"]] == ["Peer reviews"]
    titles = [n["meta"]["sliceName"] for n in files["dashboards/pillarstream-team.yaml"]["position"].values()
              if isinstance(n, dict) and n.get("type") == "CHART"]
    assert "Peer reviews · 28 days" in titles
    assert "THEN 'Peer reviews'" in files["datasets/pillarstream/dashboard_metrics.yaml"]["columns"][-1]["expression"]
    assert "charts/headline_commits.yaml" not in changed
    assert {"charts/team_by_repo.yaml", "dashboards/pillarstream-overview.yaml",
            "datasets/pillarstream/pillar_metrics.yaml"} <= set(changed)


def test_a_metric_added_by_a_later_migration_joins_the_catalogue(tmp_path: Path):
    for path in MIGRATIONS.glob("*.sql"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "120_merge_queue.sql").write_text(
        "INSERT INTO metric_definitions (metric, pillar, kind, quantile, unit, version, description, label)\n"
        "VALUES ('merge_queue_wait_hours_p50', 'version_control', 'quantile', 0.5, 'hours', 1,\n"
        "        'Median hours in the merge queue (it''s new).', 'Merge queue wait p50 (h)');\n")

    metrics = catalogue(tmp_path)

    assert len(metrics) == 27
    assert catalogue_in_sql(tmp_path)["merge_queue_wait_hours_p50"] == ("version_control", "quantile", "0.5", 1)
    assert metrics["merge_queue_wait_hours_p50"].description == "Median hours in the merge queue (it's new)."
    assert "WHEN 'merge_queue_wait_hours_p50' THEN 'Merge queue wait p50 (h)'" in label_expression(metrics)
    # the bundle derives its labels from the longer catalogue without any other change
    bundle = Bundle.load()
    changed = sync(bundle, metrics)
    assert changed and all(path.startswith("datasets/") for path in changed)
