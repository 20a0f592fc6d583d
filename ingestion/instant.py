"""Instants: THE UTC parse, conversion and format of the project. Pure.

Typed by people (``--as-of``, ``--now``, ``--from``, ``--received-at``), :func:`parse_instant`: ISO-8601,
``2024-12-08``, ``2024-12-08T12:00``, ``...Z``, ``...+02:00``. A date alone is its midnight UTC; a time
without a zone is UTC. The result is always an aware UTC ``datetime`` between 1900 and 2999 (an instant
outside is a one-line usage error: near year 1 or 9999 the calendar arithmetic overflowed).

Read from data (a row's ``date_start``, an f1db date and time), :func:`read_utc`: the same ISO-8601 text
and the same rule for a missing zone, but never an error: text that is no instant, or one that cannot be
shifted to UTC, is None (an unknown time). :func:`as_utc` converts, :func:`utc_or_none` converts or gives
None, :func:`format_utc` writes an instant for people.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ingestion.errors import UsageError

#: Instants a person may type: from 1900 to 2999, UTC. Far enough either way for any season, near enough
#: to year 1 and 9999 that every computation (``--recent`` windows, plan margins) stays in the calendar.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def parse_instant(text: str, *, option: str = "time") -> datetime:
    """``text`` as an aware UTC instant; anything else is a one-line :class:`UsageError` naming ``option``."""
    shown = repr(text if len(text) <= 40 else text[:37] + "...")
    value = _iso(text.strip())
    if value is None:
        raise UsageError(
            f"{option}: not an ISO-8601 date or time: {shown} (e.g. 2024-12-08 or 2024-12-08T18:00:00Z)"
        )
    instant = utc_or_none(value)  # None: 0001-01-01T00:00+14:00 is before year 1 in UTC
    if instant is None or not EARLIEST <= instant <= LATEST:
        raise UsageError(f"{option}: {shown} is out of range: give a time between 1900-01-01 and 2999-12-31")
    return instant


def read_utc(text: object) -> datetime | None:
    """``text`` read from data as an aware UTC instant (ISO-8601, no zone is UTC); None when it is not a
    string, not ISO-8601, or cannot be shifted to UTC. The one lenient parse: data never raises."""
    return utc_or_none(_iso(text)) if isinstance(text, str) else None


def _iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def utc_or_none(value: datetime | None) -> datetime | None:
    """``value`` as an aware UTC instant (:func:`as_utc`); None when absent or when it cannot be shifted to
    UTC (``0001-01-01T00:00+14:00`` from a damaged answer): such a time is unknown, never a crash."""
    if value is None:
        return None
    try:
        return as_utc(value)
    except (OverflowError, ValueError):
        return None


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC instant: a naive time is taken as UTC, an aware one is converted.

    The one UTC conversion of the project (OverflowError for an instant that cannot be shifted, such as
    ``0001-01-01T00:00+01:00``)."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


#: THE text of an instant in messages, logs and JSON: ``2024-12-08T12:00:00Z`` (UTC, whole seconds).
UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def format_utc(value: datetime) -> str:
    """``value`` as :data:`UTC_FORMAT` text (a naive time is UTC, :func:`as_utc`): the one way an instant is
    written for people."""
    return as_utc(value).strftime(UTC_FORMAT)


def parse_optional(text: str | None, *, option: str) -> datetime | None:
    """:func:`parse_instant`, passing ``None`` through (an option left out)."""
    return None if text is None else parse_instant(text, option=option)


def format_duration(seconds: float) -> str:
    """A duration as every summary, table and schedule prints it: ``8.9 s``, ``1 min 05.4 s``,
    ``1 h 02 min``, ``3 d 02 h`` (rounded once, then split: never ``1 min 60.0 s`` nor ``1 h 60 min``)."""
    tenths = round(seconds * 10)
    if tenths < 600:
        return f"{tenths / 10:.1f} s"
    if tenths < 36000:
        minutes, rest = divmod(tenths, 600)
        return f"{minutes} min {rest / 10:04.1f} s"
    minutes = round(seconds / 60)
    if minutes < 1440:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    hours = round(seconds / 3600)
    return f"{hours // 24} d {hours % 24:02d} h"
