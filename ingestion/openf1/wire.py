"""OpenF1's wire shapes, one msgspec Struct per endpoint, tolerant the way OpenF1 needs.

Unknown fields are ignored (OpenF1 adds fields); every field but the row's keys may be absent or null
(fields appear and vanish between schema versions); numbers may come as int or float; qualifying's
``duration`` and ``gap_to_leader`` are 3-element lists and lapped gaps are strings ("+1 LAP").
Pure: bytes in, Structs out.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

#: A timing value as OpenF1 sends it: seconds, "+1 LAP", or [Q1, Q2, Q3] in qualifying.
Timing = float | str | list[float | str | None] | None


class Meeting(msgspec.Struct, frozen=True):
    meeting_key: int
    year: int | None = None
    meeting_name: str | None = None
    meeting_official_name: str | None = None
    meeting_code: str | None = None
    circuit_key: int | None = None
    circuit_short_name: str | None = None
    circuit_type: str | None = None
    location: str | None = None
    country_key: int | None = None
    country_code: str | None = None
    country_name: str | None = None
    gmt_offset: str | None = None
    date_start: datetime | None = None
    date_end: datetime | None = None  # since 2026
    is_cancelled: bool | None = None  # since 2026


class Session(msgspec.Struct, frozen=True):
    session_key: int
    meeting_key: int
    year: int | None = None
    session_name: str | None = None
    session_type: str | None = None
    date_start: datetime | None = None
    date_end: datetime | None = None
    circuit_key: int | None = None
    circuit_short_name: str | None = None
    location: str | None = None
    country_key: int | None = None
    country_code: str | None = None
    country_name: str | None = None
    gmt_offset: str | None = None
    is_cancelled: bool | None = None


class Driver(msgspec.Struct, frozen=True):
    session_key: int
    meeting_key: int
    driver_number: int
    full_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    broadcast_name: str | None = None
    name_acronym: str | None = None
    team_name: str | None = None
    team_colour: str | None = None
    headshot_url: str | None = None
    country_code: str | None = None


class SessionResult(msgspec.Struct, frozen=True):
    session_key: int
    meeting_key: int
    driver_number: int
    position: int | None = None
    number_of_laps: int | None = None
    points: float | None = None  # absent outside races and sprints
    dnf: bool | None = None
    dns: bool | None = None
    dsq: bool | None = None
    duration: Timing = None
    gap_to_leader: Timing = None


class StartingGrid(msgspec.Struct, frozen=True):
    session_key: int  # the QUALIFYING session, not the race
    meeting_key: int
    driver_number: int
    position: int | None = None
    lap_duration: float | None = None


class Detail(msgspec.Struct, frozen=True):
    """OpenF1's non-row answers: ``{"detail": "No results found."}``, the live-session 401, errors."""

    detail: str | list[object] | dict[str, object] | None = None


NO_RESULTS = "No results found."

#: The endpoints the ingester reads, and the Struct of each one's rows.
ROW_TYPES: dict[str, type[msgspec.Struct]] = {
    "meetings": Meeting,
    "sessions": Session,
    "drivers": Driver,
    "session_result": SessionResult,
    "starting_grid": StartingGrid,
}

#: Every endpoint the ingester asks and replays, in plan order (the keys of :data:`ROW_TYPES`).
ENDPOINTS: tuple[str, ...] = tuple(ROW_TYPES)
#: Asked once per year (``?year=Y``); the others are asked per meeting (``?meeting_key=M``).
YEAR_ENDPOINTS: tuple[str, ...] = ("meetings", "sessions")
MEETING_ENDPOINTS: tuple[str, ...] = tuple(e for e in ENDPOINTS if e not in YEAR_ENDPOINTS)
#: The endpoints that hold results: neither fetched nor replayed with ``--no-results``.
RESULT_ENDPOINTS: frozenset[str] = frozenset({"session_result", "starting_grid"})
