"""The metric catalogue as the migrations declare it, and what the dashboards derive from it.

Each metric is declared once, in SQL: its row of ``metric_definitions`` (name, pillar, kind, quantile, unit,
version, description, label), inserted by the migration that adds it (003 for catalogue v1, whose labels
007 sets). What the dashboards show of a metric is derived from that row: the datasets' ``metric_label``
column, the label of every chart metric that reads one metric, and a headline chart's title (label and
window) on the chart and on its dashboards. Run ``python -m dashboards.catalogue`` after adding a metric or
changing a label; a unit test says when the bundle is out of step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboards.bundle import Bundle

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "stream_processors" / "sql" / "migrations"
Literal = str | float | None


@dataclass(frozen=True)
class Metric:
    name: str
    pillar: str
    kind: str
    quantile: float | None
    unit: str
    version: int
    description: str
    label: str | None


def sql_tuples(text: str) -> list[tuple[Literal, ...]]:
    """Every parenthesised list of SQL literals ('text', numbers, NULL) in the text, in order."""
    found: list[tuple[Literal, ...]] = []
    i = 0
    while (start := text.find("(", i)) >= 0:
        values: list[Literal] = []
        j, ok = start + 1, True
        while ok:
            while j < len(text) and text[j] in " \t\r\n":
                j += 1
            if text.startswith("'", j):
                end, parts = j + 1, []
                while True:
                    quote = text.find("'", end)
                    if quote < 0:
                        return found  # an unbalanced quote (in a comment): no literal lists after it
                    parts.append(text[end:quote])
                    if text.startswith("''", quote):
                        parts.append("'")
                        end = quote + 2
                    else:
                        break
                values.append("".join(parts))
                j = quote + 1
            elif text.startswith("NULL", j):
                values.append(None)
                j += 4
            else:
                k = j
                while k < len(text) and (text[k].isdigit() or text[k] == "."):
                    k += 1
                if k == j:
                    ok = False
                    break
                values.append(float(text[j:k]))
                j = k
            while j < len(text) and text[j] in " \t\r\n":
                j += 1
            if text.startswith(",", j):
                j += 1
            elif text.startswith(")", j):
                found.append(tuple(values))
                break
            else:
                ok = False
        i = start + 1
    return found


def catalogue(directory: Path = MIGRATIONS_DIR) -> dict[str, Metric]:
    """Every metric the migrations define, in the order they define them, with its label."""
    metrics: dict[str, Metric] = {}
    for path in sorted(directory.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        if "metric_definitions" not in text:
            continue
        for row in sql_tuples(text):
            if len(row) in (7, 8) and row[2] in ("count", "ratio", "distinct", "quantile", "top_share"):
                name, pillar, kind, quantile, unit, version, description, *label = row
                metrics[str(name)] = Metric(str(name), str(pillar), str(kind),
                                            None if quantile is None else float(quantile), str(unit),
                                            int(version or 0), str(description), str(label[0]) if label else None)
            elif len(row) == 2 and "SET label" in text and row[0] in metrics and isinstance(row[1], str):
                old = metrics[str(row[0])]
                metrics[old.name] = Metric(old.name, old.pillar, old.kind, old.quantile, old.unit, old.version,
                                           old.description, row[1])
    return metrics


def label_expression(metrics: dict[str, Metric]) -> str:
    """The datasets' ``metric_label`` column: each metric's label, the metric's name for anything else."""
    cases = " ".join(f"WHEN {_quote(m.name)} THEN {_quote(m.label or m.name)}" for m in metrics.values())
    return f"CASE metric {cases} ELSE metric END"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sync_labels(bundle: Bundle, metrics: dict[str, Metric]) -> list[str]:
    """Set every dataset's ``metric_label`` expression from the catalogue; returns the datasets changed."""
    expression, changed = label_expression(metrics), []
    for path, dataset in bundle.of("datasets").items():
        for column in dataset.get("columns", []):
            if column.get("column_name") == "metric_label" and column.get("expression") != expression:
                column["expression"] = expression
                changed.append(path)
    return changed


_ONE_METRIC = re.compile(r"\bmetric\s*=\s*'(\w+)'")


def _chosen_metric(params: dict[str, Any]) -> str | None:
    """The one metric a chart's filters choose, if they choose exactly one."""
    for item in params.get("adhoc_filters") or []:
        if item.get("subject") != "metric":
            continue
        value = item.get("comparator")
        if item.get("operator") == "==" and isinstance(value, str):
            return value
        if item.get("operator") == "IN" and isinstance(value, list) and len(value) == 1:
            return str(value[0])
    return None


def _window(params: dict[str, Any]) -> int | None:
    for item in params.get("adhoc_filters") or []:
        if item.get("subject") == "window_days" and item.get("operator") == "==":
            return int(item["comparator"])
    return None


def _relabel(metric: Any, metrics: dict[str, Metric], chosen: str | None) -> bool:
    """A chart metric reading one catalogue metric (``CASE WHEN metric = 'x' …``, or ``MAX(value)`` on a chart
    that chooses one metric) takes that metric's label; returns whether it changed."""
    if not isinstance(metric, dict) or metric.get("expressionType") != "SQL" or metric.get("label") == "value":
        return False
    sql = str(metric.get("sqlExpression", ""))
    named = set(_ONE_METRIC.findall(sql))
    name = next(iter(named)) if len(named) == 1 else (chosen if sql == "MAX(value)" else None)
    if name not in metrics:
        return False
    label = metrics[name].label or name
    if metric.get("label") == label:
        return False
    metric["label"] = label
    return True


def sync_charts(bundle: Bundle, metrics: dict[str, Metric]) -> list[str]:
    """Chart metric labels and headline titles from the catalogue; returns the files changed."""
    changed: list[str] = []
    titles: dict[str, str] = {}
    for path, chart in bundle.of("charts").items():
        params = chart.get("params") or {}
        chosen = _chosen_metric(params)
        edits = [_relabel(params.get(key), metrics, chosen) for key in ("metric", "timeseries_limit_metric")]
        edits += [_relabel(m, metrics, chosen) for m in params.get("metrics") or []]
        window = _window(params)
        if chart.get("viz_type") == "big_number" and chosen in metrics and window:
            title = f"{metrics[chosen].label or chosen} · {window} days"
            edits.append(chart.get("slice_name") != title)
            chart["slice_name"] = title
        if any(edits):
            changed.append(path)
        titles[str(chart["uuid"])] = str(chart.get("slice_name"))
    for path, dashboard in bundle.of("dashboards").items():
        for node in dashboard.get("position", {}).values():
            if isinstance(node, dict) and node.get("type") == "CHART":
                meta = node["meta"]
                shown = titles.get(str(meta.get("uuid")))
                if shown and meta.get("sliceName") != shown:
                    meta["sliceName"] = shown
                    if path not in changed:
                        changed.append(path)
    return changed


def sync(bundle: Bundle, metrics: dict[str, Metric]) -> list[str]:
    """Everything the bundle derives from the catalogue; returns the files changed."""
    return sorted(set(sync_labels(bundle, metrics) + sync_charts(bundle, metrics)))


if __name__ == "__main__":
    current = Bundle.load()
    for name in sync(current, catalogue()):
        print(f"updated {name}")
    current.write()
