"""A season as the store holds it, and its clock: the meetings and sessions decoded from the stored year
lists (:class:`Season`), when sessions, meetings and seasons end and settle, which meetings must have rows of
an endpoint, and which meetings a fetch asks about. Pure: ``now`` comes in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import msgspec

from ingestion import calendar
from ingestion.fetch.options import FetchOptions
from ingestion.instant import as_utc, utc_or_none
from ingestion.openf1.body import decode_rows
from ingestion.openf1.credibility import expects_rows, has_ended, session_end
from ingestion.openf1.wire import Meeting, Session
from ingestion.store.model import Event

__all__ = [
    "SETTLE",
    "SETTLE_DAYS",
    "Season",
    "decode_meetings",
    "decode_sessions",
    "expects_rows",
    "has_ended",
    "is_settled",
    "meeting_ends",
    "meeting_keys_of",
    "season_settles_at",
    "selected_meetings",
    "session_end",
    "year_start",
]

#: Days after a meeting (or a season) ends before its answers are final.
SETTLE_DAYS = 14
SETTLE = timedelta(days=SETTLE_DAYS)


T = TypeVar("T", bound=msgspec.Struct)


class Season(msgspec.Struct, frozen=True):
    """A year's meetings and sessions as stored (decoded from ``meetings?year=Y`` and ``sessions?year=Y``)."""

    year: int
    meetings: tuple[Meeting, ...] = ()
    sessions: tuple[Session, ...] = ()


# --- decoding what is stored (pure, tolerant) -------------------------------------------------------


def _rows(body: bytes, row_type: type[T]) -> tuple[T, ...]:
    """The rows of a stored answer, read as replay reads them (:func:`ingestion.openf1.body.decode_rows`:
    lenient, ``9472.0`` is 9472); no rows for "No results found." or a body that is not rows."""
    return tuple(decode_rows(row_type, body).rows)


class _MeetingKey(msgspec.Struct):
    meeting_key: int | None = None


def meeting_keys_of(body: bytes) -> tuple[int, ...]:
    """The ``meeting_key`` of every row of an answer (rows without one, or undecodable, are skipped)."""
    return tuple(row.meeting_key for row in _rows(body, _MeetingKey) if row.meeting_key is not None)


def decode_meetings(body: bytes) -> tuple[Meeting, ...]:
    """The meetings in a stored ``meetings`` answer; rows that do not decode are skipped."""
    return _rows(body, Meeting)


def decode_sessions(body: bytes) -> tuple[Session, ...]:
    """The sessions in a stored ``sessions`` answer; rows that do not decode are skipped."""
    return _rows(body, Session)


# --- time ---------------------------------------------------------------------------------------------


def meeting_ends(seasons: Iterable[Season]) -> dict[int, datetime]:
    """Meeting key -> when its last known session ended (meetings without dated sessions are absent)."""
    ends: dict[int, datetime] = {}
    for season in seasons:
        for session in season.sessions:
            end = session_end(session)
            if end is not None and (session.meeting_key not in ends or end > ends[session.meeting_key]):
                ends[session.meeting_key] = end
    return ends


def year_start(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=UTC)


def season_settles_at(season: Season) -> datetime:
    """When a year's lists become final: the year is over and its last session ended 14 days before."""
    last = year_start(season.year + 1) - SETTLE
    for session in season.sessions:
        end = session_end(session)
        if end is not None and end > last:
            last = end
    for meeting in season.meetings:
        for when in (utc_or_none(meeting.date_end), utc_or_none(meeting.date_start)):
            if when is not None and when > last:  # a time that cannot be shifted to UTC is no time
                last = when
    return max(year_start(season.year + 1), last + SETTLE)


def is_settled(event: Event | None, settles_at: datetime | None, now: datetime) -> bool:
    """A stored answer is settled when it was received after ``settles_at``, and ``now`` is past it too."""
    if event is None or settles_at is None:
        return False
    return min(as_utc(now), as_utc(event.received_at)) > settles_at


def _meeting_order(seasons: Sequence[Season]) -> list[tuple[int, int]]:
    """(year, meeting key) of every meeting known, in the order of their first session (then key)."""
    first: dict[int, tuple[datetime, int]] = {}
    far = datetime.max.replace(tzinfo=UTC)
    for season in seasons:
        for meeting in season.meetings:
            start = utc_or_none(meeting.date_start) or far
            if meeting.meeting_key not in first or start < first[meeting.meeting_key][0]:
                first[meeting.meeting_key] = (start, season.year)
        for session in season.sessions:
            start = utc_or_none(session.date_start) or far
            if session.meeting_key not in first or start < first[session.meeting_key][0]:
                first[session.meeting_key] = (start, season.year)
    ordered = sorted(first.items(), key=lambda item: (item[1][0], item[0]))
    return [(year, key) for key, (_, year) in ordered]


def selected_meetings(
    seasons: Sequence[Season], options: FetchOptions, now: datetime
) -> list[tuple[int, int]]:
    """(year, meeting key) of the meetings phase 2 asks about, in date order.

    A meeting qualifies once one of its sessions has ended before ``now`` (results are post-session).
    With ``recent_days``, only meetings with a session in the last N days (started by ``now`` and ended
    after ``now - N days``), whatever the year.
    """
    now = as_utc(now)
    ended: set[int] = set()
    recent: set[int] = set()
    window_start = now - timedelta(days=options.recent_days or 0)
    for season in seasons:
        for session in season.sessions:
            span = calendar.session_span(session.date_start, session.date_end)
            if span is None:
                continue
            start, end = span
            if has_ended(session, now):
                ended.add(session.meeting_key)
            if start <= now and end >= window_start:
                recent.add(session.meeting_key)
    chosen = ended if options.recent_days is None else ended & recent
    return [(year, key) for year, key in _meeting_order(seasons) if key in chosen]
