-- 011: the charts by repository read every repository's rows of one metric (or a few) over the date range:
-- 28,000 to 112,000 window rows at 1,000 repositories. EXPLAIN ANALYZE (bench/dashboard_bench.py) showed
-- the time going to (1) a heap fetch per index entry, the rows of one day and metric lying on as many
-- pages as there are repositories, and (2) the views' LATERAL (VALUES ...) that turns each row into three
-- before `window_days = 1` drops two of them (and the NULLs) row by row.
--
-- (1) The chart index carries the columns the views read, so those reads are index-only scans (on pages
--     VACUUM has marked all-visible: autovacuum does so after a bulk load; rows the writer has just
--     rewritten are fetched from the heap as before).
DROP INDEX metric_windows_metric_day;
CREATE INDEX metric_windows_metric_day ON metric_windows (grain, org, metric, day)
    INCLUDE (scope, repo_id, value_1d, value_7d, value_28d);

-- (2) Same columns and meaning as in 007; one UNION ALL branch per window length, so a filter on
--     window_days leaves the other two branches out before any row is read and the NULL test is part of
--     the scan.
CREATE OR REPLACE VIEW metric_window_values AS
SELECT grain, org, scope, repo_id, day, metric, 1 AS window_days, value_1d AS value
FROM metric_windows WHERE value_1d IS NOT NULL
UNION ALL
SELECT grain, org, scope, repo_id, day, metric, 7, value_7d
FROM metric_windows WHERE value_7d IS NOT NULL
UNION ALL
SELECT grain, org, scope, repo_id, day, metric, 28, value_28d
FROM metric_windows WHERE value_28d IS NOT NULL;

CREATE OR REPLACE VIEW reporting.pillar_metrics AS
SELECT w.day, w.org, r.full_name AS repo, w.repo_id, r.language, w.grain, d.pillar, w.metric,
       d.version AS metric_version, d.unit, w.window_days, w.value
FROM metric_window_values w
JOIN metric_definitions d ON d.metric = w.metric
LEFT JOIN repositories r ON r.repo_id = w.repo_id
WHERE w.grain IN ('repository', 'organisation')
  AND w.day <= (SELECT day FROM metric_windows_last_day);

CREATE OR REPLACE VIEW reporting.pillar_metrics_by_language AS
SELECT w.day, w.org, NULLIF(w.scope, '') AS language, d.pillar, w.metric, d.version AS metric_version, d.unit,
       w.window_days, w.value
FROM metric_window_values w
JOIN metric_definitions d ON d.metric = w.metric
WHERE w.grain = 'language'
  AND w.day <= (SELECT day FROM metric_windows_last_day);

CREATE OR REPLACE VIEW reporting.pillar_metrics_by_team AS
SELECT w.day, w.org, t.team_id, t.slug AS team, t.name AS team_name, d.pillar, w.metric,
       d.version AS metric_version, d.unit, w.window_days, w.value
FROM metric_window_values w
JOIN metric_definitions d ON d.metric = w.metric
JOIN teams t ON t.team_id = w.scope::bigint AND NOT t.deleted AND t.slug IS NOT NULL
WHERE w.grain = 'team'
  AND w.day <= (SELECT day FROM metric_windows_last_day);
