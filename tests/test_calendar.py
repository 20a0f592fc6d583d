"""The calendar (ingestion/calendar.py) is the one place that says when a session ends and when OpenF1's live
window is open: fetch, replay, watch and the server ask it, agree with each other on every session (real and
generated) at every clock, and give the same answers whatever the machine's ``TZ``."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st
from test_replay_support import snapshots, world_rows

from ingestion import calendar
from ingestion.calendar import LIVE_MARGIN, SESSION_LENGTH, SessionStatus
from ingestion.fetch.season import Season, decode_meetings, decode_sessions, has_ended
from ingestion.fetch.summary import live_advice
from ingestion.openf1.wire import Session
from ingestion.replay import normalize
from ingestion.server._source import Dataset
from ingestion.server._time import live_windows
from ingestion.watch.schedule import closed_windows

PACKAGE = Path(__file__).resolve().parents[1] / "ingestion"
ZONES = ("UTC", "America/New_York", "Asia/Kolkata", "Pacific/Kiritimati")
T = TypeVar("T")

MEETING = {
    "meeting_key": 1252, "meeting_name": "Abu Dhabi Grand Prix", "year": 2024, "circuit_key": 70,
    "circuit_short_name": "Yas Marina Circuit", "location": "Yas Island",
    "country_name": "United Arab Emirates", "country_code": "UAE", "gmt_offset": "04:00:00",
    "date_start": "2024-12-06T09:30:00+00:00",
}
NAMES = ("Practice 1", "Practice 2", "Qualifying", "Sprint", "Race")
BASE = datetime(2024, 12, 6, 9, 30)


@contextmanager
def machine_tz(zone: str) -> Iterator[None]:
    """The process's local time zone set to ``zone`` (``TZ`` and :func:`time.tzset`), restored after."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def in_every_zone(answer: Callable[[], T]) -> list[T]:
    """``answer()`` computed under each of :data:`ZONES`."""
    out = []
    for zone in ZONES:
        with machine_tz(zone):
            out.append(answer())
    return out


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def replay_completed(sessions: list[Session], now: datetime) -> dict[int, bool]:
    """Session key -> whether replay writes it Completed as of ``now`` (the real normalize, lists only)."""
    rows = [
        {
            "session_key": s.session_key, "meeting_key": s.meeting_key, "year": 2024,
            "session_name": s.session_name, "session_type": s.session_type,
            "date_start": _iso(s.date_start), "date_end": _iso(s.date_end), "gmt_offset": "04:00:00",
        }
        for s in sessions
    ]
    answers = [
        ("/v1/meetings?year=2024", 200, json.dumps([MEETING]).encode()),
        ("/v1/sessions?year=2024", 200, json.dumps(rows).encode()),
    ]
    replayed = normalize(snapshots(answers), now, results=False)
    return {
        int(row.open_f1_session_key or 0): row.status == SessionStatus.Completed
        for row in replayed.racing.sessions
    }


@st.composite
def session_lists(draw: st.DrawFn) -> list[Session]:
    """1-5 sessions of one meeting: starts naive or aware (any offset), ends missing, before or after the
    start, on minute boundaries so that a clock can fall exactly on an end."""
    out = []
    for i in range(draw(st.integers(1, 5))):
        start = BASE + timedelta(minutes=draw(st.integers(0, 4 * 24 * 60)))
        length = draw(st.none() | st.integers(-180, 240).map(lambda m: timedelta(minutes=m)))
        end = None if length is None else start + length
        offset = draw(st.none() | st.integers(-12, 14).map(lambda h: timedelta(hours=h)))

        def typed(when: datetime | None, offset: timedelta | None = offset) -> datetime | None:
            if when is None or offset is None:
                return when  # naive: UTC by OpenF1's convention
            return when.replace(tzinfo=UTC).astimezone(timezone(offset))

        out.append(
            Session(
                session_key=9000 + i, meeting_key=1252, year=2024, session_name=draw(st.sampled_from(NAMES)),
                session_type="Race", date_start=typed(start), date_end=typed(end),
            )
        )
    return out


clocks = st.integers(-60, 5 * 24 * 60).map(lambda m: (BASE + timedelta(minutes=m)).replace(tzinfo=UTC))


@settings(max_examples=60, deadline=None)
@given(sessions=session_lists(), now=clocks)
def test_calendar_fetch_and_replay_agree_on_ended(sessions: list[Session], now: datetime) -> None:
    """For any sessions (with or without ``date_end``, naive or with any offset) and any clock, the sessions
    fetch counts as ended are exactly those replay writes Completed, under every machine ``TZ``."""

    def answer() -> tuple[dict[int, bool], dict[int, bool]]:
        fetch = {s.session_key: has_ended(s, now) for s in sessions}
        return fetch, replay_completed(sessions, now)

    answers = in_every_zone(answer)
    fetch, replay = answers[0]
    # a session whose date_end is before its date_start is an upstream oddity: replay holds it (a finding,
    # its stored row kept) and writes no row for it, so it has no "ended" of replay's to compare
    inverted = {s.session_key for s in sessions if s.date_end is not None and s.date_end < s.date_start}
    assert set(replay) == set(fetch) - inverted
    assert {key: ended for key, ended in fetch.items() if key not in inverted} == replay
    assert all(a == answers[0] for a in answers)


def test_calendar_fetch_and_replay_agree_on_the_committed_seasons() -> None:
    """For every session of the 2023 and 2024 seasons, at its end, a second before and a second after,
    fetch's "ended" and replay's Completed agree."""
    for year in (2023, 2024):
        meetings = decode_meetings(json.dumps(list(world_rows(year, "meetings"))).encode())
        sessions = decode_sessions(json.dumps(list(world_rows(year, "sessions"))).encode())
        assert meetings and sessions
        by_meeting: dict[int, list[Session]] = {}
        for s in sessions:
            by_meeting.setdefault(s.meeting_key, []).append(s)
        rows = json.dumps(list(world_rows(year, "sessions"))).encode()
        lists = [
            (f"/v1/meetings?year={year}", 200, json.dumps(list(world_rows(year, "meetings"))).encode()),
            (f"/v1/sessions?year={year}", 200, rows),
        ]
        ends = sorted({e for s in sessions if (e := calendar.session_end(s.date_start, s.date_end))})
        for end in ends[::2]:  # every other distinct end (time), a second before and after
            for now in (end - timedelta(seconds=1), end, end + timedelta(seconds=1)):
                replayed = normalize(snapshots(lists), now, results=False)
                completed = {
                    int(r.open_f1_session_key or 0): r.status == SessionStatus.Completed
                    for r in replayed.racing.sessions
                }
                fetch = {s.session_key: has_ended(s, now) for s in sessions if s.session_key in completed}
                assert fetch == completed, (year, now)


@settings(max_examples=40, deadline=None)
@given(sessions=session_lists(), now=clocks)
def test_calendar_live_windows_agree_and_ignore_tz(sessions: list[Session], now: datetime) -> None:
    """Fetch's live advice, watch's closed windows and the server's live block say "live" at the same
    clocks, whatever the machine's ``TZ``."""
    season = Season(2024, decode_meetings(json.dumps([MEETING]).encode()), tuple(sessions))
    rows = [
        {"session_key": s.session_key, "date_start": _iso(s.date_start), "date_end": _iso(s.date_end)}
        for s in sessions
    ]

    def answer() -> tuple[bool, bool, bool]:
        advice = live_advice([season], now, "u", "d")
        watch = any(w.start <= now < w.end for w in closed_windows([season], LIVE_MARGIN))
        server = live_windows(Dataset({"sessions": rows})).live_at(now)
        return advice.session is not None, watch, server

    answers = in_every_zone(answer)
    assert len(set(answers)) == 1
    assert len(set(answers[0])) == 1


def test_calendar_live_advice_reads_naive_starts_as_utc() -> None:
    """A stored session whose ``date_start`` has no offset is UTC: at 14:00 UTC the 13:00-14:30 race is live
    with ``TZ=America/New_York`` as with ``TZ=UTC`` (it was read as New York time, 18:00 UTC, and missed)."""
    race = Session(
        session_key=9662, meeting_key=1252, session_name="Race",
        date_start=datetime(2024, 12, 8, 13), date_end=datetime(2024, 12, 8, 14, 30),
    )
    season = Season(2024, decode_meetings(json.dumps([MEETING]).encode()), (race,))
    now = datetime(2024, 12, 8, 14, tzinfo=UTC)
    for blocked in in_every_zone(lambda: live_advice([season], now, "u", "d")):
        assert blocked.session == "2024 Abu Dhabi Grand Prix, Race"
        assert blocked.retry_at == datetime(2024, 12, 8, 15, tzinfo=UTC)


def test_calendar_session_end_rule() -> None:
    """A session ends at ``date_end``; without one, or with one before its start, 2 h after its start; with
    no start, at ``date_end``; and has ended at ``now`` once that end is at or before ``now``."""
    start = datetime(2024, 12, 8, 13, tzinfo=UTC)
    assert calendar.session_end(start, start + timedelta(hours=1)) == start + timedelta(hours=1)
    assert calendar.session_end(start, None) == start + SESSION_LENGTH
    assert calendar.session_end(start, start - timedelta(hours=1)) == start + SESSION_LENGTH
    assert calendar.session_end(None, start) == start
    assert calendar.session_end(None, None) is None
    assert calendar.has_ended(start, None, start + SESSION_LENGTH)
    assert not calendar.has_ended(start, None, start + SESSION_LENGTH - timedelta(microseconds=1))


def test_calendar_testing_round_rule() -> None:
    """A testing round is one whose name has the word "test" or "testing", never a name that only holds
    the letters (``Contest``)."""
    assert calendar.is_testing("Pre-Season Testing")
    assert calendar.is_testing("Pre-Season Test")
    assert calendar.is_testing("FORMULA 1 ARAMCO PRE-SEASON TESTING 2025")
    assert not calendar.is_testing("Contest Grand Prix")
    assert not calendar.is_testing("Bahrain Grand Prix")


#: Patterns of a rule that belongs to ingestion/calendar.py only: a second definition fails the test below.
ONE_DEFINITION = {
    "the session length": re.compile(r"timedelta\(hours=2\)"),
    "the live margin": re.compile(r"LIVE_MARGIN\s*=|timedelta\(minutes=30\)"),
    "the race and grid sets": re.compile(r"^\s*(RACES|GRID_FROM|QUALIFYING|PRACTICE)\s*=", re.M),
    "the session names": re.compile(r'"sprint shootout"'),
    "the testing rule": re.compile(r"ILIKE '%+test|\{\"testing\", \"test\"\}|round_number\s*=\s*0\b"),
    "the session enums": re.compile(r"class Session(Type|Status)\("),
}


def test_calendar_rules_are_defined_once() -> None:
    """Each calendar rule is written in ingestion/calendar.py and nowhere else in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "calendar.py" and path.parent == PACKAGE:
            continue
        text = path.read_text(encoding="utf-8")
        found.extend(
            f"{path.relative_to(PACKAGE)}: {rule}" for rule, p in ONE_DEFINITION.items() if p.search(text)
        )
    assert not found
