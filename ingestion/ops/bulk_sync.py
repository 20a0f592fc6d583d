"""``ingest bulk`` (and ``python -m ingestion.bulk_sync``): sync season after season.

    from ingestion.ops.bulk_sync import BulkOptions, bulk_sync, bulk_years

    summary = bulk_sync(load_settings(), BulkOptions(years=bulk_years(all_years=True, now=now)))

Each season is one :func:`ingestion.ops.sync.sync` (fetch that year, then replay the store). A season that
fails (some requests failed, or an error such as a locked store) is tried again up to ``retries`` more
times, then reported as failed, and the next seasons still run. A live-session block is not retried
(OpenF1 answers the same until the session is over): the season is reported as blocked. Exit codes:
0 every season synced, 1 a season failed, 3 none failed but one was blocked, 2 bad usage.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Literal

import msgspec

from ingestion.config import Settings
from ingestion.db import connect, database_url
from ingestion.errors import IngestionError, UsageError
from ingestion.fetch import FIRST_SEASON, ProgressCallback
from ingestion.fetch.f1db import F1dbFetch
from ingestion.fetch.sources import SourceFailure, fetch_f1db_part
from ingestion.openf1.retry import RetryPolicy
from ingestion.ops.counts import season_counts
from ingestion.ops.sync import SyncOptions, check_database, sync

__all__ = [
    "BulkEvent",
    "BulkOptions",
    "BulkSummary",
    "BulkUsageError",
    "SeasonOutcome",
    "bulk_sync",
    "bulk_years",
    "held",
    "render_bulk",
]

Status = Literal["ok", "failed", "blocked"]


class BulkUsageError(UsageError):
    """Contradicting or impossible season choices (exit 2)."""


class BulkOptions(msgspec.Struct, frozen=True, kw_only=True):
    years: tuple[int, ...]
    results: bool = True
    retries: int = 2  # extra tries for a failing season
    retry: RetryPolicy = msgspec.field(default_factory=RetryPolicy)  # per request, inside each try
    #: the sources (None: the SOURCES setting). f1db is asked once, before the seasons (its release holds
    #: them all); each season then asks OpenF1 alone (nothing before 2023) and replays.
    sources: tuple[str, ...] | None = None


class SeasonOutcome(msgspec.Struct, kw_only=True):
    """One season's line of the final table (rounds, sessions, results: what the database holds for it)."""

    year: int
    status: Status
    attempts: int
    requests: int  # planned requests asked, over every attempt
    rounds: int = 0
    sessions: int = 0
    results: int = 0
    error: str | None = None  # the last attempt's failure


class BulkSummary(msgspec.Struct, kw_only=True):
    seasons: list[SeasonOutcome]
    results: bool
    wall_s: float
    exit_code: int
    f1db: F1dbFetch | None = None  # f1db's part, asked once before the seasons
    failures: list[str] = msgspec.field(default_factory=list)  # a source that could not be asked


class BulkEvent(msgspec.Struct, frozen=True, kw_only=True):
    """Sent to ``on_event`` as the bulk goes: a season ``start``s (attempt n), ``retry``s, or is ``done``."""

    stage: Literal["start", "retry", "done"]
    year: int
    attempt: int
    message: str = ""


def bulk_years(
    *,
    all_years: bool = False,
    current: bool = False,
    start_year: int | None = None,
    end_year: int | None = None,
    now: datetime,
    first: int = FIRST_SEASON,
) -> tuple[int, ...]:
    """The seasons chosen by ``--all``, ``--current`` or ``--start-year A --end-year B`` (pure).

    ``--start-year`` alone runs to the current season; ``--end-year`` alone starts at ``first`` (2023,
    OpenF1's first season; 1950 when f1db is a source). Nothing chosen means ``--current``.
    """
    ranged = start_year is not None or end_year is not None
    options = (("--all", all_years), ("--current", current), ("--start-year/--end-year", ranged))
    chosen = [name for name, on in options if on]
    if len(chosen) > 1:
        raise BulkUsageError(f"{' and '.join(chosen)} cannot be used together: choose one")
    this_year = now.year
    if all_years:
        return tuple(range(first, this_year + 1))
    if not ranged:
        return (this_year,)
    start = first if start_year is None else start_year
    end = this_year if end_year is None else end_year
    if start < first:
        source = "OpenF1 has" if first == FIRST_SEASON else "the sources have"
        raise BulkUsageError(f"--start-year {start}: {source} data from {first} on")
    if end > this_year + 1:
        raise BulkUsageError(f"--end-year {end}: that season is not scheduled yet (now is {this_year})")
    if start > end:
        raise BulkUsageError(f"--start-year {start} is after --end-year {end}")
    return tuple(range(start, end + 1))


def held(url: str, year: int) -> tuple[int, int, int]:
    """(rounds, sessions, results) the database holds for season ``year`` (a read-only transaction)."""
    with connect(url) as conn:
        conn.read_only = True
        seasons = season_counts(conn, year=year)
        conn.rollback()
    return (
        sum(s.rounds for s in seasons), sum(s.sessions for s in seasons), sum(s.results for s in seasons)
    )


#: The most extra tries for a failing season (999999999 retried a dead server for ever).
MAX_RETRIES = 20


def bulk_sync(
    settings: Settings,
    options: BulkOptions,
    *,
    now: datetime | None = None,
    on_event: Callable[[BulkEvent], None] | None = None,
    progress: ProgressCallback | None = None,
    database: str | None = None,
) -> BulkSummary:
    """Sync ``options.years`` one after the other (see the module doc); never raises for a failing season.

    Raises only for bad options and when the database is unreachable or not migrated (checked once,
    before any season).
    """
    if not 0 <= options.retries <= MAX_RETRIES:
        raise BulkUsageError(f"--retries takes a number from 0 to {MAX_RETRIES}, got {options.retries}")
    if not options.years:
        raise BulkUsageError("no season to sync")
    started = time.monotonic()
    url = database or database_url(settings)
    check_database(url, settings.database_schema)

    def emit(event: BulkEvent) -> None:
        if on_event is not None:
            on_event(event)

    sources = options.sources if options.sources is not None else settings.sources
    f1db: F1dbFetch | None = None
    failures: list[str] = []
    if "f1db" in sources:
        part = fetch_f1db_part(settings)
        if isinstance(part, SourceFailure):
            failures.append(part.message)
        else:
            f1db = part
    per_season = tuple(source for source in sources if source != "f1db")
    outcomes: list[SeasonOutcome] = []
    for year in options.years:
        outcome = SeasonOutcome(year=year, status="failed", attempts=0, requests=0)
        for attempt in range(1, options.retries + 2):
            outcome.attempts = attempt
            emit(BulkEvent(stage="start", year=year, attempt=attempt))
            try:
                summary = sync(
                    settings,
                    SyncOptions(
                        year=year,
                        results=options.results,
                        retry=options.retry,
                        sources=per_season if year >= FIRST_SEASON else (),  # OpenF1 starts in 2023
                    ),
                    now=now,
                    progress=progress,
                    database=url,
                )
            except IngestionError as error:
                outcome.error = error.message
            else:
                outcome.requests += summary.requests
                if summary.exit_code == 0:
                    outcome.status, outcome.error = "ok", None
                elif summary.exit_code == 3:
                    outcome.status = "blocked"
                    blocked = summary.fetch.blocked
                    outcome.error = blocked.advice if blocked is not None else "live-session block"
                else:
                    failed = summary.fetch.failed
                    outcome.error = f"{len(failed)} request(s) failed" + (
                        f", e.g. {failed[0].url}: {failed[0].reason}" if failed else ""
                    )
            if outcome.status != "failed" or attempt > options.retries:
                break
            emit(BulkEvent(stage="retry", year=year, attempt=attempt, message=outcome.error or ""))
        try:
            outcome.rounds, outcome.sessions, outcome.results = held(url, year)
        except IngestionError as error:  # pragma: no cover - the database went away mid-bulk
            outcome.error = outcome.error or error.message
        emit(BulkEvent(stage="done", year=year, attempt=outcome.attempts, message=outcome.status))
        outcomes.append(outcome)
    statuses = {o.status for o in outcomes}
    code = 1 if "failed" in statuses or failures else 3 if "blocked" in statuses else 0
    wall_s = time.monotonic() - started
    return BulkSummary(
        seasons=outcomes,
        results=options.results,
        wall_s=wall_s,
        exit_code=code,
        f1db=f1db,
        failures=failures,
    )


def render_event(event: BulkEvent) -> str:
    """A progress line for ``event``."""
    if event.stage == "start":
        return f"season {event.year}: attempt {event.attempt}"
    if event.stage == "retry":
        return f"season {event.year}: attempt {event.attempt} failed ({event.message}); trying again"
    return f"season {event.year}: {event.message} after {event.attempt} attempt(s)"


def render_bulk(summary: BulkSummary) -> list[str]:
    """The final table, one line per season, then the failures (pure)."""
    results = "results" if summary.results else "results (off)"
    lines = [
        f"{'year':<6}{'requests':>9}{'rounds':>8}{'sessions':>10}{results:>15}  {'status':<8}{'tries':>6}"
    ]
    for s in summary.seasons:
        lines.append(
            f"{s.year:<6}{s.requests:>9}{s.rounds:>8}{s.sessions:>10}{s.results:>15}"
            f"  {s.status:<8}{s.attempts:>6}"
        )
    for s in summary.seasons:
        if s.error:
            lines.append(f"season {s.year} {s.status}: {s.error}")
    if summary.f1db is not None:
        lines.append(summary.f1db.render())
    lines.extend(f"error: {failure}" for failure in summary.failures)
    ok = sum(1 for s in summary.seasons if s.status == "ok")
    lines.append(f"{ok} of {len(summary.seasons)} season(s) synced in {summary.wall_s:.1f} s")
    return lines
