"""Database failures after connecting: every command ends in one line that says what happened and what to do.

Real PostgreSQL faults, never mocks: a database set ``default_transaction_read_only``, a ``statement_timeout``
that fires while a second connection holds the tables locked, and ``pg_terminate_backend`` from a second
connection while the command waits on that lock. The mapping lives in one place (the CLI runner calls
:func:`ingestion.db.connection.translate_database_error` for any psycopg error escaping any command).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from committed import copy_store, openf1_fixture

from ingestion.db import connect, embedded
from ingestion.db.connection import database_name, translate_database_error
from ingestion.errors import DatabaseError

INGEST = Path(sys.executable).with_name("ingest")
SNAPSHOTS = openf1_fixture()  # the committed store's OpenF1 2023 + 2024: fetch --year 2024 asks nothing


def ingest_env(db_url: str, store: Path) -> dict[str, str]:
    ours = ("DATABASE_URL", "OPENF1_", "EMBEDDED_", "SNAPSHOT_DIR")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    # A dead port: a command that asked OpenF1 anything would fail loudly instead of passing by luck.
    return {**clean, "DATABASE_URL": db_url, "SNAPSHOT_DIR": str(store), "OPENF1_BASE_URL": "http://127.0.0.1:9/v1"}


def run_ingest(args: list[str], db_url: str, store: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [str(INGEST), *args] if INGEST.exists() else [sys.executable, "-m", "ingestion", *args]
    return subprocess.run(
        command, cwd=cwd, env=ingest_env(db_url, store), capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed command (exit 1, no traceback)."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert result.returncode == 1, result
    return lines[0]


def set_database(admin_url: str, db_url: str, setting: str, value: str) -> None:
    with connect(admin_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{database_name(db_url)}" SET {setting} = {value}')


@contextlib.contextmanager
def tables_locked(db_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A second connection holding every table of ``public`` in ACCESS EXCLUSIVE mode until the block ends."""
    with connect(db_url) as holder:
        holder.execute("SET statement_timeout = 0")
        tables = [
            str(r[0])
            for r in holder.execute(
                "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            ).fetchall()
        ]
        holder.execute(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
        try:
            yield holder
        finally:
            holder.rollback()


def waiting_backend(admin_url: str, db_url: str, timeout: float = 60.0) -> int:
    """The pid of the backend of ``db_url``'s database that waits on a lock (the command under test)."""
    deadline = time.monotonic() + timeout
    with connect(admin_url, autocommit=True) as admin:
        while time.monotonic() < deadline:
            row = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                (database_name(db_url),),
            ).fetchone()
            if row is not None:
                return int(str(row[0]))
            time.sleep(0.05)
    raise AssertionError("the command never waited on the lock")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    copy = tmp_path / "store"
    copy_store(SNAPSHOTS, copy)
    return copy


#: The commands of the issue, each as a person types it (sync asks OpenF1 nothing: the store is complete).
COMMANDS: dict[str, list[str]] = {
    "replay": ["replay"],
    "verify": ["verify"],
    "db audit": ["db", "audit"],
    "clean-racing": ["db", "clean-racing", "--yes"],
    "sync": ["sync", "--year", "2024"],
    "run": ["run"],
}
WRITERS = ("replay", "clean-racing", "sync", "run")


# --- the mapping itself, on real errors -------------------------------------------------------------------


def test_translate_database_error_statement_timeout(db_url: str) -> None:
    with connect(db_url) as conn, pytest.raises(psycopg.Error) as caught:
        conn.execute("SET statement_timeout = '50ms'")
        conn.execute("SELECT pg_sleep(5)")
    error = translate_database_error(caught.value)
    assert isinstance(error, DatabaseError)
    assert "statement_timeout" in error.message and "nothing was half-written" in error.message
    assert "\n" not in error.message


def test_translate_database_error_read_only(db_url: str) -> None:
    with connect(db_url, autocommit=True) as conn, pytest.raises(psycopg.Error) as caught:
        conn.execute("SET default_transaction_read_only = on")
        conn.execute("CREATE TABLE nope (x int)")
    message = translate_database_error(caught.value).message
    assert "read-only" in message and "default_transaction_read_only" in message
    assert database_name(db_url) in message


def test_translate_database_error_terminated(db_url: str, pg_server_url: str) -> None:
    with connect(db_url) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert pid is not None
        with connect(pg_server_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid[0],))
        with pytest.raises(psycopg.Error) as caught:
            conn.execute("SELECT 1")
    message = translate_database_error(caught.value).message
    assert "lost its connection" in message and "run the same command again" in message


def test_translate_database_error_other_keeps_the_first_line_and_sqlstate(db_url: str) -> None:
    with connect(db_url) as conn, pytest.raises(psycopg.Error) as caught:
        conn.execute("SELECT * FROM no_such_table_xyz")
    message = translate_database_error(caught.value).message
    assert 'relation "no_such_table_xyz" does not exist' in message and "42P01" in message
    assert "ingest db migrate" in message


# --- every command, through the CLI ---------------------------------------------------------------------


@pytest.mark.parametrize("name", WRITERS)
def test_db_errors_read_only_database_is_one_line(
    name: str, db_url: str, pg_server_url: str, store: Path, tmp_path: Path
) -> None:
    """A writing command on a read-only database says so in one line with the fix (was a traceback)."""
    set_database(pg_server_url, db_url, "default_transaction_read_only", "on")
    line = one_line(run_ingest(COMMANDS[name], db_url, store, tmp_path))
    assert "read-only" in line and "DATABASE_URL" in line, line


@pytest.mark.parametrize("name", list(COMMANDS))
def test_db_errors_statement_timeout_is_one_line(
    name: str, db_url: str, pg_server_url: str, store: Path, tmp_path: Path
) -> None:
    """A statement cancelled by ``statement_timeout`` (the tables are locked by another session): one line."""
    set_database(pg_server_url, db_url, "statement_timeout", "'300ms'")
    set_database(pg_server_url, db_url, "lock_timeout", "0")
    with tables_locked(db_url):
        result = run_ingest(COMMANDS[name], db_url, store, tmp_path)
    line = one_line(result)
    assert "statement_timeout" in line or "lock" in line, line


@pytest.mark.reliability("server-side connection kills")
@pytest.mark.parametrize("name", list(COMMANDS))
def test_db_errors_terminated_connection_is_one_line(
    name: str, db_url: str, pg_server_url: str, store: Path, tmp_path: Path
) -> None:
    """``pg_terminate_backend`` of the command's connection while it waits: one line, run it again."""
    command = [str(INGEST), *COMMANDS[name]] if INGEST.exists() else [
        sys.executable, "-m", "ingestion", *COMMANDS[name]
    ]
    with tables_locked(db_url):
        child = subprocess.Popen(
            command, cwd=tmp_path, env=ingest_env(db_url, store), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        )
        try:
            pid = waiting_backend(pg_server_url, db_url)
            with connect(pg_server_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        except BaseException:
            child.kill()
            raise
    out, err = child.communicate(timeout=120)
    line = one_line(subprocess.CompletedProcess(command, child.returncode, out, err))
    assert "connection" in line and "again" in line, line



def test_db_migrate_up_to_date_read_only_database_says_nothing_to_do(
    db_url: str, pg_server_url: str, store: Path, tmp_path: Path
) -> None:
    """``db migrate`` on an up-to-date read-only database writes nothing, so it need not fail (it did)."""
    set_database(pg_server_url, db_url, "default_transaction_read_only", "on")
    result = run_ingest(["db", "migrate"], db_url, store, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("nothing to do"), result.stdout


def test_db_migrate_pending_on_read_only_database_is_one_line(
    empty_db_url: str, pg_server_url: str, store: Path, tmp_path: Path
) -> None:
    """A read-only database with migrations pending: the read-only line (not a failed-migration line)."""
    set_database(pg_server_url, empty_db_url, "default_transaction_read_only", "on")
    line = one_line(run_ingest(["db", "migrate"], empty_db_url, store, tmp_path))
    assert "read-only" in line and "nothing was written" in line, line


@pytest.mark.reliability("server-side connection kills")
def test_translate_database_error_server_restart() -> None:
    """A server restarted under an open connection (the embedded PostgreSQL, in a throwaway data directory
    of its own: the machine's server is shared): the next statement's error is the lost-connection line,
    and a new connection works."""
    root = Path(tempfile.mkdtemp(prefix="pf-restart-", dir="/tmp"))
    pgdata = root / "pgdata"
    try:
        url = embedded.start(pgdata)
        with connect(url) as conn:
            conn.execute("SELECT 1")
            embedded.stop(pgdata)
            embedded.start(pgdata)
            with pytest.raises(psycopg.Error) as caught:
                conn.execute("SELECT 1")
        message = translate_database_error(caught.value).message
        assert "lost its connection" in message and "run the same command again" in message, message
        assert "\n" not in message
        with connect(url) as again:
            assert again.execute("SELECT 1").fetchone() == (1,)
    finally:
        embedded.stop(pgdata)
        shutil.rmtree(root, ignore_errors=True)
