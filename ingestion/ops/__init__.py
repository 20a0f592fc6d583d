"""Operations built on the stages (fetch, replay, server) and the store/db: what the commands run.

- :mod:`~ingestion.ops.sync`: fetch one season (or the recent ones), then replay the store.
- :mod:`~ingestion.ops.bulk_sync`: season after season, with retries.
- :mod:`~ingestion.ops.verify`: does the database hold exactly what a replay would write?
- :mod:`~ingestion.ops.diff`: what a replay would change, row by row.
- :mod:`~ingestion.ops.healthcheck`: database, migrations, snapshot store and OpenF1, one check each.
- :mod:`~ingestion.ops.job`: the main job of ``make run`` (migrate, replay, report).
- :mod:`~ingestion.ops.report`: the per-season summary printed after a run.
- :mod:`~ingestion.ops.counts`: what the database holds per season, one query (report, audit, bulk).
- :mod:`~ingestion.ops.check`: OpenF1's results against the sporting regulations (``ingest check``).
- :mod:`~ingestion.ops.audit`: the quality of the racing data (``db audit``); its SQL checks in
  :mod:`~ingestion.ops.audit_checks`.

Nothing here imports the CLI (:mod:`ingestion.cli`); the CLI imports these.
"""
