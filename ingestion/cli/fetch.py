"""``ingest fetch``: parse the options, call :func:`ingestion.fetch.fetch`, show progress and the summary."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ingestion.cli.lazy import lazy
from ingestion.cli.options import JsonOption, RecentOption, StoreOption, WaitOption, YearsOption, settings_for
from ingestion.cli.progress import ProgressLine
from ingestion.cli.render import print_outcome
from ingestion.errors import Interrupted

if TYPE_CHECKING:
    from ingestion.fetch import FetchOptions, fetch, render_summary
else:  # httpx, asyncio and the plan only when fetch runs
    FetchOptions = lazy("ingestion.fetch", "FetchOptions")
    fetch = lazy("ingestion.fetch", "fetch")
    render_summary = lazy("ingestion.fetch", "render_summary")
from ingestion.instant import parse_optional

INTERRUPTED = "interrupted: every answer stored so far is kept; run the same command again to continue"


def fetch_command(
    year: YearsOption = None,
    recent: RecentOption = None,
    all_years: Annotated[
        bool, typer.Option("--all", help="Every season from 2023 to the current one.")
    ] = False,
    no_results: Annotated[
        bool, typer.Option("--no-results", help="Never ask for session_result or starting_grid.")
    ] = False,
    refresh: Annotated[bool, typer.Option("--refresh", help="Ask again even what is settled.")] = False,
    revalidate: Annotated[
        bool,
        typer.Option("--revalidate", help="Ask the settled answers of these years again, batched, to pick "
                     "up OpenF1's late corrections (unchanged answers add an event, no blob)."),
    ] = False,
    per_meeting: Annotated[
        bool,
        typer.Option("--per-meeting", help="One request per meeting even for settled meetings (no batches "
                     "of OR'd meeting keys)."),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan (each request and why) and ask nothing.")
    ] = False,
    as_json: JsonOption = False,
    store: StoreOption = None,
    now: Annotated[
        str | None,
        typer.Option("--now", help="Plan as if it were this UTC time (ISO-8601); mostly with --dry-run."),
    ] = None,
    wait: WaitOption = None,
) -> None:
    """Fetch OpenF1 seasons into the snapshot store, paced under the rate limits, asking only what is needed.

    Per year: meetings and sessions, then drivers, session_result and starting_grid: one request per
    endpoint for all meetings over for 14 days (keys OR'd), one per meeting for the others. Settled answers
    are not asked again, except to revalidate (--revalidate, or by itself once a settled year's newest
    answer is older than REVALIDATE_DAYS). Exit codes: 0 all fetched, 1 some requests failed, 2 bad usage
    or configuration, 3 stopped by a live-session block.

    Example: ingest fetch --year 2024 --no-results
    """
    settings = settings_for(store)
    options = FetchOptions(
        years=tuple(year or ()),
        recent_days=recent,
        all_years=all_years,
        results=not no_results,
        refresh=refresh,
        revalidate=revalidate,
        revalidate_days=settings.revalidate_days,
        batch=not per_meeting,
        dry_run=dry_run,
        lock_wait=wait,
    )
    secrets = (settings.openf1_password,)
    line = ProgressLine(sys.stderr, secrets)
    try:
        summary = fetch(settings, options, parse_optional(now, option="--now"), None if dry_run else line)
    except KeyboardInterrupt:
        line.clear()
        raise Interrupted(INTERRUPTED) from None
    finally:
        line.clear()
    print_outcome(summary, lambda: render_summary(summary), as_json, secrets)
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


def register(app: typer.Typer) -> None:
    app.command("fetch")(fetch_command)
