-- 009: the dashboards' charts read one metric (or a few) of one grain and organisation over a span of days
-- (a headline's trend, a table by repository summing the days of the date range). Neither the primary key
-- (grain, org, scope, day, metric: every scope's days first) nor metric_windows_day (every metric of the
-- days) reaches those rows alone; at 1,000 repositories a table by repository read 0.7 million rows to keep
-- 84,000 (bench/dashboard_bench.py).
CREATE INDEX metric_windows_metric_day ON metric_windows (grain, org, metric, day);
