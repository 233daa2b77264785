-- 010: the lead-time rule (touched_lead_time_days and the lead CTE of insert_buckets, buckets.sql) looks for
-- the first successful production deployment of a repository, in (created_at, node_id) order, from a given
-- point. With only (repo_id, created_at) the planner read every deployment of the repository after (or
-- before) that point and sorted them, so each batch cost more as the history grew (issue #15). This index
-- holds exactly those deployments in that order, so the search walks it and stops at the first match.
CREATE INDEX deployment_statuses_order ON deployment_statuses (repo_id, created_at, node_id)
    WHERE state = 'success' AND is_production;
