"""``ingest fetch``: parse the options, call :func:`ingestion.fetch.fetch`, show progress and the summary."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ingestion.cli.lazy import LazyModule, lazy
from ingestion.cli.options import (
    JsonOption,
    RecentOption,
    SourceOption,
    StoreOption,
    WaitOption,
    YearsOption,
    settings_for,
)
from ingestion.cli.progress import ProgressLine
from ingestion.cli.render import print_outcome
from ingestion.config import Settings
from ingestion.errors import Interrupted

if TYPE_CHECKING:
    from ingestion.fetch import FetchOptions, FetchSummary, fetch, render_summary
    from ingestion.fetch import sources as fetch_sources
    from ingestion.fetch.f1db import F1dbFetch
else:  # httpx, asyncio and the plan only when fetch runs
    FetchOptions = lazy("ingestion.fetch", "FetchOptions")
    fetch = lazy("ingestion.fetch", "fetch")
    render_summary = lazy("ingestion.fetch", "render_summary")
    fetch_sources = LazyModule("ingestion.fetch.sources")
from ingestion.cli.render import json_text
from ingestion.errors import IngestionError, UsageError
from ingestion.instant import parse_optional
from ingestion.masking import mask_text

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
    source: SourceOption = None,
    release: Annotated[
        str | None,
        typer.Option("--release", metavar="TAG", help="f1db: this release (vYYYY.R.P), not the latest."),
    ] = None,
) -> None:
    """Fetch OpenF1 seasons and f1db's latest release into the snapshot store, asking only what is needed.

    Per year: meetings and sessions, then drivers, session_result and starting_grid: one request per
    endpoint for all meetings over for 14 days (keys OR'd), one per meeting for the others. Settled answers
    are not asked again, except to revalidate (--revalidate, or by itself once a settled year's newest
    answer is older than REVALIDATE_DAYS). Exit codes: 0 all fetched, 1 some requests failed, 2 bad usage
    or configuration, 3 stopped by a live-session block.

    f1db (SOURCES, or --source f1db): GitHub's latest release of f1db (--release TAG: that one), downloaded
    only when the store does not hold it yet; every season since 1950. Data from f1db (CC BY 4.0).

    Example: ingest fetch --year 2024 --no-results; ingest fetch --source f1db --release v2025.24.2
    """
    settings = settings_for(store)
    sources = fetch_sources.chosen_sources(settings, source)
    if release is not None and "f1db" not in sources:
        raise UsageError("--release pins an f1db release: use it with --source f1db (or all)")
    years, note = fetch_sources.openf1_years(year or (), sources)
    summary: FetchSummary | None = None
    failures: list[str] = []
    if "openf1" in sources and (years or not year):
        summary = _fetch_openf1(
            settings,
            FetchOptions(
                years=years,
                recent_days=recent,
                all_years=all_years,
                results=not no_results,
                refresh=refresh,
                revalidate=revalidate,
                revalidate_days=settings.revalidate_days,
                batch=not per_meeting,
                dry_run=dry_run,
                lock_wait=wait,
            ),
            now,
            failures if "f1db" in sources else None,
        )
    part: F1dbFetch | None = None
    if "f1db" in sources:
        got = fetch_sources.fetch_f1db_part(settings, tag=release, dry_run=dry_run, lock_wait=wait)
        if isinstance(got, fetch_sources.SourceFailure):
            failures.append(got.message)
        else:
            part = got
    secrets = (settings.openf1_password, settings.github_token)
    notes = [note] if note else []
    if sources == ("openf1",) and summary is not None:
        print_outcome(summary, lambda: render_summary(summary), as_json, secrets)
    elif as_json:
        whole = {"openf1": summary, "f1db": part, "failures": failures, "notes": notes}
        typer.echo(mask_text(json_text(whole), *secrets))
    else:
        if summary is not None:
            print_outcome(summary, lambda: render_summary(summary), False, secrets)
        for line in (*(f"note: {n}" for n in notes), *([part.render()] if part is not None else [])):
            typer.echo(mask_text(line, *secrets))
    for failure in failures:
        typer.echo(mask_text(f"error: {failure}", *secrets), err=True)
    code = max(summary.exit_code if summary is not None else 0, 1 if failures else 0)
    if code:
        raise typer.Exit(code)


def _fetch_openf1(
    settings: Settings, options: FetchOptions, now: str | None, failures: list[str] | None
) -> FetchSummary | None:
    """OpenF1's part: its summary. With another source (``failures`` given), an error that stops it is one
    line there instead (None), so the other source still runs; alone, it is raised as before."""
    line = ProgressLine(sys.stderr, (settings.openf1_password,))
    try:
        progress = None if options.dry_run else line
        return fetch(settings, options, parse_optional(now, option="--now"), progress)
    except KeyboardInterrupt:
        line.clear()
        raise Interrupted(INTERRUPTED) from None
    except UsageError:
        raise
    except IngestionError as error:
        if failures is None:
            raise
        failures.append(f"openf1: {error}")
        return None
    finally:
        line.clear()


def register(app: typer.Typer) -> None:
    app.command("fetch")(fetch_command)
