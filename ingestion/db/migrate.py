"""Schema migrations: numbered ``.sql`` files inside the package, applied in order, each in its own
transaction, recorded with a sha256 of the file in ``ingestion.schema_migrations``.

One set per naming (:mod:`ingestion.db.naming`): ``migrations/`` creates our snake_case racing tables;
``migrations_ef/`` is all a database holding the app's own (EF Core) schema gets: schema ``ingestion`` only.
The app's tables are never created nor changed here: that is ``dotnet ef database update``'s job."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from datetime import datetime
from importlib import resources

import msgspec
import psycopg

from ingestion.db.naming import Kind, Naming, detect, resolve
from ingestion.errors import MigrationError, NotMigrated

_LOCK_KEY = 0x70617263  # 'parc': serialises concurrent `db migrate` runs


class Migration(msgspec.Struct, frozen=True):
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


class MigrationState(msgspec.Struct, frozen=True):
    name: str
    checksum: str
    applied_at: datetime | None  # None: pending
    changed: bool = False  # applied, but the file has changed since


#: Where each naming's migrations are, inside the package.
FOLDERS: dict[Kind, str] = {"snake": "migrations", "ef": "migrations_ef"}
#: What to do on a database that should hold the app's schema but does not.
APP_MIGRATIONS = "run the app's migrations first (dotnet ef database update)"


def available(kind: Kind = "snake") -> list[Migration]:
    """The migrations shipped in the package for naming ``kind``, in order."""
    folder = resources.files("ingestion.db").joinpath(FOLDERS[kind])
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [Migration(name=f.name, sql=f.read_text(encoding="utf-8")) for f in files]


def _bookkeeping(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Create the bookkeeping table when missing (only then: an up-to-date read-only database is fine)."""
    exists = conn.execute("SELECT to_regclass('ingestion.schema_migrations')").fetchone()
    if exists is not None and exists[0] is not None:
        return
    conn.execute("CREATE SCHEMA IF NOT EXISTS ingestion")
    conn.execute(
        """CREATE TABLE IF NOT EXISTS ingestion.schema_migrations (
               name text PRIMARY KEY,
               checksum text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )


def _applied(conn: psycopg.Connection[tuple[object, ...]]) -> dict[str, tuple[str, datetime]]:
    exists = conn.execute("SELECT to_regclass('ingestion.schema_migrations')").fetchone()
    if exists is None or exists[0] is None:
        return {}
    rows = conn.execute("SELECT name, checksum, applied_at FROM ingestion.schema_migrations").fetchall()
    return {str(name): (str(checksum), applied_at) for name, checksum, applied_at in rows}  # type: ignore[misc]


def _shipped(
    conn: psycopg.Connection[tuple[object, ...]],
    migrations: Sequence[Migration] | None,
    naming: Naming | None,
) -> list[Migration]:
    if migrations is not None:
        return list(migrations)
    return available((naming or resolve(conn)).kind)


def status(
    conn: psycopg.Connection[tuple[object, ...]],
    *,
    migrations: Sequence[Migration] | None = None,
    naming: Naming | None = None,
) -> list[MigrationState]:
    """Every shipped migration of the database's naming (or each of ``migrations``) with whether (and
    when) it was applied."""
    applied = _applied(conn)
    states = []
    for m in _shipped(conn, migrations, naming):
        if m.name in applied:
            checksum, at = applied[m.name]
            states.append(MigrationState(m.name, m.checksum, at, changed=checksum != m.checksum))
        else:
            states.append(MigrationState(m.name, m.checksum, None))
    return states


def unknown(
    conn: psycopg.Connection[tuple[object, ...]],
    *,
    migrations: Sequence[Migration] | None = None,
    naming: Naming | None = None,
) -> list[str]:
    """Migrations recorded as applied in this database that this package does not ship (sorted)."""
    names = {m.name for m in _shipped(conn, migrations, naming)}
    return sorted(set(_applied(conn)) - names)


def _has_snake_tables(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    row = conn.execute("SELECT to_regclass('public.sessions') IS NOT NULL").fetchone()
    return bool(row and row[0])


def migrate(
    conn: psycopg.Connection[tuple[object, ...]],
    *,
    migrations: Sequence[Migration] | None = None,
    naming: Naming | None = None,
) -> list[str]:
    """Apply every pending migration in order; return the names applied (empty when up to date).

    Refuses (:class:`MigrationError`, nothing applied) when an applied migration's file has changed since,
    or when the database records a migration this package does not ship (renamed, or a newer ingester).
    ``conn`` must be in autocommit mode: each migration gets its own transaction. ``migrations`` replaces
    the shipped ones (tests). ``naming`` (default: :func:`~ingestion.db.naming.resolve`) picks the set; on
    ``ef`` the app's tables must exist (:class:`NotMigrated` otherwise: run the app's migrations first).
    """
    naming = naming or resolve(conn)
    found = detect(conn)
    if naming.kind == "ef" and found != "ef":
        raise NotMigrated(
            'the database lacks the app\'s tables ("Sessions"...): '
            + APP_MIGRATIONS
        )
    if naming.kind == "snake" and found == "ef" and not _has_snake_tables(conn):
        raise MigrationError(
            'the database holds the app\'s tables ("Sessions"...): the ingester never creates its own tables '
            "in the app's public schema; unset DATABASE_SCHEMA (auto) or set it to ef; nothing was applied"
        )
    shipped = _shipped(conn, migrations, naming)
    names = [m.name for m in shipped]
    if names != sorted(names) or len(set(names)) != len(names):
        raise ValueError("migrations must be uniquely named and sorted by name")
    if not conn.autocommit:
        raise ValueError("migrate() needs an autocommit connection")
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        with conn.transaction():
            _bookkeeping(conn)
        states = status(conn, migrations=shipped)
        changed = [s.name for s in states if s.changed]
        if changed:
            raise MigrationError(
                f"migration {changed[0]} was applied but its file has changed since (checksum differs): "
                "restore the file and add a new migration instead; nothing was applied"
            )
        strangers = unknown(conn, migrations=shipped)
        if strangers:
            raise MigrationError(
                f"the database records migration {strangers[0]}, which this package does not ship "
                "(renamed, or applied by a newer ingester); nothing was applied"
            )
        done: list[str] = []
        for state, migration in zip(states, shipped, strict=True):
            if state.applied_at is not None:
                continue
            try:
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO ingestion.schema_migrations (name, checksum) VALUES (%s, %s)",
                        (migration.name, migration.checksum),
                    )
            except psycopg.Error as exc:
                if isinstance(exc, psycopg.OperationalError) or exc.sqlstate == "25006":
                    raise  # the database's state (read-only, timeout, lost connection), not the migration's
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise MigrationError(
                    f"migration {migration.name} failed and was rolled back: {first}"
                ) from None
            done.append(migration.name)
        return done
    finally:
        if not conn.broken:  # a lost connection has dropped the lock already; keep the first error
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
