"""Superset stage, the part without Superset: the bundle in dashboards/assets keeps its rules (no
password, only `reporting` views, references that resolve, filters and auto-refresh on every dashboard),
and the import renders it for a given warehouse."""

from __future__ import annotations

import copy
import io
import zipfile

import pytest
import yaml

from dashboards.bundle import PASSWORD_MASK, Bundle, BundleError, DatabaseTarget, renumber_charts

pytestmark = [pytest.mark.unit]

FILTERS = {"Organisation", "Repository", "Language", "Team", "Date range"}


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    return Bundle.load()


def test_overview_and_one_dashboard_per_pillar(bundle: Bundle) -> None:
    slugs = {d["slug"] for d in bundle.of("dashboards").values()}
    assert slugs == {
        "pillarstream-overview",
        "pillarstream-version-control",
        "pillarstream-compatibility",
        "pillarstream-infrastructure",
        "pillarstream-team",
    }
    overview = bundle.dashboard("pillarstream-overview")
    rows = [
        n
        for n in overview["position"].values()
        if isinstance(n, dict)
        and n.get("type") == "ROW"
        and all(overview["position"][c]["type"] == "CHART" for c in n["children"])
    ]
    assert len(rows) == 4, "one row per pillar"


def test_every_dashboard_has_the_filters_and_refreshes_by_itself(bundle: Bundle) -> None:
    for path, dashboard in bundle.of("dashboards").items():
        names = {f["name"] for f in dashboard["metadata"]["native_filter_configuration"]}
        assert names == FILTERS, path
        assert 0 < dashboard["metadata"]["refresh_frequency"] <= 30, path


def test_no_password_and_only_reporting_views(bundle: Bundle) -> None:
    (database,) = bundle.of("databases").values()
    assert f":{PASSWORD_MASK}@" in database["sqlalchemy_uri"]
    assert database["sqlalchemy_uri"].startswith("postgresql+psycopg2://pillarstream_reader:")
    assert bundle.problems() == []


def test_a_password_or_a_table_outside_reporting_is_refused(bundle: Bundle) -> None:
    leaky = Bundle(copy.deepcopy(bundle.files))
    leaky.files[leaky.database_file]["sqlalchemy_uri"] = (
        "postgresql+psycopg2://pillarstream_reader:s3cret@db/x"
    )
    sneaky = next(p for p, c in leaky.files.items() if p.startswith("datasets/") and c.get("sql"))
    leaky.files[sneaky]["sql"] += "\nUNION ALL SELECT * FROM public.deliveries"
    with pytest.raises(BundleError) as raised:
        leaky.check()
    assert "holds a password" in str(raised.value)
    assert "public.deliveries" in str(raised.value)


def test_import_zip_points_at_the_given_warehouse_and_carries_no_password(bundle: Bundle) -> None:
    target = DatabaseTarget.from_dsn(
        "postgresql://pillarstream_reader:pw123@10.0.0.5:6543/warehouse?sslmode=require"
    )
    assert target.password == "pw123"
    data = bundle.to_zip(target, refresh_seconds=15)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        texts = {name: archive.read(name).decode() for name in archive.namelist()}
    assert not any("pw123" in text for text in texts.values())
    database = yaml.safe_load(next(t for n, t in texts.items() if "/databases/" in n))
    assert (
        database["sqlalchemy_uri"]
        == f"postgresql+psycopg2://pillarstream_reader:{PASSWORD_MASK}@10.0.0.5:6543/warehouse"
    )
    for name, text in texts.items():
        if "/dashboards/" in name:
            assert yaml.safe_load(text)["metadata"]["refresh_frequency"] == 15
        if "/charts/" in name:
            assert yaml.safe_load(text)["query_context"], f"{name}: the chart-data API needs a query context"


def test_chart_ids_are_renumbered_in_layout_order() -> None:
    dashboard = {
        "position": {
            "ROOT_ID": {"type": "ROOT", "children": ["GRID_ID"]},
            "GRID_ID": {"type": "GRID", "children": ["ROW-1"]},
            "ROW-1": {"type": "ROW", "children": ["CHART-b", "CHART-a"]},
            "CHART-a": {"type": "CHART", "children": [], "meta": {"chartId": 17, "uuid": "a"}},
            "CHART-b": {"type": "CHART", "children": [], "meta": {"chartId": 42, "uuid": "b"}},
        },
        "metadata": {"native_filter_configuration": [{"scope": {"excluded": [17]}, "chartsInScope": [42]}]},
    }
    renumber_charts(dashboard)
    assert dashboard["position"]["CHART-b"]["meta"]["chartId"] == 1
    assert dashboard["position"]["CHART-a"]["meta"]["chartId"] == 2
    assert dashboard["metadata"]["native_filter_configuration"] == [{"scope": {"excluded": [2]}}]


def test_every_filter_column_a_chart_s_dataset_has_is_filtered_on_its_dashboards(bundle: Bundle) -> None:
    """The dashboard datasets list each figure under every filter value it belongs to ('All teams' and each
    team, ...): a chart left out of a filter whose column its dataset has would take MAX over all of them."""
    datasets, charts = bundle.by_uuid("datasets"), bundle.by_uuid("charts")
    unfiltered = []
    for dashboard in bundle.of("dashboards").values():
        ids = {n["meta"]["chartId"]: n["meta"]["uuid"] for n in dashboard["position"].values()
               if isinstance(n, dict) and n.get("type") == "CHART"}
        for native in dashboard["metadata"]["native_filter_configuration"]:
            column = native["targets"][0].get("column", {}).get("name")
            for chart_id in native["scope"]["excluded"]:
                chart = charts[ids[chart_id]]
                names = {c["column_name"] for c in datasets[chart["dataset_uuid"]]["columns"]}
                if column in names:
                    unfiltered.append((dashboard["slug"], chart["slice_name"], column))
    assert unfiltered == []
