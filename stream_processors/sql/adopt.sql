-- Statements run before a fact table's upsert (stream_processors/facts.py), named adopt_<table>: rows
-- stored under an older key take their new one, so the upsert finds them.

-- name: adopt_deployment_statuses
-- A row stored before migration 008 (a 'legacy:' placeholder node
-- id) takes the node id of a delivery of the same status, found by status id (webhooks, REST) or, for
-- GraphQL deliveries that have none, by deployment, time and state. Without it the status would be stored
-- twice.
UPDATE deployment_statuses AS t SET node_id = x.node_id
FROM (
    SELECT DISTINCT ON (x.node_id) x.node_id, old.node_id AS legacy
    FROM json_populate_recordset(NULL::deployment_statuses, %s) AS x
    JOIN deployment_statuses AS old
      ON old.node_id = 'legacy:' || lpad(x.status_id::text, 19, '0')
      OR (x.status_id IS NULL AND old.node_id LIKE 'legacy:%%' AND old.deployment_id = x.deployment_id
          AND old.created_at = x.created_at AND old.state = x.state)
    WHERE NOT EXISTS (SELECT 1 FROM deployment_statuses AS n WHERE n.node_id = x.node_id)
    ORDER BY x.node_id, old.node_id
) AS x
WHERE t.node_id = x.legacy;
