-- 090: the backfill's cursors, one row per owner × repository × resource (backfill/cursors.py).
--
-- In a schema of their own: they are the backfill's bookkeeping, not warehouse facts, so they stay out of
-- the `public` tables that replays must reproduce and out of the reader's `reporting` schema.
--   marks  -- cursor values of the last complete sweep (e.g. {"updated_at": "..."}): where the next run stops;
--   etags  -- ETags of the pages a re-run asks again, for conditional requests (a 304 spends no budget);
--   state  -- the sweep in progress: next page, archived pages not yet published, progress within a page.
-- marks and etags change only when a sweep completes, state after every archived page and published unit.

CREATE SCHEMA IF NOT EXISTS backfill;
REVOKE ALL ON SCHEMA backfill FROM PUBLIC;
GRANT USAGE ON SCHEMA backfill TO pillarstream_writer;

CREATE TABLE backfill.cursors (
    owner       text NOT NULL,
    repo        text NOT NULL,  -- '' for owner-level resources (repositories, members, teams)
    resource    text NOT NULL,
    marks       jsonb NOT NULL DEFAULT '{}',
    etags       jsonb NOT NULL DEFAULT '{}',
    state       jsonb NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, repo, resource)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON backfill.cursors TO pillarstream_writer;
