"""Superset stage (marker `superset`): every chart of the bundle, asked through Superset's chart-data API
against the scenario warehouse, answers without error and with rows; headline charts show the scenario's
known figures, for the organisation, one repository, one language and one team (the team's figures checked
against its repositories' buckets)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

import psycopg2
import pytest

from dashboards.bundle import Bundle
from dashboards.client import SupersetClient
from dashboards.query_context import with_dashboard_filters
from tests.conftest import Database
from tests.scenario import D3
from tests.superset.answers import GRAIN_AT_D3, HEADLINE_AT_D3, ORG_FILTERS, SCENARIO_RANGE
from tests.superset.conftest import dataset_columns

pytestmark = [pytest.mark.integration, pytest.mark.superset]


def saved_chart(client: SupersetClient, chart_id: int) -> dict[str, Any]:
    result: dict[str, Any] = client.get(f"/api/v1/chart/{chart_id}")["result"]
    return result


def ask(
    client: SupersetClient,
    chart: dict[str, Any],
    filters: dict[str, list[str]],
    columns_cache: dict[int, set[str]],
) -> dict[str, Any]:
    """The chart's data as a dashboard with these filter values shows it."""
    context = json.loads(chart["query_context"])
    dataset_id = int(context["datasource"]["id"])
    query = with_dashboard_filters(
        context,
        dataset_id,
        time_range=SCENARIO_RANGE,
        values=filters,
        columns=dataset_columns(client, dataset_id, columns_cache),
    )
    answer: dict[str, Any] = client.chart_data(query)["result"][0]
    return answer


def value_on(answer: dict[str, Any], day: Any, label: str) -> float | None:
    midnight = datetime(day.year, day.month, day.day).timestamp() * 1000
    rows = [row for row in answer["data"] if row["day"] == midnight]
    return rows[0].get(label) if rows else None


def test_every_chart_answers_with_rows(
    client: SupersetClient, bundle: Bundle, chart_ids: dict[str, int]
) -> None:
    columns_cache: dict[int, set[str]] = {}
    failures, empty = {}, []
    for path, config in sorted(bundle.of("charts").items()):
        chart_id = chart_ids[str(config["uuid"])]
        chart = saved_chart(client, chart_id)
        # 1. the query context Superset keeps with the chart (reports, thumbnails, the GET data API)
        saved = client.get(f"/api/v1/chart/{chart_id}/data/")["result"][0]
        # 2. what a dashboard shows with its default filters, over the scenario's days
        shown = ask(client, chart, ORG_FILTERS, columns_cache)
        for name, answer in (("saved", saved), ("dashboard", shown)):
            if answer.get("error"):
                failures[f"{path} ({name})"] = answer["error"]
        if not shown["rowcount"]:
            empty.append(path)
    assert failures == {}
    assert empty == []
    assert len(chart_ids) >= len(bundle.of("charts"))


def test_headline_charts_show_the_scenario_figures(
    client: SupersetClient, bundle: Bundle, chart_ids: dict[str, int]
) -> None:
    columns_cache: dict[int, set[str]] = {}
    shown, covered = {}, set()
    for config in bundle.of("charts").values():
        metric = next(
            (f["comparator"] for f in config["params"]["adhoc_filters"] if f["subject"] == "metric"), None
        )
        if config["viz_type"] != "big_number" or metric not in HEADLINE_AT_D3:
            continue
        covered.add(metric)
        answer = ask(client, saved_chart(client, chart_ids[str(config["uuid"])]), ORG_FILTERS, columns_cache)
        shown[metric] = value_on(answer, D3, config["params"]["metric"]["label"])
    assert covered == set(HEADLINE_AT_D3), "every headline chart has a known answer"
    wrong = {
        m: (shown[m], want)
        for m, want in HEADLINE_AT_D3.items()
        if shown[m] is None or not math.isclose(shown[m], want, rel_tol=1e-9)
    }
    assert wrong == {}


@pytest.mark.parametrize(
    ("filters", "metric", "expected"),
    GRAIN_AT_D3,
    ids=[f"{next(iter(f.values()))[0]}-{m}" for f, m, _ in GRAIN_AT_D3],
)
def test_headline_charts_follow_the_repository_and_language_filters(
    client: SupersetClient,
    bundle: Bundle,
    chart_ids: dict[str, int],
    filters: dict[str, list[str]],
    metric: str,
    expected: float,
) -> None:
    config = bundle.files[f"charts/headline_{metric}.yaml"]
    answer = ask(client, saved_chart(client, chart_ids[str(config["uuid"])]), {**ORG_FILTERS, **filters}, {})
    assert value_on(answer, D3, config["params"]["metric"]["label"]) == pytest.approx(expected)


def test_a_repository_outside_the_language_shows_nothing_rather_than_a_wrong_figure(
    client: SupersetClient, bundle: Bundle, chart_ids: dict[str, int]
) -> None:
    config = bundle.files["charts/headline_commits.yaml"]
    filters = {**ORG_FILTERS, "repository": ["acme/api"], "language": ["TypeScript"]}
    answer = ask(client, saved_chart(client, chart_ids[str(config["uuid"])]), filters, {})
    assert answer["rowcount"] == 0


def test_team_filter_narrows_breakdowns_to_the_team_s_repositories(
    client: SupersetClient, bundle: Bundle, chart_ids: dict[str, int]
) -> None:
    config = bundle.files["charts/vcm_by_repo.yaml"]
    chart = saved_chart(client, chart_ids[str(config["uuid"])])
    everyone = ask(client, chart, ORG_FILTERS, {})
    backend = ask(client, chart, {**ORG_FILTERS, "team": ["backend"]}, {})
    assert sorted(row["repo"] for row in everyone["data"]) == ["acme/api", "acme/web"]
    assert [row["repo"] for row in backend["data"]] == ["acme/api"]  # backend has access to acme/api only
    assert backend["data"][0]["Commits landed"] == 7  # acme/api: 2 + 3 + 2


# One metric of each kind: the team grain must be exact by kind, not a sum or mean of repositories.
TEAM_METRICS = ["commits", "check_success_rate", "pr_cycle_time_hours_p50", "active_contributors",
                "review_load_top_share"]
TEAM_WINDOW_SQL = """
WITH scope AS (  -- the team's repositories (docs/metrics.md, "Grains")
    SELECT tr.repo_id FROM team_repositories tr JOIN teams t USING (team_id)
    WHERE t.slug = %(team)s AND tr.state = 'added' AND NOT t.deleted
),
b AS (
    SELECT b.* FROM metric_buckets b JOIN scope USING (repo_id)
    WHERE b.metric = %(metric)s AND b.day > %(day)s::date - %(window)s AND b.day <= %(day)s
)
SELECT CASE d.kind
    WHEN 'count' THEN (SELECT sum(value) FROM b)
    WHEN 'ratio' THEN (SELECT sum(numerator) / sum(denominator) FROM b)
    WHEN 'quantile' THEN (SELECT percentile_cont(d.quantile) WITHIN GROUP (ORDER BY s) FROM b, unnest(b.samples) s)
    WHEN 'distinct' THEN (SELECT count(DISTINCT m)::float8 FROM b, unnest(b.members) m)
    WHEN 'top_share' THEN (SELECT max(n)::float8 / sum(n)
                           FROM (SELECT count(*) AS n FROM b, unnest(b.members) m GROUP BY m) AS per_member)
END
FROM metric_definitions d WHERE d.metric = %(metric)s
"""


def team_window(dsn: str, team: str, metric: str, day: Any, window: int) -> float | None:
    """The team's figure straight from the daily buckets of its repositories, exact by kind."""
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(TEAM_WINDOW_SQL, {"team": team, "metric": metric, "day": day, "window": window})
        (value,) = cur.fetchone()
    conn.close()
    return None if value is None else float(value)


@pytest.mark.parametrize("metric", TEAM_METRICS)
def test_headline_charts_follow_the_team_filter_with_the_team_s_exact_figures(
    client: SupersetClient, bundle: Bundle, chart_ids: dict[str, int], warehouse: Database, metric: str
) -> None:
    config = bundle.files[f"charts/headline_{metric}.yaml"]
    chart = saved_chart(client, chart_ids[str(config["uuid"])])
    shown = value_on(ask(client, chart, {**ORG_FILTERS, "team": ["backend"]}, {}), D3,
                     config["params"]["metric"]["label"])

    expected = team_window(warehouse.admin_dsn, "backend", metric, D3, 28)
    assert expected is not None, "backend's repository has data for this metric"
    assert shown == pytest.approx(expected)


def test_the_team_filter_turns_the_organisation_s_figure_into_the_team_s(
    client: SupersetClient, bundle: Bundle, chart_ids: dict[str, int]
) -> None:
    config = bundle.files["charts/headline_commits.yaml"]
    chart = saved_chart(client, chart_ids[str(config["uuid"])])
    label = config["params"]["metric"]["label"]
    assert value_on(ask(client, chart, ORG_FILTERS, {}), D3, label) == HEADLINE_AT_D3["commits"] == 8
    # backend has access to acme/api only: 2 + 3 + 2 commits
    assert value_on(ask(client, chart, {**ORG_FILTERS, "team": ["backend"]}, {}), D3, label) == 7
    # a repository outside the team's access, or a language, together with the team: no figure rather than a wrong one
    for other in ({"repository": ["acme/web"]}, {"language": ["Python"]}):
        assert ask(client, chart, {**ORG_FILTERS, "team": ["backend"], **other}, {})["rowcount"] == 0
    # one of the team's repositories with the team: that repository's figure
    assert value_on(ask(client, chart, {**ORG_FILTERS, "team": ["backend"], "repository": ["acme/api"]}, {}),
                    D3, label) == 7


def test_by_team_table_shows_each_team_s_roll_up(
    client: SupersetClient, bundle: Bundle, chart_ids: dict[str, int], warehouse: Database
) -> None:
    config = bundle.files["charts/vcm_by_team.yaml"]
    chart = saved_chart(client, chart_ids[str(config["uuid"])])
    rows = {row["repo_team"]: row for row in ask(client, chart, ORG_FILTERS, {})["data"]}
    chosen = ask(client, chart, {**ORG_FILTERS, "team": ["backend"]}, {})["data"]

    # The table sums 1-day counts over the date range: the 28 days ending on D3 here.
    expected = team_window(warehouse.admin_dsn, "backend", "commits", D3, 28)
    assert expected == 7  # acme/api: 2 + 3 + 2
    assert set(rows) == {"backend"}
    assert rows["backend"]["Commits landed"] == expected
    assert [row["repo_team"] for row in chosen] == ["backend"]
    assert chosen[0]["Commits landed"] == expected


# The line charts by repository show the top 10 repositories (Superset's series limit) by the mean of the
# chart's 28-day figure over the date range: descending, or ascending for a success rate (the worst first).
LIMITED_CHARTS = ["vcm_cycle_by_repo", "compat_rate_by_repo", "infra_cfr_by_repo", "team_contributors_by_repo"]


def _percentile_cont(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ranking_from_buckets(dsn: str, metric: str, first: Any, last: Any, descending: bool) -> list[tuple[str, float]]:
    """Repositories by the mean, over the days first..last, of the metric's 28-day window value, computed
    here from the daily buckets by kind (docs/metrics.md), not from the windows the charts read."""
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT kind, quantile FROM metric_definitions WHERE metric = %s", (metric,))
        kind, quantile = cur.fetchone()
        cur.execute("""SELECT r.full_name, b.day, b.value, b.numerator, b.denominator, b.samples, b.members
                       FROM metric_buckets b JOIN repositories r USING (repo_id) WHERE b.metric = %s""", (metric,))
        buckets = cur.fetchall()
    conn.close()

    def window(rows: list[tuple[Any, ...]]) -> float | None:
        if kind == "count":
            return sum(r[2] for r in rows) if rows else None
        if kind == "ratio":
            denominator = sum(r[4] or 0 for r in rows)
            return sum(r[3] or 0 for r in rows) / denominator if denominator else None
        if kind == "quantile":
            samples = [s for r in rows for s in r[5] or []]
            return _percentile_cont(samples, quantile) if samples else None
        members = [m for r in rows for m in r[6] or []]
        if kind == "distinct":
            return float(len(set(members))) if members else None
        return max(members.count(m) for m in members) / len(members) if members else None  # top_share

    means: dict[str, float] = {}
    for repo in sorted({row[0] for row in buckets}):
        values = []
        day = first
        while day <= last:
            end = day
            inside = [row for row in buckets if row[0] == repo and end - timedelta(days=28) < row[1] <= end]
            value = window(inside)
            if value is not None:
                values.append(value)
            day += timedelta(days=1)
        if values:
            means[repo] = sum(values) / len(values)
    return sorted(means.items(), key=lambda item: -item[1] if descending else item[1])


@pytest.mark.parametrize("name", LIMITED_CHARTS)
def test_a_limited_chart_shows_the_top_repositories_by_its_sort_metric(
    client: SupersetClient, bundle: Bundle, chart_ids: dict[str, int], warehouse: Database, name: str
) -> None:
    config = bundle.files[f"charts/{name}.yaml"]
    params = config["params"]
    assert params["limit"] == 10 and params["timeseries_limit_metric"]["sqlExpression"] == "AVG(value)"
    metric = next(f["comparator"] for f in params["adhoc_filters"] if f["subject"] == "metric")
    first, end = (datetime.strptime(part.strip(), "%Y-%m-%d").date() for part in SCENARIO_RANGE.split(":"))
    expected = ranking_from_buckets(warehouse.admin_dsn, metric, first, end - timedelta(days=1),
                                    descending=params["order_desc"])
    assert len(expected) == 2 and expected[0][1] != expected[1][1], "the scenario ranks its two repositories"

    chart = saved_chart(client, chart_ids[str(config["uuid"])])

    def shown(series_limit: int | None) -> set[str]:
        saved = json.loads(chart["query_context"])
        if series_limit is not None:
            saved["queries"][0]["series_limit"] = series_limit
        chart_with_limit = {**chart, "query_context": json.dumps(saved)}
        answer = ask(client, chart_with_limit, ORG_FILTERS, {})
        return {repo for repo, _ in expected if any(repo in column for column in answer["colnames"])}

    # As saved (10 series): every repository; limited to one: the first by the sort metric, from the buckets.
    assert shown(None) == {repo for repo, _ in expected}
    assert shown(1) == {expected[0][0]}
