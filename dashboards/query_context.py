"""Chart query contexts, rebuilt from a chart's ``params`` the way Superset's web client builds them.

A query context is what Superset's chart-data API runs: alerts and reports, thumbnails and
``GET /api/v1/chart/<id>/data/`` use the one saved with the chart. The web client writes it when a chart is
saved in Explore; charts kept as code have none until we build it. Only the chart types the bundle uses
are covered (Superset's frontend plugins ``buildQuery`` for each, reduced to the options used here);
others raise :class:`UnsupportedChart` and keep whatever query context they were exported with.

:func:`with_dashboard_filters` adds native-filter values to a query context the way a dashboard does,
so a test can ask for exactly what a dashboard shows.
"""

from __future__ import annotations

import json
from typing import Any

TIMESERIES = {"echarts_timeseries_line", "echarts_timeseries_bar", "echarts_area"}
SUPPORTED = TIMESERIES | {"big_number", "big_number_total", "table"}


class UnsupportedChart(ValueError):
    """A chart type this module does not build query contexts for."""


def metric_label(metric: Any) -> str:
    if isinstance(metric, str):
        return metric
    if metric.get("label"):
        return str(metric["label"])
    if metric.get("expressionType") == "SQL":
        return str(metric["sqlExpression"])
    return f"{metric['aggregate']}({metric['column']['column_name']})"


def _filters(params: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Adhoc filters → simple query filters, and free-form SQL into extras (Superset's processFilters)."""
    simple: list[dict[str, Any]] = []
    where: list[str] = []
    having: list[str] = []
    for item in params.get("adhoc_filters") or []:
        if item.get("expressionType") == "SIMPLE":
            clause = {"col": item["subject"], "op": item["operator"]}
            if item.get("comparator") is not None:
                clause["val"] = item["comparator"]
            if item.get("clause", "WHERE") == "WHERE":
                simple.append(clause)
        else:
            (where if item.get("clause", "WHERE") == "WHERE" else having).append(f"({item['sqlExpression']})")
    return simple, {"where": " AND ".join(where), "having": " AND ".join(having)}


def _x_axis(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "timeGrain": params.get("time_grain_sqla") or "P1D",
        "columnType": "BASE_AXIS",
        "sqlExpression": params["x_axis"],
        "label": params["x_axis"],
        "expressionType": "SQL",
    }


def _pivot(params: dict[str, Any], metrics: list[Any], columns: list[str]) -> dict[str, Any]:
    return {
        "operation": "pivot",
        "options": {
            "index": [params["x_axis"]],
            "columns": columns,
            "aggregates": {metric_label(m): {"operator": "mean"} for m in metrics},
            "drop_missing_columns": not params.get("show_empty_columns", True),
        },
    }


def build_query(params: dict[str, Any]) -> dict[str, Any]:
    """The one query object of a chart with these params."""
    viz = params.get("viz_type")
    if viz not in SUPPORTED:
        raise UnsupportedChart(f"no query-context builder for chart type {viz!r}")
    filters, extras = _filters(params)
    if params.get("time_grain_sqla"):
        extras["time_grain_sqla"] = params["time_grain_sqla"]
    query: dict[str, Any] = {
        "filters": filters,
        "extras": extras,
        "applied_time_extras": {},
        "annotation_layers": [],
        # A chart's "Series limit" (form data `limit`) and its "Sort by" metric, as Superset's buildQueryObject
        # passes them: Superset then keeps the top series only (SQL subquery joined to the chart's query).
        "series_limit": int(params.get("limit") or 0),
        "order_desc": params.get("order_desc", True),
        "url_params": {},
        "custom_params": {},
        "custom_form_data": {},
    }
    if params.get("time_range"):
        query["time_range"] = params["time_range"]
    if params.get("row_limit") is not None:
        query["row_limit"] = int(params["row_limit"])

    if viz == "big_number":
        metrics = [params["metric"]]
        query |= {
            "columns": [_x_axis(params)],
            "metrics": metrics,
            "orderby": [[metrics[0], False]],
            "post_processing": [_pivot(params, metrics, []), {"operation": "flatten"}],
        }
    elif viz == "big_number_total":
        query |= {"columns": [], "metrics": [params["metric"]], "orderby": [], "post_processing": []}
    elif viz in TIMESERIES:
        metrics = list(params["metrics"])
        groupby = list(params.get("groupby") or [])
        sort_by = params.get("timeseries_limit_metric") or metrics[0]
        if params.get("timeseries_limit_metric"):
            query["series_limit_metric"] = params["timeseries_limit_metric"]
        query |= {
            "columns": [_x_axis(params), *groupby],
            "metrics": metrics,
            "series_columns": groupby,
            "orderby": [[sort_by, not params.get("order_desc", True)]] if groupby else [],
            "time_offsets": [],
            "post_processing": [_pivot(params, metrics, groupby), {"operation": "flatten"}],
        }
    elif params.get("query_mode") == "raw":
        order = [json.loads(o) if isinstance(o, str) else o for o in params.get("order_by_cols") or []]
        query |= {"columns": list(params["all_columns"]), "orderby": order, "post_processing": []}
    else:  # table, aggregate mode
        metrics = list(params["metrics"])
        sort_by = params.get("timeseries_limit_metric") or metrics[0]
        query |= {
            "columns": list(params.get("groupby") or []),
            "metrics": metrics,
            "orderby": [[sort_by, not params.get("order_desc", True)]],
            "post_processing": [],
        }
    return query


def build_query_context(chart: dict[str, Any], dataset: dict[str, Any]) -> str:
    """A chart's query context as the JSON text Superset stores. The datasource id is filled in by
    Superset's importer (it rewrites ``params.datasource``); we name the type only."""
    params = dict(chart.get("params") or {})
    params.setdefault("viz_type", chart.get("viz_type"))
    query = build_query(params)
    context = {
        "datasource": {"id": 0, "type": "table"},
        "force": False,
        "queries": [query],
        "form_data": params,
        "result_format": "json",
        "result_type": "full",
    }
    return json.dumps(context, sort_keys=True)


def with_dashboard_filters(
    query_context: dict[str, Any],
    datasource_id: int,
    *,
    time_range: str | None,
    values: dict[str, list[Any]],
    columns: set[str],
) -> dict[str, Any]:
    """The query context with native-filter values applied as a dashboard applies them: ``IN`` filters on
    the columns the dataset has (others are ignored, as Superset does) and the dashboard's time range."""
    context = json.loads(json.dumps(query_context))
    context["datasource"] = {"id": datasource_id, "type": "table"}
    for query in context["queries"]:
        query["filters"] = list(query.get("filters", [])) + [
            {"col": column, "op": "IN", "val": list(value)}
            for column, value in values.items()
            if column in columns
        ]
        if time_range is not None:
            query["time_range"] = time_range
            for clause in query["filters"]:
                if clause["op"] == "TEMPORAL_RANGE":
                    clause["val"] = time_range
    result: dict[str, Any] = context
    return result
