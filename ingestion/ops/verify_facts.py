"""What ``ingest verify`` reports about the database besides the comparison (pure): rows per table, rounds
per season, sessions per type, the latest completed session, and the rounds a false empty drivers answer
left without entrants."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import msgspec

from ingestion.instant import as_utc
from ingestion.ops.verify_compare import Rows
from ingestion.replay import TABLES
from ingestion.replay.rows import EntrantRow, RoundRow, SeasonRow, SessionRow, SessionStatus, SessionType
from ingestion.replay.stored_rows import stored_rows
from ingestion.store import Event
from ingestion.store.check import says_no_rows

__all__ = ["LatestSession", "database_facts", "empty_driver_meetings", "rounds_without_drivers"]


class LatestSession(msgspec.Struct, frozen=True, kw_only=True):
    round: str
    type: str
    start_time_utc: datetime
    open_f1_session_key: int | None  # None: a session only f1db knows


def database_facts(
    database: Rows,
) -> tuple[dict[str, int], dict[int, int], dict[str, int], LatestSession | None]:
    """Counts per table, rounds per season, sessions per type, the latest completed session (pure)."""
    counts = {spec.name: len(database.get(spec.name, ())) for spec in TABLES}
    year_of = {s.id: int(str(s.year)) for s in stored_rows(database, SeasonRow)}
    rounds_per_season: dict[int, int] = {}
    round_names: dict[object, str] = {}
    for r in stored_rows(database, RoundRow):
        year = year_of.get(r.season_id, 0)
        rounds_per_season[year] = rounds_per_season.get(year, 0) + 1
        round_names[r.id] = f"{year} {r.name}"
    per_type: dict[str, int] = {}
    latest: tuple[datetime, int, SessionRow] | None = None  # (start, OpenF1's key or -1, row)
    for row in stored_rows(database, SessionRow):
        kind = _type_name(row.type)
        per_type[kind] = per_type.get(kind, 0) + 1
        start: object = row.start_time_utc
        start = as_utc(start) if isinstance(start, datetime) else start
        if row.status == SessionStatus.Completed and isinstance(start, datetime):
            session_key: object = row.open_f1_session_key
            candidate = (start, session_key if isinstance(session_key, int) else -1, row)
            if latest is None or candidate[:2] > latest[:2]:
                latest = candidate
    last = None
    if latest is not None:
        start, key, row = latest
        last = LatestSession(
            round=round_names.get(row.round_id, str(row.round_id)),
            type=_type_name(row.type),
            start_time_utc=start,
            open_f1_session_key=key if key >= 0 else None,
        )
    ordered_types = {t.name: per_type[t.name] for t in SessionType if t.name in per_type}
    ordered_types.update({k: v for k, v in per_type.items() if k not in ordered_types})
    return counts, dict(sorted(rounds_per_season.items())), ordered_types, last


def empty_driver_meetings(events: Iterable[Event]) -> set[int]:
    """Meeting keys whose latest stored ``drivers`` answer (among ``events``) is empty (pure)."""
    keys: set[int] = set()
    for event in events:
        if event.endpoint != "drivers" or not says_no_rows(event):
            continue
        for name, value in event.request.params():
            if name == "meeting_key" and value.isdigit():
                keys.add(int(value))
    return keys


def rounds_without_drivers(database: Rows, empty_meetings: set[int]) -> tuple[str, ...]:
    """``2024 Bahrain Grand Prix`` for every round with a completed session and no entrant whose drivers
    answer was stored empty (``empty_meetings``) (pure).

    OpenF1 publishes a meeting's drivers during its first session, so such an answer was a false "No results
    found.": the database matches the snapshots and is still incomplete. (A round whose drivers were never
    asked, out of a ``--recent`` fetch's window, is not one.)"""
    year_of = {s.id: str(s.year) for s in stored_rows(database, SeasonRow)}
    names = {
        r.id: f"{year_of.get(r.season_id, '?')} {r.name}"
        for r in stored_rows(database, RoundRow)
        if r.open_f1_meeting_key in empty_meetings
    }
    completed = {s.round_id for s in stored_rows(database, SessionRow) if s.status == SessionStatus.Completed}
    entered = {e.round_id for e in stored_rows(database, EntrantRow)}
    return tuple(sorted(names[r] for r in completed - entered if r in names))


def _type_name(value: object) -> str:
    try:
        return SessionType(int(value)).name  # type: ignore[call-overload]
    except (ValueError, TypeError):
        return f"type {value}"
