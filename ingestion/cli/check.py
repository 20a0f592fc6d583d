"""``ingest check``: OpenF1's results against the sporting regulations and against f1db; calls
check_database, prints."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ingestion.cli.render import json_text, print_table, screen_width

if TYPE_CHECKING:
    from rich.console import Console

    from ingestion.ops.check import CheckReport


def register(app: typer.Typer) -> None:
    @app.command("check")
    def check_command(
        season: int | None = typer.Option(None, "--season", help="Check this season only (default: all)."),
        as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
        store_dir: Path | None = typer.Option(
            None, "--store", help="Snapshot store that names each finding's snapshot (default SNAPSHOT_DIR)."
        ),
    ) -> None:
        """Check the results in the database against the sporting regulations, and OpenF1 against f1db
        (read-only).

        Points against the season's tables (fastest lap, shortened races), classification shape
        (gaps, duplicates, no position without a DNF/DNS/DSQ flag), completeness (sessions without
        results, entrants without a row, missing grids). Each finding says what was expected, what
        OpenF1 says, the OpenF1 request that shows it and the stored snapshot that holds the answer.

        With an f1db release in the store, every session both sources have is compared field by
        field (position, status, points, grid, laps, Q1-Q3, missing rows, start time): each
        disagreement names the OpenF1 request and snapshot, and the f1db file, row and release.
        f1db's codes set apart the findings they explain (pit-lane starts, NC cars).
        Data from f1db (CC BY 4.0). Nothing is changed.

        Exit 0 when there is no finding nor disagreement, 1 otherwise (for cron).

        Example: ingest check --season 2023
        """
        from ingestion.config import load_settings
        from ingestion.db import connect, database_url
        from ingestion.db.connection import translated
        from ingestion.db.naming import resolve
        from ingestion.ops.check import render_check, report_json
        from ingestion.ops.check.read import check_database
        from ingestion.store import Store

        settings = load_settings()
        url = database_url(settings)
        with translated(url), connect(url, autocommit=True) as conn:
            store = Store(store_dir or settings.snapshot_dir)
            naming = resolve(conn, settings.database_schema)
            report = check_database(conn, season, store=store, naming=naming)
        if as_json:
            typer.echo(json_text(report_json(report)))
        elif sys.stdout.isatty() and (screen_width() or TABLE_WIDTH) >= TABLE_WIDTH:
            print_tables(report)
        else:  # a pipe (whole lines), or a terminal too narrow for the tables: lines that fit it
            for line in render_check(report, screen_width()):
                typer.echo(line)
        raise typer.Exit(report.exit_code)


#: The narrowest terminal that gets the findings as tables (seven columns, a URL among them).
TABLE_WIDTH = 140

#: The columns of a finding on a terminal (:func:`ingestion.ops.check.finding_cells`).
COLUMNS = ("ROUND", "SESSION", "DRIVER", "EXPECTED", "OPENF1", "REQUEST", "SNAPSHOT")

#: The columns of a disagreement with f1db on a terminal (:func:`ingestion.ops.check.disagreement_cells`).
SOURCE_COLUMNS = ("ROUND", "SESSION", "DRIVER", "OPENF1", "F1DB", "REQUEST", "F1DB FILE @ RELEASE, ROW")


def print_tables(report: CheckReport, console: Console | None = None) -> None:
    """On a terminal: one rich table per kind of finding, then the summary line. (Off a terminal the
    findings are plain lines, one field each, so that grep finds a request whole.)"""
    from ingestion.ops.check import (
        FIELDS,
        KINDS,
        disagreement_cells,
        finding_cells,
        replay_lines,
        summary_lines,
    )

    for kind, count in report.counts().items():
        rows = [finding_cells(f) for f in report.findings if f.kind == kind]
        title = f"{kind}: {KINDS[kind]} ({count})"
        print_table(COLUMNS, rows, title=title, console=console, no_wrap=[COLUMNS.index("REQUEST")])
    for name, count in report.disagreement_counts().items():
        rows = [disagreement_cells(d) for d in report.disagreements if d.field == name]
        title = f"f1db {report.release} disagrees: {name}: {FIELDS[name]} ({count})"
        no_wrap = [SOURCE_COLUMNS.index("REQUEST")]
        print_table(SOURCE_COLUMNS, rows, title=title, console=console, no_wrap=no_wrap)
    width = console.width if console is not None else screen_width()
    lines = replay_lines(report) + summary_lines(report, width)
    for line in lines:
        if console is None:
            typer.echo(line)
        else:
            console.print(line, highlight=False, soft_wrap=True)
