"""Which database to use, and connecting to it with errors a person can act on."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import msgspec
import psycopg

from ingestion.config import Settings
from ingestion.db import embedded
from ingestion.db.migrate import APP_MIGRATIONS, status
from ingestion.db.naming import Naming, detect, resolve
from ingestion.errors import (
    DatabaseAuthFailed,
    DatabaseConnectionLost,
    DatabaseError,
    DatabaseMissing,
    DatabaseReadOnly,
    DatabaseTimeout,
    DatabaseUnreachable,
    NotMigrated,
)
from ingestion.masking import mask_text, mask_url, url_secrets

HINT = "start it with `make up` or set DATABASE_URL"
UNUSABLE = "DATABASE_URL is not a usable connection string"


def database_url(settings: Settings) -> str:
    """The URL in use: ``DATABASE_URL`` when set, else the embedded server (started on demand)."""
    if settings.database_url:
        return settings.database_url
    return embedded.start(settings.pgdata_dir)


def with_database(url: str, dbname: str) -> str:
    """``url`` pointing at database ``dbname`` instead (query string such as ``?host=`` kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


def database_name(url: str) -> str:
    path = urlsplit(url).path.lstrip("/")
    return path or "postgres"


def translate_connect_error(exc: psycopg.Error, url: str) -> DatabaseError:
    """The one-line :class:`DatabaseError` for a failure to connect to ``url``: which problem, what to do.

    psycopg's messages can echo parts of the URL (a malformed password token, say), so everything shown is
    masked against every form of ``url``'s password.
    """
    secrets = url_secrets(url)
    text = str(exc)
    shown = mask_url(url)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    first = lines[0].removeprefix("connection failed: ").removeprefix("connection is bad: ") if lines else ""
    first = mask_text(first or type(exc).__name__, *secrets)
    if isinstance(exc, psycopg.ProgrammingError):  # libpq could not parse the URL
        return DatabaseUnreachable(f"{UNUSABLE} ({first}): fix DATABASE_URL")
    missing = re.search(r'database "([^"]+)" does not exist', text)
    if missing:
        name = mask_text(missing.group(1), *secrets)
        return DatabaseMissing(
            f"database {name!r} does not exist on {shown}: create it (createdb) or fix DATABASE_URL"
        )
    if "password authentication failed" in text or "no password supplied" in text:
        return DatabaseAuthFailed(f"the database refused the credentials in {shown}: fix DATABASE_URL")
    if re.search(r'role "[^"]+" does not exist', text):
        return DatabaseAuthFailed(f"the database user in {shown} does not exist: fix DATABASE_URL")
    unusable = ("connection option", "value", "port number")
    if first.startswith("invalid ") and any(w in first for w in unusable):
        return DatabaseUnreachable(f"{UNUSABLE} ({first}): fix DATABASE_URL")
    return DatabaseUnreachable(f"cannot reach the database at {shown} ({first}): {unreachable_hint(url)}")


def unreachable_hint(url: str) -> str:
    """What to do when nothing answers at ``url``: a server on a network address is started (or named)
    by whoever set DATABASE_URL, `make up` would not start it; a Unix socket is the embedded server's."""
    parts = urlsplit(url)
    try:
        host, port = parts.hostname, parts.port or 5432
    except ValueError:
        host, port = parts.hostname, 5432
    if host:
        return f"is a PostgreSQL server running at {host}:{port}? start it, or fix DATABASE_URL"
    return HINT


_translate = translate_connect_error  # the name this module used first


def connect(
    url: str, *, autocommit: bool = False, connect_timeout: int = 5
) -> psycopg.Connection[tuple[object, ...]]:
    """Open a connection, turning psycopg's failures into one-line :class:`DatabaseError`\\ s."""
    try:
        conn = psycopg.connect(url, autocommit=autocommit, connect_timeout=connect_timeout)
    except (psycopg.OperationalError, psycopg.ProgrammingError) as exc:
        raise translate_connect_error(exc, url) from None
    _connected[:] = [mask_url(url)]
    return conn


#: What a person does about a database failure, by SQLSTATE class or code (see translate_database_error).
_AGAIN = "nothing was half-written: run the same command again"


#: The (masked) URL this process last connected to: where a failure after connecting happened.
_connected: list[str] = []


def _where() -> str:
    """``the database <masked URL>`` this process last connected to (psycopg's errors after connecting do
    not say), or ``the database`` before any connection."""
    return f"the database at {_connected[-1]}" if _connected else "the database"


def translate_database_error(exc: psycopg.Error) -> DatabaseError:
    """The one-line :class:`DatabaseError` for any psycopg error after connecting: what happened, where,
    and what to do. The one place every command's database failures go through (the CLI runner calls it
    for whatever psycopg error escapes a command), so no command ends in a traceback.

    Writes are all-or-nothing everywhere (one transaction per replay, migration and clean-up), so a failure
    never leaves half a write behind; the messages say so where a person would wonder.
    """
    state = getattr(exc, "sqlstate", None) or ""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    first = mask_text(lines[0] if lines else type(exc).__name__)
    where = _where()
    if state == "57014" and "statement timeout" in first:
        return DatabaseTimeout(
            f"{where} cancelled a statement that ran past its statement_timeout; {_AGAIN} when the database "
            "is less busy, or raise statement_timeout for this role (ALTER ROLE ... SET statement_timeout)"
        )
    if state == "55P03" or (state == "57014" and "lock timeout" in first):
        return DatabaseTimeout(
            f"{where} gave up waiting for a lock another session holds (lock_timeout); {_AGAIN} once that "
            "session has finished (see pg_stat_activity)"
        )
    if state == "57014":
        return DatabaseTimeout(f"{where} cancelled a statement ({first}); {_AGAIN}")
    if state == "25006":
        return DatabaseReadOnly(
            f"{where} is read-only (a standby, or default_transaction_read_only is on); nothing was "
            "written: point DATABASE_URL at a writable primary, or ALTER DATABASE ... SET "
            "default_transaction_read_only = off"
        )
    if state in ("57P01", "57P02") or state.startswith("08") or (
        isinstance(exc, psycopg.OperationalError) and not state
    ):
        return DatabaseConnectionLost(
            f"{where} lost its connection mid-command (terminated by an administrator, or the server "
            f"restarted or crashed: {first}); {_AGAIN} once the server is up"
        )
    if state == "57P03":
        return DatabaseConnectionLost(f"{where} is starting up or shutting down ({first}); {_AGAIN} shortly")
    if state.startswith("53"):
        return DatabaseError(
            f"{where} ran out of resources ({first}, SQLSTATE {state}); {_AGAIN} after freeing disk, memory "
            "or connections on the server"
        )
    if state in ("40001", "40P01"):
        return DatabaseError(f"{where} aborted the transaction ({first}); {_AGAIN}")
    if state == "42501":
        return DatabaseError(
            f"{where} refused a permission ({first}): use a database user that owns the schema "
            "(DATABASE_URL), or GRANT it"
        )
    if state.startswith("42"):
        return NotMigrated(
            f"{where} does not have the schema this version expects ({first}, SQLSTATE {state}): "
            "run `ingest db migrate`"
        )
    detail = f"{first}, SQLSTATE {state}" if state else first
    return DatabaseError(f"{where} failed ({detail}); {_AGAIN}, and report it if it fails the same way")


@contextlib.contextmanager
def translated(url: str) -> Iterator[None]:
    """Turn any psycopg error escaping the block into its one-line :class:`DatabaseError`
    (:func:`translate_database_error`; :func:`connect` translates failures to connect to ``url`` itself)."""
    try:
        yield
    except psycopg.Error as exc:
        raise translate_database_error(exc) from None


REQUIRED_INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("sessions", "sessions.open_f1_session_key", ("open_f1_session_key",)),
    ("entrants", "entrants (round_id, driver_id, team_id)", ("round_id", "driver_id", "team_id")),
)
#: On the app's database (ef naming) only the session key is required: replay upserts on ids and adopts
#: rows by natural keys, so the entrants index the app lacks is a warning (healthcheck), not a requirement.
REQUIRED_INDEXES_EF: tuple[tuple[str, str, tuple[str, ...]], ...] = REQUIRED_INDEXES[:1]


class LockHolder(msgspec.Struct, frozen=True, kw_only=True):
    """The session holding an advisory lock in this database, as ``pg_stat_activity`` shows it."""

    pid: int
    application: str | None
    client: str | None
    since: datetime | None
    state: str | None


def advisory_lock_holder(conn: psycopg.Connection[tuple[object, ...]], key: int) -> LockHolder | None:
    """Who holds the session- or transaction-level advisory lock ``key`` (a signed 64-bit key) in the
    connection's database, or ``None``. Advisory locks are per database: a holder of the same key in another
    database of the same server is not this one's."""
    row = conn.execute(
        "SELECT l.pid, a.application_name, a.client_addr::text, a.backend_start, a.state FROM pg_locks l "
        "LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND l.classid::bigint = %s AND l.objid::bigint = %s LIMIT 1",
        ((key >> 32) & 0xFFFF_FFFF, key & 0xFFFF_FFFF),
    ).fetchone()
    if row is None:
        return None
    pid, application, client, since, state = row
    assert isinstance(pid, int)
    return LockHolder(
        pid=pid,
        application=str(application) if application else None,
        client=str(client) if client else None,
        since=since if isinstance(since, datetime) else None,
        state=str(state) if state else None,
    )


def required_indexes(naming: Naming) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """(model table, label, model columns) of the unique indexes the pipeline requires on ``naming``."""
    return REQUIRED_INDEXES_EF if naming.kind == "ef" else REQUIRED_INDEXES


def has_unique_index(
    conn: psycopg.Connection[tuple[object, ...]], naming: Naming, table: str, columns: Sequence[str]
) -> bool:
    """Whether model ``table`` has a valid, whole-table, plain-column unique index on exactly ``columns``."""
    row = conn.execute(
        """
        SELECT 1 FROM pg_index i
        JOIN pg_class t ON t.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = %s AND t.relname = %s AND i.indisunique AND i.indisvalid
          AND i.indpred IS NULL AND i.indexprs IS NULL
          AND (SELECT array_agg(a.attname::text ORDER BY k.ord)
               FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) = %s::text[]
        """,
        (naming.schema, naming.table(table), [naming.column(table, c) for c in columns]),
    ).fetchone()
    return row is not None


def missing_unique_indexes(
    conn: psycopg.Connection[tuple[object, ...]], naming: Naming | None = None
) -> list[str]:
    """The unique indexes every re-sync upserts on that this database lacks (tables included).

    Only a valid, whole-table, plain-column unique index counts: ``ON CONFLICT (cols)`` can infer no other.
    """
    naming = naming or resolve(conn)
    missing = []
    for table, label, columns in required_indexes(naming):
        if not has_unique_index(conn, naming, table, columns):
            missing.append(label if naming.kind == "snake" else ef_label(naming, table, columns))
    return missing


def ef_label(naming: Naming, table: str, columns: Sequence[str]) -> str:
    """``"Sessions" ("OpenF1SessionKey")``: a unique index as the app's database names it."""
    cols = ", ".join(f'"{naming.column(table, c)}"' for c in columns)
    return f'"{naming.table(table)}" ({cols})'


def require_schema(conn: psycopg.Connection[tuple[object, ...]], naming: Naming | None = None) -> Naming:
    """Raise :class:`NotMigrated` unless the racing tables and their required unique indexes exist and no
    shipped migration is pending (when this database keeps our bookkeeping; always on an ``ef`` database).

    Returns the database's naming (``naming``, default :func:`~ingestion.db.naming.resolve`).
    """
    naming = naming or resolve(conn)
    if naming.kind == "ef" and detect(conn) != "ef":
        raise NotMigrated(
            'the database lacks the app\'s tables ("Sessions"...): '
            + APP_MIGRATIONS
        )
    missing = missing_unique_indexes(conn, naming)
    if missing:
        fix = "run `ingest db migrate`" if naming.kind == "snake" else "restore it (see `ingest healthcheck`)"
        raise NotMigrated(f"the database lacks {', '.join(missing)}: {fix}")
    states = status(conn, naming=naming)
    if naming.kind == "ef" or any(s.applied_at is not None for s in states):
        pending = [s.name for s in states if s.applied_at is None]
        if pending:
            names = ", ".join(pending)
            raise NotMigrated(f"the database has pending migrations ({names}): run `ingest db migrate`")
    return naming
