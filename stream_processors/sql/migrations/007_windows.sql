-- 007: materialised windows. The 1-, 7- and 28-day window values of every grain are kept in
-- metric_windows, maintained by the warehouse writer in the transaction that changes the buckets
-- (stream_processors/sql/windows.sql), so the reporting views read only the rows a chart shows.
-- The query-time definition (metric_rollups, 003) stays as the reference the tests compare against.

-- Lead time's touched deployments are found through the statuses of a commit (by SHA).
CREATE INDEX deployment_statuses_sha ON deployment_statuses (repo_id, sha);

-- Concatenation of arrays across rows: the samples or members of several buckets in one array.
CREATE AGGREGATE array_concat_agg (anycompatiblearray) (SFUNC = array_cat, STYPE = anycompatiblearray);

-- The buckets of one day rolled into each grain wider than a repository, kept with what windows need:
-- sums for counts and ratios, every sample, the distinct members (top_share: one entry per event).
-- scope: '' for the organisation, the repository language ('' = none) for `language`.
CREATE TABLE metric_rollup_days (
    grain        text NOT NULL,
    org          text NOT NULL,
    scope        text NOT NULL,
    day          date NOT NULL,
    metric       text NOT NULL,
    value        double precision,
    numerator    double precision,
    denominator  double precision,
    samples      double precision[],
    members      text[],
    PRIMARY KEY (grain, org, scope, day, metric)
);

-- One row per grain × scope × window end day × metric, the three window lengths side by side. A row exists
-- when any of its windows holds data; a NULL value is a window without data (no row in the views).
-- Rows are written for the 27 days after the last data too (a window ending on a quiet day); the views
-- show end days up to today, as the query-time definition does.
CREATE TABLE metric_windows (
    grain      text NOT NULL,
    org        text NOT NULL,
    scope      text NOT NULL,  -- the repository id for `repository`, else as in metric_rollup_days
    day        date NOT NULL,
    metric     text NOT NULL,
    value_1d   double precision,
    value_7d   double precision,
    value_28d  double precision,
    repo_id    bigint GENERATED ALWAYS AS (CASE WHEN grain = 'repository' THEN scope::bigint END) STORED,
    PRIMARY KEY (grain, org, scope, day, metric)
);
CREATE INDEX metric_windows_day ON metric_windows (day, grain, org);

-- Which (grain, org, scope, day) the windows must follow: bucket days the writer rebuilt, and days a
-- repository's language change moves between languages. The writer empties it in the same transaction;
-- rows committed by anything else (an UPDATE by hand) are picked up by the next write.
CREATE TABLE metric_windows_pending (
    grain  text NOT NULL,
    org    text NOT NULL,
    scope  text NOT NULL,
    day    date NOT NULL
);

-- A repository's language decides its language grain over its whole history (as the query-time views
-- read the current language): a change moves every day of its buckets from one language to the other.
CREATE FUNCTION metric_windows_language_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO metric_windows_pending (grain, org, scope, day)
    SELECT DISTINCT 'language', b.org, s.scope, b.day
    FROM metric_buckets b
    CROSS JOIN (VALUES (coalesce(NEW.language, ''))) AS s (scope)
    WHERE b.repo_id = NEW.repo_id
    UNION
    SELECT DISTINCT 'language', b.org, coalesce(OLD.language, ''), b.day
    FROM metric_buckets b
    WHERE TG_OP = 'UPDATE' AND b.repo_id = NEW.repo_id;
    RETURN NULL;
END $$;
CREATE TRIGGER repositories_language_inserted AFTER INSERT ON repositories
FOR EACH ROW EXECUTE FUNCTION metric_windows_language_moved();
CREATE TRIGGER repositories_language_changed AFTER UPDATE OF language ON repositories
FOR EACH ROW WHEN (OLD.language IS DISTINCT FROM NEW.language)
EXECUTE FUNCTION metric_windows_language_moved();

-- The last window end day the views show: today (UTC), or the last bucket's day if that is later.
CREATE VIEW metric_windows_last_day AS
SELECT GREATEST(max(day), (now() AT TIME ZONE 'UTC')::date) AS day FROM metric_buckets;

-- Same columns and meaning as in 004; read from the materialised windows.
CREATE OR REPLACE VIEW reporting.pillar_metrics AS
SELECT w.day, w.org, r.full_name AS repo, w.repo_id, r.language, w.grain, d.pillar, w.metric,
       d.version AS metric_version, d.unit, v.window_days, v.value
FROM metric_windows w
CROSS JOIN LATERAL (VALUES (1, w.value_1d), (7, w.value_7d), (28, w.value_28d)) AS v (window_days, value)
JOIN metric_definitions d ON d.metric = w.metric
LEFT JOIN repositories r ON r.repo_id = w.repo_id
WHERE w.grain IN ('repository', 'organisation') AND v.value IS NOT NULL
  AND w.day <= (SELECT day FROM metric_windows_last_day);

CREATE OR REPLACE VIEW reporting.pillar_metrics_by_language AS
SELECT w.day, w.org, NULLIF(w.scope, '') AS language, d.pillar, w.metric, d.version AS metric_version, d.unit,
       v.window_days, v.value
FROM metric_windows w
CROSS JOIN LATERAL (VALUES (1, w.value_1d), (7, w.value_7d), (28, w.value_28d)) AS v (window_days, value)
JOIN metric_definitions d ON d.metric = w.metric
WHERE w.grain = 'language' AND v.value IS NOT NULL
  AND w.day <= (SELECT day FROM metric_windows_last_day);

GRANT SELECT, INSERT, DELETE ON metric_rollup_days, metric_windows, metric_windows_pending TO pillarstream_writer;
GRANT SELECT ON metric_windows_last_day TO pillarstream_writer;
