"""What a fetch is asked to do: :class:`FetchOptions`, checked by :func:`validate`; :func:`years_for` the
years whose lists it needs. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from ingestion.errors import UsageError
from ingestion.instant import as_utc
from ingestion.openf1.limiter import DEFAULT_MARGIN
from ingestion.openf1.retry import RetryPolicy

__all__ = [
    "FIRST_SEASON",
    "MAX_RECENT_DAYS",
    "REVALIDATE_DAYS",
    "FetchOptions",
    "FetchUsageError",
    "validate",
    "years_for",
]

#: OpenF1's first season.
FIRST_SEASON = 2023
#: Default of the ``REVALIDATE_DAYS`` setting: a settled year whose newest answer is older is asked again.
REVALIDATE_DAYS = 30

class FetchUsageError(UsageError):
    """Options that contradict each other or cannot be fetched (exit 2)."""


class FetchOptions(msgspec.Struct, frozen=True, kw_only=True):
    """What to fetch. With neither ``years``, ``recent_days`` nor ``all_years``: the current year."""

    years: tuple[int, ...] = ()
    recent_days: int | None = None
    all_years: bool = False
    results: bool = True
    refresh: bool = False
    revalidate: bool = False  # ask settled answers of these years again (batched)
    #: a settled year whose newest answer is older than this many days is revalidated; None: never
    revalidate_days: int | None = REVALIDATE_DAYS
    batch: bool = True  # settled meetings in one request per year and endpoint (False: per meeting)
    dry_run: bool = False
    retry: RetryPolicy = msgspec.field(default_factory=RetryPolicy)
    margin: float = DEFAULT_MARGIN  # seconds added to each rate-limit window
    lock_wait: float | None = None  # seconds to wait for another writer's store lock (None: the store's 10)


#: The longest ``--recent`` window: a century of days (999999999 days overflowed the calendar).
MAX_RECENT_DAYS = 36_500


def validate(options: FetchOptions, now: datetime) -> None:
    """Raise :class:`FetchUsageError` for contradicting or impossible options."""
    chosen = [
        name
        for name, on in (
            ("--year", bool(options.years)),
            ("--recent", options.recent_days is not None),
            ("--all", options.all_years),
        )
        if on
    ]
    if len(chosen) > 1:
        raise FetchUsageError(f"{' and '.join(chosen)} cannot be used together: choose one")
    if options.recent_days is not None and not 1 <= options.recent_days <= MAX_RECENT_DAYS:
        raise FetchUsageError(
            f"--recent takes a number of days from 1 to {MAX_RECENT_DAYS}, got {options.recent_days} "
            "(for whole seasons use --year or --all)"
        )
    for year in options.years:
        if year < FIRST_SEASON:
            raise FetchUsageError(f"--year {year}: OpenF1 has data from {FIRST_SEASON} on")
        if year > now.year + 1:
            raise FetchUsageError(f"--year {year}: that season is not scheduled yet (now is {now.year})")


def years_for(options: FetchOptions, now: datetime) -> list[int]:
    """The years whose lists the fetch needs, oldest first."""
    now = as_utc(now)
    if options.years:
        return sorted(set(options.years))
    if options.all_years:
        return list(range(FIRST_SEASON, now.year + 1))
    if options.recent_days is not None:
        start = now - timedelta(days=options.recent_days)
        return list(range(max(FIRST_SEASON, start.year), now.year + 1))
    return [now.year]
