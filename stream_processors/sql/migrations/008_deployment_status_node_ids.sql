-- 008: deployment statuses are keyed by GitHub's node id. GraphQL (which the backfill reads deployments
-- with) has no database id for a deployment status, only the node id that webhooks and REST carry too, so
-- the node id is what every source agrees on. `status_id` stays, filled where the delivery had it
-- (webhooks, REST); merged with GREATEST like the other columns, so a GraphQL row gains it from a later
-- webhook or REST delivery of the same status.
--
-- Rows stored before this migration have no node id: they get a placeholder, 'legacy:' and the status id
-- zero-padded (so placeholders sort as their status ids did, and metric tie-breaks stay as they were). The
-- writer's adopt_deployment_statuses (sql/adopt.sql) swaps it for the real node id when the status arrives
-- again: by status id from a webhook or REST, by deployment, time and state from GraphQL.
ALTER TABLE deployment_statuses ADD COLUMN node_id text COLLATE "C";
UPDATE deployment_statuses SET node_id = 'legacy:' || lpad(status_id::text, 19, '0');
ALTER TABLE deployment_statuses ALTER COLUMN node_id SET NOT NULL;
ALTER TABLE deployment_statuses DROP CONSTRAINT deployment_statuses_pkey;
ALTER TABLE deployment_statuses ALTER COLUMN status_id DROP NOT NULL;
ALTER TABLE deployment_statuses ADD CONSTRAINT deployment_statuses_pkey PRIMARY KEY (node_id);
