-- Materialised windows (migration 007): which (grain, org, scope, day) keys a bucket change touches, the
-- daily roll-ups of the wider grains, and the 1-, 7- and 28-day windows ending on each day. Definitions:
-- docs/metrics.md. A key names one day of one grain's scope; its windows are those ending on that day and
-- the 27 days after it. Keys are passed as four parallel arrays: grains, orgs, scopes, days.

-- name: enqueue_buckets
-- The keys of the given (day, repository) buckets as they stand: their repository, their organisation,
-- their language and each team whose scope includes the repository. Run before the buckets are deleted (grains they leave) and after they are rebuilt.
INSERT INTO metric_windows_pending (grain, org, scope, day)
SELECT DISTINCT g.grain, b.org, g.scope, b.day
FROM (SELECT DISTINCT b.org, b.repo_id, b.day
      FROM metric_buckets b
      JOIN unnest(%(days)s::date[], %(repos)s::bigint[]) AS t (day, repo_id)
        ON b.repo_id = t.repo_id AND b.day = t.day) AS b
LEFT JOIN repositories r ON r.repo_id = b.repo_id
CROSS JOIN LATERAL (SELECT 'repository', b.repo_id::text UNION ALL SELECT 'organisation', ''
                    UNION ALL SELECT 'language', coalesce(r.language, '')
                    UNION ALL SELECT 'team', ts.team_id::text FROM team_scopes ts WHERE ts.repo_id = b.repo_id)
     AS g (grain, scope)
ORDER BY 1, 2, 3, 4;

-- name: take_pending
WITH taken AS (DELETE FROM metric_windows_pending RETURNING grain, org, scope, day)
SELECT DISTINCT grain, org, scope, day FROM taken ORDER BY grain, org, scope, day;

-- name: keys_of_days
-- Every key of the buckets of a span of days (building the windows from scratch).
SELECT DISTINCT g.grain, b.org, g.scope, b.day
FROM (SELECT DISTINCT org, repo_id, day FROM metric_buckets WHERE day BETWEEN %(lo)s AND %(hi)s) AS b
LEFT JOIN repositories r ON r.repo_id = b.repo_id
CROSS JOIN LATERAL (SELECT 'repository', b.repo_id::text UNION ALL SELECT 'organisation', ''
                    UNION ALL SELECT 'language', coalesce(r.language, '')
                    UNION ALL SELECT 'team', ts.team_id::text FROM team_scopes ts WHERE ts.repo_id = b.repo_id)
     AS g (grain, scope);

-- name: lock_orgs
-- Writers of different repositories share their organisation's roll-ups: the second waits for the first
-- to commit, then reads its buckets (each statement sees what committed before it began).
SELECT pg_advisory_xact_lock(hashtextextended('pillarstream.metric_windows:' || org, 0))
FROM (SELECT DISTINCT org FROM unnest(%(orgs)s::text[]) AS u (org) ORDER BY org OFFSET 0) AS ordered;

-- name: delete_rollup_days
DELETE FROM metric_rollup_days r
USING unnest(%(grains)s::text[], %(orgs)s::text[], %(scopes)s::text[], %(days)s::date[]) AS k (grain, org, scope, day)
WHERE r.grain = k.grain AND r.org = k.org AND r.scope = k.scope AND r.day = k.day
  AND k.day BETWEEN %(lo)s AND %(hi)s;

-- name: insert_rollup_days
-- Each key's day, rolled up from the buckets: one read of the organisation's buckets of that day serves
-- the organisation, every language and every team.
WITH k AS (
    SELECT DISTINCT grain, org, scope, day
    FROM unnest(%(grains)s::text[], %(orgs)s::text[], %(scopes)s::text[], %(days)s::date[])
         AS k (grain, org, scope, day)
    WHERE grain <> 'repository' AND day BETWEEN %(lo)s AND %(hi)s
),
inputs AS (
    SELECT k.grain, k.org, k.scope, k.day, b.metric, b.value, b.numerator, b.denominator, b.samples, b.members
    FROM (SELECT DISTINCT org, day FROM k) AS od
    JOIN metric_buckets b ON b.day = od.day AND b.org = od.org
    LEFT JOIN repositories r ON r.repo_id = b.repo_id
    CROSS JOIN LATERAL (SELECT 'organisation', '' UNION ALL SELECT 'language', coalesce(r.language, '')
                        UNION ALL SELECT 'team', ts.team_id::text
                                  FROM team_scopes ts WHERE ts.repo_id = b.repo_id) AS g (grain, scope)
    JOIN k ON k.grain = g.grain AND k.org = b.org AND k.scope = g.scope AND k.day = b.day
)
INSERT INTO metric_rollup_days (grain, org, scope, day, metric, value, numerator, denominator, samples, members)
SELECT i.grain, i.org, i.scope, i.day, i.metric,
       CASE WHEN d.kind = 'count' THEN sum(i.value) END, sum(i.numerator), sum(i.denominator),
       -- sorted, so the same buckets give the same row whatever order they were read in
       ARRAY(SELECT s FROM unnest(array_concat_agg(i.samples)) AS s ORDER BY s),
       CASE WHEN d.kind = 'distinct'
            THEN ARRAY(SELECT DISTINCT m FROM unnest(array_concat_agg(i.members)) AS m ORDER BY m)
            ELSE ARRAY(SELECT m FROM unnest(array_concat_agg(i.members)) AS m ORDER BY m) END
FROM inputs i
JOIN metric_definitions d ON d.metric = i.metric
GROUP BY i.grain, i.org, i.scope, i.day, i.metric, d.kind;

-- name: delete_windows
WITH k AS (
    SELECT DISTINCT grain, org, scope, day
    FROM unnest(%(grains)s::text[], %(orgs)s::text[], %(scopes)s::text[], %(days)s::date[])
         AS k (grain, org, scope, day)
),
t AS (
    SELECT DISTINCT k.grain, k.org, k.scope, k.day + o AS day
    FROM k CROSS JOIN generate_series(0, 27) AS o
    WHERE k.day + o BETWEEN %(lo)s AND %(hi)s
)
DELETE FROM metric_windows w
USING t
WHERE w.grain = t.grain AND w.org = t.org AND w.scope = t.scope AND w.day = t.day;

-- name: insert_windows
-- The windows ending on each key's day and the 27 days after it (within lo … hi), from the repository's
-- buckets or the wider grain's daily roll-ups: exact by kind, as the query-time view metric_rollups.
WITH k AS (
    SELECT DISTINCT grain, org, scope, day
    FROM unnest(%(grains)s::text[], %(orgs)s::text[], %(scopes)s::text[], %(days)s::date[])
         AS k (grain, org, scope, day)
),
t AS (
    SELECT DISTINCT k.grain, k.org, k.scope, k.day + o AS day,
           CASE WHEN k.grain = 'repository' THEN k.scope::bigint END AS repo_id
    FROM k CROSS JOIN generate_series(0, 27) AS o
    WHERE k.day + o BETWEEN %(lo)s AND %(hi)s
),
inputs AS (
    SELECT t.grain, t.org, t.scope, t.day, t.day - b.day AS age, b.metric, b.value, b.numerator, b.denominator,
           b.samples, b.members
    FROM t
    JOIN metric_buckets b ON b.repo_id = t.repo_id AND b.day > t.day - 28 AND b.day <= t.day AND b.org = t.org
    WHERE t.grain = 'repository'
    UNION ALL
    SELECT t.grain, t.org, t.scope, t.day, t.day - r.day, r.metric, r.value, r.numerator, r.denominator,
           r.samples, r.members
    FROM t
    JOIN metric_rollup_days r ON r.grain = t.grain AND r.org = t.org AND r.scope = t.scope
                             AND r.day > t.day - 28 AND r.day <= t.day
    WHERE t.grain <> 'repository'
),
windows (grain, org, scope, day, metric, v1, v7, v28) AS (
    SELECT i.grain, i.org, i.scope, i.day, i.metric,
           sum(i.value) FILTER (WHERE i.age < 1), sum(i.value) FILTER (WHERE i.age < 7), sum(i.value)
    FROM inputs i JOIN metric_definitions d ON d.metric = i.metric
    WHERE d.kind = 'count'
    GROUP BY i.grain, i.org, i.scope, i.day, i.metric
    UNION ALL
    SELECT i.grain, i.org, i.scope, i.day, i.metric,
           sum(i.numerator) FILTER (WHERE i.age < 1) / NULLIF(sum(i.denominator) FILTER (WHERE i.age < 1), 0),
           sum(i.numerator) FILTER (WHERE i.age < 7) / NULLIF(sum(i.denominator) FILTER (WHERE i.age < 7), 0),
           sum(i.numerator) / NULLIF(sum(i.denominator), 0)
    FROM inputs i JOIN metric_definitions d ON d.metric = i.metric
    WHERE d.kind = 'ratio'
    GROUP BY i.grain, i.org, i.scope, i.day, i.metric
    UNION ALL
    SELECT i.grain, i.org, i.scope, i.day, i.metric,
           NULLIF(count(DISTINCT m.member) FILTER (WHERE i.age < 1), 0),
           NULLIF(count(DISTINCT m.member) FILTER (WHERE i.age < 7), 0),
           NULLIF(count(DISTINCT m.member), 0)
    FROM inputs i JOIN metric_definitions d ON d.metric = i.metric
    CROSS JOIN LATERAL unnest(i.members) AS m (member)
    WHERE d.kind = 'distinct'
    GROUP BY i.grain, i.org, i.scope, i.day, i.metric
    UNION ALL
    SELECT i.grain, i.org, i.scope, i.day, i.metric,
           percentile_cont(d.quantile) WITHIN GROUP (ORDER BY s.sample) FILTER (WHERE i.age < 1),
           percentile_cont(d.quantile) WITHIN GROUP (ORDER BY s.sample) FILTER (WHERE i.age < 7),
           percentile_cont(d.quantile) WITHIN GROUP (ORDER BY s.sample)
    FROM inputs i JOIN metric_definitions d ON d.metric = i.metric
    CROSS JOIN LATERAL unnest(i.samples) AS s (sample)
    WHERE d.kind = 'quantile'
    GROUP BY i.grain, i.org, i.scope, i.day, i.metric, d.quantile
    UNION ALL
    SELECT grain, org, scope, day, metric,
           max(n1)::double precision / NULLIF(sum(n1), 0),
           max(n7)::double precision / NULLIF(sum(n7), 0),
           max(n28)::double precision / NULLIF(sum(n28), 0)
    FROM (SELECT i.grain, i.org, i.scope, i.day, i.metric,
                 count(*) FILTER (WHERE i.age < 1) AS n1, count(*) FILTER (WHERE i.age < 7) AS n7,
                 count(*) AS n28
          FROM inputs i JOIN metric_definitions d ON d.metric = i.metric
          CROSS JOIN LATERAL unnest(i.members) AS m (member)
          WHERE d.kind = 'top_share'
          GROUP BY i.grain, i.org, i.scope, i.day, i.metric, m.member) AS per_member
    GROUP BY grain, org, scope, day, metric
)
INSERT INTO metric_windows (grain, org, scope, day, metric, value_1d, value_7d, value_28d)
SELECT grain, org, scope, day, metric, v1, v7, v28
FROM windows
WHERE v1 IS NOT NULL OR v7 IS NOT NULL OR v28 IS NOT NULL;
