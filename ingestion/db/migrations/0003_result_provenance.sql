-- Provenance of each result's classification (issue 24, docs/f1db.md "Provenance"): which source it came
-- from, and which release or snapshot. Nullable: rows written before this migration (or by hand) say nothing
-- until a replay writes them.
--   source          'openf1' or 'f1db'
--   source_version  f1db: the release's tag (v2025.24.2); OpenF1: the snapshot's address (sha256 of its body)
--   source_path     f1db: the classification file in the release; OpenF1: the snapshot's request
ALTER TABLE results
    ADD COLUMN source         text CONSTRAINT ck_results_source CHECK (source IN ('openf1', 'f1db')),
    ADD COLUMN source_version text,
    ADD COLUMN source_path    text;
