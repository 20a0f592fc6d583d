-- On the app's own database (EF Core naming, shared/SCHEMA.md last section) the ingester changes nothing in
-- schema public: what it needs beyond the app's model lives here, in schema ingestion.

-- OpenF1's circuit key, which "Circuits" lacks: one row per circuit the replay wrote, keyed by its id.
-- No foreign key to "Circuits": the app's migrations must stay free to rebuild its tables.
CREATE TABLE ingestion.circuit_keys (
    circuit_id          uuid PRIMARY KEY,
    open_f1_circuit_key integer NOT NULL
);
CREATE UNIQUE INDEX ux_circuit_keys_open_f1_circuit_key ON ingestion.circuit_keys (open_f1_circuit_key);

-- The ingester's own bookkeeping: one row per replay that wrote to this database (as on a snake database).
CREATE TABLE ingestion.replay_runs (
    id          bigserial PRIMARY KEY,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    as_of       timestamptz NOT NULL,
    results     boolean NOT NULL,
    summary     jsonb NOT NULL
);
