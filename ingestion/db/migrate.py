"""Schema migrations: numbered ``.sql`` files inside the package, applied in order, each in its own
transaction, recorded with a sha256 of the file in ``ingestion.schema_migrations``."""

from __future__ import annotations

import hashlib
from datetime import datetime
from importlib import resources

import msgspec
import psycopg

from ingestion.errors import MigrationError

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


def available() -> list[Migration]:
    """The migrations shipped in the package, in order."""
    folder = resources.files("ingestion.db").joinpath("migrations")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [Migration(name=f.name, sql=f.read_text(encoding="utf-8")) for f in files]


def _bookkeeping(conn: psycopg.Connection[tuple[object, ...]]) -> None:
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


def status(conn: psycopg.Connection[tuple[object, ...]]) -> list[MigrationState]:
    """Every shipped migration with whether (and when) it was applied."""
    applied = _applied(conn)
    states = []
    for m in available():
        if m.name in applied:
            checksum, at = applied[m.name]
            states.append(MigrationState(m.name, m.checksum, at, changed=checksum != m.checksum))
        else:
            states.append(MigrationState(m.name, m.checksum, None))
    return states


def migrate(conn: psycopg.Connection[tuple[object, ...]]) -> list[str]:
    """Apply every pending migration in order; return the names applied (empty when up to date).

    Refuses (:class:`MigrationError`) when an applied migration's file has changed since.
    ``conn`` must be in autocommit mode: each migration gets its own transaction.
    """
    if not conn.autocommit:
        raise ValueError("migrate() needs an autocommit connection")
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        with conn.transaction():
            _bookkeeping(conn)
        done: list[str] = []
        for state, migration in zip(status(conn), available(), strict=True):
            if state.changed:
                raise MigrationError(
                    f"migration {state.name} was applied but its file has changed since "
                    "(checksum differs); restore the file and add a new migration instead"
                )
            if state.applied_at is not None:
                continue
            try:
                with conn.transaction():
                    conn.execute(migration.sql)  # type: ignore[arg-type]
                    conn.execute(
                        "INSERT INTO ingestion.schema_migrations (name, checksum) VALUES (%s, %s)",
                        (migration.name, migration.checksum),
                    )
            except psycopg.Error as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise MigrationError(f"migration {migration.name} failed and was rolled back: {first}") from None
            done.append(migration.name)
        return done
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
