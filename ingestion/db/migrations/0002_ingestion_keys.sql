-- What ingestion adds to the app's model (allowed by shared/SCHEMA.md; nothing changes meaning):
-- OpenF1's circuit key on circuits, and unique natural keys the replay upserts on.
ALTER TABLE circuits ADD COLUMN open_f1_circuit_key integer;
CREATE UNIQUE INDEX ux_circuits_open_f1_circuit_key ON circuits (open_f1_circuit_key);
CREATE UNIQUE INDEX ux_rounds_open_f1_meeting_key ON rounds (open_f1_meeting_key);

-- The ingester's own bookkeeping: one row per replay that wrote to this database.
CREATE TABLE ingestion.replay_runs (
    id          bigserial PRIMARY KEY,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    as_of       timestamptz NOT NULL,
    results     boolean NOT NULL,
    summary     jsonb NOT NULL
);
