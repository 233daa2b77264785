-- Materialised windows (migration 007): which (grain, org, scope, day) keys a bucket change touches, the
-- daily roll-ups of the wider grains, and the 1-, 7- and 28-day windows ending on each day. Definitions:
-- docs/metrics.md. A key names one day of one grain's scope; its windows are those ending on that day and
-- the 27 days after it. Keys are passed as four parallel arrays: grains, orgs, scopes, days.

-- name: buckets_present
-- Which of the given (day, repository) buckets exist, with their organisation: read before they are deleted
-- and rebuilt, so enqueue_buckets queues the grains of buckets that are gone too.
SELECT DISTINCT b.org, b.repo_id, b.day
FROM metric_buckets b
JOIN unnest(%(days)s::date[], %(repos)s::bigint[]) AS t (day, repo_id) ON b.repo_id = t.repo_id AND b.day = t.day;

-- name: enqueue_buckets
-- The keys of the given (day, repository) buckets as they stand, and of those that were there before
-- (the before arrays: buckets_present, read before the rebuild): their repository, their organisation, their
-- language and each team whose scope includes the repository. Once per rebuild: queuing before and after
-- put most keys in the queue twice, and a bulk load's queue holds millions while its history waits.
INSERT INTO metric_windows_pending (grain, org, scope, day)
SELECT DISTINCT g.grain, b.org, g.scope, b.day
FROM (SELECT b.org, b.repo_id, b.day
      FROM metric_buckets b
      JOIN unnest(%(days)s::date[], %(repos)s::bigint[]) AS t (day, repo_id)
        ON b.repo_id = t.repo_id AND b.day = t.day
      UNION
      SELECT * FROM unnest(%(before_orgs)s::text[], %(before_repos)s::bigint[], %(before_days)s::date[])) AS b
LEFT JOIN repositories r ON r.repo_id = b.repo_id
CROSS JOIN LATERAL (SELECT 'repository', b.repo_id::text UNION ALL SELECT 'organisation', ''
                    UNION ALL SELECT 'language', coalesce(r.language, '')
                    UNION ALL SELECT 'team', ts.team_id::text FROM team_scopes ts WHERE ts.repo_id = b.repo_id)
     AS g (grain, scope)
ORDER BY 1, 2, 3, 4;

-- name: take_live
-- The queued keys of days %(since)s … %(today)s (yesterday's and today's: what live dashboards show). Entries
-- another live slice is taking are skipped, not waited for: that slice rebuilds them (a plain DELETE waited
-- for its whole rebuild, with the keys queued since, bench/bulk_load_bench.py).
WITH taken AS (
    DELETE FROM metric_windows_pending
    WHERE ctid = ANY (ARRAY(SELECT ctid FROM metric_windows_pending
                            WHERE day BETWEEN %(since)s::date AND %(today)s::date FOR UPDATE SKIP LOCKED))
    RETURNING grain, org, scope, day
)
SELECT DISTINCT grain, org, scope, day FROM taken;

-- name: take_settled
-- Then the keys of earlier days (past) and of later days (ahead: queued by live rebuilds) of whole scopes, each
-- part of a scope apart, oldest first, up to about %(max_keys)s keys: a part's keys once its newest has waited
-- %(settle)s seconds (nothing more arrives for it: the load moved on), or, while they keep arriving (busy),
-- once its oldest has waited 6 × %(settle)s; %(max_wait)s seconds instead for the windows ahead (shown from
-- their day on, when their key is a live one). While a bulk load runs (over %(load_keys)s past keys queued
-- in the last %(settle)s seconds) every part waits until its oldest key has waited %(max_wait)s, settled or
-- not: its history is rebuilt after the load, or in long stretches, not beside it. (Taking the parts that
-- settled rebuilt windows with a core beside the writer from mid-load on, as the scopes of sparse
-- repositories went quiet for seconds at a time; the windows ahead of scopes between two webhooks kept
-- both threads looking again at once: bench/ingest_profile.py.) Whole parts of scopes, so a
-- stretch of days is rebuilt once and not once per slice; apart, so the key of tomorrow that every live
-- webhook queues keeps only the windows ahead waiting, not the scope's history. %(settle)s = 0 takes
-- everything. With a lane, only the scopes of that lane (a hash of the scope, modulo %(lanes)s): lanes are
-- taken by transactions of their own at the same time.
WITH parts AS (
    SELECT grain, org, scope, day > %(today)s::date AS ahead, count(*) AS n, min(queued_at) AS since,
           max(queued_at) > now() - make_interval(secs => %(settle)s) AS busy,
           count(*) FILTER (WHERE day < %(since)s::date
                              AND queued_at > now() - make_interval(secs => %(settle)s)) AS arriving
    FROM metric_windows_pending
    WHERE day < %(since)s::date OR day > %(today)s::date
    GROUP BY grain, org, scope, day > %(today)s::date
),
scopes AS (
    SELECT grain, org, scope, ahead, n, since, busy
    FROM (SELECT *, sum(arriving) OVER () > %(load_keys)s AS loading FROM parts) AS p
    WHERE ((NOT busy AND NOT loading)
           OR since <= now() - make_interval(secs => CASE WHEN ahead OR loading THEN %(max_wait)s
                                                          ELSE 6 * %(settle)s END))
      AND (%(lane)s::int IS NULL OR abs(hashtext(grain || ':' || org || ':' || scope) %% %(lanes)s) = %(lane)s)
),
chosen AS (
    SELECT grain, org, scope, ahead, busy
    FROM (SELECT grain, org, scope, ahead, busy,
                 sum(n) OVER (ORDER BY since, grain, org, scope, ahead) - n AS before
          FROM scopes) AS ordered
    WHERE before < %(max_keys)s
),
taken AS (
    DELETE FROM metric_windows_pending p
    USING chosen c
    WHERE p.grain = c.grain AND p.org = c.org AND p.scope = c.scope
      AND CASE WHEN c.ahead THEN p.day > %(today)s::date ELSE p.day < %(since)s::date END
    RETURNING p.grain, p.org, p.scope, p.day, c.busy
)
SELECT DISTINCT grain, org, scope, day, busy FROM taken;

-- name: keys_of_days
-- Every key of the buckets of a span of days (building the windows from scratch).
SELECT DISTINCT g.grain, b.org, g.scope, b.day
FROM (SELECT DISTINCT org, repo_id, day FROM metric_buckets WHERE day BETWEEN %(lo)s AND %(hi)s) AS b
LEFT JOIN repositories r ON r.repo_id = b.repo_id
CROSS JOIN LATERAL (SELECT 'repository', b.repo_id::text UNION ALL SELECT 'organisation', ''
                    UNION ALL SELECT 'language', coalesce(r.language, '')
                    UNION ALL SELECT 'team', ts.team_id::text FROM team_scopes ts WHERE ts.repo_id = b.repo_id)
     AS g (grain, scope);

-- name: lock_scopes
-- Two transactions rebuilding the same rows of a scope (two live slices, two slices of history, or two
-- workers) take turns: the second waits for the first to commit, then reads its buckets and roll-ups (each
-- statement sees what committed before it began). %(rows)s is 'past' (roll-up days and window end days
-- before yesterday), 'live' (yesterday and today) or 'ahead' (after today): they never write the same rows,
-- so a live slice never waits for a slice of history or for the windows ahead. Different scopes share no
-- rows, so they never wait for each other.
SELECT pg_advisory_xact_lock(hashtextextended('pillarstream.metric_windows:' || %(rows)s || ':' || grain || ':' || org
                                              || ':' || scope, 0))
FROM (SELECT DISTINCT grain, org, scope FROM unnest(%(grains)s::text[], %(orgs)s::text[], %(scopes)s::text[])
      AS u (grain, org, scope) ORDER BY grain, org, scope OFFSET 0) AS ordered;

-- name: enqueue_keys
-- Keys as given: the live key of a scope whose slice of history reached into the live days' windows, the
-- ahead key of a scope whose live rows were rebuilt.
INSERT INTO metric_windows_pending (grain, org, scope, day)
SELECT * FROM unnest(%(grains)s::text[], %(orgs)s::text[], %(scopes)s::text[], %(days)s::date[]);

-- name: delete_rollup_days
DELETE FROM metric_rollup_days r
USING unnest(%(grains)s::text[], %(orgs)s::text[], %(scopes)s::text[], %(days)s::date[]) AS k (grain, org, scope, day)
WHERE r.grain = k.grain AND r.org = k.org AND r.scope = k.scope AND r.day = k.day
  AND k.day BETWEEN %(lo)s AND %(hi)s;

-- name: insert_rollup_days
-- Each key's day, rolled up from the buckets: one read of the organisation's buckets of that day serves
-- the organisation, every language and every team. Sums for every kind; the samples (quantiles) and
-- members (distinct, top_share) only where the kind needs them, gathered element by element and sorted,
-- so the same buckets give the same row whatever order they were read in. The buckets meet their teams in
-- one join, not a lookup each, and the keys once, after: a live organisation key of 1,000 repositories
-- took 2.1 s with a lookup of team_scopes per bucket and per key (bench/live_rebuild_explain.py).
WITH k AS (
    SELECT DISTINCT grain, org, scope, day
    FROM unnest(%(grains)s::text[], %(orgs)s::text[], %(scopes)s::text[], %(days)s::date[])
         AS k (grain, org, scope, day)
    WHERE grain <> 'repository' AND day BETWEEN %(lo)s AND %(hi)s
),
buckets AS (
    SELECT b.org, b.day, b.repo_id, b.metric, d.kind, b.value, b.numerator, b.denominator, b.samples, b.members
    FROM (SELECT DISTINCT org, day FROM k) AS od
    JOIN metric_buckets b ON b.day = od.day AND b.org = od.org
    JOIN metric_definitions d ON d.metric = b.metric
),
scoped AS (
    SELECT g.grain, g.scope, b.*
    FROM buckets b
    LEFT JOIN repositories r ON r.repo_id = b.repo_id
    CROSS JOIN LATERAL (VALUES ('organisation', ''), ('language', coalesce(r.language, ''))) AS g (grain, scope)
    UNION ALL
    SELECT 'team', ts.team_id::text, b.*
    FROM buckets b
    JOIN team_scopes ts ON ts.repo_id = b.repo_id
),
inputs AS (
    SELECT s.grain, s.org, s.scope, s.day, s.metric, s.kind, s.value, s.numerator, s.denominator, s.samples,
           s.members
    FROM scoped s
    JOIN k ON k.grain = s.grain AND k.org = s.org AND k.scope = s.scope AND k.day = s.day
)
-- One row per bucket and element (n = 1 for the first; NULL for a bucket without elements): the sums count
-- each bucket once, the arrays gather the elements.
INSERT INTO metric_rollup_days (grain, org, scope, day, metric, value, numerator, denominator, samples, members)
SELECT i.grain, i.org, i.scope, i.day, i.metric,
       CASE WHEN i.kind = 'count' THEN sum(i.value) FILTER (WHERE e.n IS NULL OR e.n = 1) END,
       sum(i.numerator) FILTER (WHERE e.n IS NULL OR e.n = 1),
       sum(i.denominator) FILTER (WHERE e.n IS NULL OR e.n = 1),
       array_agg(e.sample ORDER BY e.sample) FILTER (WHERE e.sample IS NOT NULL),
       CASE WHEN i.kind = 'distinct'
            THEN array_agg(DISTINCT e.member ORDER BY e.member) FILTER (WHERE e.member IS NOT NULL)
            ELSE array_agg(e.member ORDER BY e.member) FILTER (WHERE e.member IS NOT NULL) END
FROM inputs i
LEFT JOIN LATERAL unnest(CASE WHEN i.kind = 'quantile' THEN i.samples END,
                         CASE WHEN i.kind IN ('distinct', 'top_share') THEN i.members END)
          WITH ORDINALITY AS e (sample, member, n) ON true
GROUP BY i.grain, i.org, i.scope, i.day, i.metric, i.kind;

-- name: delete_windows
-- Target end days come as merged ranges per scope (windows.py: each key's day and the 27 after it, within
-- lo … hi), worked out once for this statement and the next.
DELETE FROM metric_windows w
USING unnest(%(r_grains)s::text[], %(r_orgs)s::text[], %(r_scopes)s::text[], %(r_firsts)s::date[],
             %(r_lasts)s::date[]) AS r (grain, org, scope, first_day, last_day)
WHERE w.grain = r.grain AND w.org = r.org AND w.scope = r.scope AND w.day BETWEEN r.first_day AND r.last_day;

-- name: insert_windows
-- The windows ending on every day of the target ranges, from the repository's buckets or the wider grain's
-- daily roll-ups: exact by kind, as the query-time view metric_rollups. Each scope's days are read once, as
-- one series per metric with a placeholder row on every window end day; sliding frames over that series
-- (1, 7 and 28 days back from each placeholder) give every window in one pass. Counts and ratios slide
-- sums only; quantiles, distinct and top_share gather, per target, the samples or members of its days.
WITH r AS (
    SELECT * FROM unnest(%(r_grains)s::text[], %(r_orgs)s::text[], %(r_scopes)s::text[], %(r_firsts)s::date[],
                         %(r_lasts)s::date[]) AS r (grain, org, scope, first_day, last_day)
),
scopes AS (
    SELECT grain, org, scope, CASE WHEN grain = 'repository' THEN scope::bigint END AS repo_id,
           min(first_day) - 27 AS first_day, max(last_day) AS last_day
    FROM r GROUP BY grain, org, scope
),
sources AS MATERIALIZED (
    SELECT s.grain, s.org, s.scope, b.day, b.metric, d.kind, d.quantile, b.value, b.numerator, b.denominator,
           b.samples, b.members
    FROM scopes s
    JOIN metric_buckets b ON b.repo_id = s.repo_id AND b.day BETWEEN s.first_day AND s.last_day AND b.org = s.org
    JOIN metric_definitions d ON d.metric = b.metric
    WHERE s.grain = 'repository'
    UNION ALL
    SELECT s.grain, s.org, s.scope, x.day, x.metric, d.kind, d.quantile, x.value, x.numerator, x.denominator,
           x.samples, x.members
    FROM scopes s
    JOIN metric_rollup_days x ON x.grain = s.grain AND x.org = s.org AND x.scope = s.scope
                             AND x.day BETWEEN s.first_day AND s.last_day
    JOIN metric_definitions d ON d.metric = x.metric
    WHERE s.grain <> 'repository'
),
targets AS MATERIALIZED (
    SELECT r.grain, r.org, r.scope, e.day::date AS day, m.metric, m.kind, m.quantile
    FROM r
    CROSS JOIN LATERAL generate_series(r.first_day, r.last_day, interval '1 day') AS e (day)
    JOIN (SELECT DISTINCT grain, org, scope, metric, kind, quantile FROM sources) AS m
      ON m.grain = r.grain AND m.org = r.org AND m.scope = r.scope
),
sums AS (
    SELECT grain, org, scope, day, metric, kind, target,
           sum(value) OVER w1 AS value_1, sum(value) OVER w7 AS value_7, sum(value) OVER w28 AS value_28,
           sum(numerator) OVER w1 AS num_1, sum(numerator) OVER w7 AS num_7, sum(numerator) OVER w28 AS num_28,
           sum(denominator) OVER w1 AS den_1, sum(denominator) OVER w7 AS den_7,
           sum(denominator) OVER w28 AS den_28
    FROM (SELECT grain, org, scope, day, metric, kind, value, numerator, denominator, false AS target
          FROM sources WHERE kind IN ('count', 'ratio')
          UNION ALL
          SELECT grain, org, scope, day, metric, kind, NULL, NULL, NULL, true
          FROM targets WHERE kind IN ('count', 'ratio')) AS series
    WINDOW w1 AS (PARTITION BY grain, org, scope, metric ORDER BY day - DATE '2000-01-01'
                  RANGE BETWEEN CURRENT ROW AND CURRENT ROW),
           w7 AS (PARTITION BY grain, org, scope, metric ORDER BY day - DATE '2000-01-01'
                  RANGE BETWEEN 6 PRECEDING AND CURRENT ROW),
           w28 AS (PARTITION BY grain, org, scope, metric ORDER BY day - DATE '2000-01-01'
                   RANGE BETWEEN 27 PRECEDING AND CURRENT ROW)
),
arrays AS (
    -- Per target, its 28 days read through the primary key of the buckets or roll-ups (at most 28 rows) and
    -- their arrays joined into the three windows' arrays: the cost follows the targets and what their windows
    -- hold. (Sliding frames over one row per element evaluated every frame at every element, not only at the
    -- targets, and spilled to disk at the organisation grain; gathering element by element per target costs
    -- an executor row per element, joining the days' arrays a copy.)
    SELECT t.grain, t.org, t.scope, t.day, t.metric, t.kind, t.quantile, a.*
    FROM targets t
    CROSS JOIN LATERAL (
        SELECT array_concat_agg(s.samples) FILTER (WHERE s.day = t.day) AS samples_1,
               array_concat_agg(s.samples) FILTER (WHERE s.day > t.day - 7) AS samples_7,
               array_concat_agg(s.samples) AS samples_28,
               array_concat_agg(s.members) FILTER (WHERE s.day = t.day) AS members_1,
               array_concat_agg(s.members) FILTER (WHERE s.day > t.day - 7) AS members_7,
               array_concat_agg(s.members) AS members_28
        FROM (SELECT b.day, CASE WHEN t.kind = 'quantile' THEN b.samples END AS samples,
                     CASE WHEN t.kind IN ('distinct', 'top_share') THEN b.members END AS members
              FROM metric_buckets b
              WHERE t.grain = 'repository'
                AND b.repo_id = CASE WHEN t.grain = 'repository' THEN t.scope::bigint END
                AND b.day BETWEEN t.day - 27 AND t.day AND b.metric = t.metric AND b.org = t.org
              UNION ALL
              SELECT x.day, CASE WHEN t.kind = 'quantile' THEN x.samples END,
                     CASE WHEN t.kind IN ('distinct', 'top_share') THEN x.members END
              FROM metric_rollup_days x
              WHERE t.grain <> 'repository' AND x.grain = t.grain AND x.org = t.org AND x.scope = t.scope
                AND x.day BETWEEN t.day - 27 AND t.day AND x.metric = t.metric) AS s
    ) AS a
    WHERE t.kind NOT IN ('count', 'ratio')
),
windows (grain, org, scope, day, metric, v1, v7, v28) AS MATERIALIZED (  -- each window_value once
    SELECT grain, org, scope, day, metric,
           CASE kind WHEN 'count' THEN value_1 ELSE num_1 / NULLIF(den_1, 0) END,
           CASE kind WHEN 'count' THEN value_7 ELSE num_7 / NULLIF(den_7, 0) END,
           CASE kind WHEN 'count' THEN value_28 ELSE num_28 / NULLIF(den_28, 0) END
    FROM sums
    WHERE target
    UNION ALL
    SELECT grain, org, scope, day, metric, window_value(kind, quantile, samples_1, members_1),
           window_value(kind, quantile, samples_7, members_7), window_value(kind, quantile, samples_28, members_28)
    FROM arrays
)
INSERT INTO metric_windows (grain, org, scope, day, metric, value_1d, value_7d, value_28d)
SELECT grain, org, scope, day, metric, v1, v7, v28
FROM windows
WHERE v1 IS NOT NULL OR v7 IS NOT NULL OR v28 IS NOT NULL;
