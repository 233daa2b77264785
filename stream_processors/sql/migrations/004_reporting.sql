-- 004: the `reporting` schema Superset and people read through pillarstream_reader.
-- Views run with their owner's rights, so the reader needs SELECT on these views and nothing in `public`.

-- Long format: one row per day × org × repository (NULL = the organisation roll-up) × metric × window.
-- `grain` says the same as `repo IS NULL` but, unlike it, reaches the bucket scan: filter on it in
-- dashboards over long histories.
CREATE VIEW reporting.pillar_metrics AS
SELECT m.day, m.org, r.full_name AS repo, m.repo_id, m.language, m.grain, m.pillar, m.metric,
       d.version AS metric_version, d.unit, m.window_days, m.value
FROM metric_rollups m
JOIN metric_definitions d USING (metric)
LEFT JOIN repositories r ON r.repo_id = m.repo_id
WHERE m.grain IN ('repository', 'organisation') AND m.value IS NOT NULL;

-- Technology stack: per organisation × repository language (NULL language = repositories without one).
CREATE VIEW reporting.pillar_metrics_by_language AS
SELECT m.day, m.org, m.language, m.pillar, m.metric, d.version AS metric_version, d.unit, m.window_days,
       m.value
FROM metric_rollups m
JOIN metric_definitions d USING (metric)
WHERE m.grain = 'language' AND m.value IS NOT NULL;

CREATE VIEW reporting.version_control_metrics AS
SELECT * FROM reporting.pillar_metrics WHERE pillar = 'version_control';
CREATE VIEW reporting.compatibility_metrics AS
SELECT * FROM reporting.pillar_metrics WHERE pillar = 'compatibility';
CREATE VIEW reporting.infrastructure_metrics AS
SELECT * FROM reporting.pillar_metrics WHERE pillar = 'infrastructure';
CREATE VIEW reporting.team_metrics AS
SELECT * FROM reporting.pillar_metrics WHERE pillar = 'team';

CREATE VIEW reporting.metric_catalogue AS
SELECT metric, pillar, kind, quantile, unit, version, description FROM metric_definitions;

CREATE VIEW reporting.repositories AS
SELECT repo_id, org, full_name AS repo, language, default_branch, private, archived, fork, visibility,
       created_at, deleted
FROM repositories;

-- Drill-down: the pull requests behind the version-control figures.
CREATE VIEW reporting.pull_requests AS
SELECT p.pr_id, p.org, r.full_name AS repo, p.repo_id, p.number, p.title, p.html_url, p.author_login,
       p.author_is_bot, p.state, p.draft, p.merged, p.created_at, t.ready_at, t.first_review_at, p.merged_at,
       p.closed_at, p.additions, p.deletions, p.additions + p.deletions AS size_lines,
       extract(epoch FROM p.merged_at - p.created_at)::double precision / 3600 AS cycle_time_hours,
       extract(epoch FROM t.first_review_at - t.ready_at)::double precision / 3600 AS pickup_time_hours,
       (SELECT count(*) FROM peer_reviews v WHERE v.pr_id = p.pr_id) AS peer_reviews,
       p.merged AND NOT EXISTS (SELECT 1 FROM peer_reviews v
                                WHERE v.pr_id = p.pr_id AND v.submitted_at <= p.merged_at)
           AS merged_without_review
FROM pull_requests p
JOIN pull_request_timeline t USING (pr_id)
LEFT JOIN repositories r ON r.repo_id = p.repo_id;

CREATE VIEW reporting.check_runs AS
SELECT c.check_run_id, c.org, r.full_name AS repo, c.repo_id, c.name, c.head_sha, c.status, c.conclusion,
       c.started_at, c.completed_at,
       extract(epoch FROM c.completed_at - c.started_at)::double precision / 60 AS duration_minutes,
       c.app_slug, c.html_url,
       EXISTS (SELECT 1 FROM check_runs o WHERE o.repo_id = c.repo_id AND o.head_sha = c.head_sha
                   AND o.name = c.name AND o.conclusion = 'success')
       AND EXISTS (SELECT 1 FROM check_runs o WHERE o.repo_id = c.repo_id AND o.head_sha = c.head_sha
                   AND o.name = c.name AND o.conclusion = 'failure') AS flaky
FROM check_runs c
LEFT JOIN repositories r ON r.repo_id = c.repo_id;

-- One row per deployment status, with its deployment.
CREATE VIEW reporting.deployments AS
SELECT s.status_id, s.deployment_id, s.org, r.full_name AS repo, s.repo_id, s.environment, s.is_production,
       s.state, s.sha, d.ref, d.task, s.created_at, d.created_at AS deployment_created_at, d.creator_login
FROM deployment_statuses s
LEFT JOIN deployments d USING (deployment_id)
LEFT JOIN repositories r ON r.repo_id = s.repo_id;

CREATE VIEW reporting.incidents AS
SELECT i.issue_id, i.org, r.full_name AS repo, i.repo_id, i.number, i.title, i.html_url, i.state, i.labels,
       i.created_at, i.closed_at,
       CASE WHEN i.state = 'closed' THEN extract(epoch FROM i.closed_at - i.created_at)::double precision / 3600 END
           AS time_to_restore_hours
FROM issues i
LEFT JOIN repositories r ON r.repo_id = i.repo_id
WHERE i.is_incident AND NOT i.deleted;

GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO pillarstream_reader;
-- Views later migrations add to `reporting` are readable without a grant of their own.
ALTER DEFAULT PRIVILEGES IN SCHEMA reporting GRANT SELECT ON TABLES TO pillarstream_reader;
