"""``ingest replay``: snapshots to the racing tables. Parses arguments, calls run_replay, prints."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import typer

from ingestion.cli.progress import StageProgress
from ingestion.cli.render import echo_lines
from ingestion.instant import parse_optional


def register(app: typer.Typer) -> None:
    @app.command("replay")
    def replay_command(
        no_results: bool = typer.Option(False, "--no-results", help="Write no results (spoiler-safe)."),
        as_of: str | None = typer.Option(
            None, "--as-of", help="Replay the snapshots as they were at this instant (ISO-8601; default now)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
        store_dir: Path | None = typer.Option(
            None, "--store", help="Snapshot store directory (default SNAPSHOT_DIR)."
        ),
        wait: float = typer.Option(
            10.0,
            "--wait",
            metavar="SECONDS",
            min=0,
            help="How long to wait for another replay's lock, or any lock an app holds.",
        ),
        allow_empty: bool = typer.Option(
            False, "--allow-empty", help="Replay even a store with no snapshot at that time (writes nothing)."
        ),
        allow_removals: bool = typer.Option(
            False,
            "--allow-removals",
            help="Remove rows of settled seasons even beyond the circuit breaker's limit (10 per season).",
        ),
    ) -> None:
        """Replay the snapshot store into the racing tables: deterministic, writes only what differs.

        Example: ingest replay --no-results --as-of 2024-12-08T18:00:00Z
        """
        from ingestion.config import load_settings
        from ingestion.db import database_url
        from ingestion.replay.run import require_store, run_replay
        from ingestion.replay.summary import render_summary
        from ingestion.store import Store

        instant = parse_optional(as_of, option="--as-of") or datetime.now(UTC)
        settings = load_settings()
        store = Store(store_dir or settings.snapshot_dir)
        require_store(store, instant, allow_empty=allow_empty)  # before a database is started
        stages = StageProgress(sys.stderr)  # on a terminal, once the replay has run a second
        try:
            summary = run_replay(
                database_url(settings),
                store,
                instant,
                results=not no_results,
                lock_wait=wait,
                allow_empty=allow_empty,
                allow_removals=allow_removals,
                progress=stages,
                schema=settings.database_schema,
            )
        finally:
            stages.clear()
        if as_json:
            typer.echo(msgspec.json.encode(summary).decode())
            _exit_on_findings(summary.findings)
            return
        lines = render_summary(summary)
        if not sys.stdout.isatty():
            echo_lines(lines)
            _exit_on_findings(summary.findings)
            return
        from ingestion.cli.render import print_table  # a rich table on a terminal

        echo_lines(lines[:1])
        rows = []
        for name, counts in summary.tables.items():
            if name == "results" and not summary.results:
                rows.append([name, "kept", "", "", "", "(not touched: --no-results)"])
                continue
            rows_now = summary.rows.get(name, 0)
            numbers = (rows_now, counts.inserted, counts.updated, counts.unchanged, counts.removed)
            rows.append([name, *(str(n) for n in numbers)])
        headers = ["TABLE", "ROWS", "INSERTED", "UPDATED", "UNCHANGED", "REMOVED"]
        print_table(headers, rows, right=[1, 2, 3, 4, 5])
        echo_lines(lines[2 + len(summary.tables):])
        _exit_on_findings(summary.findings)


def _exit_on_findings(findings: list[str]) -> None:
    """Exit 1 after the summary when replay held rows against upstream oddities (its findings)."""
    if findings:
        raise typer.Exit(1)
