"""Parsers of OpenF1's loose values, PURE: ints that fit PostgreSQL, colours, timings, lapped gaps,
``gmt_offset`` and local dates. Each returns None (or a neutral value) for what it cannot read, never raises.
Instants are :mod:`ingestion.instant`'s (``utc_or_none``)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

__all__ = [
    "INT4_MAX",
    "INT4_MIN",
    "MAX_SECONDS",
    "in_range",
    "int4",
    "lap_time",
    "laps_detail",
    "local_date",
    "local_end_date",
    "parse_colour",
    "parse_offset",
    "parse_seconds",
    "to_millis",
]

INT4_MIN, INT4_MAX = -(2**31), 2**31 - 1
MAX_SECONDS = 10 * 24 * 3600.0  # a timing longer than this is not a timing
_LAPS = re.compile(r"^\+?\s*(\d+)\s*LAPS?$", re.IGNORECASE)
_HEX = re.compile(r"^[0-9A-F]{6}$")
_OFFSET = re.compile(r"^([+-])?(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def int4(value: int | None) -> int | None:
    return value if value is not None and INT4_MIN <= value <= INT4_MAX else None


def in_range(*values: int) -> bool:
    return all(INT4_MIN <= v <= INT4_MAX for v in values)


def parse_colour(text: str | None) -> str | None:
    if text is None:
        return None
    value = text.strip().lstrip("#").upper()
    return value if _HEX.match(value) else None


def parse_seconds(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    if not (0.0 <= seconds < MAX_SECONDS):  # also rejects NaN
        return None
    return seconds


def to_millis(seconds: float) -> int:
    return round(seconds * 1000)


def lap_time(millis: int) -> str:
    """A lap time as the app shows it: ``1:29.708`` (``59.123`` under a minute)."""
    minutes, rest = divmod(millis, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{minutes}:{secs:02d}.{ms:03d}" if minutes else f"{secs}.{ms:03d}"


def laps_detail(gap: object) -> str | None:
    """``+1 LAP`` -> ``+1 Lap``, ``+2 LAPS`` -> ``+2 Laps``; anything else None."""
    if not isinstance(gap, str):
        return None
    match = _LAPS.match(gap.strip())
    if not match:
        return None
    n = int(match.group(1))
    return f"+{n} Lap" if n == 1 else f"+{n} Laps"


def parse_offset(text: str | None) -> timedelta:
    """``03:00:00`` / ``-05:00:00`` as a timedelta (zero when absent or unreadable)."""
    match = _OFFSET.match((text or "").strip())
    if not match:
        return timedelta(0)
    sign = -1 if match.group(1) == "-" else 1
    hours, minutes, seconds = int(match.group(2)), int(match.group(3)), int(match.group(4) or 0)
    if hours > 14 or minutes > 59 or seconds > 59:
        return timedelta(0)
    return sign * timedelta(hours=hours, minutes=minutes, seconds=seconds)


def local_date(moment: datetime, gmt_offset: str | None) -> date:
    """The calendar day at the circuit (UTC shifted by OpenF1's ``gmt_offset``)."""
    try:
        return (moment + parse_offset(gmt_offset)).date()
    except OverflowError:
        return moment.date()


def local_end_date(start: datetime, end: datetime, gmt_offset: str | None) -> date:
    """The local day a session (or meeting) from ``start`` to ``end`` ends on: an end exactly at local
    midnight belongs to the day before (a race ending at 00:00 in Las Vegas ended on Saturday night), never
    before the day it started."""
    day = local_date(end, gmt_offset)
    try:
        at_midnight = (end + parse_offset(gmt_offset)).time() == time(0)
    except OverflowError:
        at_midnight = False
    if at_midnight and end > start:
        day = max(day - timedelta(days=1), local_date(start, gmt_offset))
    return day
