"""What the watcher says: one Struct per event, one JSON line each (``ingest watch``'s log).

Every event has ``at`` (when, ISO-8601 UTC) and ``event`` (its kind) first, then its own fields, so a line
reads ``{"at":"2024-12-08T15:30:00Z","event":"wake"}``. The loop (:mod:`ingestion.watch.loop`) makes
them; the CLI writes them as JSON lines and shows them on its live line (:mod:`ingestion.cli.progress`).
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = [
    "Blocked",
    "Done",
    "Error",
    "F1db",
    "Fetched",
    "Replayed",
    "Replaying",
    "Sleep",
    "Start",
    "Stopped",
    "TableWrites",
    "Wake",
    "WatchEvent",
    "encode",
]


class _Event(msgspec.Struct, frozen=True, kw_only=True):
    at: str  # ISO-8601 UTC, to the second


class Start(_Event, frozen=True, kw_only=True):
    event: Literal["start"] = "start"
    mode: str  # "once" or "watch"
    store: str
    results: bool
    tier: str  # "paid" or "free"


class Wake(_Event, frozen=True, kw_only=True):
    event: Literal["wake"] = "wake"


class Fetched(_Event, frozen=True, kw_only=True):
    event: Literal["fetched"] = "fetched"
    requests: int
    http_requests: int
    new: int
    unchanged: int
    empty: int
    failed: int
    changed: list[str]  # the requests whose answer changed
    why: dict[str, str]  # request -> why it was due


class F1db(_Event, frozen=True, kw_only=True):
    """f1db's latest release asked (a step of its cadence was due: ``why``): ``new`` (recorded),
    ``unchanged`` (304) or ``known`` (the tag is in the store)."""

    event: Literal["f1db"] = "f1db"
    outcome: str
    tag: str | None
    requests: int
    new_blobs: int
    why: str = ""


class Blocked(_Event, frozen=True, kw_only=True):
    """A live-session 401: nothing more is asked until ``until``."""

    event: Literal["blocked"] = "blocked"
    url: str
    session: str | None
    until: str


class Error(_Event, frozen=True, kw_only=True):
    """``stage`` ``fetch`` (with the request and its last status), ``pass``, ``start`` or ``state``."""

    event: Literal["error"] = "error"
    stage: str
    request: str | msgspec.UnsetType = msgspec.UNSET
    status: int | msgspec.UnsetType | None = msgspec.UNSET
    kind: str | msgspec.UnsetType = msgspec.UNSET  # the exception's type
    reason: str


class Replaying(_Event, frozen=True, kw_only=True):
    event: Literal["replaying"] = "replaying"
    as_of: str
    changed: bool


class TableWrites(msgspec.Struct, frozen=True, kw_only=True):
    inserted: int
    updated: int
    removed: int


class Replayed(_Event, frozen=True, kw_only=True):
    event: Literal["replayed"] = "replayed"
    as_of: str
    snapshots: int
    written: int
    tables: dict[str, TableWrites]  # only the tables with a write
    #: upstream oddities whose last good rows the replay kept (left out of the line when there are none)
    findings: list[str] | msgspec.UnsetType = msgspec.UNSET
    #: rows of settled seasons removed past the breaker by ``--allow-removals``, "year": {table: n} (left
    #: out when there are none)
    allowed_removals: dict[str, dict[str, int]] | msgspec.UnsetType = msgspec.UNSET
    #: answers that cannot be true, each named, whose units kept their earlier rows (only when there are)
    kept: list[str] | msgspec.UnsetType = msgspec.UNSET


class Done(_Event, frozen=True, kw_only=True):
    """The end of ``--once``."""

    event: Literal["done"] = "done"
    exit_code: int


class Sleep(_Event, frozen=True, kw_only=True):
    event: Literal["sleep"] = "sleep"
    until: str
    seconds: float
    failures: int
    waiting_for: str  # what the wake-up is for


class Stopped(_Event, frozen=True, kw_only=True):
    event: Literal["stopped"] = "stopped"
    signal: str
    during: str  # "pass" or "sleep"
    note: str | msgspec.UnsetType = msgspec.UNSET


WatchEvent = Start | Wake | Fetched | F1db | Blocked | Error | Replaying | Replayed | Done | Sleep | Stopped

_encoder = msgspec.json.Encoder()


def encode(event: WatchEvent) -> str:
    """``event`` as its JSON line (without the newline)."""
    return _encoder.encode(event).decode("utf-8")
