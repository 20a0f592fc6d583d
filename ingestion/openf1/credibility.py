"""Which answers cannot be true: THE one rule, PURE, used by fetch, replay, verify and watch.

OpenF1 sometimes answers "No results found." (or leaves a meeting out of an OR'd answer) for something that
has rows: under load, before its data is published, or because it lost them (a *gap*). Such an answer is no
information. It never settles anything (fetch asks it again, backing off across runs) and it never replaces
the rows an earlier answer gave (replay keeps those, with a warning naming the answer).

An answer holding no rows for a unit (:class:`~ingestion.store.coverage.Unit`: an endpoint and a meeting or
a year) **cannot be true** (:func:`cannot_be_true`) when

- an earlier answer had rows for that unit: a whole season's list, or a meeting's drivers, results or grid,
  do not disappear (a removal upstream is a fault the pipeline must not apply);
- ``meetings?year=Y`` while the year's sessions are known (a session belongs to a meeting);
- ``sessions?year=Y`` while a meeting of the year has started (a meeting under way has sessions);
- a meeting's ``drivers`` once one of its sessions has ended; its ``session_result`` once a qualifying or a
  race (sprints included) has; its ``starting_grid`` once a race has (:func:`expects_rows`; cancelled
  sessions do not count). Pre-season testing (practice only) may honestly have no results and no grid.

:func:`units_with_rows` says which units an answer holds rows for (a batch, per meeting); :func:`standing`
walks a unit's answers back to the latest one with rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

import msgspec

from ingestion import calendar
from ingestion.instant import utc_or_none
from ingestion.openf1.body import decode_rows
from ingestion.openf1.wire import MEETING_ENDPOINTS, YEAR_ENDPOINTS, Meeting, Session
from ingestion.store.coverage import Unit, unit_value, units_of
from ingestion.store.model import Event

__all__ = [
    "Evidence",
    "Standing",
    "cannot_be_true",
    "expects_rows",
    "has_ended",
    "session_end",
    "standing",
    "units_with_rows",
]

#: Per meeting endpoint, the sessions whose end says a meeting has its rows (the words of the reason).
_ENDED = {"drivers": "a session", "session_result": "a qualifying or race", "starting_grid": "a race"}


class Evidence(msgspec.Struct, frozen=True, kw_only=True):
    """What is known about a unit apart from the answer judged.

    ``had_rows``: an earlier answer had rows for the unit. ``sessions``: the unit's meeting's sessions (a
    meeting's endpoint) or the year's (``meetings?year=Y``). ``meetings``: the year's meetings
    (``sessions?year=Y``). Each from the latest answer with rows of its list.
    """

    had_rows: bool = False
    sessions: tuple[Session, ...] = ()
    meetings: tuple[Meeting, ...] = ()


def session_end(session: Session) -> datetime | None:
    """When a session ends, by the calendar's one rule (:func:`ingestion.calendar.session_end`)."""
    return calendar.session_end(session.date_start, session.date_end)


def has_ended(session: Session, now: datetime) -> bool:
    """Whether a session has ended at ``now`` (:func:`ingestion.calendar.has_ended`)."""
    return calendar.has_ended(session.date_start, session.date_end, now)


def expects_rows(endpoint: str, sessions: Iterable[Session], now: datetime) -> bool:
    """Whether a meeting whose ``sessions`` these are must have rows of ``endpoint`` by ``now``.

    Drivers once any session has ended; ``session_result`` once a qualifying or a race (sprints included)
    has; ``starting_grid`` once a race has. Cancelled sessions do not count. Pure.
    """
    for session in sessions:
        if session.is_cancelled or not has_ended(session, now):
            continue
        if endpoint == "drivers":
            return True
        if endpoint == "session_result" and session.session_type in calendar.OPENF1_RESULT_TYPES:
            return True
        if endpoint == "starting_grid" and session.session_type == calendar.OPENF1_RACE_TYPE:
            return True
    return False


def cannot_be_true(unit: Unit, evidence: Evidence, now: datetime) -> str | None:
    """Why an answer holding no rows for ``unit`` cannot be true (one line), or None when it can be.

    The one rule (see the module): fetch, replay, verify and watch all judge with it. Pure.
    """
    if evidence.had_rows:
        return f"an earlier answer had rows for {unit.key}"
    if unit.field == "year" and unit.endpoint in YEAR_ENDPOINTS:
        if unit.endpoint == "meetings" and evidence.sessions:
            return f"sessions?year={unit.value} lists {len(evidence.sessions)} session(s)"
        if unit.endpoint == "sessions":
            # a start that cannot be shifted to UTC (a damaged answer's 0001-01-01T00:00+14:00) is no start
            starts = [utc_or_none(m.date_start) for m in evidence.meetings]
            started = [s for s in starts if s is not None and s <= now]
            if started:
                return f"meetings?year={unit.value} lists {len(started)} meeting(s) started by then"
        return None
    meeting = unit.field == "meeting_key" and unit.endpoint in MEETING_ENDPOINTS
    if meeting and expects_rows(unit.endpoint, evidence.sessions, now):
        return f"meeting {unit.value} has {_ENDED[unit.endpoint]} ended by then"
    return None


def _integral(value: object) -> object:
    """``1229.0`` as 1229 (OpenF1's numbers may come as floats; the key is the same)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


@lru_cache(maxsize=16)
def _row_type(field: str) -> Any:
    return msgspec.defstruct("Keyed", [(field, Any, None)])


def units_with_rows(event: Event, body: bytes) -> frozenset[Unit]:
    """The units of ``event``'s request that its ``body`` holds at least one row for: every unit when it
    covers one (any row is its row), else those whose field's value some row has (a batch's meetings)."""
    units = units_of(event.endpoint, event.query)
    read = decode_rows(_row_type(units[0].field or "meeting_key"), body)
    if not read.rows and not read.skipped:
        return frozenset()
    if len(units) == 1:
        return frozenset(units)
    field = units[0].field
    present = {unit_value(_integral(getattr(row, field))) for row in read.rows}
    return frozenset(u for u in units if u.value in present)


class Standing(NamedTuple):
    """A unit's answers seen newest first: ``streak``, the latest answers holding no rows for it (newest
    first; empty when the latest has rows), and ``good``, the latest answer with rows for it (or None)."""

    streak: tuple[Event, ...]
    good: Event | None


def standing(unit: Unit, newest_first: Iterable[Event], rows: Callable[[Event], frozenset[Unit]]) -> Standing:
    """Where ``unit`` stands among the answers covering it (``newest_first``); ``rows(event)`` gives the units
    an answer holds rows for (:func:`units_with_rows` of its body). Stops at the first answer with rows."""
    streak: list[Event] = []
    for event in newest_first:
        if unit in rows(event):
            return Standing(tuple(streak), event)
        streak.append(event)
    return Standing(tuple(streak), None)
