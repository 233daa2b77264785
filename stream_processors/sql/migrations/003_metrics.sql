-- 003: the metric catalogue, daily metric buckets, and the derived views both the recompute and the
-- reporting views read. Definitions: docs/metrics.md (catalogue v1).

CREATE TABLE metric_definitions (
    metric       text PRIMARY KEY,
    pillar       text NOT NULL CHECK (pillar IN ('version_control', 'compatibility', 'infrastructure', 'team')),
    -- How a bucket rolls up over repositories and days (see metric_rollups below):
    --   count: sum of values; ratio: sum(numerator) / sum(denominator); distinct: distinct members;
    --   quantile: the quantile of all samples; top_share: the top member's share of all member entries.
    kind         text NOT NULL CHECK (kind IN ('count', 'ratio', 'distinct', 'quantile', 'top_share')),
    quantile     double precision CHECK ((kind = 'quantile') = (quantile IS NOT NULL)),
    unit         text NOT NULL,
    version      integer NOT NULL,
    description  text NOT NULL
);

INSERT INTO metric_definitions (metric, pillar, kind, quantile, unit, version, description) VALUES
    ('commits', 'version_control', 'count', NULL, 'commits', 1,
     'Distinct commits that first reached the default branch that day (by push time).'),
    ('commit_authors', 'version_control', 'distinct', NULL, 'people', 1,
     'Distinct human authors of the commits counted in commits.'),
    ('prs_opened', 'version_control', 'count', NULL, 'pull requests', 1,
     'Pull requests created that day (drafts included).'),
    ('prs_merged', 'version_control', 'count', NULL, 'pull requests', 1,
     'Pull requests merged that day.'),
    ('prs_closed_unmerged', 'version_control', 'count', NULL, 'pull requests', 1,
     'Pull requests closed without merge that day and still closed.'),
    ('pr_cycle_time_hours_p50', 'version_control', 'quantile', 0.5, 'hours', 1,
     'Median hours from creation to merge, over pull requests merged that day.'),
    ('pr_cycle_time_hours_p90', 'version_control', 'quantile', 0.9, 'hours', 1,
     '90th percentile hours from creation to merge, over pull requests merged that day.'),
    ('pr_pickup_time_hours_p50', 'version_control', 'quantile', 0.5, 'hours', 1,
     'Median hours from first ready for review to the first peer review at or after it, by day of that review.'),
    ('pr_size_lines_p50', 'version_control', 'quantile', 0.5, 'lines', 1,
     'Median additions + deletions of pull requests merged that day.'),
    ('prs_merged_without_review', 'version_control', 'count', NULL, 'pull requests', 1,
     'Pull requests merged that day with no peer review submitted before the merge.'),
    ('check_runs_completed', 'compatibility', 'count', NULL, 'check runs', 1,
     'Check runs completed that day.'),
    ('check_success_rate', 'compatibility', 'ratio', NULL, 'ratio', 1,
     'Completed check runs concluding success ÷ those concluding success, failure, timed_out, cancelled or action_required.'),
    ('check_duration_minutes_p50', 'compatibility', 'quantile', 0.5, 'minutes', 1,
     'Median minutes from start to completion of check runs completed that day with a decisive conclusion.'),
    ('flaky_checks', 'compatibility', 'count', NULL, 'checks', 1,
     'Check names that both failed and succeeded on the same head SHA, counted on the day both had happened.'),
    ('workflow_runs_completed', 'compatibility', 'count', NULL, 'workflow runs', 1,
     'Workflow runs completed that day (latest attempt).'),
    ('workflow_success_rate', 'compatibility', 'ratio', NULL, 'ratio', 1,
     'Completed workflow runs concluding success ÷ those with a decisive conclusion.'),
    ('deployments', 'infrastructure', 'count', NULL, 'deployments', 1,
     'Deployment statuses "success" in production environments that day.'),
    ('deployment_failures', 'infrastructure', 'count', NULL, 'deployments', 1,
     'Deployment statuses "failure" or "error" in production environments that day.'),
    ('change_failure_rate', 'infrastructure', 'ratio', NULL, 'ratio', 1,
     'deployment_failures ÷ (deployments + deployment_failures).'),
    ('lead_time_hours_p50', 'infrastructure', 'quantile', 0.5, 'hours', 1,
     'Median hours from commit time to the first successful production deployment containing the commit, by deployment day.'),
    ('incidents_opened', 'infrastructure', 'count', NULL, 'incidents', 1,
     'Issues carrying an incident label, created that day.'),
    ('time_to_restore_hours_p50', 'infrastructure', 'quantile', 0.5, 'hours', 1,
     'Median hours from creation to close of incident issues closed that day.'),
    ('active_contributors', 'team', 'distinct', NULL, 'people', 1,
     'Distinct humans who pushed a branch, opened a pull request or submitted a peer review that day.'),
    ('reviewers_active', 'team', 'distinct', NULL, 'people', 1,
     'Distinct humans who submitted a peer review that day.'),
    ('reviews_submitted', 'team', 'count', NULL, 'reviews', 1,
     'Peer reviews submitted that day.'),
    ('review_load_top_share', 'team', 'top_share', NULL, 'ratio', 1,
     'Share of the peer reviews that the busiest reviewer submitted.');

-- One row per UTC day × organisation × repository × metric, rewritten from facts whenever a batch touches
-- that day and repository (stream_processors/sql/buckets.sql). `value` is the day's figure; numerator,
-- denominator, samples and members keep what wider windows and org roll-ups need to stay exact.
CREATE TABLE metric_buckets (
    repo_id      bigint NOT NULL,
    day          date NOT NULL,
    metric       text NOT NULL REFERENCES metric_definitions (metric),
    org          text NOT NULL,
    value        double precision NOT NULL,
    numerator    double precision,
    denominator  double precision,
    samples      double precision[],
    members      text[],
    PRIMARY KEY (repo_id, day, metric, org)
);
CREATE INDEX metric_buckets_day ON metric_buckets (day, org);

-- A review by a person of someone else's pull request: what "reviewed" means in every metric.
CREATE VIEW peer_reviews AS
SELECT *
FROM pull_request_reviews
WHERE submitted_at IS NOT NULL
  AND NOT reviewer_is_bot
  AND reviewer_login IS DISTINCT FROM pr_author_login
  AND state IS DISTINCT FROM 'pending';

-- When each pull request first became ready for review, and its first peer review from then on.
-- Ready = opened as a non-draft, or the first ready_for_review; when neither event was seen (history
-- before the webhook existed), the creation time of a pull request that is not a draft now.
CREATE VIEW pull_request_timeline AS
SELECT p.pr_id, p.repo_id, p.org, p.author_login, p.author_is_bot, p.state, p.created_at, p.merged_at,
       p.closed_at, ready.ready_at, first_review.first_review_at
FROM pull_requests p
CROSS JOIN LATERAL (
    SELECT COALESCE(
        (SELECT min(e.occurred_at) FROM pull_request_events e
         WHERE e.pr_id = p.pr_id
           AND (e.action = 'ready_for_review' OR (e.action = 'opened' AND e.draft IS NOT TRUE))),
        CASE WHEN p.draft IS NOT TRUE AND NOT EXISTS (
                 SELECT 1 FROM pull_request_events e
                 WHERE e.pr_id = p.pr_id AND e.action IN ('opened', 'ready_for_review'))
             THEN p.created_at END
    ) AS ready_at
) ready
CROSS JOIN LATERAL (
    SELECT min(r.submitted_at) AS first_review_at
    FROM peer_reviews r
    WHERE r.pr_id = p.pr_id AND r.submitted_at >= ready.ready_at
) first_review;

-- Every window end day × window length: from the first bucket's day to today (UTC, or the last bucket's
-- day if that is later), so a quiet day still has a 7-day figure.
CREATE VIEW metric_calendar AS
SELECT d::date AS day, w.window_days
FROM (SELECT min(day) AS first_day, GREATEST(max(day), (now() AT TIME ZONE 'UTC')::date) AS last_day
      FROM metric_buckets) AS span
CROSS JOIN LATERAL generate_series(span.first_day, span.last_day, interval '1 day') AS d
CROSS JOIN (VALUES (1), (7), (28)) AS w (window_days);

-- Each daily bucket once for every window that contains it and every grain it rolls up into:
-- the repository itself, its organisation, and its organisation × language.
CREATE VIEW metric_window_inputs AS
SELECT c.day, c.window_days, b.org, g.grain, g.repo_id, g.language, d.pillar, b.metric, d.kind, d.quantile,
       b.value, b.numerator, b.denominator, b.samples, b.members
FROM metric_calendar c
-- LATERAL: each requested window end day reads its own day range through metric_buckets_day, so a
-- dashboard asking for one day reads 28 days of buckets, not all of them. OFFSET 0 keeps the planner
-- from flattening this into a join that scans every bucket.
CROSS JOIN LATERAL (SELECT * FROM metric_buckets b
                    WHERE b.day > c.day - c.window_days AND b.day <= c.day OFFSET 0) AS b
JOIN metric_definitions d ON d.metric = b.metric
LEFT JOIN repositories r ON r.repo_id = b.repo_id
CROSS JOIN LATERAL (VALUES ('repository', b.repo_id, r.language),
                           ('organisation', NULL::bigint, NULL::text),
                           ('language', NULL::bigint, r.language)) AS g (grain, repo_id, language);

-- Daily buckets rolled up over 1-, 7- and 28-day windows ending on `day`, per grain. Every kind rolls up
-- exactly: counts and ratios by summing, distinct counts and quantiles from the members and samples the
-- buckets keep (a 7-day p50 is the median of the 7 days' samples, not an average of daily medians).
-- Written as UNION ALL branches over plain views (no shared CTE, no grouping sets) so that a filter on
-- day, window_days, org, grain or metric reaches the bucket scan instead of every window being computed.
CREATE VIEW metric_rollups AS
SELECT day, window_days, org, grain, repo_id, language, pillar, metric,
       CASE min(kind) WHEN 'count' THEN sum(value)
                      ELSE sum(numerator) / NULLIF(sum(denominator), 0) END AS value
FROM metric_window_inputs
WHERE kind IN ('count', 'ratio')
GROUP BY day, window_days, org, grain, repo_id, language, pillar, metric
UNION ALL
SELECT day, window_days, org, grain, repo_id, language, pillar, metric, count(DISTINCT m.member)::double precision
FROM metric_window_inputs CROSS JOIN LATERAL unnest(members) AS m (member)
WHERE kind = 'distinct'
GROUP BY day, window_days, org, grain, repo_id, language, pillar, metric
UNION ALL
SELECT day, window_days, org, grain, repo_id, language, pillar, metric,
       percentile_cont(quantile) WITHIN GROUP (ORDER BY s.sample)
FROM metric_window_inputs CROSS JOIN LATERAL unnest(samples) AS s (sample)
WHERE kind = 'quantile'
GROUP BY day, window_days, org, grain, repo_id, language, pillar, metric, quantile
UNION ALL
SELECT day, window_days, org, grain, repo_id, language, pillar, metric,
       max(entries)::double precision / sum(entries)
FROM (SELECT day, window_days, org, grain, repo_id, language, pillar, metric, count(*) AS entries
      FROM metric_window_inputs CROSS JOIN LATERAL unnest(members) AS m (member)
      WHERE kind = 'top_share'
      GROUP BY day, window_days, org, grain, repo_id, language, pillar, metric, m.member) AS per_member
GROUP BY day, window_days, org, grain, repo_id, language, pillar, metric;

GRANT SELECT ON metric_definitions TO pillarstream_writer;
GRANT SELECT, INSERT, DELETE ON metric_buckets TO pillarstream_writer;
GRANT SELECT ON peer_reviews, pull_request_timeline TO pillarstream_writer;
