"""Replay's first stage, PURE: snapshots to decoded rows per natural key.

For each (endpoint, meeting or year) a snapshot covers, the snapshot that counts for it is decoded
(:func:`choose`; :mod:`ingestion.store.coverage`, :mod:`ingestion.replay.decode`): the latest covering it,
unless that one holds no rows for it and that cannot be true (:mod:`ingestion.openf1.credibility`): then
the latest with rows, and a warning names the answer. A batch gives each meeting it counts for that
meeting's rows. The rows of different requests of one endpoint are unioned (the same natural key in two
snapshots: the later event wins). What
the rules read (:class:`Context`) and the helpers they share to choose among duplicates live here too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

import msgspec

from ingestion.instant import format_utc
from ingestion.openf1.body import decode_rows as decode_wire
from ingestion.openf1.credibility import Evidence, cannot_be_true, standing, units_with_rows
from ingestion.openf1.wire import (
    RESULT_ENDPOINTS,
    ROW_TYPES,
    YEAR_ENDPOINTS,
    Driver,
    Meeting,
    Session,
    SessionResult,
    StartingGrid,
)
from ingestion.replay.decode import decode_rows
from ingestion.replay.rows import ReplayWarning
from ingestion.replay.values import INT4_MAX, INT4_MIN
from ingestion.store import event_order
from ingestion.store.coverage import Unit, member, unit_value, units_of
from ingestion.store.model import Event

__all__ = [
    "CANNOT_BE_TRUE",
    "ROW_OUT_OF_RANGE",
    "Chosen",
    "Context",
    "Decoded",
    "Origin",
    "Snapshot",
    "choose",
    "decode_snapshots",
    "fullest",
    "pick",
]

S = TypeVar("S", bound=msgspec.Struct)

#: Warning kinds raised here.
ROW_OUT_OF_RANGE = "row_out_of_range"
#: An answer holding no rows for a unit although that cannot be true: the unit keeps an earlier answer's rows.
CANNOT_BE_TRUE = "answer_cannot_be_true"

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
    #: per result key, the origin of the oldest answer the row has been exactly as it is since (back from
    #: the answer that counts, through the earlier answers of its unit): its provenance
    #: (:func:`result_since`; absent: the row's own origin)
    since: dict[tuple[int, int], Origin] = msgspec.field(default_factory=dict)


def decode_snapshots(
    snapshots: Sequence[Snapshot], *, results: bool, as_of: datetime | None = None
) -> tuple[Decoded, list[ReplayWarning]]:
    """Decode the snapshot that counts for each (endpoint, meeting or year) (:func:`choose`) and union the
    rows per endpoint (later event wins). ``as_of`` (default: the latest snapshot's time) is when answers
    are judged (an ended session says a meeting has drivers)."""
    warnings: list[ReplayWarning] = []
    now = as_of if as_of is not None else max((s.event.received_at for s in snapshots), default=None)
    return _decode_all(snapshots, results, now, warnings), warnings


class Chosen(NamedTuple):
    """A snapshot that counts for at least one unit: the units it counts for, and whether it covers one
    unit only (then all its rows are that unit's, as before batches existed)."""

    snapshot: Snapshot
    units: tuple[Unit, ...]
    whole: bool


def _ident(event: Event) -> tuple[str, int]:
    return (event.run, event.seq)


def choose(
    snapshots: Sequence[Snapshot], now: datetime | None, *, endpoints: Iterable[str] = tuple(_UNION)
) -> tuple[list[Chosen], list[ReplayWarning]]:
    """Which snapshot counts for each unit (an endpoint and a meeting or year) of ``endpoints``, PURE.

    The latest snapshot covering the unit (:mod:`ingestion.store.coverage`), unless it holds no rows for
    the unit and that cannot be true (:func:`ingestion.openf1.credibility.cannot_be_true`, judged as of
    ``now``): then the latest snapshot with rows for the unit counts (or none), and an
    ``answer_cannot_be_true`` warning names the answer. Year lists are judged first (each with the other
    list's latest rows), then the meetings' endpoints (with the sessions of the chosen lists). The result
    is in the store's order (oldest first: later replaces).
    """
    wanted = frozenset(endpoints)
    body_of = {_ident(snap.event): snap for snap in snapshots}
    present: dict[tuple[str, int], frozenset[Unit]] = {}

    def rows(event: Event) -> frozenset[Unit]:
        ident = _ident(event)
        if ident not in present:
            present[ident] = units_with_rows(event, body_of[ident].body)
        return present[ident]

    history: dict[Unit, list[Event]] = defaultdict(list)
    for snap in sorted(snapshots, key=lambda s: event_order(s.event)):
        if snap.event.endpoint in wanted:
            for unit in units_of(snap.event.endpoint, snap.event.query):
                history[unit].append(snap.event)
    stands = {unit: standing(unit, reversed(events), rows) for unit, events in history.items()}
    chosen: dict[Unit, Event | None] = {}
    warnings: list[ReplayWarning] = []

    def judge(unit: Unit, evidence: Evidence) -> None:
        stand = stands[unit]
        if not stand.streak:
            chosen[unit] = stand.good
            return
        false = stand.streak[0]
        why = None if now is None else cannot_be_true(unit, msgspec.structs.replace(
            evidence, had_rows=stand.good is not None), now)
        if why is None:
            chosen[unit] = false
            return
        chosen[unit] = stand.good
        kept = (
            f"kept the rows of {stand.good.key} received {format_utc(stand.good.received_at)}"
            if stand.good is not None
            else "no earlier answer has rows for it"
        )
        warnings.append(
            ReplayWarning(
                kind=CANNOT_BE_TRUE,
                message=f"{false.key} (blob {false.address[:12]}) has no rows for {unit.key}, which "
                f"cannot be true: {why}; {kept}",
                request=false.key,
                address=false.address,
            )
        )

    def good_rows(endpoint: str, year: str, row_type: type[S]) -> tuple[S, ...]:
        stand = stands.get(Unit(endpoint, "year", year))
        if stand is None or stand.good is None:
            return ()
        return tuple(decode_wire(row_type, body_of[_ident(stand.good)].body).rows)

    for unit in stands:
        if unit.field == "year" and unit.endpoint in YEAR_ENDPOINTS:
            if unit.endpoint == "meetings":
                judge(unit, Evidence(sessions=good_rows("sessions", unit.value, Session)))
            else:
                judge(unit, Evidence(meetings=good_rows("meetings", unit.value, Meeting)))
    sessions: dict[str, list[Session]] = defaultdict(list)
    for ident in {_ident(e) for u, e in chosen.items() if e is not None and u.endpoint == "sessions"}:
        for session in decode_wire(Session, body_of[ident].body).rows:
            sessions[str(session.meeting_key)].append(session)
    for unit in stands:
        if unit not in chosen:
            meeting = sessions.get(unit.value, []) if unit.field == "meeting_key" else []
            judge(unit, Evidence(sessions=tuple(meeting)))
    grouped: dict[tuple[str, int], list[Unit]] = defaultdict(list)
    for unit, event in chosen.items():
        if event is not None:
            grouped[_ident(event)].append(unit)
    out = [
        Chosen(
            body_of[ident],
            tuple(sorted(units)),
            len(units_of(body_of[ident].event.endpoint, body_of[ident].event.query)) == 1,
        )
        for ident, units in grouped.items()
    ]
    out.sort(key=lambda c: event_order(c.snapshot.event))
    return out, warnings


def _decode_all(
    snapshots: Sequence[Snapshot], results: bool, now: datetime | None, warnings: list[ReplayWarning]
) -> Decoded:
    # For each unit (endpoint, meeting or year) a snapshot covers, the snapshot that counts for it (the
    # latest, unless that one cannot be true: choose); a batch gives each unit it counts for that unit's rows.
    endpoints = [e for e in _UNION if results or e not in RESULT_ENDPOINTS]
    chosen, judged = choose(snapshots, now, endpoints=endpoints)
    warnings.extend(judged)
    decoded = Decoded({}, {}, {}, {}, {})
    decoded.since = result_since(snapshots, chosen) if results else {}
    for snap, units, whole in chosen:  # oldest first: later replaces
        event = snap.event
        endpoint = event.endpoint
        field, key_fields = _UNION[endpoint]
        row_type = ROW_TYPES[endpoint]
        target: dict[Any, list[tuple[Any, Origin]]] = getattr(decoded, field)
        rows, problems = decode_rows(
            row_type, snap.body, status=event.status, request=event.key, address=event.address
        )
        warnings.extend(problems)
        fresh: dict[object, list[tuple[object, Origin]]] = defaultdict(list)
        unit_field, values = units[0].field, {u.value for u in units}
        present = tuple(f for f in _KEY_FIELDS if f in row_type.__struct_fields__)
        single = key_fields[0] if len(key_fields) == 1 else None
        request, address = event.key, event.address
        for index, row in enumerate(rows):
            if not whole and unit_value(getattr(row, unit_field, None)) not in values:
                continue  # a batch's row of a meeting another snapshot counts for (or one not asked about)
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


def result_since(snapshots: Sequence[Snapshot], chosen: Sequence[Chosen]) -> dict[tuple[int, int], Origin]:
    """For each result row of the answers that count (``chosen``), the oldest answer of its unit it has been
    exactly as it is since: back from the answer that counts, through the earlier answers covering the same
    unit (oldest first by the store's order), while each holds the same row (decoded, field by field).
    Only rows with such an earlier answer are listed. Pure: a refetch whose rows did not change (or whose
    other rows changed) keeps a row's provenance, so a correction moves the provenance of its own rows only.
    Each blob is decoded once."""
    key_fields = _UNION["session_result"][1]
    history: dict[Unit, list[Snapshot]] = defaultdict(list)
    for snap in sorted(snapshots, key=lambda s: event_order(s.event)):
        if snap.event.endpoint == "session_result":
            for unit in units_of(snap.event.endpoint, snap.event.query):
                history[unit].append(snap)
    rows_of: dict[str, dict[tuple[int, ...], tuple[SessionResult, int]]] = {}

    def rows(snap: Snapshot) -> dict[tuple[int, ...], tuple[SessionResult, int]]:
        address = snap.event.address
        if address not in rows_of:
            found, _ = decode_rows(SessionResult, snap.body, status=snap.event.status)
            keyed: dict[tuple[int, ...], tuple[SessionResult, int]] = {}
            for index, row in enumerate(found):
                keyed.setdefault(tuple(getattr(row, f) for f in key_fields), (row, index))
            rows_of[address] = keyed
        return rows_of[address]

    out: dict[tuple[int, int], Origin] = {}
    for snap, units, _ in chosen:
        if snap.event.endpoint != "session_result":
            continue
        ident = _ident(snap.event)
        for unit in units:
            past = history[unit]
            at = next(i for i, s in enumerate(past) if _ident(s.event) == ident)
            if at == 0:
                continue
            for key, (row, _) in rows(snap).items():
                if unit.field and not member(unit, getattr(row, unit.field, None)):
                    continue  # a batch's row of another meeting
                since: Origin | None = None
                for older in reversed(past[:at]):
                    kept = rows(older).get(key)
                    if kept is None or kept[0] != row:
                        break
                    since = Origin(older.event.key, older.event.address, kept[1])
                if since is not None:
                    out[(key[0], key[1])] = since
    return out


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
