"""Instants typed by people (``--as-of``, ``--now``, ``--from``, ``--received-at``): one parser for all.

ISO-8601: ``2024-12-08``, ``2024-12-08T12:00``, ``...Z``, ``...+02:00``. A date alone is its midnight UTC;
a time without a zone is UTC. The result is always an aware UTC ``datetime``. Pure.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ingestion.errors import UsageError


def parse_instant(text: str, *, option: str = "time") -> datetime:
    """``text`` as an aware UTC instant; anything else is a one-line :class:`UsageError` naming ``option``."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{option}: not an ISO-8601 date or time: {text!r} (e.g. 2024-12-08 or 2024-12-08T18:00:00Z)"
        ) from None
    return as_utc(value)


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC instant: a naive time is taken as UTC, an aware one is converted.

    The one UTC conversion of the project (OverflowError for an instant that cannot be shifted, such as
    ``0001-01-01T00:00+01:00``)."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_optional(text: str | None, *, option: str) -> datetime | None:
    """:func:`parse_instant`, passing ``None`` through (an option left out)."""
    return None if text is None else parse_instant(text, option=option)
