"""``ingest run``: the main job of ``make run`` (migrate, replay the committed snapshots, report)."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import typer


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_command(
        no_results: bool = typer.Option(False, "--no-results", help="Write no results (spoiler-safe)."),
        as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
    ) -> None:
        """Migrate, replay the snapshot store (SNAPSHOT_DIR), and print the summary and a season report.

        Example: ingest run
        """
        from ingestion.cli.render import echo_lines
        from ingestion.config import load_settings
        from ingestion.masking import mask_url
        from ingestion.ops.job import run_main_job
        from ingestion.ops.report import format_report
        from ingestion.replay.summary import render_summary

        settings = load_settings()
        result = run_main_job(settings, datetime.now(UTC), results=not no_results)
        if as_json:
            typer.echo(
                msgspec.json.encode(msgspec.structs.replace(result, database=mask_url(result.database)))
            )
            return
        typer.echo(f"database: {mask_url(result.database)}")
        if result.migrations_applied:
            typer.echo(f"migrations applied: {', '.join(result.migrations_applied)}")
        echo_lines(render_summary(result.replay))
        if result.replay.written == 0:
            typer.echo("nothing changed: the database already matched the snapshots")
        echo_lines(format_report(result.report))
