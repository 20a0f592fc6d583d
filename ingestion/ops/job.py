"""The main job (``make run``, ``ingest run``): migrate, replay the snapshot store, report.

A thin shell over :mod:`ingestion.db`, :mod:`ingestion.replay` and :mod:`ingestion.report`.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from ingestion.config import Settings
from ingestion.db import connect, database_url, migrate
from ingestion.db.naming import resolve
from ingestion.ops.report import Report, build_report
from ingestion.replay.run import run_replay
from ingestion.replay.summary import ReplaySummary
from ingestion.store import Store


class JobResult(msgspec.Struct, frozen=True, kw_only=True):
    database: str  # masked by the caller before printing
    migrations_applied: list[str]
    replay: ReplaySummary
    report: Report


def run_main_job(settings: Settings, as_of: datetime, *, results: bool = True) -> JobResult:
    """Migrate the database, replay ``settings.snapshot_dir`` as of ``as_of``, and read the report."""
    url = database_url(settings)
    with connect(url, autocommit=True) as conn:
        applied = migrate(conn, naming=resolve(conn, settings.database_schema))
    store = Store(settings.snapshot_dir)
    summary = run_replay(url, store, as_of, results=results, schema=settings.database_schema)
    with connect(url, autocommit=True) as conn:
        report = build_report(conn)
    return JobResult(database=url, migrations_applied=applied, replay=summary, report=report)
