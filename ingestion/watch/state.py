"""The state file a watcher writes in the store after every pass (read by ``ingest healthcheck``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import msgspec

from ingestion.store import write_atomic

__all__ = ["STATE_FILE", "StateUnreadable", "WatchState", "read_state", "write_state"]

#: The state file a watcher writes in the store after every pass (read by ``ingest healthcheck``).
STATE_FILE = "watch.json"


class WatchState(msgspec.Struct, kw_only=True):
    """What ``watch.json`` holds: when the last pass ended and the last one that succeeded; when f1db was
    last asked and until when GitHub's rate limit holds its asks back."""

    pid: int
    host: str
    started: datetime
    last_pass: datetime | None = None
    last_success: datetime | None = None
    expected_within_s: float = 7200.0  # a pass at least this often (2 x the longest sleep)
    failures: int = 0  # consecutive failed passes
    last_error: str | None = None
    next_wake: datetime | None = None
    # f1db (docs/watch.md, "f1db"): the last ask whatever it answered (a release, a 304, a known tag) and a
    # rate limit's reset: the store's log records releases only, so its cadence across --once runs is here
    f1db_asked: datetime | None = None
    f1db_blocked_until: datetime | None = None


class StateUnreadable(Exception):
    """``watch.json`` exists but is not a watcher's state: truncated, garbage, NUL bytes, a folder..."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{path} is unreadable ({why})")
        self.path = path
        self.why = why


def read_state(store_dir: Path) -> WatchState | None:
    """The state the last watcher wrote in ``store_dir``; None when there is none (no watcher ran here).
    :class:`StateUnreadable` when the file is there but holds no state (a watcher cannot be vouched for)."""
    path = store_dir / STATE_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateUnreadable(path, exc.strerror or str(exc)) from None
    try:
        return msgspec.json.decode(data, type=WatchState)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise StateUnreadable(path, str(exc).splitlines()[0] if str(exc) else "not JSON") from None


def write_state(store_dir: Path, state: WatchState) -> None:
    """Write ``state`` all-or-nothing and durably (the store's :func:`~ingestion.store.write_atomic`:
    temporary file, fsync, rename, folder fsync)."""
    path = store_dir / STATE_FILE
    write_atomic(path, msgspec.json.encode(state) + b"\n", tmp_dir=store_dir, prefix=f".{STATE_FILE}.")
