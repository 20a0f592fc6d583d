"""The state file a watcher writes in the store after every pass (read by ``ingest healthcheck``)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import msgspec

__all__ = ["STATE_FILE", "WatchState", "read_state", "write_state"]

#: The state file a watcher writes in the store after every pass (read by ``ingest healthcheck``).
STATE_FILE = "watch.json"


class WatchState(msgspec.Struct, kw_only=True):
    """What ``watch.json`` holds: when the last pass ended and the last one that succeeded."""

    pid: int
    host: str
    started: datetime
    last_pass: datetime | None = None
    last_success: datetime | None = None
    expected_within_s: float = 7200.0  # a pass at least this often (2 x the longest sleep)
    failures: int = 0  # consecutive failed passes
    last_error: str | None = None
    next_wake: datetime | None = None


def read_state(store_dir: Path) -> WatchState | None:
    """The state the last watcher wrote in ``store_dir``, or None (no watcher ran, or unreadable)."""
    try:
        return msgspec.json.decode((store_dir / STATE_FILE).read_bytes(), type=WatchState)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None


def write_state(store_dir: Path, state: WatchState) -> None:
    path = store_dir / STATE_FILE
    tmp = path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
    tmp.write_bytes(msgspec.json.encode(state) + b"\n")
    os.replace(tmp, path)
