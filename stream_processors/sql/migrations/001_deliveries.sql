-- 001: roles, schemas and the delivery log (the dedupe point of every event).

DO $$
BEGIN
  -- Roles normally exist already (Terraform or the local stack create them with passwords);
  -- created here without login so a bare database still migrates.
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pillarstream_writer') THEN
    CREATE ROLE pillarstream_writer NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pillarstream_reader') THEN
    CREATE ROLE pillarstream_reader NOLOGIN;
  END IF;
END
$$;

-- The read-only role sees the reporting views and nothing else.
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO pillarstream_writer;
CREATE SCHEMA IF NOT EXISTS reporting;
REVOKE ALL ON SCHEMA reporting FROM PUBLIC;
GRANT USAGE ON SCHEMA reporting TO pillarstream_reader, pillarstream_writer;

CREATE TABLE deliveries (
    delivery_id     text PRIMARY KEY,
    event           text NOT NULL,
    action          text,
    source          text NOT NULL CHECK (source IN ('webhook', 'backfill', 'replay')),
    received_at     timestamptz NOT NULL,
    org             text,
    repo_id         bigint,
    repo_full_name  text,
    hook_id         text,
    payload_bytes   integer NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset    bigint NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deliveries_received_at ON deliveries (received_at);
CREATE INDEX deliveries_event ON deliveries (event, received_at);

GRANT SELECT, INSERT ON deliveries TO pillarstream_writer;
