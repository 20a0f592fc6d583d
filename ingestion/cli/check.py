"""``ingest check``: OpenF1's results against the sporting regulations; calls check_database, prints."""

from __future__ import annotations

from pathlib import Path

import msgspec
import typer


def register(app: typer.Typer) -> None:
    @app.command("check")
    def check_command(
        season: int | None = typer.Option(None, "--season", help="Check this season only (default: all)."),
        as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
        store_dir: Path | None = typer.Option(
            None, "--store", help="Snapshot store that names each finding's snapshot (default SNAPSHOT_DIR)."
        ),
    ) -> None:
        """Check the results in the database against the sporting regulations (read-only).

        Points against the season's tables (fastest lap, shortened races), classification shape
        (gaps, duplicates, no position without a DNF/DNS/DSQ flag), completeness (sessions without
        results, entrants without a row, missing grids). Each finding says what was expected, what
        OpenF1 says, the OpenF1 request that shows it and the stored snapshot that holds the answer.
        Nothing is changed.

        Exit 0 when there is no finding, 1 when there are findings (for cron).

        Example: ingest check --season 2023
        """
        from ingestion.config import load_settings
        from ingestion.db import connect, database_url
        from ingestion.db.connection import translated
        from ingestion.ops.check import check_database, render_check, report_json
        from ingestion.store import Store

        settings = load_settings()
        url = database_url(settings)
        with translated(url), connect(url, autocommit=True) as conn:
            report = check_database(conn, season, store=Store(store_dir or settings.snapshot_dir))
        if as_json:
            typer.echo(msgspec.json.format(msgspec.json.encode(report_json(report)), indent=2).decode())
        else:
            for line in render_check(report):
                typer.echo(line)
        raise typer.Exit(report.exit_code)
