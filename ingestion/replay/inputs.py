"""The identity of a replay's inputs: what lets an unchanged replay prove "nothing changed" without decoding,
normalizing or merging anything (pure, but for :func:`code_digest`, which reads the package's source).

A replay's rows are a function of its inputs: the code, the snapshots it reads (each event names its
blob, the sha256 of the body), the f1db release (its manifest's address names every file), ``results``,
the database's entrants layout (one entrant per driver or not) and ``as_of``. :func:`inputs_key` digests
all of them but ``as_of``; ``as_of`` enters only through comparisons with the instants the inputs hold
(a session's start or end, a meeting's start, f1db's session starts), each shifted by at most a few hours
(a session's default length, the live margin, a local date). :func:`as_of_window` gives the span of
``as_of`` around one replay in which no such instant lies within :data:`MARGIN`: every ``as_of`` inside it
compares alike with every instant, so it gives the same rows.

A load records the key, the window and what it replayed (:class:`InputsRecord`) beside its proof
(:mod:`.unchanged`); the next replay with the same key and an ``as_of`` inside the window needs only the
database's proof (:func:`.load.load_unchanged`), never the rows.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import msgspec

from ingestion.instant import as_utc
from ingestion.openf1.body import decode_rows
from ingestion.store.model import Event, F1dbRelease, Release

__all__ = [
    "INPUTS_KEY",
    "MARGIN",
    "InputsRecord",
    "as_of_window",
    "code_digest",
    "inputs_key",
    "openf1_instants",
    "with_layout",
]

#: The member of a replay run's summary holding its :class:`InputsRecord`.
INPUTS_KEY = "inputs"

#: How far an instant of the inputs must be from ``as_of`` for the window to hold: far more than any shift
#: the rules apply to an instant before comparing it with ``as_of`` (2 h, 30 min, a local date: 14 h).
MARGIN = timedelta(days=2)

#: The endpoints whose rows hold the instants ``as_of`` is compared with.
_DATED_ENDPOINTS = frozenset({"meetings", "sessions"})


class InputsRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What a replay read (``key``), the span of ``as_of`` giving the same rows (``valid_from`` and
    ``valid_until``, exclusive; None: unbounded), and what it replayed, for a summary without the rows."""

    key: str
    valid_from: datetime | None
    valid_until: datetime | None
    snapshots: int
    f1db: str | None
    rows: dict[str, int]  # rows replay produced, per table (the summary's)
    loaded: dict[str, int]  # rows the load counted, per table it writes
    warnings: dict[str, int]
    kept: list[str] = []
    findings: list[str] = []

    def holds(self, key: str, as_of: datetime) -> bool:
        """Whether a replay of inputs ``key`` (:func:`with_layout`) as of ``as_of`` gives these rows."""
        if key != self.key:
            return False
        instant = as_utc(as_of)
        after = self.valid_from is None or as_utc(self.valid_from) < instant
        return after and (self.valid_until is None or instant < as_utc(self.valid_until))


@functools.lru_cache(maxsize=1)
def code_digest() -> str | None:
    """The sha256 of the package's source (every module, and the data files replay reads: the committed
    identity overrides, ``*.toml``; by path): another version of the code never takes a record of this one.
    None when a file cannot be read (then no record is trusted)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    try:
        for path in sorted([*root.rglob("*.py"), *root.rglob("*.toml")]):
            h.update(str(path.relative_to(root)).encode() + b"\0")
            h.update(path.read_bytes())
    except OSError:
        return None
    return h.hexdigest()


def inputs_key(
    code: str,
    events: Sequence[Event],
    release: F1dbRelease | None,
    *,
    results: bool,
    releases: Sequence[Release] = (),
) -> str:
    """The digest of a replay's inputs but ``as_of`` and the database's layout (:func:`with_layout`):
    ``code`` (:func:`code_digest`), the snapshots' events in the order replay reads them (each names its
    body by address), the f1db release (tag, manifest, dates), the store's f1db ``releases`` received by
    ``as_of`` (the provenance is dated against the older ones) and ``results``. Pure."""
    h = hashlib.sha256(f"replay inputs 2\n{code}\n{results}\n".encode())
    h.update(msgspec.msgpack.encode(list(events)))
    if release is not None:
        h.update(msgspec.msgpack.encode(msgspec.structs.replace(release, files={})))
    h.update(msgspec.msgpack.encode(sorted((r.tag, r.manifest, str(r.received_at)) for r in releases)))
    return h.hexdigest()


def with_layout(key: str, *, one_entrant_per_driver: bool) -> str:
    """``key`` for a database whose entrants hold one row per driver and round or not (the load keeps one
    entrant per driver then: other rows)."""
    return hashlib.sha256(f"{key}\n{one_entrant_per_driver}".encode()).hexdigest()


class _Dated(msgspec.Struct):
    date_start: datetime | None = None
    date_end: datetime | None = None


def openf1_instants(bodies: Iterable[tuple[str, bytes]]) -> list[datetime] | None:
    """Every start and end among the meetings' and sessions' rows of ``bodies`` ((endpoint, body) pairs; the
    other endpoints hold none replay compares): None when a row's times cannot be read (then no window)."""
    out: list[datetime] = []
    for endpoint, body in bodies:
        if endpoint not in _DATED_ENDPOINTS:
            continue
        read = decode_rows(_Dated, body)
        if read.skipped:
            return None
        for row in read.rows:
            for value in (row.date_start, row.date_end):
                if value is None:
                    continue
                try:
                    out.append(as_utc(value))
                except (OverflowError, ValueError):  # no instant: the rules treat it as unknown
                    continue
    return out


def as_of_window(
    instants: Iterable[datetime], as_of: datetime, margin: timedelta = MARGIN
) -> tuple[datetime | None, datetime | None] | None:
    """The span (exclusive bounds; None: unbounded) of the ``as_of`` values that compare with every one of
    ``instants``, shifted by less than ``margin``, as ``as_of`` does; None when an instant lies within
    ``margin`` of ``as_of`` itself (no window: the next replay computes its rows). Pure."""
    now = as_utc(as_of)
    ordered = sorted(instants)
    split = bisect.bisect_right(ordered, now)
    last, first = (ordered[split - 1] if split else None), (ordered[split] if split < len(ordered) else None)
    valid_from = None if last is None else last + margin
    valid_until = None if first is None else first - margin
    if valid_from is not None and not valid_from < now:
        return None
    if valid_until is not None and not now < valid_until:
        return None
    return valid_from, valid_until
