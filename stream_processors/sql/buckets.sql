-- Metric buckets: which (UTC day, repository) a batch touched, and their recompute from facts.
-- Definitions: docs/metrics.md. Every bucket of a touched (day, repository) is deleted and rebuilt from
-- the facts as they stand, so a bucket never depends on the order or number of the events behind it.

-- name: touched_days
-- Every day on which the given entities count for some metric. Run before the upserts (days a changed
-- row leaves, e.g. a reopened pull request's old closed_at) and after them (days it enters). Entities whose
-- metric depends on their neighbours bring the neighbours' days: all reviews of a pull request (first
-- review, merged without review), all runs of the same check on the same SHA (flaky).
WITH moments (repo_id, at) AS (
    SELECT c.repo_id, c.first_default_push_at
    FROM commits c
    JOIN unnest(%(commit_repos)s::bigint[], %(commit_shas)s::text[]) AS k (repo_id, sha)
      ON c.repo_id = k.repo_id AND c.sha = k.sha
    UNION ALL
    SELECT p.repo_id, m.at
    FROM pull_requests p
    CROSS JOIN LATERAL (VALUES (p.created_at), (p.merged_at), (p.closed_at)) AS m (at)
    WHERE p.pr_id = ANY (%(pr_ids)s::bigint[])
    UNION ALL
    SELECT v.repo_id, v.submitted_at
    FROM pull_request_reviews v
    WHERE v.pr_id = ANY (%(pr_ids)s::bigint[])
    UNION ALL
    SELECT c.repo_id, c.completed_at
    FROM check_runs c
    JOIN (SELECT DISTINCT repo_id, head_sha, name FROM check_runs
          WHERE check_run_id = ANY (%(check_run_ids)s::bigint[])) AS g
      ON c.repo_id = g.repo_id AND c.head_sha = g.head_sha AND c.name = g.name
    UNION ALL
    SELECT w.repo_id, w.completed_at
    FROM workflow_runs w
    WHERE w.run_id = ANY (%(run_ids)s::bigint[])
    UNION ALL
    SELECT i.repo_id, m.at
    FROM issues i
    CROSS JOIN LATERAL (VALUES (i.created_at), (i.closed_at)) AS m (at)
    WHERE i.issue_id = ANY (%(issue_ids)s::bigint[])
)
SELECT DISTINCT (at AT TIME ZONE 'UTC')::date AS day, repo_id
FROM moments
WHERE at IS NOT NULL;

-- name: touched_lead_time_days
-- Lead time is filed under the deployment that first shipped a commit: deployment d (successful, production,
-- in status order) ships the commits that landed after every earlier deployment's head and not after its
-- own head. A change can only move commits between these deployments, in each affected repository:
--   (i)  for a changed commit, the first deployment whose head landed at or after it (the one shipping it);
--   (ii) for a deployment whose head changed (a new status, or its head commit landed or landed earlier):
--        that deployment and the later ones up to the first whose head landed at or after its head (the
--        later ones in between ship nothing more or less than what its head no longer leaves them).
-- Run before the upserts (where commits were shipped) and after them (where they are shipped now); the
-- union is every deployment day whose lead-time samples change, so the cost follows the changed rows and
-- the deployments next to them, not the repository's history.
WITH changed_commits AS (
    SELECT c.repo_id, c.sha, c.first_default_push_at AS landed
    FROM commits c
    JOIN unnest(%(commit_repos)s::bigint[], %(commit_shas)s::text[]) AS k (repo_id, sha)
      ON c.repo_id = k.repo_id AND c.sha = k.sha
    WHERE c.first_default_push_at IS NOT NULL
),
shipping AS (
    -- The first deployment whose head landed at or after the commit, looked for on both sides of its landing
    -- so that neither search reads the repository's history: (a) the deployments from the landing on, in
    -- order (deployment_statuses_order), up to the first match, nearly always among the next few; (b) the
    -- deployments made before the landing of a head that landed after it, reached from the commits landed
    -- since (for a commit that arrives late: those of its delay; for one arriving in order: none).
    SELECT c.repo_id, f.created_at
    FROM changed_commits c
    CROSS JOIN LATERAL (
        SELECT u.created_at FROM (
            (SELECT s.created_at, s.node_id
             FROM deployment_statuses s
             JOIN commits x ON x.repo_id = s.repo_id AND x.sha = s.sha
             WHERE s.repo_id = c.repo_id AND s.created_at >= c.landed
               AND s.state = 'success' AND s.is_production AND x.first_default_push_at >= c.landed
             ORDER BY s.created_at, s.node_id
             LIMIT 1)
            UNION ALL
            (SELECT s.created_at, s.node_id
             FROM commits x
             CROSS JOIN LATERAL (
                 SELECT s.created_at, s.node_id FROM deployment_statuses s
                 WHERE s.repo_id = x.repo_id AND s.sha = x.sha AND s.created_at < c.landed
                   AND s.state = 'success' AND s.is_production
                 OFFSET 0  -- stays a subquery: the planner may not walk the earlier deployments instead
             ) AS s
             WHERE x.repo_id = c.repo_id AND x.first_default_push_at >= c.landed
             ORDER BY s.created_at, s.node_id
             LIMIT 1)
        ) AS u
        ORDER BY u.created_at, u.node_id
        LIMIT 1
    ) AS f
),
moved AS (
    -- Two index look-ups joined by UNION: an OR of them reads every deployment status of every repository.
    SELECT s.repo_id, s.node_id, s.created_at, x.first_default_push_at AS head_landed
    FROM (SELECT s.* FROM deployment_statuses s WHERE s.node_id = ANY (%(status_node_ids)s::text[])
          UNION
          SELECT s.* FROM deployment_statuses s JOIN changed_commits c ON s.repo_id = c.repo_id AND s.sha = c.sha
         ) AS s
    LEFT JOIN commits x ON x.repo_id = s.repo_id AND x.sha = s.sha
    WHERE s.state = 'success' AND s.is_production
),
bounded AS (
    SELECT m.*, e.created_at AS end_at, e.node_id AS end_id
    FROM moved m
    LEFT JOIN LATERAL (
        SELECT s.created_at, s.node_id
        FROM deployment_statuses s
        JOIN commits x ON x.repo_id = s.repo_id AND x.sha = s.sha
        WHERE s.repo_id = m.repo_id AND s.created_at >= m.created_at
          AND (s.created_at, s.node_id) > (m.created_at, m.node_id)
          AND s.state = 'success' AND s.is_production AND x.first_default_push_at >= m.head_landed
        ORDER BY s.created_at, s.node_id
        LIMIT 1
    ) AS e ON m.head_landed IS NOT NULL
),
days (at, repo_id) AS (
    SELECT created_at, repo_id FROM shipping
    UNION ALL
    SELECT created_at, repo_id FROM bounded
    UNION ALL
    SELECT s.created_at, s.repo_id
    FROM bounded m
    JOIN deployment_statuses s ON s.repo_id = m.repo_id AND s.created_at >= m.created_at
                              AND (s.created_at, s.node_id) > (m.created_at, m.node_id)
                              AND s.created_at <= coalesce(m.end_at, 'infinity')
                              AND (m.end_at IS NULL OR (s.created_at, s.node_id) <= (m.end_at, m.end_id))
    WHERE m.head_landed IS NOT NULL AND s.state = 'success' AND s.is_production
)
SELECT DISTINCT (at AT TIME ZONE 'UTC')::date AS day, repo_id
FROM days;

-- name: lock_repositories
-- Two workers may briefly hold the same partition while the consumer group hands it over; recomputing
-- the same buckets at once would race (both delete, then both insert). Today the repository row each
-- batch upserts already serialises them; this lock states it outright, so the guarantee does not rest on
-- that side effect. Transaction-scoped, one per repository, taken in id order (no waiting in a cycle).
SELECT pg_advisory_xact_lock(hashtextextended('pillarstream.metric_buckets:' || repo_id, 0))
FROM (SELECT DISTINCT repo_id FROM unnest(%(repos)s::bigint[]) AS u (repo_id) ORDER BY repo_id OFFSET 0) AS ordered;

-- name: delete_buckets
DELETE FROM metric_buckets b
USING unnest(%(days)s::date[], %(repos)s::bigint[]) AS t (day, repo_id)
WHERE b.day = t.day AND b.repo_id = t.repo_id;

-- name: insert_buckets
-- One CTE per family of facts. Each reads its facts once through a (repo_id, time) index, bounded by the
-- touched repositories and the span of touched days, then keeps the touched (repository, UTC day) pairs by
-- an equality join that can hash: the plan stays linear even when table statistics are stale (a table
-- filled faster than autovacuum analyses it). Quantile values are computed at the end from the samples,
-- with the quantile taken from metric_definitions, the one place a quantile is defined.
WITH t AS (
    SELECT DISTINCT day, repo_id FROM unnest(%(days)s::date[], %(repos)s::bigint[]) AS u (day, repo_id)
),
span AS (
    SELECT array_agg(DISTINCT repo_id) AS repos,
           min(day)::timestamp AT TIME ZONE 'UTC' AS lo,
           (max(day) + 1)::timestamp AT TIME ZONE 'UTC' AS hi
    FROM t
),
landed AS (
    SELECT t.day, c.org, c.repo_id, c.author_key, c.author_is_bot
    FROM span
    JOIN commits c ON c.repo_id = ANY (span.repos)
                  AND c.first_default_push_at >= span.lo AND c.first_default_push_at < span.hi
    JOIN t ON t.repo_id = c.repo_id AND t.day = (c.first_default_push_at AT TIME ZONE 'UTC')::date
),
opened AS (
    SELECT t.day, p.org, p.repo_id, p.author_login, p.author_is_bot
    FROM span
    JOIN pull_requests p ON p.repo_id = ANY (span.repos) AND p.created_at >= span.lo AND p.created_at < span.hi
    JOIN t ON t.repo_id = p.repo_id AND t.day = (p.created_at AT TIME ZONE 'UTC')::date
),
merged AS (
    SELECT t.day, p.org, p.repo_id,
           extract(epoch FROM p.merged_at - p.created_at)::double precision / 3600 AS cycle_hours,
           (p.additions + p.deletions)::double precision AS size_lines,
           NOT EXISTS (SELECT 1 FROM peer_reviews v
                       WHERE v.pr_id = p.pr_id AND v.submitted_at <= p.merged_at) AS unreviewed
    FROM span
    JOIN pull_requests p ON p.repo_id = ANY (span.repos) AND p.merged_at >= span.lo AND p.merged_at < span.hi
    JOIN t ON t.repo_id = p.repo_id AND t.day = (p.merged_at AT TIME ZONE 'UTC')::date
),
closed_unmerged AS (
    SELECT t.day, p.org, p.repo_id
    FROM span
    JOIN pull_requests p ON p.repo_id = ANY (span.repos) AND p.closed_at >= span.lo AND p.closed_at < span.hi
    JOIN t ON t.repo_id = p.repo_id AND t.day = (p.closed_at AT TIME ZONE 'UTC')::date
    WHERE p.state = 'closed' AND p.merged_at IS NULL
),
reviews AS (
    SELECT t.day, v.org, v.repo_id, v.pr_id, v.reviewer_login
    FROM span
    JOIN peer_reviews v ON v.repo_id = ANY (span.repos)
                       AND v.submitted_at >= span.lo AND v.submitted_at < span.hi
    JOIN t ON t.repo_id = v.repo_id AND t.day = (v.submitted_at AT TIME ZONE 'UTC')::date
),
pickups AS (
    SELECT t.day, tl.org, tl.repo_id,
           extract(epoch FROM tl.first_review_at - tl.ready_at)::double precision / 3600 AS hours
    FROM (SELECT DISTINCT pr_id FROM reviews) AS c
    JOIN pull_request_timeline tl ON tl.pr_id = c.pr_id
    JOIN t ON t.repo_id = tl.repo_id AND t.day = (tl.first_review_at AT TIME ZONE 'UTC')::date
),
runs AS (
    SELECT t.day, c.org, c.repo_id, c.head_sha, c.name, c.conclusion,
           extract(epoch FROM c.completed_at - c.started_at)::double precision / 60 AS minutes
    FROM span
    JOIN check_runs c ON c.repo_id = ANY (span.repos) AND c.completed_at >= span.lo AND c.completed_at < span.hi
    JOIN t ON t.repo_id = c.repo_id AND t.day = (c.completed_at AT TIME ZONE 'UTC')::date
    WHERE c.status = 'completed'
),
flaky AS (
    -- A check (name) on one head SHA that failed and succeeded: counted once, on the day the second of
    -- the two outcomes first happened. Only groups with a run in a touched bucket can land in one.
    SELECT t.day, g.org, g.repo_id
    FROM (
        SELECT c.repo_id, c.head_sha, c.name, max(c.org) AS org,
               GREATEST(min(c.completed_at) FILTER (WHERE c.conclusion = 'success'),
                        min(c.completed_at) FILTER (WHERE c.conclusion = 'failure')) AS flaky_at
        FROM check_runs c
        JOIN (SELECT DISTINCT repo_id, head_sha, name FROM runs) AS k
          ON c.repo_id = k.repo_id AND c.head_sha = k.head_sha AND c.name = k.name
        WHERE c.status = 'completed'
        GROUP BY c.repo_id, c.head_sha, c.name
        HAVING bool_or(c.conclusion = 'success') AND bool_or(c.conclusion = 'failure')
    ) AS g
    JOIN t ON t.repo_id = g.repo_id AND t.day = (g.flaky_at AT TIME ZONE 'UTC')::date
),
workflows AS (
    SELECT t.day, w.org, w.repo_id, w.conclusion
    FROM span
    JOIN workflow_runs w ON w.repo_id = ANY (span.repos)
                        AND w.completed_at >= span.lo AND w.completed_at < span.hi
    JOIN t ON t.repo_id = w.repo_id AND t.day = (w.completed_at AT TIME ZONE 'UTC')::date
),
statuses AS (
    SELECT t.day, s.org, s.repo_id, s.state
    FROM span
    JOIN deployment_statuses s ON s.repo_id = ANY (span.repos)
                              AND s.created_at >= span.lo AND s.created_at < span.hi
    JOIN t ON t.repo_id = s.repo_id AND t.day = (s.created_at AT TIME ZONE 'UTC')::date
    WHERE s.is_production
),
deploys AS MATERIALIZED (
    -- Successful production deployments of the touched days, in order; shipped_before is the latest landing
    -- time any earlier one already shipped. A deployment ships the commits that landed after that and not
    -- after its head. Found from the deployment's head, not by a running maximum over the repository's
    -- history: when an earlier deployment's head landed at or after this one's (looked for among the commits
    -- landed since this head: for a deployment arriving in time order, few), it ships nothing; else the
    -- latest earlier head is the first commit, walking back from this head, that an earlier deployment
    -- deployed (the walk passes exactly the commits this deployment ships).
    -- (Each "deployed by an earlier one?" test looks the commit's deployments up by SHA; the OFFSET 0
    -- subquery keeps the other conditions out of that scan, else the planner took the order index and
    -- walked every earlier deployment of the repository for each commit.)
    SELECT d.org, d.repo_id, d.created_at, d.head_landed,
           CASE WHEN EXISTS (SELECT 1
                             FROM commits c
                             WHERE c.repo_id = d.repo_id AND c.first_default_push_at >= d.head_landed
                               AND EXISTS (SELECT 1
                                           FROM (SELECT * FROM deployment_statuses e
                                                 WHERE e.repo_id = c.repo_id AND e.sha = c.sha OFFSET 0) AS e
                                           WHERE e.state = 'success' AND e.is_production
                                             AND (e.created_at, e.node_id) < (d.created_at, d.node_id)))
                THEN d.head_landed
                ELSE (SELECT c.first_default_push_at
                      FROM commits c
                      WHERE c.repo_id = d.repo_id AND c.first_default_push_at < d.head_landed
                        AND EXISTS (SELECT 1
                                    FROM (SELECT * FROM deployment_statuses e
                                          WHERE e.repo_id = c.repo_id AND e.sha = c.sha OFFSET 0) AS e
                                    WHERE e.state = 'success' AND e.is_production
                                      AND (e.created_at, e.node_id) < (d.created_at, d.node_id))
                      ORDER BY c.first_default_push_at DESC
                      LIMIT 1)
           END AS shipped_before
    FROM (SELECT s.org, s.repo_id, s.created_at, s.node_id,
                 (SELECT x.first_default_push_at FROM commits x WHERE x.repo_id = s.repo_id AND x.sha = s.sha)
                     AS head_landed
          FROM span
          JOIN deployment_statuses s ON s.repo_id = ANY (span.repos)
                                    AND s.created_at >= span.lo AND s.created_at < span.hi
          JOIN t ON t.repo_id = s.repo_id AND t.day = (s.created_at AT TIME ZONE 'UTC')::date
          WHERE s.state = 'success' AND s.is_production
          OFFSET 0) AS d
    WHERE d.head_landed IS NOT NULL
),
lead AS (
    SELECT (d.created_at AT TIME ZONE 'UTC')::date AS day, d.org, d.repo_id,
           extract(epoch FROM d.created_at - c.committed_at)::double precision / 3600 AS hours
    FROM deploys d
    JOIN commits c ON c.repo_id = d.repo_id
                  AND c.first_default_push_at <= d.head_landed
                  AND (d.shipped_before IS NULL OR c.first_default_push_at > d.shipped_before)
    WHERE c.committed_at IS NOT NULL
),
incidents AS (
    SELECT i.*, t.day AS created_day
    FROM span
    JOIN issues i ON i.repo_id = ANY (span.repos) AND i.created_at >= span.lo AND i.created_at < span.hi
    JOIN t ON t.repo_id = i.repo_id AND t.day = (i.created_at AT TIME ZONE 'UTC')::date
    WHERE i.is_incident AND NOT i.deleted
),
restored AS (
    SELECT t.day, i.org, i.repo_id,
           extract(epoch FROM i.closed_at - i.created_at)::double precision / 3600 AS hours
    FROM span
    JOIN issues i ON i.repo_id = ANY (span.repos) AND i.closed_at >= span.lo AND i.closed_at < span.hi
    JOIN t ON t.repo_id = i.repo_id AND t.day = (i.closed_at AT TIME ZONE 'UTC')::date
    WHERE i.is_incident AND NOT i.deleted AND i.state = 'closed'
),
active AS (
    SELECT t.day, p.org, p.repo_id, p.pusher_login AS login
    FROM span
    JOIN pushes p ON p.repo_id = ANY (span.repos) AND p.pushed_at >= span.lo AND p.pushed_at < span.hi
    JOIN t ON t.repo_id = p.repo_id AND t.day = (p.pushed_at AT TIME ZONE 'UTC')::date
    WHERE NOT p.pusher_is_bot AND NOT p.deleted AND starts_with(p.ref, 'refs/heads/')
      AND p.pusher_login IS NOT NULL
    UNION ALL
    SELECT day, org, repo_id, author_login FROM opened WHERE NOT author_is_bot AND author_login IS NOT NULL
    UNION ALL
    SELECT day, org, repo_id, reviewer_login FROM reviews WHERE reviewer_login IS NOT NULL
),
computed (day, org, repo_id, metric, value, numerator, denominator, samples, members) AS (
    SELECT day, org, repo_id, 'commits', count(*)::double precision,
           NULL::double precision, NULL::double precision, NULL::double precision[], NULL::text[]
    FROM landed GROUP BY day, org, repo_id
    UNION ALL
    SELECT day, org, repo_id, 'commit_authors', count(DISTINCT author_key), NULL, NULL, NULL,
           array_agg(DISTINCT author_key ORDER BY author_key)
    FROM landed WHERE NOT author_is_bot AND author_key IS NOT NULL GROUP BY day, org, repo_id
    UNION ALL
    SELECT day, org, repo_id, 'prs_opened', count(*), NULL, NULL, NULL, NULL
    FROM opened GROUP BY day, org, repo_id
    UNION ALL
    SELECT day, org, repo_id, 'prs_merged', count(*), NULL, NULL, NULL, NULL
    FROM merged GROUP BY day, org, repo_id
    UNION ALL
    SELECT day, org, repo_id, 'prs_closed_unmerged', count(*), NULL, NULL, NULL, NULL
    FROM closed_unmerged GROUP BY day, org, repo_id
    UNION ALL
    SELECT day, org, repo_id, m.metric, NULL, NULL, NULL, array_agg(cycle_hours ORDER BY cycle_hours), NULL
    FROM merged CROSS JOIN (VALUES ('pr_cycle_time_hours_p50'), ('pr_cycle_time_hours_p90')) AS m (metric)
    GROUP BY day, org, repo_id, m.metric
    UNION ALL
    SELECT day, org, repo_id, 'pr_pickup_time_hours_p50', NULL, NULL, NULL, array_agg(hours ORDER BY hours), NULL
    FROM pickups GROUP BY day, org, repo_id
    UNION ALL
    SELECT day, org, repo_id, 'pr_size_lines_p50', NULL, NULL, NULL, array_agg(size_lines ORDER BY size_lines),
           NULL
    FROM merged WHERE size_lines IS NOT NULL GROUP BY day, org, repo_id
    UNION ALL
    SELECT day, org, repo_id, 'prs_merged_without_review', count(*), NULL, NULL, NULL, NULL
    FROM merged WHERE unreviewed GROUP BY day, org, repo_id
    UNION ALL
    SELECT day, org, repo_id, 'check_runs_completed', count(*), NULL, NULL, NULL, NULL
    FROM runs GROUP BY day, org, repo_id
    UNION ALL
    SELECT day, org, repo_id, 'check_success_rate',
           count(*) FILTER (WHERE conclusion = 'success')::double precision / count(*),
           count(*) FILTER (WHERE conclusion = 'success'), count(*), NULL, NULL
    FROM runs WHERE conclusion IN ('success', 'failure', 'timed_out', 'cancelled', 'action_required')
    GROUP BY day, org, repo_id
    UNION ALL
    SELECT day, org, repo_id, 'check_duration_minutes_p50', NULL, NULL, NULL, array_agg(minutes ORDER BY minutes),
           NULL
    FROM runs
    WHERE conclusion IN ('success', 'failure', 'timed_out', 'cancelled', 'action_required') AND minutes IS NOT NULL
    GROUP BY day, org, repo_id
    UNION ALL
    SELECT day, org, repo_id, 'flaky_checks', count(*), NULL, NULL, NULL, NULL
    FROM flaky GROUP BY day, org, repo_id
    UNION ALL
    SELECT day, org, repo_id, 'workflow_runs_completed', count(*), NULL, NULL, NULL, NULL
    FROM workflows GROUP BY day, org, repo_id
    UNION ALL
    SELECT day, org, repo_id, 'workflow_success_rate',
           count(*) FILTER (WHERE conclusion = 'success')::double precision / count(*),
           count(*) FILTER (WHERE conclusion = 'success'), count(*), NULL, NULL
    FROM workflows
    WHERE conclusion IN ('success', 'failure', 'timed_out', 'cancelled', 'action_required', 'startup_failure')
    GROUP BY day, org, repo_id
    UNION ALL
    SELECT day, org, repo_id, 'deployments', count(*), NULL, NULL, NULL, NULL
    FROM statuses WHERE state = 'success' GROUP BY day, org, repo_id
    UNION ALL
    SELECT day, org, repo_id, 'deployment_failures', count(*), NULL, NULL, NULL, NULL
    FROM statuses WHERE state IN ('failure', 'error') GROUP BY day, org, repo_id
    UNION ALL
    SELECT day, org, repo_id, 'change_failure_rate',
           count(*) FILTER (WHERE state <> 'success')::double precision / count(*),
           count(*) FILTER (WHERE state <> 'success'), count(*), NULL, NULL
    FROM statuses WHERE state IN ('success', 'failure', 'error') GROUP BY day, org, repo_id
    UNION ALL
    SELECT day, org, repo_id, 'lead_time_hours_p50', NULL, NULL, NULL, array_agg(hours ORDER BY hours), NULL
    FROM lead GROUP BY day, org, repo_id
    UNION ALL
    SELECT created_day, org, repo_id, 'incidents_opened', count(*), NULL, NULL, NULL, NULL
    FROM incidents GROUP BY created_day, org, repo_id
    UNION ALL
    SELECT day, org, repo_id, 'time_to_restore_hours_p50', NULL, NULL, NULL, array_agg(hours ORDER BY hours), NULL
    FROM restored GROUP BY day, org, repo_id
    UNION ALL
    SELECT day, org, repo_id, 'active_contributors', count(DISTINCT login), NULL, NULL, NULL,
           array_agg(DISTINCT login ORDER BY login)
    FROM active GROUP BY day, org, repo_id
    UNION ALL
    SELECT day, org, repo_id, 'reviewers_active', count(DISTINCT reviewer_login), NULL, NULL, NULL,
           array_agg(DISTINCT reviewer_login ORDER BY reviewer_login)
    FROM reviews WHERE reviewer_login IS NOT NULL GROUP BY day, org, repo_id
    UNION ALL
    SELECT day, org, repo_id, 'reviews_submitted', count(*), NULL, NULL, NULL, NULL
    FROM reviews GROUP BY day, org, repo_id
    UNION ALL
    -- members keeps one entry per review (its reviewer), so wider windows can find the busiest reviewer.
    SELECT day, org, repo_id, 'review_load_top_share', NULL, NULL, NULL, NULL,
           array_agg(coalesce(reviewer_login, '') ORDER BY reviewer_login)
    FROM reviews GROUP BY day, org, repo_id
)
INSERT INTO metric_buckets (repo_id, day, metric, org, value, numerator, denominator, samples, members)
SELECT c.repo_id, c.day, c.metric, coalesce(c.org, ''),
       CASE d.kind
           WHEN 'quantile' THEN (SELECT percentile_cont(d.quantile) WITHIN GROUP (ORDER BY s)
                                 FROM unnest(c.samples) AS s)
           WHEN 'top_share' THEN (SELECT max(n)::double precision / sum(n)
                                  FROM (SELECT count(*) AS n FROM unnest(c.members) AS m GROUP BY m) AS per)
           ELSE c.value
       END,
       c.numerator, c.denominator, c.samples, c.members
FROM computed c
JOIN metric_definitions d USING (metric);
