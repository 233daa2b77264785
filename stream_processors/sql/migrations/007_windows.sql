-- 007: materialised windows. The 1-, 7- and 28-day window values of every grain are kept in
-- metric_windows, maintained by the warehouse writer in the transaction that changes the buckets
-- (stream_processors/sql/windows.sql), so the reporting views read only the rows a chart shows.
-- The query-time definition (metric_rollups, 003) stays as the reference the tests compare against.

-- One place per metric: its display name is declared with it. A metric added by a later migration gives
-- its label in its INSERT (the column is NOT NULL); the dashboards' `metric_label` columns are derived
-- from these declarations (dashboards/catalogue.py).
ALTER TABLE metric_definitions ADD COLUMN label text;
UPDATE metric_definitions m SET label = l.label FROM (VALUES
    ('commits', 'Commits landed'),
    ('commit_authors', 'Commit authors'),
    ('prs_opened', 'PRs opened'),
    ('prs_merged', 'PRs merged'),
    ('prs_closed_unmerged', 'PRs closed unmerged'),
    ('pr_cycle_time_hours_p50', 'PR cycle time p50 (h)'),
    ('pr_cycle_time_hours_p90', 'PR cycle time p90 (h)'),
    ('pr_pickup_time_hours_p50', 'PR pickup time p50 (h)'),
    ('pr_size_lines_p50', 'PR size p50 (lines)'),
    ('prs_merged_without_review', 'PRs merged without review'),
    ('check_runs_completed', 'Check runs completed'),
    ('check_success_rate', 'Check success rate'),
    ('check_duration_minutes_p50', 'Check duration p50 (min)'),
    ('flaky_checks', 'Flaky checks'),
    ('workflow_runs_completed', 'Workflow runs completed'),
    ('workflow_success_rate', 'Workflow success rate'),
    ('deployments', 'Production deployments'),
    ('deployment_failures', 'Failed deployments'),
    ('change_failure_rate', 'Change failure rate'),
    ('lead_time_hours_p50', 'Lead time p50 (h)'),
    ('incidents_opened', 'Incidents opened'),
    ('time_to_restore_hours_p50', 'Time to restore p50 (h)'),
    ('active_contributors', 'Active contributors'),
    ('reviewers_active', 'Active reviewers'),
    ('reviews_submitted', 'Reviews submitted'),
    ('review_load_top_share', 'Busiest reviewer''s share')
) AS l (metric, label)
WHERE l.metric = m.metric;
ALTER TABLE metric_definitions ALTER COLUMN label SET NOT NULL;
CREATE OR REPLACE VIEW reporting.metric_catalogue AS
SELECT metric, pillar, kind, quantile, unit, version, description, label FROM metric_definitions;

-- Lead time's touched deployments are found through the statuses of a commit (by SHA).
CREATE INDEX deployment_statuses_sha ON deployment_statuses (repo_id, sha);

-- Concatenation of arrays across rows: the samples or members of several buckets in one array.
CREATE AGGREGATE array_concat_agg (anycompatiblearray) (SFUNC = array_cat, STYPE = anycompatiblearray);

-- A team's scope: the repositories it has access to (GitHub team access, as the dashboards' team filter
-- and reporting.team_repositories), whoever made the changes. docs/metrics.md, "Grains".
CREATE VIEW team_scopes AS
SELECT tr.team_id, tr.repo_id
FROM team_repositories tr
JOIN teams t USING (team_id)
WHERE tr.state = 'added' AND NOT t.deleted AND t.slug IS NOT NULL;

-- A window's value, for the kinds that need what its days hold together (docs/metrics.md, "Roll-ups are
-- exact"): the quantile of all samples, distinct members of the union, the busiest member's share of all
-- entries. NULL when the window holds none. (Counts and ratios are sums, computed inline.)
CREATE FUNCTION window_value(kind text, quantile double precision, samples double precision[], members text[])
RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN kind = 'quantile' AND samples IS NOT NULL
            THEN (SELECT percentile_cont(quantile) WITHIN GROUP (ORDER BY s) FROM unnest(samples) AS s)
        WHEN kind = 'distinct' AND members IS NOT NULL
            THEN (SELECT NULLIF(count(DISTINCT m), 0) FROM unnest(members) AS m)
        WHEN kind = 'top_share' AND members IS NOT NULL
            THEN (SELECT max(n)::double precision / sum(n)
                  FROM (SELECT count(*) AS n FROM unnest(members) AS m GROUP BY m) AS per_member)
    END
$$;

-- The buckets of one day rolled into each grain wider than a repository, kept with what windows need:
-- sums for counts and ratios, every sample, the distinct members (top_share: one entry per event).
-- scope: '' for the organisation, the repository language ('' = none) for `language`, the team id for `team`.
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
-- repository's language or team scope change moves. The writer takes them in the same transaction, except
-- keys of past days while it works through a backlog, which wait (committed) to be taken together
-- (stream_processors/windows.py); rows committed by anything else are picked up by the next write.
CREATE TABLE metric_windows_pending (
    grain      text NOT NULL,
    org        text NOT NULL,
    scope      text NOT NULL,
    day        date NOT NULL,
    queued_at  timestamptz NOT NULL DEFAULT now()
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
-- A repository joining or leaving a team's scope (access added or removed, a team deleted or renamed)
-- moves every day of the repository's buckets into or out of the team's roll-ups.
CREATE FUNCTION metric_windows_team_scope_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO metric_windows_pending (grain, org, scope, day)
    SELECT DISTINCT 'team', b.org, c.team_id::text, b.day
    FROM (SELECT NEW.team_id, NEW.repo_id WHERE TG_OP <> 'DELETE'
          UNION SELECT OLD.team_id, OLD.repo_id WHERE TG_OP <> 'INSERT') AS c (team_id, repo_id)
    JOIN metric_buckets b ON b.repo_id = c.repo_id;
    RETURN NULL;
END $$;
CREATE TRIGGER team_repositories_scope_changed AFTER INSERT OR DELETE OR UPDATE OF state, team_id, repo_id
ON team_repositories FOR EACH ROW EXECUTE FUNCTION metric_windows_team_scope_changed();

CREATE FUNCTION metric_windows_team_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO metric_windows_pending (grain, org, scope, day)
    SELECT DISTINCT 'team', b.org, NEW.team_id::text, b.day
    FROM team_repositories tr
    JOIN metric_buckets b ON b.repo_id = tr.repo_id
    WHERE tr.team_id = NEW.team_id;
    RETURN NULL;
END $$;
CREATE TRIGGER teams_scope_changed AFTER UPDATE OF deleted, slug ON teams
FOR EACH ROW WHEN (OLD.deleted IS DISTINCT FROM NEW.deleted OR (OLD.slug IS NULL) <> (NEW.slug IS NULL))
EXECUTE FUNCTION metric_windows_team_changed();
CREATE TRIGGER teams_inserted AFTER INSERT ON teams
FOR EACH ROW EXECUTE FUNCTION metric_windows_team_changed();

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

-- Per organisation × team (its repositories, view team_scopes): the Team dashboard's roll-ups.
CREATE VIEW reporting.pillar_metrics_by_team AS
SELECT w.day, w.org, t.team_id, t.slug AS team, t.name AS team_name, d.pillar, w.metric,
       d.version AS metric_version, d.unit, v.window_days, v.value
FROM metric_windows w
CROSS JOIN LATERAL (VALUES (1, w.value_1d), (7, w.value_7d), (28, w.value_28d)) AS v (window_days, value)
JOIN metric_definitions d ON d.metric = w.metric
JOIN teams t ON t.team_id = w.scope::bigint AND NOT t.deleted AND t.slug IS NOT NULL
WHERE w.grain = 'team' AND v.value IS NOT NULL
  AND w.day <= (SELECT day FROM metric_windows_last_day);
GRANT SELECT ON reporting.pillar_metrics_by_team TO pillarstream_reader;

-- The query-time reference (003) gains the team grain, so tests can check the materialised team windows
-- the way they check the others.
CREATE OR REPLACE VIEW metric_window_inputs AS
SELECT c.day, c.window_days, b.org, g.grain, g.repo_id, g.language, d.pillar, b.metric, d.kind, d.quantile,
       b.value, b.numerator, b.denominator, b.samples, b.members, g.team_id
FROM metric_calendar c
CROSS JOIN LATERAL (SELECT * FROM metric_buckets b
                    WHERE b.day > c.day - c.window_days AND b.day <= c.day OFFSET 0) AS b
JOIN metric_definitions d ON d.metric = b.metric
LEFT JOIN repositories r ON r.repo_id = b.repo_id
CROSS JOIN LATERAL (SELECT 'repository', b.repo_id, r.language, NULL::bigint
                    UNION ALL SELECT 'organisation', NULL::bigint, NULL::text, NULL::bigint
                    UNION ALL SELECT 'language', NULL::bigint, r.language, NULL::bigint
                    UNION ALL SELECT 'team', NULL::bigint, NULL::text, ts.team_id
                              FROM team_scopes ts WHERE ts.repo_id = b.repo_id) AS g (grain, repo_id, language, team_id);

CREATE OR REPLACE VIEW metric_rollups AS
SELECT day, window_days, org, grain, repo_id, language, pillar, metric,
       CASE min(kind) WHEN 'count' THEN sum(value)
                      ELSE sum(numerator) / NULLIF(sum(denominator), 0) END AS value,
       team_id
FROM metric_window_inputs
WHERE kind IN ('count', 'ratio')
GROUP BY day, window_days, org, grain, repo_id, language, pillar, metric, team_id
UNION ALL
SELECT day, window_days, org, grain, repo_id, language, pillar, metric, count(DISTINCT m.member)::double precision,
       team_id
FROM metric_window_inputs CROSS JOIN LATERAL unnest(members) AS m (member)
WHERE kind = 'distinct'
GROUP BY day, window_days, org, grain, repo_id, language, pillar, metric, team_id
UNION ALL
SELECT day, window_days, org, grain, repo_id, language, pillar, metric,
       percentile_cont(quantile) WITHIN GROUP (ORDER BY s.sample), team_id
FROM metric_window_inputs CROSS JOIN LATERAL unnest(samples) AS s (sample)
WHERE kind = 'quantile'
GROUP BY day, window_days, org, grain, repo_id, language, pillar, metric, quantile, team_id
UNION ALL
SELECT day, window_days, org, grain, repo_id, language, pillar, metric,
       max(entries)::double precision / sum(entries), team_id
FROM (SELECT day, window_days, org, grain, repo_id, language, pillar, metric, team_id, count(*) AS entries
      FROM metric_window_inputs CROSS JOIN LATERAL unnest(members) AS m (member)
      WHERE kind = 'top_share'
      GROUP BY day, window_days, org, grain, repo_id, language, pillar, metric, team_id, m.member) AS per_member
GROUP BY day, window_days, org, grain, repo_id, language, pillar, metric, team_id;

GRANT SELECT ON team_scopes TO pillarstream_writer;
GRANT SELECT, INSERT, DELETE ON metric_rollup_days, metric_windows, metric_windows_pending TO pillarstream_writer;
GRANT SELECT ON metric_windows_last_day TO pillarstream_writer;
