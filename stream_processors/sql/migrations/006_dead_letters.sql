-- 006: dead letters, the records the warehouse worker left out (a value it cannot store, a record Postgres
-- refused), kept with the Kafka record as read so `pillarstream deadletters retry` can write them after a
-- fix. One row per delivery id: seeing the same record again counts an attempt, it adds no row.
CREATE TABLE dead_letters (
    delivery_id     text PRIMARY KEY,       -- or kafka:<topic>:<partition>:<offset> when the envelope is unreadable
    event           text,
    error           text NOT NULL,          -- the latest reason
    envelope        bytea NOT NULL,         -- the record's envelope header (JSON), as consumed
    payload         bytea NOT NULL,         -- the record's value: the payload as received
    kafka_topic     text NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset    bigint NOT NULL,
    first_seen      timestamptz NOT NULL DEFAULT now(),
    last_seen       timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 1,
    resolved_at     timestamptz             -- set when a retry wrote the record
);
CREATE INDEX dead_letters_open ON dead_letters (first_seen) WHERE resolved_at IS NULL;

-- The worker inserts; `deadletters retry` (writer role too) reads them and marks them resolved.
GRANT SELECT, INSERT, UPDATE ON dead_letters TO pillarstream_writer;

-- Dashboards may count them, but never see payloads (004's default privileges grant the reader SELECT).
CREATE VIEW reporting.dead_letters AS
SELECT delivery_id, event, error, first_seen, last_seen, attempts, resolved_at
FROM dead_letters;
GRANT SELECT ON reporting.dead_letters TO pillarstream_reader;
