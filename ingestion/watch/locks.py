"""The watcher's locks: one watcher per store (a file lock) and one per database (a session advisory lock)."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from ingestion.db.connection import advisory_lock_holder, translate_connect_error
from ingestion.errors import IngestionError
from ingestion.instant import format_utc
from ingestion.masking import mask_url
from ingestion.store import StoreLocked, StoreUnwritable
from ingestion.store._files import exclusive_lock

__all__ = ["LOCK_FILE", "WATCH_LOCK_KEY", "DatabaseLock", "WatchLocked", "holder_name", "store_lock"]

#: The file lock that keeps one watcher per store.
LOCK_FILE = "watch.lock"
#: The session advisory lock that keeps one watcher per database (``PFWATCH`` in ASCII).
WATCH_LOCK_KEY = 0x0050_4657_4154_4348


class WatchLocked(IngestionError):
    """Another watcher holds the store or the database (exit 1)."""


def holder_name() -> str:
    return f"ingest watch pid {os.getpid()} on {socket.gethostname()}"


@contextlib.contextmanager
def store_lock(store_dir: Path, since: datetime) -> Iterator[None]:
    """One watcher per store: the store's own exclusive file lock (not waited for) on ``watch.lock``.
    :class:`StoreUnwritable` (one line) when the folder cannot be created or the lock file opened."""
    path = store_dir / LOCK_FILE
    try:
        store_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreUnwritable(store_dir, exc) from None
    try:
        with contextlib.ExitStack() as held:
            try:
                held.enter_context(
                    exclusive_lock(fd, path, 0, f"{holder_name()} since {format_utc(since)}")
                )
            except StoreLocked:
                holder = os.pread(fd, 300, 0).decode("utf-8", "replace").strip() or "another process"
                raise WatchLocked(
                    f"another watcher already watches the store {store_dir}: {holder}; stop it first"
                ) from None
            yield
    finally:
        os.close(fd)


class DatabaseLock:
    """A session advisory lock held on its own connection for the watcher's life (taken when reachable)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: Any = None

    def take(self) -> None:
        if self.conn is not None:
            try:
                self.conn.execute("SELECT 1")  # still our session (a restarted server drops the lock)
                return
            except psycopg.Error:
                self.release()
        try:
            conn = psycopg.connect(
                self.url, autocommit=True, connect_timeout=5, application_name=holder_name()[:63]
            )
        except (psycopg.OperationalError, psycopg.ProgrammingError) as exc:
            raise translate_connect_error(exc, self.url) from None
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (WATCH_LOCK_KEY,)).fetchone()
        if row is not None and row[0]:
            self.conn = conn
            return
        holder = advisory_lock_holder(conn, WATCH_LOCK_KEY)
        conn.close()
        who = "another session"
        if holder is not None:
            since = f"{holder.since:%Y-%m-%dT%H:%M:%S%z}" if holder.since is not None else "?"
            who = f"{holder.application or 'a session'} from {holder.client or 'local'} since {since}"
        raise WatchLocked(f"another watcher already watches the database {mask_url(self.url)}: {who}")

    def release(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None
