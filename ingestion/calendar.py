"""The calendar's rules, PURE and written once: what a session is, when it starts and ends, when OpenF1
closes anonymous access around it, and which rounds are testing.

Every stage asks this module: fetch (what must have rows by now, when a meeting settles, the live-session
advice), replay (a session's status, whether its results may exist yet), watch (steps and live windows),
``ingest check`` and ``db audit`` (races, grids, testing rounds) and ``ingest serve`` (its live block). Time
always comes in (``now``); naive datetimes are UTC (:func:`ingestion.instant.as_utc`), never the machine's
``TZ``.

The rules (docs/replay.md and docs/fetch.md say them in words):

* **A session ends** at its ``date_end``; without one (or with one before its start) at its start plus
  :data:`SESSION_LENGTH` (2 h). A session without a start ends at its ``date_end``. It **has ended** at
  ``now`` when that end is at or before ``now``.
* **The live window**: OpenF1 refuses anonymous requests from :data:`LIVE_MARGIN` (30 min) before a
  session's start until :data:`LIVE_MARGIN` after its end (start included, end excluded). A cancelled
  session has none.
* **A testing round** is a meeting whose name has the word "test" or "testing" (``Pre-Season Testing``,
  ``Pre-Season Test``, not ``Contest``); its round number is :data:`TESTING_ROUND_NUMBER` (0), which is how
  the database says it.
* **Session types**: by OpenF1's ``session_name`` (:data:`SESSION_NAMES`; anything else is no type, never
  guessed); the races (Race, Sprint) and the session each race takes its grid from (:data:`GRID_FROM`).
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from ingestion.instant import as_utc, utc_or_none
from ingestion.text import words

__all__ = [
    "GRID_FROM",
    "LIVE_MARGIN",
    "OPENF1_RACE_TYPE",
    "OPENF1_RESULT_TYPES",
    "PRACTICE",
    "QUALIFYING",
    "RACES",
    "SESSION_LENGTH",
    "SESSION_NAMES",
    "TESTING_ROUND_NUMBER",
    "SessionStatus",
    "SessionType",
    "has_ended",
    "is_live",
    "is_testing",
    "live_window",
    "session_end",
    "session_span",
    "session_status",
    "session_type",
]

#: A session without ``date_end`` (or with one before its start) is taken to last this long.
SESSION_LENGTH = timedelta(hours=2)
#: OpenF1 blocks anonymous access from 30 minutes before a session until 30 minutes after it.
LIVE_MARGIN = timedelta(minutes=30)
#: The round number of a testing round (grands prix are numbered 1..N in date order).
TESTING_ROUND_NUMBER = 0


class SessionType(enum.IntEnum):
    """The ``sessions.type`` codes of SCHEMA.md."""

    FP1 = 0
    FP2 = 1
    FP3 = 2
    Qualifying = 3
    SprintQualifying = 4
    Sprint = 5
    Race = 6
    Warmup = 7
    Moto3Race = 8
    Moto2Race = 9
    MotoGPRace = 10


class SessionStatus(enum.IntEnum):
    """The ``sessions.status`` codes of SCHEMA.md."""

    Scheduled = 0
    InProgress = 1
    Completed = 2
    Cancelled = 3
    Delayed = 4


#: OpenF1's ``session_name`` (case-folded) to session type. Anything else is no type, never guessed.
SESSION_NAMES: dict[str, SessionType] = {
    "practice 1": SessionType.FP1,
    "practice 2": SessionType.FP2,
    "practice 3": SessionType.FP3,
    "day 1": SessionType.FP1,  # testing days (2025+)
    "day 2": SessionType.FP2,
    "day 3": SessionType.FP3,
    "qualifying": SessionType.Qualifying,
    "sprint qualifying": SessionType.SprintQualifying,
    "sprint shootout": SessionType.SprintQualifying,  # 2023's name
    "sprint": SessionType.Sprint,
    "race": SessionType.Race,
}
PRACTICE = frozenset({SessionType.FP1, SessionType.FP2, SessionType.FP3})
QUALIFYING = frozenset({SessionType.Qualifying, SessionType.SprintQualifying})
RACES = frozenset({SessionType.Race, SessionType.Sprint})
#: The session whose starting grid (filed by OpenF1 under the qualifying session) a race starts from.
GRID_FROM = {SessionType.Race: SessionType.Qualifying, SessionType.Sprint: SessionType.SprintQualifying}
#: OpenF1's ``session_type`` values whose end means a meeting must have results (a sprint is a "Race",
#: a sprint shootout a "Qualifying"); a "Race"'s end means it must have a starting grid.
OPENF1_RESULT_TYPES = frozenset({"Qualifying", "Race"})
OPENF1_RACE_TYPE = "Race"


def session_type(name: str | None) -> SessionType | None:
    """The type a ``session_name`` (already cleaned of extra spaces) names, or None."""
    return SESSION_NAMES.get(name.casefold()) if name else None


def is_testing(meeting_name: str) -> bool:
    """Whether a meeting is a testing round: its name has the word "test" or "testing"."""
    return bool({"testing", "test"} & set(words(meeting_name)))


def session_end(start: datetime | None, end: datetime | None) -> datetime | None:
    """When a session ends (UTC): ``end`` if it is at or after ``start``, else ``start`` +
    :data:`SESSION_LENGTH`; ``end`` alone without a start; None without either (a time that cannot be
    shifted to UTC is no time)."""
    first, last = utc_or_none(start), utc_or_none(end)
    if first is None:
        return last
    if last is not None and last >= first:
        return last
    try:
        return first + SESSION_LENGTH
    except OverflowError:  # a start at the end of time has no end
        return None


def session_span(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime] | None:
    """(start, end) in UTC (:func:`session_end`); a session without a start starts at its end."""
    last = session_end(start, end)
    if last is None:
        return None
    first = utc_or_none(start)
    return (last if first is None else first, last)


def has_ended(start: datetime | None, end: datetime | None, now: datetime) -> bool:
    """Whether a session has ended at ``now`` (its end at or before ``now``); unknown times never end."""
    last = session_end(start, end)
    return last is not None and last <= as_utc(now)


def session_status(start: datetime, end: datetime | None, cancelled: bool, now: datetime) -> SessionStatus:
    """A session's status at ``now``: Cancelled, Completed once ended, InProgress from its start, else
    Scheduled."""
    if cancelled:
        return SessionStatus.Cancelled
    if has_ended(start, end, now):
        return SessionStatus.Completed
    if as_utc(now) >= as_utc(start):
        return SessionStatus.InProgress
    return SessionStatus.Scheduled


def live_window(
    start: datetime | None,
    end: datetime | None,
    cancelled: bool | None = False,
    margin: timedelta = LIVE_MARGIN,
) -> tuple[datetime, datetime] | None:
    """The span OpenF1 refuses anonymous requests around a session: ``[start - margin, end + margin)``;
    None for a cancelled session or one without times."""
    if cancelled:
        return None
    span = session_span(start, end)
    if span is None:
        return None
    return (span[0] - margin, span[1] + margin)


def is_live(window: tuple[datetime, datetime] | None, now: datetime) -> bool:
    """Whether ``now`` is inside a :func:`live_window` (its start included, its end excluded)."""
    return window is not None and window[0] <= as_utc(now) < window[1]
