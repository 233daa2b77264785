"""Chart query contexts carry a chart's series limit as Superset's web client sends it: the line charts by
repository ask Superset for their top 10 repositories by their sort metric, every other chart for all series."""

from __future__ import annotations

import pytest

from dashboards.bundle import Bundle
from dashboards.query_context import build_query

pytestmark = pytest.mark.unit

LIMITED = {"vcm_cycle_by_repo": True, "compat_rate_by_repo": False, "infra_cfr_by_repo": True,
           "team_contributors_by_repo": True}


def query_of(chart: dict) -> dict:  # type: ignore[type-arg]
    params = dict(chart["params"])
    params.setdefault("viz_type", chart["viz_type"])
    return build_query(params)


@pytest.mark.parametrize(("name", "descending"), LIMITED.items())
def test_line_charts_by_repository_ask_for_their_top_10_series(name: str, descending: bool) -> None:
    query = query_of(Bundle.load().files[f"charts/{name}.yaml"])
    assert query["series_columns"] == ["repo"]
    assert query["series_limit"] == 10
    assert query["series_limit_metric"]["sqlExpression"] == "AVG(value)"
    assert query["order_desc"] is descending
    # the rows come sorted by the same metric, the way the series were chosen
    assert query["orderby"] == [[query["series_limit_metric"], not descending]]


def test_other_charts_ask_for_every_series() -> None:
    bundle = Bundle.load()
    for path, chart in bundle.of("charts").items():
        if path.removeprefix("charts/").removesuffix(".yaml") in LIMITED or chart["viz_type"] not in (
                "echarts_timeseries_line", "echarts_timeseries_bar", "big_number", "table"):
            continue
        query = query_of(chart)
        assert query["series_limit"] == 0, path
        assert "series_limit_metric" not in query, path
