"""``ingest sync``: fetch what OpenF1 has new, then replay the store into the racing tables, one summary.

    from ingestion.ops.sync import SyncOptions, sync

    summary = sync(load_settings(), SyncOptions(recent_days=3))
    print(summary.exit_code)

A thin shell over :func:`ingestion.fetch.fetch` and :func:`ingestion.replay.run.run_replay`; nothing here
plans, fetches, decodes or writes racing rows itself.

Clocks. ``now`` is the fetch's clock (which season is current, which meetings are over, what is settled);
``as_of`` is the replay's instant (the latest snapshot of each request received by then; sessions ended by
then are Completed, results only for those). By default both are the real time: ``now`` when the sync
starts and ``as_of`` when the fetch has ended, so everything just fetched is replayed. The CLI's
``--as-of T`` pins both to ``T``. Answers are stored with the real time they arrived, so with a ``T`` in
the past the replay sees only what the store held at ``T`` (a note says so when this run's answers are
left out); ``--now T`` pins only the fetch's clock.

Outcome. The database is checked (reachable, migrated) before anything is fetched. After the fetch the
store is replayed whatever the fetch's outcome: every stored answer is valid, and the replay is one
transaction, so a failed request or a live-session block leaves a consistent database that holds all
that was stored. ``exit_code`` is the fetch's: 0 all fetched, 1 some requests failed, 3 stopped by a
live-session block.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec

from ingestion.config import Settings
from ingestion.db import connect, database_url, require_schema
from ingestion.db.naming import resolve
from ingestion.errors import IngestionError, UsageError
from ingestion.fetch import FetchOptions, FetchSummary, ProgressCallback, fetch
from ingestion.fetch.f1db import F1dbFetch
from ingestion.fetch.sources import SourceFailure, fetch_f1db_part, openf1_years
from ingestion.fetch.summary import render_problems
from ingestion.instant import as_utc, format_duration, format_utc
from ingestion.openf1.retry import RetryPolicy
from ingestion.replay.breaker import describe
from ingestion.replay.load import DEFAULT_LOCK_WAIT
from ingestion.replay.run import run_replay
from ingestion.replay.summary import (
    COUNTS_HEADER,
    ReplayStep,
    ReplaySummary,
    TableCounts,
    counts_columns,
    replayed_line,
)
from ingestion.store import Store

__all__ = [
    "SYNCED_TABLES",
    "SyncOptions",
    "SyncSummary",
    "SyncUsageError",
    "check_database",
    "render_sync",
    "sync",
]

#: The tables a sync summary shows, with the name people use for them (rounds are meetings in OpenF1).
SYNCED_TABLES: tuple[tuple[str, str], ...] = (
    ("meetings", "rounds"),
    ("sessions", "sessions"),
    ("drivers", "drivers"),
    ("teams", "teams"),
    ("entrants", "entrants"),
    ("results", "results"),
)


class SyncUsageError(UsageError):
    """Options of ``sync`` that contradict each other (exit 2)."""


class SyncOptions(msgspec.Struct, frozen=True, kw_only=True):
    """What to sync: one season (``year``), the meetings of the last ``recent_days`` days, or (neither)
    the current season. ``results`` off never asks nor writes results (spoiler-safe)."""

    year: int | None = None
    recent_days: int | None = None
    results: bool = True
    retry: RetryPolicy = msgspec.field(default_factory=RetryPolicy)
    #: seconds to wait for another writer's store lock, and for another replay's lock (None: 10 each)
    lock_wait: float | None = None
    years: tuple[int, ...] = ()  # several seasons (`--year 2023 --year 2024`), with ``year`` or instead
    #: the sources to fetch (None: the SOURCES setting); a season before 2023 asks OpenF1 nothing
    sources: tuple[str, ...] | None = None
    #: let the replay remove rows of settled seasons beyond the circuit breaker's limit (``--allow-removals``)
    allow_removals: bool = False

    def seasons(self) -> tuple[int, ...]:
        """Every season asked for, in order, once each (empty: none named)."""
        named = (*self.years, *((self.year,) if self.year is not None else ()))
        return tuple(sorted(set(named)))


class SyncSummary(msgspec.Struct, kw_only=True):
    """What a sync did. ``synced`` maps meetings, sessions, drivers, teams, entrants, results to the
    replay's counts (inserted, updated, unchanged, and removed: entrants and results the snapshots no longer
    hold); ``exit_code`` 0 ok, 1 some requests failed, 3 stopped by a live-session block."""

    years: list[int]
    now: datetime
    as_of: datetime
    results: bool
    requests: int  # planned requests asked (answered or failed)
    http_requests: int  # HTTP requests sent, retries included
    failed: int
    warnings: int  # replay warnings
    synced: dict[str, TableCounts]
    wall_s: float
    fetch_s: float
    replay_s: float
    fetch: FetchSummary
    replay: ReplaySummary
    notes: list[str] = msgspec.field(default_factory=list)
    exit_code: int = 0
    f1db: F1dbFetch | None = None  # f1db's part (None: not a source of this sync, or it failed)
    #: sources that could not be asked, one line each ("f1db: ..."): their part only is missing
    failures: list[str] = msgspec.field(default_factory=list)


def validate(options: SyncOptions) -> None:
    """Raise :class:`SyncUsageError` when ``--year`` and ``--recent`` are both given."""
    if options.seasons() and options.recent_days is not None:
        raise SyncUsageError("--year and --recent cannot be used together: choose one")


def check_database(url: str, schema: str = "auto") -> None:
    """Raise the database's one-line error unless it is reachable and fully migrated (reads only);
    ``schema``: the ``DATABASE_SCHEMA`` setting."""
    with connect(url) as conn:
        require_schema(conn, resolve(conn, schema))
        conn.rollback()


def sync(
    settings: Settings,
    options: SyncOptions | None = None,
    *,
    now: datetime | None = None,
    as_of: datetime | None = None,
    progress: ProgressCallback | None = None,
    replay_progress: Callable[[ReplayStep], None] | None = None,
    database: str | None = None,
) -> SyncSummary:
    """Fetch (as if it were ``now``) then replay the store as of ``as_of``; see the module doc.

    ``progress`` is told each fetch event, ``replay_progress`` each stage of the replay.
    ``database`` is the database URL (default: ``database_url(settings)``). Raises
    :class:`SyncUsageError`/``FetchUsageError`` for bad options, the database's errors before fetching
    anything, and the store's (``StoreLocked``) and the token's errors from the fetch.
    """
    options = options or SyncOptions()
    validate(options)
    started = time.monotonic()
    clock = as_utc(now) if now is not None else datetime.now(UTC)
    url = database or database_url(settings)
    check_database(url, settings.database_schema)
    years = options.seasons()
    if not years and options.recent_days is None:
        years = (clock.year,)
    sources = options.sources if options.sources is not None else settings.sources
    openf1, left_to_f1db = openf1_years(years, sources)
    failures: list[str] = []
    fetched = FetchSummary()
    if "openf1" in sources and (openf1 or not years):
        try:
            fetched = fetch(
                settings,
                FetchOptions(
                    years=openf1,
                    recent_days=options.recent_days,
                    results=options.results,
                    retry=options.retry,
                    lock_wait=options.lock_wait,
                    revalidate_days=settings.revalidate_days,
                ),
                clock,
                progress,
            )
        except UsageError:
            raise
        except IngestionError as error:
            if "f1db" not in sources:
                raise
            failures.append(f"openf1: {error}")
    f1db = fetch_f1db_part(settings, lock_wait=options.lock_wait) if "f1db" in sources else None
    if isinstance(f1db, SourceFailure):
        failures.append(f1db.message)
        f1db = None
    fetch_ended = datetime.now(UTC)
    fetch_s = time.monotonic() - started
    instant = as_utc(as_of) if as_of is not None else fetch_ended
    replay_wait = DEFAULT_LOCK_WAIT if options.lock_wait is None else options.lock_wait
    store = Store(settings.snapshot_dir)
    replayed = run_replay(
        url,
        store,
        instant,
        results=options.results,
        lock_wait=replay_wait,
        allow_removals=options.allow_removals,
        progress=replay_progress,
        schema=settings.database_schema,
    )
    wall_s = time.monotonic() - started
    notes: list[str] = [left_to_f1db] if left_to_f1db else []
    if as_of is not None and instant < fetch_ended and fetched.requests > len(fetched.failed):
        notes.append(
            f"answers fetched by this run arrived after --as-of {format_utc(instant)}: "
            "the replay does not see them (it reads the store as it was then)"
        )
    return SyncSummary(
        years=sorted({*fetched.years, *options.seasons()}),
        now=clock,
        as_of=instant,
        results=options.results,
        requests=fetched.requests,
        http_requests=fetched.http_requests,
        failed=len(fetched.failed),
        warnings=sum(replayed.warnings.values()),
        synced={label: replayed.tables.get(table, TableCounts()) for label, table in SYNCED_TABLES},
        wall_s=wall_s,
        fetch_s=fetch_s,
        replay_s=wall_s - fetch_s,
        fetch=fetched,
        replay=replayed,
        notes=notes,
        exit_code=fetched.exit_code or (1 if failures else 0),
        f1db=f1db,
        failures=failures,
    )


def render_sync(summary: SyncSummary) -> list[str]:
    """The summary as lines of text (pure)."""
    years = ", ".join(str(y) for y in summary.years)
    fetched = summary.fetch
    lines = [
        f"sync {years}: {summary.requests} request(s) asked ({summary.http_requests} HTTP), "
        f"{fetched.new_snapshots} new snapshot(s), {fetched.unchanged} unchanged, {fetched.empty} empty, "
        f"{summary.failed} failed",
        replayed_line(summary.replay),
        f"  {'synced':<10}{COUNTS_HEADER}",
    ]
    for label, counts in summary.synced.items():
        if label == "results" and not summary.results:
            lines.append(f"  {label:<10}{'off (--no-results)':>30}")
            continue
        lines.append(f"  {label:<10}{counts_columns(counts)}")
    if summary.replay.warnings:
        kinds = ", ".join(f"{kind} {count}" for kind, count in summary.replay.warnings.items())
        lines.append(f"warnings: {summary.warnings} ({kinds})")
    else:
        lines.append("warnings: none")
    lines.extend(f"kept: {message}" for message in summary.replay.kept)
    if summary.replay.allowed_removals:
        lines.append(f"removals allowed (--allow-removals): {describe(summary.replay.allowed_removals)}")
    lines.extend(render_problems(fetched))
    if summary.f1db is not None:
        lines.append(summary.f1db.render())
    lines.extend(f"error: {failure}" for failure in summary.failures)
    lines.extend(f"note: {note}" for note in (*fetched.notes, *summary.notes))
    lines.append(
        f"wall time {format_duration(summary.wall_s)} (fetch {format_duration(summary.fetch_s)}, "
        f"replay {format_duration(summary.replay_s)})"
    )
    failed = "FAILED: a source could not be reached" if summary.failures else "FAILED: some requests failed"
    outcome = {0: "ok", 1: failed, 3: "STOPPED: live-session block"}
    status = outcome.get(summary.exit_code, str(summary.exit_code))
    if summary.replay.kept:  # never "ok" silently: a detected fault changed no data, and says so
        status += (
            f", WARNING: {len(summary.replay.kept)} answer(s) that cannot be true kept out "
            "(the earlier rows stay; see kept above)"
        )
    lines.append(f"status: {status}")
    return lines
