"""Replay's first stage, PURE: snapshots to decoded rows per natural key.

For each (endpoint, meeting or year) a snapshot covers, the latest snapshot covering it is decoded
(:mod:`ingestion.store.coverage`, :mod:`ingestion.replay.decode`): a batch gives each meeting it is the
latest for that meeting's rows. The rows of different requests of one endpoint are unioned (the same natural
key in two snapshots: the later event wins). What
the rules read (:class:`Context`) and the helpers they share to choose among duplicates live here too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

import msgspec

from ingestion.openf1.wire import (
    RESULT_ENDPOINTS,
    ROW_TYPES,
    Driver,
    Meeting,
    Session,
    SessionResult,
    StartingGrid,
)
from ingestion.replay.decode import decode_rows
from ingestion.replay.rows import ReplayWarning
from ingestion.replay.values import INT4_MAX, INT4_MIN
from ingestion.store.coverage import covering, unit_value, winners
from ingestion.store.model import Event

__all__ = [
    "ROW_OUT_OF_RANGE",
    "Context",
    "Decoded",
    "Origin",
    "Snapshot",
    "decode_snapshots",
    "fullest",
    "pick",
]

S = TypeVar("S", bound=msgspec.Struct)

#: Warning kind raised here.
ROW_OUT_OF_RANGE = "row_out_of_range"

#: Per endpoint replay reads: the :class:`Decoded` field its rows go to and the fields of its natural key.
#: The row type of each is the wire's (:data:`~ingestion.openf1.wire.ROW_TYPES`).
_UNION: dict[str, tuple[str, tuple[str, ...]]] = {
    "meetings": ("meetings", ("meeting_key",)),
    "sessions": ("sessions", ("session_key",)),
    "drivers": ("drivers", ("session_key", "driver_number")),
    "session_result": ("results", ("session_key", "driver_number")),
    "starting_grid": ("grid", ("session_key", "driver_number")),
}
_KEY_FIELDS = ("meeting_key", "session_key", "driver_number")


class Snapshot(NamedTuple):
    """One stored answer: its event (what was asked, when) and its body."""

    event: Event
    body: bytes


class Origin(NamedTuple):
    """Where a row came from: the request, the blob, the row's index in the body."""

    request: str
    address: str
    row: int


class Decoded(msgspec.Struct):
    """Rows per natural key, each with where it came from (the winning snapshot's rows only)."""

    meetings: dict[int, list[tuple[Meeting, Origin]]]
    sessions: dict[int, list[tuple[Session, Origin]]]
    drivers: dict[tuple[int, int], list[tuple[Driver, Origin]]]
    results: dict[tuple[int, int], list[tuple[SessionResult, Origin]]]
    grid: dict[tuple[int, int], list[tuple[StartingGrid, Origin]]]


def decode_snapshots(snapshots: Sequence[Snapshot], *, results: bool) -> tuple[Decoded, list[ReplayWarning]]:
    """Decode the latest snapshot covering each (endpoint, meeting or year) and union the rows per endpoint
    (later event wins)."""
    warnings: list[ReplayWarning] = []
    return _decode_all(snapshots, results, warnings), warnings


def _decode_all(snapshots: Sequence[Snapshot], results: bool, warnings: list[ReplayWarning]) -> Decoded:
    # For each unit (endpoint, meeting or year) a snapshot covers, the latest snapshot covering it
    # (ingestion.store.coverage); a batch gives each unit it wins the rows of that unit only.
    body_of = {id(snap.event): snap.body for snap in snapshots}
    decoded = Decoded({}, {}, {}, {}, {})
    for won in winners(covering(snap.event for snap in snapshots)):  # oldest first: later replaces
        event = won.event
        snap = Snapshot(event, body_of[id(event)])
        endpoint = event.endpoint
        union = _UNION.get(endpoint)
        if union is None or (endpoint in RESULT_ENDPOINTS and not results):
            continue  # endpoints replay does not read
        field, key_fields = union
        row_type = ROW_TYPES[endpoint]
        target: dict[Any, list[tuple[Any, Origin]]] = getattr(decoded, field)
        rows, problems = decode_rows(
            row_type, snap.body, status=event.status, request=event.key, address=event.address
        )
        warnings.extend(problems)
        fresh: dict[object, list[tuple[object, Origin]]] = defaultdict(list)
        unit_field, values = won.units[0].field, {u.value for u in won.units}
        present = tuple(f for f in _KEY_FIELDS if f in row_type.__struct_fields__)
        single = key_fields[0] if len(key_fields) == 1 else None
        request, address = event.key, event.address
        for index, row in enumerate(rows):
            if not won.whole and unit_value(getattr(row, unit_field, None)) not in values:
                continue  # a batch's row of a meeting a later snapshot covers (or one not asked about)
            if not all(INT4_MIN <= getattr(row, f) <= INT4_MAX for f in present):
                warnings.append(
                    ReplayWarning(
                        kind=ROW_OUT_OF_RANGE,
                        message=f"{row_type.__name__} row {index} skipped: a key is out of range",
                        request=request,
                        address=address,
                        row=index,
                    )
                )
                continue
            natural = getattr(row, single) if single else tuple(getattr(row, f) for f in key_fields)
            fresh[natural].append((row, Origin(request, address, index)))
        target.update(fresh)
    return decoded


def _fullness(row: msgspec.Struct) -> int:
    return sum(1 for field in row.__struct_fields__ if getattr(row, field) is not None)


def fullest(rows: Iterable[S], prefer: Callable[[S], int] | None = None) -> S:
    """The row with the most fields set; ties broken by ``prefer`` then by the row's bytes (deterministic)."""
    return min(
        rows,
        key=lambda r: (-_fullness(r), -(prefer(r) if prefer else 0), msgspec.json.encode(r)),
    )


def pick(entries: list[tuple[S, Origin]]) -> tuple[S, Origin]:
    """The fullest of rows sharing a natural key, with its origin."""
    if len(entries) == 1:  # nearly every key: nothing to choose
        return entries[0]
    row = fullest(r for r, _ in entries)
    return next((r, o) for r, o in entries if r is row)


class Context:
    """What every rule reads (the decoded rows, the cut-off instant, whether results are wanted) and the
    list it notes what it skips in (a :class:`ReplayWarning` each, never an exception)."""

    def __init__(
        self, decoded: Decoded, as_of: datetime, results: bool, warnings: list[ReplayWarning]
    ) -> None:
        self.decoded = decoded
        self.as_of = as_of
        self.results = results
        self.warnings = warnings

    def warn(self, kind: str, message: str, origin: Origin | None = None) -> None:
        if origin is None:
            self.warnings.append(ReplayWarning(kind=kind, message=message))
        else:
            self.warnings.append(
                ReplayWarning(
                    kind=kind, message=message, request=origin.request, address=origin.address, row=origin.row
                )
            )
