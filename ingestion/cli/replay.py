"""``ingest replay``: snapshots to the racing tables. Parses arguments, calls run_replay, prints."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import typer

from ingestion.errors import UsageError


def _as_of(text: str | None) -> datetime:
    """``--as-of`` as an aware instant (a date means its start, UTC; naive times are UTC). Default: now."""
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--as-of: not an ISO-8601 date or time: {text!r} (e.g. 2024-12-08T18:00:00Z)"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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
    ) -> None:
        """Replay the snapshot store into the racing tables: deterministic, writes only what differs.

        Example: ingest replay --no-results --as-of 2024-12-08T18:00:00Z
        """
        from ingestion.config import load_settings
        from ingestion.db import database_url
        from ingestion.replay import render_summary, run_replay
        from ingestion.store import Store

        instant = _as_of(as_of)
        settings = load_settings()
        store = Store(store_dir or settings.snapshot_dir)
        summary = run_replay(database_url(settings), store, instant, not no_results)
        if as_json:
            typer.echo(msgspec.json.encode(summary).decode())
            return
        for line in render_summary(summary):
            typer.echo(line)
