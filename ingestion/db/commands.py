"""The ``ingest db`` commands as library calls: each opens the configured database, resolves its naming with
the ``DATABASE_SCHEMA`` setting and returns a typed outcome (the CLI parses and prints; ``--json`` prints
the outcome's :meth:`json`). Clean-racing's flow (preview, refusal, confirmation, deletion) is here too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from ingestion.config import Settings
from ingestion.db.clean import CleanReport, UserDataReferencesRacing, clean_racing
from ingestion.db.connection import connect, database_url
from ingestion.db.migrate import MigrationState, migrate, status, unknown
from ingestion.db.naming import Kind, detect, resolve
from ingestion.masking import mask_url

__all__ = [
    "CleanRun",
    "DatabaseStatus",
    "Migrated",
    "clean_racing_database",
    "database_status",
    "migrate_database",
    "naming_source",
]


class Migrated(msgspec.Struct, frozen=True, kw_only=True):
    """``ingest db migrate``: the database (password masked), its naming and the migrations applied."""

    database: str
    naming: Kind
    applied: list[str]


def migrate_database(settings: Settings) -> Migrated:
    """Apply the pending migrations of the configured database (each in its own transaction)."""
    url = database_url(settings)
    with connect(url, autocommit=True) as conn:
        naming = resolve(conn, settings.database_schema)
        applied = migrate(conn, naming=naming)
    return Migrated(database=mask_url(url), naming=naming.kind, applied=applied)


class DatabaseStatus(msgspec.Struct, frozen=True, kw_only=True):
    """``ingest db status``: the database, its naming and why (``source``), its migrations (applied and
    pending, in order) and the applied ones this version does not ship (``unknown``)."""

    database: str
    naming: Kind
    source: str
    migrations: list[MigrationState]
    unknown: list[str]

    @property
    def pending(self) -> int:
        return sum(1 for s in self.migrations if s.applied_at is None)

    @property
    def applied(self) -> int:
        return len(self.migrations) - self.pending

    def json(self) -> dict[str, Any]:
        """What ``ingest db status --json`` prints."""
        return {
            "database": self.database,
            "naming": self.naming,
            "applied": self.applied,
            "pending": self.pending,
            "migrations": self.migrations,
            "unknown": self.unknown,
        }


def database_status(settings: Settings) -> DatabaseStatus:
    """The configured database's naming and migrations (read-only)."""
    url = database_url(settings)
    with connect(url, autocommit=True) as conn:
        naming = resolve(conn, settings.database_schema)
        found = detect(conn)
        states = status(conn, naming=naming)
        strangers = unknown(conn, naming=naming)
    return DatabaseStatus(
        database=mask_url(url),
        naming=naming.kind,
        source=naming_source(found, settings.database_schema),
        migrations=states,
        unknown=strangers,
    )


def naming_source(found: str | None, setting: str) -> str:
    """Why a database has its naming: the setting that forces it, or what its catalog shows."""
    if setting != "auto":
        return f"DATABASE_SCHEMA={setting}; the catalog shows {found or 'no racing schema'}"
    if found == "ef":
        return "the app's EF Core database: only schema ingestion is the ingester's"
    if found == "snake":
        return "the ingester's own schema"
    return ("no racing schema yet: `ingest db migrate` creates the ingester's own; for the app's database, "
            "run its migrations (dotnet ef database update) first")


class CleanRun(msgspec.Struct, frozen=True, kw_only=True):
    """``ingest db clean-racing``: the database (password masked) and the report: the deletion, or the
    preview when nothing was deleted (a dry run, or ``aborted``: the confirmation said no)."""

    database: str
    report: CleanReport
    aborted: bool = False

    def json(self) -> dict[str, Any]:
        """What ``ingest db clean-racing --json`` prints."""
        return {"database": self.database, "total": self.report.total, **msgspec.to_builtins(self.report)}


def clean_racing_database(
    settings: Settings,
    *,
    dry_run: bool,
    on_preview: Callable[[str, CleanReport], None] | None = None,
    confirm: Callable[[str, CleanReport], bool] | None = None,
) -> CleanRun:
    """Delete every racing row of the configured database in one transaction; never user data.

    ``dry_run``: count what would be deleted and which user rows would make a real run refuse (the
    report's ``blockers``); nothing is deleted. Otherwise, with ``confirm`` (a person is asked): the preview
    first (given to ``on_preview`` with the masked URL), :class:`UserDataReferencesRacing` when user data
    references racing rows, ``aborted`` when ``confirm`` says no; without ``confirm`` (``--yes``): the
    deletion at once (refused the same way).
    """
    url = database_url(settings)
    shown = mask_url(url)
    with connect(url, autocommit=True) as conn:
        naming = resolve(conn, settings.database_schema)
        if dry_run or confirm is not None:
            preview = clean_racing(conn, dry_run=True, naming=naming)
            if on_preview is not None:
                on_preview(shown, preview)
            if dry_run:
                return CleanRun(database=shown, report=preview)
            if preview.blockers:
                raise UserDataReferencesRacing(preview.blockers)
            assert confirm is not None
            if not confirm(shown, preview):
                return CleanRun(database=shown, report=preview, aborted=True)
        report = clean_racing(conn, dry_run=False, naming=naming)
    return CleanRun(database=shown, report=report)
