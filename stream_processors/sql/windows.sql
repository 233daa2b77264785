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
-- The queued keys: all of them, or with a day from %(since)s on (a backlog defers the past) unless a
-- deferred key has waited %(settle)s seconds already.
WITH due AS (
    SELECT %(since)s::date IS NULL
        OR (SELECT min(queued_at) FROM metric_windows_pending WHERE day < %(since)s::date)
           <= now() - make_interval(secs => %(settle)s) AS everything
),
taken AS (
    DELETE FROM metric_windows_pending p
    USING due
    WHERE due.everything OR p.day >= %(since)s::date
    RETURNING p.grain, p.org, p.scope, p.day
)
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
-- Each scope's days are read once, as one series per metric with a placeholder row on every window end
-- day; sliding frames over that series (1, 7 and 28 days back from each placeholder) give every window in
-- one pass, instead of reading each window's days again for each of the 28 end days a day belongs to.
WITH k AS (
    SELECT DISTINCT grain, org, scope, day
    FROM unnest(%(grains)s::text[], %(orgs)s::text[], %(scopes)s::text[], %(days)s::date[])
         AS k (grain, org, scope, day)
),
t AS (
    SELECT DISTINCT k.grain, k.org, k.scope, k.day + o AS day
    FROM k CROSS JOIN generate_series(0, 27) AS o
    WHERE k.day + o BETWEEN %(lo)s AND %(hi)s
),
scopes AS (
    SELECT grain, org, scope, CASE WHEN grain = 'repository' THEN scope::bigint END AS repo_id,
           min(day) - 27 AS first_day, max(day) AS last_day
    FROM t GROUP BY grain, org, scope
),
sources AS (
    SELECT s.grain, s.org, s.scope, b.day, b.metric, b.value, b.numerator, b.denominator, b.samples, b.members
    FROM scopes s
    JOIN metric_buckets b ON b.repo_id = s.repo_id AND b.day BETWEEN s.first_day AND s.last_day AND b.org = s.org
    WHERE s.grain = 'repository'
    UNION ALL
    SELECT s.grain, s.org, s.scope, r.day, r.metric, r.value, r.numerator, r.denominator, r.samples, r.members
    FROM scopes s
    JOIN metric_rollup_days r ON r.grain = s.grain AND r.org = s.org AND r.scope = s.scope
                             AND r.day BETWEEN s.first_day AND s.last_day
    WHERE s.grain <> 'repository'
),
series AS (
    SELECT grain, org, scope, day, metric, value, numerator, denominator, samples, members, false AS target
    FROM sources
    UNION ALL
    SELECT t.grain, t.org, t.scope, t.day, m.metric, NULL, NULL, NULL, NULL, NULL, true
    FROM t
    JOIN (SELECT DISTINCT grain, org, scope, metric FROM sources) AS m
      ON m.grain = t.grain AND m.org = t.org AND m.scope = t.scope
),
rolled AS (
    SELECT s.grain, s.org, s.scope, s.day, s.metric, s.target, d.kind, d.quantile,
           sum(s.value) OVER w1 AS value_1, sum(s.value) OVER w7 AS value_7, sum(s.value) OVER w28 AS value_28,
           sum(s.numerator) OVER w1 AS num_1, sum(s.numerator) OVER w7 AS num_7,
           sum(s.numerator) OVER w28 AS num_28,
           sum(s.denominator) OVER w1 AS den_1, sum(s.denominator) OVER w7 AS den_7,
           sum(s.denominator) OVER w28 AS den_28,
           array_concat_agg(s.samples) OVER w1 AS samples_1, array_concat_agg(s.samples) OVER w7 AS samples_7,
           array_concat_agg(s.samples) OVER w28 AS samples_28,
           array_concat_agg(s.members) OVER w1 AS members_1, array_concat_agg(s.members) OVER w7 AS members_7,
           array_concat_agg(s.members) OVER w28 AS members_28
    FROM series s
    JOIN metric_definitions d ON d.metric = s.metric
    WINDOW w1 AS (PARTITION BY s.grain, s.org, s.scope, s.metric ORDER BY s.day - DATE '2000-01-01'
                  RANGE BETWEEN CURRENT ROW AND CURRENT ROW),
           w7 AS (PARTITION BY s.grain, s.org, s.scope, s.metric ORDER BY s.day - DATE '2000-01-01'
                  RANGE BETWEEN 6 PRECEDING AND CURRENT ROW),
           w28 AS (PARTITION BY s.grain, s.org, s.scope, s.metric ORDER BY s.day - DATE '2000-01-01'
                   RANGE BETWEEN 27 PRECEDING AND CURRENT ROW)
),
windows (grain, org, scope, day, metric, v1, v7, v28) AS (
    -- Sums inline; the kinds that need the window's samples or members through window_value.
    SELECT grain, org, scope, day, metric,
           CASE kind WHEN 'count' THEN value_1 WHEN 'ratio' THEN num_1 / NULLIF(den_1, 0)
                ELSE window_value(kind, quantile, samples_1, members_1) END,
           CASE kind WHEN 'count' THEN value_7 WHEN 'ratio' THEN num_7 / NULLIF(den_7, 0)
                ELSE window_value(kind, quantile, samples_7, members_7) END,
           CASE kind WHEN 'count' THEN value_28 WHEN 'ratio' THEN num_28 / NULLIF(den_28, 0)
                ELSE window_value(kind, quantile, samples_28, members_28) END
    FROM rolled
    WHERE target
)
INSERT INTO metric_windows (grain, org, scope, day, metric, value_1d, value_7d, value_28d)
SELECT grain, org, scope, day, metric, v1, v7, v28
FROM windows
WHERE v1 IS NOT NULL OR v7 IS NOT NULL OR v28 IS NOT NULL;
