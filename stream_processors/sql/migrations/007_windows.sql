-- 007: lead time's touched deployments are found through the statuses of a commit (by SHA).
CREATE INDEX deployment_statuses_sha ON deployment_statuses (repo_id, sha);
