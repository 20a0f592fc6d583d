"""The calendar, PURE: sessions (typed by name), rounds (meetings with their local dates), circuits,
seasons and the series, and the numbering of rounds within a season. Rules in docs/replay.md."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import NamedTuple

from ingestion.calendar import TESTING_ROUND_NUMBER, SessionType, is_testing, session_status, session_type
from ingestion.instant import utc_or_none
from ingestion.openf1.wire import Meeting, Session
from ingestion.replay.decoded import Context, pick
from ingestion.replay.identity import clean_text, make_id, slugify, unique_slugs
from ingestion.replay.rows import CircuitRow, RoundRow, SeasonRow, SeriesRow, SessionRow
from ingestion.replay.values import int4, local_date, local_end_date

__all__ = [
    "Calendar",
    "RoundInfo",
    "SessionInfo",
    "calendar",
    "drop_orphans",
    "rounds",
    "sessions",
]

SERIES_SLUG = "formula-1"
SERIES_NAME = "Formula 1"

# Warning kinds.
MEETING_CANCELLED = "meeting_cancelled"
MEETING_INCOMPLETE = "meeting_incomplete"
SESSION_UNKNOWN_NAME = "session_unknown_name"
SESSION_INCOMPLETE = "session_incomplete"
SESSION_WITHOUT_MEETING = "session_without_meeting"


class RoundInfo(NamedTuple):
    """A meeting that is a round: its cleaned names and its local dates."""

    meeting: Meeting
    year: int
    name: str
    circuit_key: int
    circuit_name: str
    location: str
    country: str
    date_start: date
    date_end: date
    testing: bool


class SessionInfo(NamedTuple):
    """A session that passed the checks: its type, its UTC start and its stated end (``date_end``; None when
    missing or before the start: :mod:`ingestion.calendar` says when such a session ends)."""

    session: Session
    type: SessionType
    start: datetime
    end: datetime | None


class Calendar(NamedTuple):
    """The calendar's rows, keyed by OpenF1's keys (circuit, meeting, session) or the year."""

    series: SeriesRow
    seasons: dict[int, SeasonRow]
    circuits: dict[int, CircuitRow]
    rounds: dict[int, RoundRow]
    sessions: dict[int, SessionRow]


def sessions(ctx: Context) -> dict[int, SessionInfo]:
    """The sessions with a known type and a start (sessions first: rounds take their dates from them)."""
    out: dict[int, SessionInfo] = {}
    for key in sorted(ctx.decoded.sessions):
        session, origin = pick(ctx.decoded.sessions[key])
        name = clean_text(session.session_name)
        kind = session_type(name)
        if kind is None:
            ctx.warn(
                SESSION_UNKNOWN_NAME,
                f"session {key}: unknown session_name {session.session_name!r}, skipped (never guessed)",
                origin,
            )
            continue
        start = utc_or_none(session.date_start)
        if start is None:
            ctx.warn(SESSION_INCOMPLETE, f"session {key}: no date_start, skipped", origin)
            continue
        end = utc_or_none(session.date_end)
        if end is not None and end < start:
            end = None
        out[key] = SessionInfo(session, kind, start, end)
    return out


def rounds(ctx: Context, sessions: dict[int, SessionInfo]) -> dict[int, RoundInfo]:
    """The meetings that are rounds (complete; a cancelled one too: its sessions are Cancelled), dated by
    their sessions."""
    by_meeting: dict[int, list[SessionInfo]] = defaultdict(list)
    for s in sessions.values():
        by_meeting[s.session.meeting_key].append(s)
    out: dict[int, RoundInfo] = {}
    for key in sorted(ctx.decoded.meetings):
        meeting, origin = pick(ctx.decoded.meetings[key])
        name = clean_text(meeting.meeting_name)
        if meeting.is_cancelled:
            ctx.warn(
                MEETING_CANCELLED,
                f"meeting {key} ({name}) is cancelled: its round keeps its number, its sessions are "
                "Cancelled",
                origin,
            )
        circuit_name = clean_text(meeting.circuit_short_name) or clean_text(meeting.location)
        location = clean_text(meeting.location) or circuit_name
        country = clean_text(meeting.country_name)
        missing = [
            label
            for label, value in (
                ("meeting_name", name),
                ("circuit_key", int4(meeting.circuit_key)),
                ("circuit_short_name", circuit_name),
                ("country_name", country),
            )
            if value is None
        ]
        mine = by_meeting.get(key, [])
        # the local days on which its sessions take place (an end at local midnight: the day before)
        starts = [local_date(s.start, s.session.gmt_offset or meeting.gmt_offset) for s in mine]
        ends = [
            local_end_date(s.start, s.end or s.start, s.session.gmt_offset or meeting.gmt_offset)
            for s in mine
        ]
        m_start, m_end = utc_or_none(meeting.date_start), utc_or_none(meeting.date_end)
        if not starts and m_start is not None:
            starts = [local_date(m_start, meeting.gmt_offset)]
            ends = [local_end_date(m_start, m_end or m_start, meeting.gmt_offset)]
        if not starts:
            missing.append("dates")
        year = meeting.year if meeting.year is not None and 1900 <= meeting.year <= 2200 else None
        if year is None and starts:
            year = min(starts).year
        if year is None or not 1900 <= year <= 2200:
            missing.append("year")
        if missing:
            ctx.warn(MEETING_INCOMPLETE, f"meeting {key}: no {', '.join(missing)}, skipped", origin)
            continue
        assert name and circuit_name and location and country and meeting.circuit_key is not None
        assert year is not None
        out[key] = RoundInfo(
            meeting,
            year,
            name,
            meeting.circuit_key,
            circuit_name,
            location,
            country,
            min(starts),
            max(max(ends), min(starts)),
            is_testing(name),
        )
    return out


def drop_orphans(ctx: Context, sessions: dict[int, SessionInfo], rounds: dict[int, RoundInfo]) -> None:
    """Remove the sessions whose meeting is not a round (a warning when the meeting is not in the store)."""
    for key, s in list(sessions.items()):
        if s.session.meeting_key not in rounds:
            if s.session.meeting_key not in ctx.decoded.meetings:
                ctx.warn(
                    SESSION_WITHOUT_MEETING,
                    f"session {key}: meeting {s.session.meeting_key} is not in the snapshots, skipped",
                )
            del sessions[key]


def calendar(sessions: dict[int, SessionInfo], rounds: dict[int, RoundInfo], cutoff: datetime) -> Calendar:
    """The series, seasons, circuits, rounds (numbered) and sessions (with their status as of ``cutoff``)."""
    series = SeriesRow(id=make_id("series", SERIES_SLUG), name=SERIES_NAME, slug=SERIES_SLUG)
    seasons = {
        year: SeasonRow(id=make_id("season", year), series_id=series.id, year=year)
        for year in sorted({r.year for r in rounds.values()})
    }

    # circuits: by circuit_key, described by their latest meeting
    latest_meeting: dict[int, RoundInfo] = {}
    for r in sorted(rounds.values(), key=lambda r: (r.date_start, r.meeting.meeting_key)):
        latest_meeting[r.circuit_key] = r
    circuit_keys = sorted(latest_meeting)
    circuit_slugs = unique_slugs(
        [slugify(latest_meeting[k].circuit_name) or f"circuit-{k}" for k in circuit_keys]
    )
    circuits = {
        k: CircuitRow(
            id=make_id("circuit", k),
            name=latest_meeting[k].circuit_name,
            slug=slug,
            location=latest_meeting[k].location,
            country=latest_meeting[k].country,
            country_code=clean_text(latest_meeting[k].meeting.country_code),
            open_f1_circuit_key=k,
        )
        for k, slug in zip(circuit_keys, circuit_slugs, strict=True)
    }

    # rounds: numbered per season in date order (testing 0), slugs unique within a season in date order
    first_start: dict[int, datetime] = {}
    for s in sessions.values():
        mk = s.session.meeting_key
        first_start[mk] = min(first_start.get(mk, s.start), s.start)
    round_rows: dict[int, RoundRow] = {}
    for year in seasons:
        mine = sorted(
            (r for r in rounds.values() if r.year == year),
            key=lambda r: (
                r.date_start,
                first_start.get(r.meeting.meeting_key, datetime.max.replace(tzinfo=UTC)),
                r.meeting.meeting_key,
            ),
        )
        slugs = unique_slugs([f"{year}-{slugify(r.name) or 'meeting'}" for r in mine])
        number = 0
        for r, slug in zip(mine, slugs, strict=True):
            if not r.testing:
                number += 1
            mk = r.meeting.meeting_key
            round_rows[mk] = RoundRow(
                id=make_id("round", mk),
                season_id=seasons[year].id,
                circuit_id=circuits[r.circuit_key].id,
                name=r.name,
                slug=slug,
                round_number=TESTING_ROUND_NUMBER if r.testing else number,
                date_start=r.date_start,
                date_end=r.date_end,
                open_f1_meeting_key=mk,
            )

    session_rows: dict[int, SessionRow] = {}
    for key, s in sessions.items():
        cancelled = bool(s.session.is_cancelled or rounds[s.session.meeting_key].meeting.is_cancelled)
        status = session_status(s.start, s.end, cancelled, cutoff)
        session_rows[key] = SessionRow(
            id=make_id("session", key),
            round_id=round_rows[s.session.meeting_key].id,
            type=int(s.type),
            start_time_utc=s.start,
            status=int(status),
            open_f1_session_key=key,
        )
    return Calendar(series, seasons, circuits, round_rows, session_rows)
