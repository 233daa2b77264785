-- Upserts of normalised facts, one per table. Each takes its batch's rows as one parameter, a JSON array of
-- objects keyed by column (stream_processors/facts.py render_rows).
-- Merge rules are explained in stream_processors/facts.py; keep the Python mirror in step.
-- versioned: the stored row is replaced by one whose version is >= its own.
-- greatest:  columns merge with GREATEST (LEAST for first-seen times); text compares in "C" order
--            so the outcome matches Python's comparison whatever the database collation.

-- name: upsert_repositories
INSERT INTO repositories AS t (repo_id, org, full_name, name, owner_login, language, default_branch, private, archived, fork, visibility, created_at, updated_at, deleted, version)
SELECT repo_id, org, full_name, name, owner_login, language, default_branch, private, archived, fork, visibility, created_at, updated_at, deleted, version
FROM json_populate_recordset(NULL::repositories, %s)
ON CONFLICT (repo_id) DO UPDATE SET
    org = excluded.org,
    full_name = excluded.full_name,
    name = excluded.name,
    owner_login = excluded.owner_login,
    language = excluded.language,
    default_branch = excluded.default_branch,
    private = excluded.private,
    archived = excluded.archived,
    fork = excluded.fork,
    visibility = excluded.visibility,
    created_at = excluded.created_at,
    updated_at = excluded.updated_at,
    deleted = excluded.deleted,
    version = excluded.version
WHERE excluded.version >= t.version;

-- name: upsert_commits
INSERT INTO commits AS t (repo_id, sha, org, committed_at, author_name, author_email, author_login, author_key, author_is_bot, message_headline, first_default_push_at)
SELECT repo_id, sha, org, committed_at, author_name, author_email, author_login, author_key, author_is_bot, message_headline, first_default_push_at
FROM json_populate_recordset(NULL::commits, %s)
ON CONFLICT (repo_id, sha) DO UPDATE SET
    org = GREATEST(t.org COLLATE "C", excluded.org),
    committed_at = GREATEST(t.committed_at, excluded.committed_at),
    author_name = GREATEST(t.author_name COLLATE "C", excluded.author_name),
    author_email = GREATEST(t.author_email COLLATE "C", excluded.author_email),
    author_login = GREATEST(t.author_login COLLATE "C", excluded.author_login),
    author_key = GREATEST(t.author_key COLLATE "C", excluded.author_key),
    author_is_bot = GREATEST(t.author_is_bot, excluded.author_is_bot),
    message_headline = GREATEST(t.message_headline COLLATE "C", excluded.message_headline),
    first_default_push_at = LEAST(t.first_default_push_at, excluded.first_default_push_at);

-- name: upsert_pushes
INSERT INTO pushes AS t (repo_id, ref, before_sha, after_sha, org, pushed_at, pusher_login, pusher_is_bot, to_default_branch, created, deleted, forced, commit_count)
SELECT repo_id, ref, before_sha, after_sha, org, pushed_at, pusher_login, pusher_is_bot, to_default_branch, created, deleted, forced, commit_count
FROM json_populate_recordset(NULL::pushes, %s)
ON CONFLICT (repo_id, ref, before_sha, after_sha) DO UPDATE SET
    org = GREATEST(t.org COLLATE "C", excluded.org),
    pushed_at = GREATEST(t.pushed_at, excluded.pushed_at),
    pusher_login = GREATEST(t.pusher_login COLLATE "C", excluded.pusher_login),
    pusher_is_bot = GREATEST(t.pusher_is_bot, excluded.pusher_is_bot),
    to_default_branch = GREATEST(t.to_default_branch, excluded.to_default_branch),
    created = GREATEST(t.created, excluded.created),
    deleted = GREATEST(t.deleted, excluded.deleted),
    forced = GREATEST(t.forced, excluded.forced),
    commit_count = GREATEST(t.commit_count, excluded.commit_count);

-- name: upsert_pull_requests
INSERT INTO pull_requests AS t (pr_id, repo_id, org, number, title, html_url, author_login, author_is_bot, state, draft, merged, created_at, updated_at, closed_at, merged_at, merged_by_login, base_ref, head_ref, head_sha, merge_commit_sha, additions, deletions, changed_files, commits, version)
SELECT pr_id, repo_id, org, number, title, html_url, author_login, author_is_bot, state, draft, merged, created_at, updated_at, closed_at, merged_at, merged_by_login, base_ref, head_ref, head_sha, merge_commit_sha, additions, deletions, changed_files, commits, version
FROM json_populate_recordset(NULL::pull_requests, %s)
ON CONFLICT (pr_id) DO UPDATE SET
    repo_id = excluded.repo_id,
    org = excluded.org,
    number = excluded.number,
    title = excluded.title,
    html_url = excluded.html_url,
    author_login = excluded.author_login,
    author_is_bot = excluded.author_is_bot,
    state = excluded.state,
    draft = excluded.draft,
    merged = excluded.merged,
    created_at = excluded.created_at,
    updated_at = excluded.updated_at,
    closed_at = excluded.closed_at,
    merged_at = excluded.merged_at,
    merged_by_login = excluded.merged_by_login,
    base_ref = excluded.base_ref,
    head_ref = excluded.head_ref,
    head_sha = excluded.head_sha,
    merge_commit_sha = excluded.merge_commit_sha,
    additions = excluded.additions,
    deletions = excluded.deletions,
    changed_files = excluded.changed_files,
    commits = excluded.commits,
    version = excluded.version
WHERE excluded.version >= t.version;

-- name: upsert_pull_request_events
INSERT INTO pull_request_events AS t (pr_id, action, occurred_at, repo_id, org, actor_login, actor_is_bot, draft)
SELECT pr_id, action, occurred_at, repo_id, org, actor_login, actor_is_bot, draft
FROM json_populate_recordset(NULL::pull_request_events, %s)
ON CONFLICT (pr_id, action, occurred_at) DO UPDATE SET
    repo_id = GREATEST(t.repo_id, excluded.repo_id),
    org = GREATEST(t.org COLLATE "C", excluded.org),
    actor_login = GREATEST(t.actor_login COLLATE "C", excluded.actor_login),
    actor_is_bot = GREATEST(t.actor_is_bot, excluded.actor_is_bot),
    draft = GREATEST(t.draft, excluded.draft);

-- name: upsert_pull_request_reviews
INSERT INTO pull_request_reviews AS t (review_id, pr_id, repo_id, org, reviewer_login, reviewer_is_bot, pr_author_login, state, submitted_at, commit_id, dismissed)
SELECT review_id, pr_id, repo_id, org, reviewer_login, reviewer_is_bot, pr_author_login, state, submitted_at, commit_id, dismissed
FROM json_populate_recordset(NULL::pull_request_reviews, %s)
ON CONFLICT (review_id) DO UPDATE SET
    pr_id = GREATEST(t.pr_id, excluded.pr_id),
    repo_id = GREATEST(t.repo_id, excluded.repo_id),
    org = GREATEST(t.org COLLATE "C", excluded.org),
    reviewer_login = GREATEST(t.reviewer_login COLLATE "C", excluded.reviewer_login),
    reviewer_is_bot = GREATEST(t.reviewer_is_bot, excluded.reviewer_is_bot),
    pr_author_login = GREATEST(t.pr_author_login COLLATE "C", excluded.pr_author_login),
    state = GREATEST(t.state COLLATE "C", excluded.state),
    submitted_at = GREATEST(t.submitted_at, excluded.submitted_at),
    commit_id = GREATEST(t.commit_id COLLATE "C", excluded.commit_id),
    dismissed = GREATEST(t.dismissed, excluded.dismissed);

-- name: upsert_check_suites
INSERT INTO check_suites AS t (check_suite_id, repo_id, org, head_sha, head_branch, status, conclusion, app_slug, created_at, updated_at, version)
SELECT check_suite_id, repo_id, org, head_sha, head_branch, status, conclusion, app_slug, created_at, updated_at, version
FROM json_populate_recordset(NULL::check_suites, %s)
ON CONFLICT (check_suite_id) DO UPDATE SET
    repo_id = excluded.repo_id,
    org = excluded.org,
    head_sha = excluded.head_sha,
    head_branch = excluded.head_branch,
    status = excluded.status,
    conclusion = excluded.conclusion,
    app_slug = excluded.app_slug,
    created_at = excluded.created_at,
    updated_at = excluded.updated_at,
    version = excluded.version
WHERE excluded.version >= t.version;

-- name: upsert_check_runs
INSERT INTO check_runs AS t (check_run_id, repo_id, org, check_suite_id, name, head_sha, status, conclusion, started_at, completed_at, app_slug, html_url, version)
SELECT check_run_id, repo_id, org, check_suite_id, name, head_sha, status, conclusion, started_at, completed_at, app_slug, html_url, version
FROM json_populate_recordset(NULL::check_runs, %s)
ON CONFLICT (check_run_id) DO UPDATE SET
    repo_id = excluded.repo_id,
    org = excluded.org,
    check_suite_id = excluded.check_suite_id,
    name = excluded.name,
    head_sha = excluded.head_sha,
    status = excluded.status,
    conclusion = excluded.conclusion,
    started_at = excluded.started_at,
    completed_at = excluded.completed_at,
    app_slug = excluded.app_slug,
    html_url = excluded.html_url,
    version = excluded.version
WHERE excluded.version >= t.version;

-- name: upsert_workflow_runs
INSERT INTO workflow_runs AS t (run_id, repo_id, org, workflow_id, name, event, head_branch, head_sha, status, conclusion, run_number, run_attempt, created_at, run_started_at, updated_at, completed_at, actor_login, actor_is_bot, html_url, version)
SELECT run_id, repo_id, org, workflow_id, name, event, head_branch, head_sha, status, conclusion, run_number, run_attempt, created_at, run_started_at, updated_at, completed_at, actor_login, actor_is_bot, html_url, version
FROM json_populate_recordset(NULL::workflow_runs, %s)
ON CONFLICT (run_id) DO UPDATE SET
    repo_id = excluded.repo_id,
    org = excluded.org,
    workflow_id = excluded.workflow_id,
    name = excluded.name,
    event = excluded.event,
    head_branch = excluded.head_branch,
    head_sha = excluded.head_sha,
    status = excluded.status,
    conclusion = excluded.conclusion,
    run_number = excluded.run_number,
    run_attempt = excluded.run_attempt,
    created_at = excluded.created_at,
    run_started_at = excluded.run_started_at,
    updated_at = excluded.updated_at,
    completed_at = excluded.completed_at,
    actor_login = excluded.actor_login,
    actor_is_bot = excluded.actor_is_bot,
    html_url = excluded.html_url,
    version = excluded.version
WHERE excluded.version >= t.version;

-- name: upsert_workflow_jobs
INSERT INTO workflow_jobs AS t (job_id, run_id, run_attempt, repo_id, org, name, workflow_name, head_sha, head_branch, status, conclusion, created_at, started_at, completed_at, runner_name, labels, version)
SELECT job_id, run_id, run_attempt, repo_id, org, name, workflow_name, head_sha, head_branch, status, conclusion, created_at, started_at, completed_at, runner_name, labels, version
FROM json_populate_recordset(NULL::workflow_jobs, %s)
ON CONFLICT (job_id) DO UPDATE SET
    run_id = excluded.run_id,
    run_attempt = excluded.run_attempt,
    repo_id = excluded.repo_id,
    org = excluded.org,
    name = excluded.name,
    workflow_name = excluded.workflow_name,
    head_sha = excluded.head_sha,
    head_branch = excluded.head_branch,
    status = excluded.status,
    conclusion = excluded.conclusion,
    created_at = excluded.created_at,
    started_at = excluded.started_at,
    completed_at = excluded.completed_at,
    runner_name = excluded.runner_name,
    labels = excluded.labels,
    version = excluded.version
WHERE excluded.version >= t.version;

-- name: upsert_deployments
INSERT INTO deployments AS t (deployment_id, repo_id, org, sha, ref, task, environment, is_production, creator_login, creator_is_bot, created_at, updated_at, version)
SELECT deployment_id, repo_id, org, sha, ref, task, environment, is_production, creator_login, creator_is_bot, created_at, updated_at, version
FROM json_populate_recordset(NULL::deployments, %s)
ON CONFLICT (deployment_id) DO UPDATE SET
    repo_id = excluded.repo_id,
    org = excluded.org,
    sha = excluded.sha,
    ref = excluded.ref,
    task = excluded.task,
    environment = excluded.environment,
    is_production = excluded.is_production,
    creator_login = excluded.creator_login,
    creator_is_bot = excluded.creator_is_bot,
    created_at = excluded.created_at,
    updated_at = excluded.updated_at,
    version = excluded.version
WHERE excluded.version >= t.version;

-- name: upsert_deployment_statuses
INSERT INTO deployment_statuses AS t (status_id, deployment_id, repo_id, org, state, environment, is_production, sha, created_at, creator_login, creator_is_bot, node_id)
SELECT status_id, deployment_id, repo_id, org, state, environment, is_production, sha, created_at, creator_login, creator_is_bot, node_id
FROM json_populate_recordset(NULL::deployment_statuses, %s)
ON CONFLICT (node_id) DO UPDATE SET
    status_id = GREATEST(t.status_id, excluded.status_id),
    deployment_id = GREATEST(t.deployment_id, excluded.deployment_id),
    repo_id = GREATEST(t.repo_id, excluded.repo_id),
    org = GREATEST(t.org COLLATE "C", excluded.org),
    state = GREATEST(t.state COLLATE "C", excluded.state),
    environment = GREATEST(t.environment COLLATE "C", excluded.environment),
    is_production = GREATEST(t.is_production, excluded.is_production),
    sha = GREATEST(t.sha COLLATE "C", excluded.sha),
    created_at = GREATEST(t.created_at, excluded.created_at),
    creator_login = GREATEST(t.creator_login COLLATE "C", excluded.creator_login),
    creator_is_bot = GREATEST(t.creator_is_bot, excluded.creator_is_bot);

-- name: upsert_issues
INSERT INTO issues AS t (issue_id, repo_id, org, number, title, state, author_login, author_is_bot, labels, is_incident, created_at, updated_at, closed_at, deleted, html_url, version)
SELECT issue_id, repo_id, org, number, title, state, author_login, author_is_bot, labels, is_incident, created_at, updated_at, closed_at, deleted, html_url, version
FROM json_populate_recordset(NULL::issues, %s)
ON CONFLICT (issue_id) DO UPDATE SET
    repo_id = excluded.repo_id,
    org = excluded.org,
    number = excluded.number,
    title = excluded.title,
    state = excluded.state,
    author_login = excluded.author_login,
    author_is_bot = excluded.author_is_bot,
    labels = excluded.labels,
    is_incident = excluded.is_incident,
    created_at = excluded.created_at,
    updated_at = excluded.updated_at,
    closed_at = excluded.closed_at,
    deleted = excluded.deleted,
    html_url = excluded.html_url,
    version = excluded.version
WHERE excluded.version >= t.version;

-- name: upsert_releases
INSERT INTO releases AS t (release_id, repo_id, org, tag_name, name, draft, prerelease, created_at, published_at, author_login, deleted, version)
SELECT release_id, repo_id, org, tag_name, name, draft, prerelease, created_at, published_at, author_login, deleted, version
FROM json_populate_recordset(NULL::releases, %s)
ON CONFLICT (release_id) DO UPDATE SET
    repo_id = excluded.repo_id,
    org = excluded.org,
    tag_name = excluded.tag_name,
    name = excluded.name,
    draft = excluded.draft,
    prerelease = excluded.prerelease,
    created_at = excluded.created_at,
    published_at = excluded.published_at,
    author_login = excluded.author_login,
    deleted = excluded.deleted,
    version = excluded.version
WHERE excluded.version >= t.version;

-- name: upsert_ref_events
INSERT INTO ref_events AS t (delivery_id, repo_id, org, ref_type, ref, action, actor_login, actor_is_bot, occurred_at)
SELECT delivery_id, repo_id, org, ref_type, ref, action, actor_login, actor_is_bot, occurred_at
FROM json_populate_recordset(NULL::ref_events, %s)
ON CONFLICT (delivery_id) DO UPDATE SET
    repo_id = GREATEST(t.repo_id, excluded.repo_id),
    org = GREATEST(t.org COLLATE "C", excluded.org),
    ref_type = GREATEST(t.ref_type COLLATE "C", excluded.ref_type),
    ref = GREATEST(t.ref COLLATE "C", excluded.ref),
    action = GREATEST(t.action COLLATE "C", excluded.action),
    actor_login = GREATEST(t.actor_login COLLATE "C", excluded.actor_login),
    actor_is_bot = GREATEST(t.actor_is_bot, excluded.actor_is_bot),
    occurred_at = GREATEST(t.occurred_at, excluded.occurred_at);

-- name: upsert_org_memberships
INSERT INTO org_memberships AS t (org, user_login, user_id, role, state, is_bot, version)
SELECT org, user_login, user_id, role, state, is_bot, version
FROM json_populate_recordset(NULL::org_memberships, %s)
ON CONFLICT (org, user_login) DO UPDATE SET
    user_id = excluded.user_id,
    role = excluded.role,
    state = excluded.state,
    is_bot = excluded.is_bot,
    version = excluded.version
WHERE excluded.version >= t.version;

-- name: upsert_teams
INSERT INTO teams AS t (team_id, org, slug, name, privacy, parent_team_id, deleted, version)
SELECT team_id, org, slug, name, privacy, parent_team_id, deleted, version
FROM json_populate_recordset(NULL::teams, %s)
ON CONFLICT (team_id) DO UPDATE SET
    org = excluded.org,
    slug = excluded.slug,
    name = excluded.name,
    privacy = excluded.privacy,
    parent_team_id = excluded.parent_team_id,
    deleted = excluded.deleted,
    version = excluded.version
WHERE excluded.version >= t.version;

-- name: upsert_team_memberships
INSERT INTO team_memberships AS t (team_id, user_login, org, user_id, state, is_bot, version)
SELECT team_id, user_login, org, user_id, state, is_bot, version
FROM json_populate_recordset(NULL::team_memberships, %s)
ON CONFLICT (team_id, user_login) DO UPDATE SET
    org = excluded.org,
    user_id = excluded.user_id,
    state = excluded.state,
    is_bot = excluded.is_bot,
    version = excluded.version
WHERE excluded.version >= t.version;

-- name: upsert_team_repositories
INSERT INTO team_repositories AS t (team_id, repo_id, org, state, permission, version)
SELECT team_id, repo_id, org, state, permission, version
FROM json_populate_recordset(NULL::team_repositories, %s)
ON CONFLICT (team_id, repo_id) DO UPDATE SET
    org = excluded.org,
    state = excluded.state,
    permission = excluded.permission,
    version = excluded.version
WHERE excluded.version >= t.version;
