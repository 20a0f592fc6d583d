"""``ingest sync``, ``bulk``, ``verify`` and ``diff``: parse, call one library function, print.

The library functions are :func:`ingestion.ops.sync.sync`, :func:`ingestion.ops.bulk_sync.bulk_sync`,
:func:`ingestion.ops.verify.verify` and :func:`ingestion.ops.diff.diff`. See docs/sync.md.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from ingestion.cli.options import (
    JsonOption,
    RecentOption,
    SourceOption,
    StoreOption,
    WaitOption,
    YearsOption,
    settings_for,
)
from ingestion.cli.progress import ProgressLine, StageProgress
from ingestion.cli.render import print_outcome
from ingestion.config import load_settings
from ingestion.errors import UsageError
from ingestion.instant import format_utc, parse_instant, parse_optional
from ingestion.masking import mask_text

if TYPE_CHECKING:
    from ingestion.replay.summary import ReplayStep

__all__ = ["bulk_command", "diff_command", "register", "sync_command", "verify_command"]

#: sync's and bulk's --no-results (each fetches, then replays).
_NoResults = Annotated[
    bool, typer.Option("--no-results", help="Neither fetch nor write results (spoiler-safe).")
]


def _finish(
    outcome: object,
    render: Callable[[], list[str]],
    as_json: bool,
    exit_code: int = 0,
    secrets: tuple[str | None, ...] = (),
) -> None:
    """Print ``outcome`` as JSON or as its rendered lines (secrets masked), then exit with ``exit_code``."""
    print_outcome(outcome, render, as_json, secrets)
    if exit_code:
        raise typer.Exit(exit_code)


def sync_command(
    year: YearsOption = None,
    recent: RecentOption = None,
    no_results: _NoResults = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Pin the clock (ISO-8601): fetch plans as if it were T; replay as of T."
        ),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option("--now", help="Pin only the fetch's clock (ISO-8601); replay as of the fetch's end."),
    ] = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
    wait: WaitOption = None,
    source: SourceOption = None,
    allow_removals: Annotated[
        bool,
        typer.Option(
            "--allow-removals",
            help="Let the replay remove rows of settled seasons beyond the circuit breaker's limit.",
        ),
    ] = False,
) -> None:
    """Fetch what is new from OpenF1 and f1db, then replay the snapshot store into the racing tables.

    With neither --year nor --recent: the current season. Ends with one summary (rows synced per table,
    requests, warnings, wall time). Exit codes: 0 ok, 1 some requests failed (what was stored is still
    replayed), 2 bad usage, 3 stopped by a live-session block (what was stored is still replayed).

    The sources are SOURCES (default openf1,f1db) or --source: a season before 2023 asks OpenF1 nothing;
    f1db's latest release holds every season since 1950. A source that cannot be reached is one line and
    exit 1; the other's data still lands. Data from f1db (CC BY 4.0).

    Example: ingest sync --recent 3
    """
    from ingestion.fetch.sources import chosen_sources
    from ingestion.ops.sync import SyncOptions, SyncUsageError, sync

    if as_of is not None and now is not None:
        raise SyncUsageError("--as-of and --now cannot be used together: --as-of pins the fetch's clock too")
    pinned = parse_optional(as_of, option="--as-of")
    settings = settings_for(store)
    sources = chosen_sources(settings, source)
    secrets = (settings.openf1_password, settings.github_token)
    line = ProgressLine(sys.stderr, secrets)
    stages = StageProgress(sys.stderr)  # the replay's stages, on a terminal, once it has run a second

    def replay_stage(step: ReplayStep) -> None:
        line.clear()  # the fetch is over: its line gives way to the replay's
        stages(step)

    try:
        summary = sync(
            settings,
            SyncOptions(
                years=tuple(year or ()),
                recent_days=recent,
                results=not no_results,
                lock_wait=wait,
                sources=sources,
                allow_removals=allow_removals,
            ),
            now=pinned or parse_optional(now, option="--now"),
            as_of=pinned,
            progress=line,
            replay_progress=replay_stage,
        )
    finally:
        line.clear()
        stages.clear()
    from ingestion.ops.sync import render_sync

    _finish(summary, lambda: render_sync(summary), as_json, summary.exit_code, secrets)


def bulk_command(
    all_years: Annotated[
        bool, typer.Option("--all", help="Every season to now: from 1950 with f1db, else from 2023.")
    ] = False,
    current: Annotated[bool, typer.Option("--current", help="The current season only (default).")] = False,
    start_year: Annotated[int | None, typer.Option("--start-year", help="First season of a range.")] = None,
    end_year: Annotated[
        int | None, typer.Option("--end-year", help="Last season of a range (default: the current one).")
    ] = None,
    no_results: _NoResults = False,
    retries: Annotated[int, typer.Option("--retries", help="Extra tries for a failing season.")] = 2,
    as_json: JsonOption = False,
    source: SourceOption = None,
) -> None:
    """Sync season after season (fetch the year, then replay); a failing season is retried, then reported.

    The other seasons still run. Ends with a table per season: requests, rounds, sessions, results,
    status. Exit codes: 0 all synced, 1 a season failed, 2 bad usage, 3 a season was stopped by a
    live-session block (and none failed).

    f1db (SOURCES, or --source) is asked once, before the seasons: its latest release holds every season
    since 1950; a season before 2023 asks OpenF1 nothing. Data from f1db (CC BY 4.0).

    Example: ingest bulk --start-year 2023 --end-year 2024 --no-results
    """
    from ingestion.fetch import FIRST_SEASON
    from ingestion.fetch.sources import F1DB_FIRST_SEASON, chosen_sources
    from ingestion.ops.bulk_sync import (
        BulkEvent,
        BulkOptions,
        bulk_sync,
        bulk_years,
        render_bulk,
        render_event,
    )

    settings = load_settings()
    sources = chosen_sources(settings, source)
    years = bulk_years(
        all_years=all_years,
        current=current,
        start_year=start_year,
        end_year=end_year,
        now=datetime.now(UTC),
        first=F1DB_FIRST_SEASON if "f1db" in sources else FIRST_SEASON,
    )
    secrets = (settings.openf1_password, settings.github_token)
    line = ProgressLine(sys.stderr, secrets)

    def on_event(event: BulkEvent) -> None:
        line.clear()
        typer.echo(mask_text(render_event(event), *secrets), err=True)

    try:
        summary = bulk_sync(
            settings,
            BulkOptions(years=years, results=not no_results, retries=retries, sources=sources),
            on_event=on_event,
            progress=line,
        )
    finally:
        line.clear()
    _finish(summary, lambda: render_bulk(summary), as_json, summary.exit_code, secrets)


def verify_command(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Recompute as of this instant (default: the last replay's as_of)."),
    ] = None,
    results: Annotated[
        bool | None,
        typer.Option("--results/--no-results", help="Compare results or not (default: as the last replay)."),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Kept rows (never deleted by replay) count as differences too.")
    ] = False,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Prove the racing tables match the snapshots: recompute the rows with replay and compare, read-only.

    Prints per table rows missing, extra and different (with examples and the differing columns), then
    counts per table, rounds per season, sessions per type and the latest completed session.
    Exit codes: 0 the database matches, 1 a difference, 2 bad usage or configuration.

    Example: ingest verify
    """
    from ingestion.cli.reports import print_verify
    from ingestion.db import database_url
    from ingestion.ops.verify import verify
    from ingestion.store import Store

    instant = parse_optional(as_of, option="--as-of")
    settings = settings_for(store)
    snapshots = Store(settings.snapshot_dir)
    url = database_url(settings)
    report = verify(url, snapshots, instant, results=results, strict=strict, schema=settings.database_schema)
    if as_json:
        _finish(report, lambda: [], as_json, report.exit_code)
        return
    print_verify(report)  # a table on a terminal, plain lines elsewhere
    if report.exit_code:
        raise typer.Exit(report.exit_code)


def diff_command(
    before: Annotated[str, typer.Option("--from", help="The earlier instant (ISO-8601).")],
    after: Annotated[str, typer.Option("--to", help="The later instant (ISO-8601).")],
    no_results: Annotated[bool, typer.Option("--no-results", help="Leave results out (spoiler-safe).")] = (
        False
    ),
    limit: Annotated[int, typer.Option("--limit", help="Rows shown per table and kind.")] = 20,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Show what changed in the racing rows between the state of the snapshots at two instants.

    Per table: rows added, removed, and changed with the changed columns (e.g. a result corrected by a
    penalty). Reads only the store. Exit codes: 0 shown (changes or none), 2 bad usage (--from after --to).

    Example: ingest diff --from 2024-12-08T16:00:00Z --to 2024-12-20T00:00:00Z
    """
    from ingestion.ops.diff import diff, render_diff
    from ingestion.store import Store

    t1, t2 = parse_instant(before, option="--from"), parse_instant(after, option="--to")
    if t1 > t2:  # read backwards, every row added since would show as removed
        raise UsageError(
            f"--from {format_utc(t1)} is after --to {format_utc(t2)}: swap them (--from is the "
            "earlier instant)"
        )
    settings = settings_for(store)
    change = diff(Store(settings.snapshot_dir), t1, t2, results=not no_results)
    _finish(change, lambda: render_diff(change, limit), as_json)


def register(app: typer.Typer) -> None:
    app.command("sync")(sync_command)
    app.command("bulk")(bulk_command)
    app.command("verify")(verify_command)
    app.command("diff")(diff_command)
