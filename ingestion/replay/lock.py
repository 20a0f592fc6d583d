"""The replay's locks.

- The replay lock: one advisory lock (:data:`LOCK_KEY`) that every replay takes for its transaction, so two
  replays never interleave; a replay finding it taken says who holds it and waits up to ``--wait`` seconds,
  then gives up with :class:`ReplayLocked` (nothing written).
- Every other lock (a row or a table an app transaction holds): :class:`LockWatch` watches the replay's
  backend from a second connection; once it has waited :data:`SAY_AFTER` s it says what it waits for (the
  blocking pid and its query, from ``pg_locks``/``pg_stat_activity``), and after ``--wait`` s it cancels
  the statement: :class:`ReplayBlocked`, nothing written.
- :func:`cancel_on_sigterm`: SIGTERM cancels the statement in the server before the process ends (psycopg
  cancels on the exit it raises), so no backend is left waiting with the replay lock held; and
  :func:`watch_client` asks the server to notice a client that went away without a word (kill -9).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import msgspec
import psycopg

from ingestion.db.connection import advisory_lock_holder
from ingestion.errors import IngestionError
from ingestion.masking import mask_text

__all__ = [
    "DEFAULT_LOCK_WAIT",
    "LOCK_KEY",
    "SAY_AFTER",
    "Blocker",
    "LockWatch",
    "ReplayBlocked",
    "ReplayLocked",
    "cancel_on_sigterm",
    "take_lock",
    "watch_client",
]

log = logging.getLogger("ingestion.replay")

Conn = psycopg.Connection[Any]

#: The advisory lock every replay takes (``PFREPLAY`` in ASCII).
LOCK_KEY = 0x5046_5245_504C_4159
#: Seconds a replay waits for another one's lock by default (``--wait``).
DEFAULT_LOCK_WAIT = 10.0


class ReplayLocked(IngestionError):
    """Another session holds the replay lock (another replay, or a lock taken by hand) for longer than the
    wait: nothing was written."""

    def __init__(self, wait: float, holder: str) -> None:
        super().__init__(
            f"another replay holds the database's replay lock{holder}: waited {wait:g} s, nothing was "
            "written; wait for it to finish (--wait SECONDS) or stop it (SELECT pg_terminate_backend(pid))"
        )
        self.wait = wait


def _lock_holder(conn: Conn) -> str:
    """`` (held by pid N, psql, idle in transaction)``: who holds the replay lock, or ``""``."""
    holder = advisory_lock_holder(conn, LOCK_KEY)
    if holder is None:
        return ""
    details = ", ".join(part for part in (holder.application, holder.state) if part)
    return f" (held by pid {holder.pid}{', ' + details if details else ''})"


def take_lock(conn: Conn, wait: float) -> None:
    """Take the replay lock for this transaction, waiting up to ``wait`` s (said once), else ReplayLocked."""
    try_lock = "SELECT pg_try_advisory_xact_lock(%s)"
    row = conn.execute(try_lock, (LOCK_KEY,)).fetchone()
    if row is not None and row[0]:
        return
    holder = _lock_holder(conn)
    if wait > 0:
        log.warning("waiting up to %g s for the replay lock%s", wait, holder)
    deadline = time.monotonic() + wait
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ReplayLocked(wait, holder or _lock_holder(conn))
        time.sleep(min(0.1, remaining))
        row = conn.execute(try_lock, (LOCK_KEY,)).fetchone()
        if row is not None and row[0]:
            return


#: Seconds a replay waits on a row or table lock before it says what it waits for.
SAY_AFTER = 1.0


class Blocker(msgspec.Struct, frozen=True, kw_only=True):
    """A session the replay's backend waits for, as ``pg_stat_activity`` shows it."""

    pid: int
    application: str | None = None
    state: str | None = None
    query: str = ""

    def describe(self) -> str:
        """``pid 4242 (psql, idle in transaction: LOCK TABLE results)``."""
        details = ", ".join(part for part in (self.application, self.state) if part)
        query = f": {self.query}" if self.query else ""
        return f"pid {self.pid}" + (f" ({details}{query})" if details or query else "")


def blockers(conn: Conn, pid: int) -> list[Blocker]:
    """The sessions backend ``pid`` waits for on a (heavyweight) lock; empty when it waits for none."""
    rows = conn.execute(
        "SELECT b.pid, b.application_name, b.state, left(regexp_replace(b.query, '\\s+', ' ', 'g'), 160) "
        "FROM pg_stat_activity w CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS p(pid) "
        "JOIN pg_stat_activity b ON b.pid = p.pid WHERE w.pid = %s AND w.wait_event_type = 'Lock' "
        "ORDER BY b.pid",
        (pid,),
    ).fetchall()
    return [
        Blocker(
            pid=int(r[0]),
            application=str(r[1]) if r[1] else None,
            state=str(r[2]) if r[2] else None,
            query=mask_text(str(r[3])) if r[3] else "",
        )
        for r in rows
    ]


class ReplayBlocked(IngestionError):
    """The replay waited ``--wait`` seconds on a lock another session holds (an app transaction holding a row
    or a table): its statement was cancelled, nothing was written (exit 1)."""

    def __init__(self, wait: float, holders: list[Blocker]) -> None:
        who = ", ".join(b.describe() for b in holders) or "another session"
        pids = ", ".join(str(b.pid) for b in holders) or "pid"
        super().__init__(
            f"replay waited {wait:g} s for a lock held by {who}: nothing was written; let it finish and "
            f"run the replay again, wait longer (--wait SECONDS), or stop it "
            f"(SELECT pg_terminate_backend({pids}))"
        )
        self.wait = wait
        self.holders = holders


class LockWatch:
    """Watch backend ``pid`` (the replay's) from a connection of its own while the block runs: every
    ``interval`` s, whom it waits for. A wait of :data:`SAY_AFTER` s is said (once per set of blockers,
    through ``say``); a wait of ``wait`` s cancels the backend's statement (``pg_cancel_backend``) and is
    remembered in :attr:`cancelled` (the caller raises :class:`ReplayBlocked`)."""

    def __init__(
        self,
        url: str,
        pid: int,
        wait: float,
        *,
        say: Callable[[str], None] | None = None,
        interval: float = 0.2,
    ) -> None:
        self.url = url
        self.pid = pid
        self.wait = wait
        self.say = say or log.warning
        self.interval = interval
        self.cancelled: list[Blocker] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="replay-lock-watch", daemon=True)

    def __enter__(self) -> LockWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            with psycopg.connect(
                self.url, autocommit=True, connect_timeout=5, application_name="ingest replay (lock watch)"
            ) as conn:
                self._watch(conn)
        except psycopg.Error as exc:  # best effort: the replay itself goes on without a watch
            log.debug("the replay's lock watch stopped: %s", exc)

    def _watch(self, conn: Conn) -> None:
        since: float | None = None
        said: tuple[int, ...] = ()
        while not self._stop.wait(self.interval):
            found = blockers(conn, self.pid)
            if not found:
                since, said = None, ()
                continue
            now = time.monotonic()
            since = now if since is None else since
            waited = now - since
            pids = tuple(b.pid for b in found)
            if waited >= SAY_AFTER and pids != said:
                said = pids
                who = ", ".join(b.describe() for b in found)
                self.say(f"replay waits for a lock held by {who}; waiting up to {self.wait:g} s (--wait)")
            if waited >= self.wait:
                self.cancelled = found
                conn.execute("SELECT pg_cancel_backend(%s)", (self.pid,))
                return


def watch_client(conn: Conn) -> None:
    """Ask the server to check every second, while a statement runs, that this client is still there
    (PostgreSQL 14+, ``client_connection_check_interval``): a replay killed without a word (kill -9) then
    leaves no backend waiting on a lock with the replay lock held."""
    conn.execute(
        "SELECT set_config('client_connection_check_interval', '1000', false) "
        "WHERE current_setting('server_version_num')::int >= 140000"
    )
    if not conn.autocommit:
        conn.commit()  # a setting made in a transaction rolled back would be undone


@contextlib.contextmanager
def cancel_on_sigterm() -> Iterator[None]:
    """While the block runs, SIGTERM raises ``SystemExit(143)`` (in the main thread, when SIGTERM has its
    default action): psycopg then cancels the running statement in the server before the exit goes on, the
    transaction is rolled back and its locks released. Elsewhere (a thread, a handler of the caller's, e.g.
    the watcher's) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def terminate(_signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(143)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
