"""``ingest db ...`` as a person runs it (a real subprocess), and the one-line connection errors behind it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from ingestion.db import connect, migrate
from ingestion.db.connection import translate_connect_error, translated, with_database
from ingestion.errors import DatabaseAuthFailed, DatabaseError, DatabaseMissing, DatabaseUnreachable
from ingestion.masking import MASK

INGEST = Path(sys.executable).with_name("ingest")
SECRET = "s3cretpw"
UNREACHABLE = "postgresql://nobody@127.0.0.1:1/x"


def ingest(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``ingest`` with only ``env`` set among the project's variables, in ``cwd`` (no stray .env)."""
    ours = ("DATABASE_URL", "OPENF1_", "EMBEDDED_", "SNAPSHOT_DIR")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    command = [str(INGEST)] if INGEST.exists() else [sys.executable, "-m", "ingestion"]
    return subprocess.run(
        [*command, *args], cwd=cwd, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The failure's single stderr line (asserting non-zero exit, nothing else printed, no traceback)."""
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    return lines[0]


def test_db_cli_help(tmp_path: Path) -> None:
    """``ingest --help`` and ``python -m ingestion --help`` show the same CLI, with the db group."""
    result = ingest("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "db" in result.stdout
    module = subprocess.run(
        [sys.executable, "-m", "ingestion", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert module.returncode == 0
    assert module.stdout.replace("python -m ingestion", "ingest") == result.stdout.replace(
        "python -m ingestion", "ingest"
    )
    db_help = ingest("db", "--help", cwd=tmp_path)
    assert db_help.returncode == 0
    for command in ("migrate", "status", "url", "up", "down"):
        assert command in db_help.stdout


def test_db_cli_migrate_then_nothing_to_do(tmp_path: Path, empty_db_url: str) -> None:
    """``ingest db migrate`` applies the pending migrations; run again, it has nothing to do."""
    first = ingest("db", "migrate", cwd=tmp_path, DATABASE_URL=empty_db_url)
    assert first.returncode == 0, first.stderr
    assert "applied 0001_racing_schema.sql" in first.stdout
    assert "applied 0002_ingestion_keys.sql" in first.stdout
    assert "applied 0003_result_provenance.sql" in first.stdout
    second = ingest("db", "migrate", cwd=tmp_path, DATABASE_URL=empty_db_url)
    assert second.returncode == 0, second.stderr
    assert "nothing to do" in second.stdout
    assert "applied 0001" not in second.stdout


def test_db_cli_status_lists_applied_and_pending(tmp_path: Path, empty_db_url: str) -> None:
    """``ingest db status`` lists every migration as pending, then as applied after a migrate."""
    before = ingest("db", "status", cwd=tmp_path, DATABASE_URL=empty_db_url)
    assert before.returncode == 0, before.stderr
    assert "0001_racing_schema.sql" in before.stdout and "pending" in before.stdout
    assert "0 applied, 3 pending" in before.stdout
    with connect(empty_db_url, autocommit=True) as conn:
        migrate(conn)
    after = ingest("db", "status", cwd=tmp_path, DATABASE_URL=empty_db_url)
    assert after.returncode == 0, after.stderr
    assert "3 applied, 0 pending" in after.stdout


def test_db_cli_migrate_refuses_changed_migration(tmp_path: Path, db_url: str) -> None:
    """An edited applied migration makes ``ingest db migrate`` fail with one line; status marks it."""
    with connect(db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE ingestion.schema_migrations SET checksum = 'x' WHERE name = %s",
            ("0002_ingestion_keys.sql",),
        )
    line = one_line_error(ingest("db", "migrate", cwd=tmp_path, DATABASE_URL=db_url))
    assert line.startswith("error: migration 0002_ingestion_keys.sql was applied but its file has changed")
    status = ingest("db", "status", cwd=tmp_path, DATABASE_URL=db_url)
    assert "CHANGED" in status.stdout


def test_db_cli_status_shows_unknown_migration(tmp_path: Path, db_url: str) -> None:
    """``ingest db status`` shows a migration the database records but this package does not ship."""
    with connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO ingestion.schema_migrations (name, checksum) VALUES (%s, 'x')", ("9999_future.sql",)
        )
    result = ingest("db", "status", cwd=tmp_path, DATABASE_URL=db_url)
    assert result.returncode == 0, result.stderr
    assert "9999_future.sql" in result.stdout and "not shipped" in result.stdout
    line = one_line_error(ingest("db", "migrate", cwd=tmp_path, DATABASE_URL=db_url))
    assert "9999_future.sql" in line


def test_db_cli_url_masks_password(tmp_path: Path) -> None:
    """``ingest db url`` prints the URL in use with its password masked."""
    result = ingest("db", "url", cwd=tmp_path, DATABASE_URL=f"postgresql://u:{SECRET}@127.0.0.1:1/x")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"postgresql://u:{MASK}@127.0.0.1:1/x"


def test_db_cli_url_of_test_database(tmp_path: Path, db_url: str) -> None:
    """``ingest db url`` prints DATABASE_URL when it is set (no password: unchanged)."""
    result = ingest("db", "url", cwd=tmp_path, DATABASE_URL=db_url)
    assert result.stdout.strip() == db_url


def test_db_cli_unreachable_is_one_line(tmp_path: Path) -> None:
    """An unreachable database: one line saying so and what to do, a non-zero exit, no traceback."""
    line = one_line_error(ingest("db", "migrate", cwd=tmp_path, DATABASE_URL=UNREACHABLE))
    assert line.startswith(f"error: cannot reach the database at {UNREACHABLE}")
    # DATABASE_URL names a server elsewhere: `make up` would not start it, so it is not suggested
    assert line.endswith("is a PostgreSQL server running at 127.0.0.1:1? start it, or fix DATABASE_URL")
    assert "make up" not in line


@pytest.mark.parametrize("command", ["migrate", "status", "url", "up"])
def test_db_cli_never_prints_password(tmp_path: Path, command: str) -> None:
    """Whatever the command and outcome, the password in DATABASE_URL is never printed."""
    result = ingest("db", command, cwd=tmp_path, DATABASE_URL=f"postgresql://u:{SECRET}@127.0.0.1:1/x")
    assert SECRET not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_db_cli_malformed_url_masks_echoed_password(tmp_path: Path) -> None:
    """libpq echoes a malformed password token; the one-line error masks it."""
    line = one_line_error(
        ingest("db", "status", cwd=tmp_path, DATABASE_URL=f"postgresql://u:%zz{SECRET}@127.0.0.1/x")
    )
    assert SECRET not in line
    assert "not a usable connection string" in line


@pytest.mark.parametrize(
    "url", [f"postgresql://u:{SECRET}@127.0.0.1:99999/x", f"postgresql://u:{SECRET}@127.0.0.1:port/x"]
)
def test_db_cli_unusable_url_message(url: str) -> None:
    """A URL libpq rejects (a bad port) says the URL is unusable, not that the server is down."""
    with pytest.raises(DatabaseUnreachable) as caught:
        connect(url)
    message = str(caught.value)
    assert message.startswith("DATABASE_URL is not a usable connection string (")
    assert message.endswith("fix DATABASE_URL")
    assert SECRET not in message


def test_db_cli_bad_database_url_is_usage_error(tmp_path: Path) -> None:
    """A DATABASE_URL that is not postgresql:// is a configuration error (exit 2) naming the variable."""
    result = ingest("db", "url", cwd=tmp_path, DATABASE_URL=f"mysql://u:{SECRET}@h/x")
    line = one_line_error(result)
    assert result.returncode == 2
    assert line.startswith("error: DATABASE_URL: ")
    assert SECRET not in line


def test_db_cli_up_with_database_url(tmp_path: Path) -> None:
    """``ingest db up`` with DATABASE_URL set says which database is in use and starts nothing."""
    pgdata = tmp_path / "pgdata"
    url = f"postgresql://u:{SECRET}@127.0.0.1:1/x"
    result = ingest("db", "up", cwd=tmp_path, DATABASE_URL=url, EMBEDDED_PGDATA=str(pgdata))
    assert result.returncode == 0, result.stderr
    assert f"postgresql://u:{MASK}@127.0.0.1:1/x" in result.stdout
    assert not pgdata.exists()


def test_db_cli_down_when_not_running(tmp_path: Path) -> None:
    """``ingest db down`` with no embedded server running says so and succeeds."""
    result = ingest("db", "down", cwd=tmp_path, EMBEDDED_PGDATA=str(tmp_path / "pgdata"))
    assert result.returncode == 0, result.stderr
    assert "not running" in result.stdout


def test_db_cli_dotenv_in_working_directory(tmp_path: Path) -> None:
    """The CLI reads ``.env`` in its working directory."""
    dotenv = f"DATABASE_URL=postgresql://dotenv:{SECRET}@127.0.0.1:1/x\n"
    (tmp_path / ".env").write_text(dotenv, encoding="utf-8")
    result = ingest("db", "url", cwd=tmp_path)
    assert result.stdout.strip() == f"postgresql://dotenv:{MASK}@127.0.0.1:1/x"


# The translation of real psycopg errors, on whichever server the tests use.


def _as_user(url: str, user: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.netloc.rpartition('@')[2]}"))


def test_db_cli_missing_database_message(pg_server_url: str) -> None:
    """Connecting to a database that does not exist says which, and how to fix it."""
    url = with_database(pg_server_url, "does_not_exist_xyz")
    with pytest.raises(DatabaseMissing) as caught:
        connect(url)
    message = str(caught.value)
    assert message.startswith("database 'does_not_exist_xyz' does not exist on ")
    assert message.endswith("create it (createdb) or fix DATABASE_URL")
    assert "\n" not in message


def test_db_cli_unknown_user_message(pg_server_url: str) -> None:
    """Connecting as a user the server does not know is an authentication error, password masked."""
    url = _as_user(pg_server_url, f"nobody_xyz:{SECRET}")
    with pytest.raises(DatabaseAuthFailed) as caught:
        connect(url)
    message = str(caught.value)
    assert "does not exist: fix DATABASE_URL" in message
    assert SECRET not in message and MASK in message


def test_db_cli_refused_connection_message() -> None:
    """A port nobody listens on: DatabaseUnreachable, naming the URL and how to start a database."""
    with pytest.raises(DatabaseUnreachable) as caught:
        connect(f"postgresql://u:{SECRET}@127.0.0.1:1/x")
    message = str(caught.value)
    assert message.startswith(f"cannot reach the database at postgresql://u:{MASK}@127.0.0.1:1/x (")
    assert message.endswith("is a PostgreSQL server running at 127.0.0.1:1? start it, or fix DATABASE_URL")
    assert SECRET not in message and "\n" not in message


def test_db_cli_refused_embedded_socket_suggests_make_up() -> None:
    """A Unix socket URL (the embedded server's shape) that nothing answers: `make up` starts it."""
    with pytest.raises(DatabaseUnreachable) as caught:
        connect("postgresql://postgres@/postgres?host=/nonexistent-pf-socket-dir")
    assert str(caught.value).endswith("start it with `make up` or set DATABASE_URL")


@pytest.mark.parametrize(
    ("server_says", "kind", "advice"),
    [
        (
            'connection failed: connection to server at "10.0.0.5", port 5432 failed: '
            'FATAL:  password authentication failed for user "parc"',
            DatabaseAuthFailed,
            "refused the credentials",
        ),
        (
            'connection failed: connection to server at "10.0.0.5", port 5432 failed: '
            "fe_sendauth: no password supplied",
            DatabaseAuthFailed,
            "refused the credentials",
        ),
        (
            'connection failed: FATAL:  role "parc" does not exist',
            DatabaseAuthFailed,
            "user in",
        ),
        (
            'connection failed: FATAL:  database "parc" does not exist',
            DatabaseMissing,
            "database 'parc' does not exist",
        ),
        (
            "connection failed: connection to server at \"10.0.0.5\", port 5432 failed: timeout expired\n"
            "Multiple connection attempts failed. All failures were:\n- host: '10.0.0.5'",
            DatabaseUnreachable,
            "timeout expired): is a PostgreSQL server running at 10.0.0.5:5432? start it",
        ),
        (
            f'connection failed: could not connect to postgresql://parc:{SECRET}@10.0.0.5/parc: refused',
            DatabaseUnreachable,
            "running at 10.0.0.5:5432?",
        ),
    ],
)
def test_db_cli_message_mapping(server_says: str, kind: type[Exception], advice: str) -> None:
    """Each kind of failure psycopg reports maps to its error type, one line, advice included, masked."""
    url = f"postgresql://parc:{SECRET}@10.0.0.5:5432/parc"
    error = translate_connect_error(psycopg.OperationalError(server_says), url)
    assert type(error) is kind
    assert advice in error.message
    assert "\n" not in error.message
    assert SECRET not in error.message
    assert f"postgresql://parc:{MASK}@10.0.0.5:5432/parc" in error.message


def test_db_cli_translated_query_failure(db_url: str) -> None:
    """A psycopg error during a command becomes one DatabaseError line naming the (masked) database."""
    with pytest.raises(DatabaseError) as caught, translated(db_url), connect(db_url) as conn:
        conn.execute("SELECT * FROM no_such_table_xyz")
    message = str(caught.value)
    assert message.startswith("the database at ")
    assert 'relation "no_such_table_xyz" does not exist' in message
    assert "\n" not in message
