-- 002: facts and entity state, keyed by GitHub's natural ids.
--
-- No foreign keys between these tables on purpose: events arrive in any order (a review before its pull
-- request, a status before its deployment), and every table must converge whatever the order.
-- Merge rules (stream_processors/facts.py declares them and generates the upserts; it mirrors them
-- inside a batch):
--   * state tables carry `version` (rank|time|content hash, see pillarstream/normalise/version.py); a row
--     is replaced only by one with a version >= its own, so an older update never overwrites a newer one;
--   * commits and reviews merge column-wise (GREATEST, LEAST for "first seen" times), which commutes;
--   * immutable facts (pushes, statuses, timeline events) are inserted once.
-- Columns ending in is_bot, and is_production / is_incident, are derived from configs/pillars.json at
-- normalisation time and re-derived when the archive is replayed.

CREATE TABLE repositories (
    repo_id         bigint PRIMARY KEY,
    org             text,
    full_name       text NOT NULL,
    name            text,
    owner_login     text,
    language        text,
    default_branch  text,
    private         boolean,
    archived        boolean,
    fork            boolean,
    visibility      text,
    created_at      timestamptz,
    updated_at      timestamptz,
    deleted         boolean NOT NULL,
    version         text COLLATE "C" NOT NULL
);

CREATE TABLE commits (
    repo_id                bigint NOT NULL,
    sha                    text NOT NULL,
    org                    text,
    committed_at           timestamptz,
    author_name            text,
    author_email           text,
    author_login           text,
    author_key             text,
    author_is_bot          boolean NOT NULL,
    message_headline       text,
    first_default_push_at  timestamptz,
    PRIMARY KEY (repo_id, sha)
);
CREATE INDEX commits_landed ON commits (repo_id, first_default_push_at);

CREATE TABLE pushes (
    repo_id            bigint NOT NULL,
    ref                text NOT NULL,
    before_sha         text NOT NULL,
    after_sha          text NOT NULL,
    org                text,
    pushed_at          timestamptz NOT NULL,
    pusher_login       text,
    pusher_is_bot      boolean NOT NULL,
    to_default_branch  boolean NOT NULL,
    created            boolean NOT NULL,
    deleted            boolean NOT NULL,
    forced             boolean NOT NULL,
    commit_count       integer NOT NULL,
    PRIMARY KEY (repo_id, ref, before_sha, after_sha)
);
CREATE INDEX pushes_time ON pushes (repo_id, pushed_at);

CREATE TABLE pull_requests (
    pr_id             bigint PRIMARY KEY,
    repo_id           bigint NOT NULL,
    org               text,
    number            integer NOT NULL,
    title             text,
    html_url          text,
    author_login      text,
    author_is_bot     boolean NOT NULL,
    state             text NOT NULL,
    draft             boolean,
    merged            boolean NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    closed_at         timestamptz,
    merged_at         timestamptz,
    merged_by_login   text,
    base_ref          text,
    head_ref          text,
    head_sha          text,
    merge_commit_sha  text,
    additions         integer,
    deletions         integer,
    changed_files     integer,
    commits           integer,
    version           text COLLATE "C" NOT NULL
);
CREATE INDEX pull_requests_created ON pull_requests (repo_id, created_at);
CREATE INDEX pull_requests_merged ON pull_requests (repo_id, merged_at);
CREATE INDEX pull_requests_closed ON pull_requests (repo_id, closed_at);

-- One row per (pull request, action, moment): the transitions state forgets (when it became ready).
CREATE TABLE pull_request_events (
    pr_id         bigint NOT NULL,
    action        text NOT NULL,
    occurred_at   timestamptz NOT NULL,
    repo_id       bigint NOT NULL,
    org           text,
    actor_login   text,
    actor_is_bot  boolean NOT NULL,
    draft         boolean,
    PRIMARY KEY (pr_id, action, occurred_at)
);

CREATE TABLE pull_request_reviews (
    review_id        bigint PRIMARY KEY,
    pr_id            bigint NOT NULL,
    repo_id          bigint NOT NULL,
    org              text,
    reviewer_login   text,
    reviewer_is_bot  boolean NOT NULL,
    pr_author_login  text,
    state            text,
    submitted_at     timestamptz,
    commit_id        text,
    dismissed        boolean NOT NULL
);
CREATE INDEX pull_request_reviews_pr ON pull_request_reviews (pr_id, submitted_at);
CREATE INDEX pull_request_reviews_time ON pull_request_reviews (repo_id, submitted_at);

CREATE TABLE check_suites (
    check_suite_id  bigint PRIMARY KEY,
    repo_id         bigint NOT NULL,
    org             text,
    head_sha        text,
    head_branch     text,
    status          text,
    conclusion      text,
    app_slug        text,
    created_at      timestamptz,
    updated_at      timestamptz,
    version         text COLLATE "C" NOT NULL
);

CREATE TABLE check_runs (
    check_run_id    bigint PRIMARY KEY,
    repo_id         bigint NOT NULL,
    org             text,
    check_suite_id  bigint,
    name            text NOT NULL,
    head_sha        text NOT NULL,
    status          text NOT NULL,
    conclusion      text,
    started_at      timestamptz,
    completed_at    timestamptz,
    app_slug        text,
    html_url        text,
    version         text COLLATE "C" NOT NULL
);
CREATE INDEX check_runs_completed ON check_runs (repo_id, completed_at);
CREATE INDEX check_runs_group ON check_runs (repo_id, head_sha, name);

CREATE TABLE workflow_runs (
    run_id          bigint PRIMARY KEY,
    repo_id         bigint NOT NULL,
    org             text,
    workflow_id     bigint,
    name            text,
    event           text,
    head_branch     text,
    head_sha        text,
    status          text,
    conclusion      text,
    run_number      integer,
    run_attempt     integer NOT NULL,
    created_at      timestamptz,
    run_started_at  timestamptz,
    updated_at      timestamptz,
    completed_at    timestamptz,
    actor_login     text,
    actor_is_bot    boolean NOT NULL,
    html_url        text,
    version         text COLLATE "C" NOT NULL
);
CREATE INDEX workflow_runs_completed ON workflow_runs (repo_id, completed_at);

CREATE TABLE workflow_jobs (
    job_id         bigint PRIMARY KEY,
    run_id         bigint,
    run_attempt    integer NOT NULL,
    repo_id        bigint NOT NULL,
    org            text,
    name           text,
    workflow_name  text,
    head_sha       text,
    head_branch    text,
    status         text,
    conclusion     text,
    created_at     timestamptz,
    started_at     timestamptz,
    completed_at   timestamptz,
    runner_name    text,
    labels         text[] NOT NULL,
    version        text COLLATE "C" NOT NULL
);
CREATE INDEX workflow_jobs_run ON workflow_jobs (run_id);

CREATE TABLE deployments (
    deployment_id   bigint PRIMARY KEY,
    repo_id         bigint NOT NULL,
    org             text,
    sha             text,
    ref             text,
    task            text,
    environment     text,
    is_production   boolean NOT NULL,
    creator_login   text,
    creator_is_bot  boolean NOT NULL,
    created_at      timestamptz,
    updated_at      timestamptz,
    version         text COLLATE "C" NOT NULL
);

CREATE TABLE deployment_statuses (
    status_id       bigint PRIMARY KEY,
    deployment_id   bigint NOT NULL,
    repo_id         bigint NOT NULL,
    org             text,
    state           text NOT NULL,
    environment     text,
    is_production   boolean NOT NULL,
    sha             text,
    created_at      timestamptz NOT NULL,
    creator_login   text,
    creator_is_bot  boolean NOT NULL
);
CREATE INDEX deployment_statuses_time ON deployment_statuses (repo_id, created_at);
CREATE INDEX deployment_statuses_deployment ON deployment_statuses (deployment_id);

CREATE TABLE issues (
    issue_id       bigint PRIMARY KEY,
    repo_id        bigint NOT NULL,
    org            text,
    number         integer NOT NULL,
    title          text,
    state          text NOT NULL,
    author_login   text,
    author_is_bot  boolean NOT NULL,
    labels         text[] NOT NULL,
    is_incident    boolean NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    closed_at      timestamptz,
    deleted        boolean NOT NULL,
    html_url       text,
    version        text COLLATE "C" NOT NULL
);
CREATE INDEX issues_created ON issues (repo_id, created_at);
CREATE INDEX issues_closed ON issues (repo_id, closed_at);

CREATE TABLE releases (
    release_id    bigint PRIMARY KEY,
    repo_id       bigint NOT NULL,
    org           text,
    tag_name      text,
    name          text,
    draft         boolean,
    prerelease    boolean,
    created_at    timestamptz,
    published_at  timestamptz,
    author_login  text,
    deleted       boolean NOT NULL,
    version       text COLLATE "C" NOT NULL
);

-- Branch and tag creation/deletion (create/delete events have no id or time of their own).
CREATE TABLE ref_events (
    delivery_id   text PRIMARY KEY,
    repo_id       bigint NOT NULL,
    org           text,
    ref_type      text,
    ref           text,
    action        text NOT NULL,
    actor_login   text,
    actor_is_bot  boolean NOT NULL,
    occurred_at   timestamptz NOT NULL
);

CREATE TABLE org_memberships (
    org         text NOT NULL,
    user_login  text NOT NULL,
    user_id     bigint,
    role        text,
    state       text NOT NULL,
    is_bot      boolean NOT NULL,
    version     text COLLATE "C" NOT NULL,
    PRIMARY KEY (org, user_login)
);

CREATE TABLE teams (
    team_id         bigint PRIMARY KEY,
    org             text NOT NULL,
    slug            text,
    name            text,
    privacy         text,
    parent_team_id  bigint,
    deleted         boolean NOT NULL,
    version         text COLLATE "C" NOT NULL
);

CREATE TABLE team_memberships (
    team_id     bigint NOT NULL,
    user_login  text NOT NULL,
    org         text NOT NULL,
    user_id     bigint,
    state       text NOT NULL,
    is_bot      boolean NOT NULL,
    version     text COLLATE "C" NOT NULL,
    PRIMARY KEY (team_id, user_login)
);

CREATE TABLE team_repositories (
    team_id     bigint NOT NULL,
    repo_id     bigint NOT NULL,
    org         text NOT NULL,
    state       text NOT NULL,
    permission  text,
    version     text COLLATE "C" NOT NULL,
    PRIMARY KEY (team_id, repo_id)
);

-- The warehouse worker upserts facts and state; nobody deletes them.
GRANT SELECT, INSERT, UPDATE ON
    repositories, commits, pushes, pull_requests, pull_request_events, pull_request_reviews, check_suites,
    check_runs, workflow_runs, workflow_jobs, deployments, deployment_statuses, issues, releases, ref_events,
    org_memberships, teams, team_memberships, team_repositories
TO pillarstream_writer;
