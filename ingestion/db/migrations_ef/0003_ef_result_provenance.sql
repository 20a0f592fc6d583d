-- Provenance of each result's classification (issue 24, docs/f1db.md "Provenance"), which the app's
-- "Results" lacks (its tables never get a column): one row per result the replay wrote, keyed by its id,
-- as ingestion.circuit_keys keeps OpenF1's circuit key. No foreign key to "Results": the app's migrations
-- must stay free to rebuild its tables; replay removes a result's row with the result, clean-racing with
-- every result.
--   source          'openf1' or 'f1db'
--   source_version  f1db: the release's tag (v2025.24.2); OpenF1: the snapshot's address (sha256 of its body)
--   source_path     f1db: the classification file in the release; OpenF1: the snapshot's request
CREATE TABLE ingestion.result_provenance (
    result_id      uuid PRIMARY KEY,
    source         text NOT NULL CONSTRAINT ck_result_provenance_source CHECK (source IN ('openf1', 'f1db')),
    source_version text,
    source_path    text
);
