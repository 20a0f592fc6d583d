"""Which database to use, and connecting to it with errors a person can act on."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import psycopg

from ingestion.config import Settings
from ingestion.errors import (
    DatabaseAuthFailed,
    DatabaseError,
    DatabaseMissing,
    DatabaseUnreachable,
    NotMigrated,
)
from ingestion.secrets import mask_text, mask_url

HINT = "start it with `make up` or set DATABASE_URL"


def database_url(settings: Settings) -> str:
    """The URL in use: ``DATABASE_URL`` when set, else the embedded server (started on demand)."""
    if settings.database_url:
        return settings.database_url
    from ingestion.db import embedded

    return embedded.start(settings.pgdata_dir)


def with_database(url: str, dbname: str) -> str:
    """``url`` pointing at database ``dbname`` instead (query string such as ``?host=`` kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


def database_name(url: str) -> str:
    path = urlsplit(url).path.lstrip("/")
    return path or "postgres"


def _translate(exc: psycopg.OperationalError, url: str) -> DatabaseError:
    text = str(exc)
    shown = mask_url(url)
    missing = re.search(r'database "([^"]+)" does not exist', text)
    if missing:
        return DatabaseMissing(
            f"database {missing.group(1)!r} does not exist on {shown}: create it (createdb) or fix DATABASE_URL"
        )
    if "password authentication failed" in text or "no password supplied" in text:
        return DatabaseAuthFailed(f"the database refused the credentials in {shown}: fix DATABASE_URL")
    if re.search(r'role "[^"]+" does not exist', text):
        return DatabaseAuthFailed(f"the database user in {shown} does not exist: fix DATABASE_URL")
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    first = mask_text(lines[0].removeprefix("connection failed: ") if lines else "no answer")
    return DatabaseUnreachable(f"cannot reach the database at {shown} ({first}): {HINT}")


def connect(url: str, *, autocommit: bool = False, connect_timeout: int = 5) -> psycopg.Connection[tuple[object, ...]]:
    """Open a connection, turning psycopg's failures into one-line :class:`DatabaseError`\\ s."""
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=connect_timeout)
    except psycopg.OperationalError as exc:
        raise _translate(exc, url) from None
    except psycopg.ProgrammingError as exc:  # malformed URL
        raise DatabaseUnreachable(f"DATABASE_URL is not a usable connection string ({mask_text(str(exc))})") from None


REQUIRED_INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("sessions", "sessions.open_f1_session_key", ("open_f1_session_key",)),
    ("entrants", "entrants (round_id, driver_id, team_id)", ("round_id", "driver_id", "team_id")),
)


def missing_unique_indexes(conn: psycopg.Connection[tuple[object, ...]]) -> list[str]:
    """The unique indexes every re-sync upserts on that this database lacks (tables included)."""
    missing = []
    for table, label, columns in REQUIRED_INDEXES:
        row = conn.execute(
            """
            SELECT 1 FROM pg_index i
            JOIN pg_class t ON t.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE n.nspname = 'public' AND t.relname = %s AND i.indisunique
              AND (SELECT array_agg(a.attname::text ORDER BY k.ord)
                   FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) = %s::text[]
            """,
            (table, list(columns)),
        ).fetchone()
        if row is None:
            missing.append(label)
    return missing


def require_schema(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Raise :class:`NotMigrated` unless the racing tables and their required unique indexes exist."""
    missing = missing_unique_indexes(conn)
    if missing:
        raise NotMigrated(f"the database lacks {', '.join(missing)}: run `ingest db migrate`")
