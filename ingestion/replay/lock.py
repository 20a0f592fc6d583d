"""The replay lock: one advisory lock (:data:`LOCK_KEY`) that every replay takes for its transaction, so two
replays never interleave; a replay finding it taken says who holds it and waits up to ``--wait`` seconds,
then gives up with :class:`ReplayLocked` (nothing written)."""

from __future__ import annotations

import logging
import time
from typing import Any

import psycopg

from ingestion.db.connection import advisory_lock_holder
from ingestion.errors import IngestionError

__all__ = ["DEFAULT_LOCK_WAIT", "LOCK_KEY", "ReplayLocked", "take_lock"]

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
