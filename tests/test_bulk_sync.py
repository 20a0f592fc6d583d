"""``ingest bulk`` / ``python -m ingestion.bulk_sync``: season after season against the OpenF1 stand-in
server over the real 2023 and 2024 rows, into a fresh PostgreSQL database."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from server_fixtures import FAST, ServerFactory
from test_sync import env_for, run_cli, settings_for

from ingestion.config import PROJECT_ROOT
from ingestion.ops.bulk_sync import BulkEvent, BulkOptions, BulkUsageError, bulk_sync, bulk_years, render_bulk
from ingestion.ops.verify import verify
from ingestion.store import Store

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def test_bulk_years_all_current_and_ranges() -> None:
    """--all is 2023 to now's year, --current (or nothing) now's year, a range is inclusive."""
    assert bulk_years(all_years=True, now=NOW) == (2023, 2024, 2025)
    assert bulk_years(current=True, now=NOW) == (2025,)
    assert bulk_years(now=NOW) == (2025,)
    assert bulk_years(start_year=2023, end_year=2024, now=NOW) == (2023, 2024)
    assert bulk_years(start_year=2024, now=NOW) == (2024, 2025)
    assert bulk_years(end_year=2023, now=NOW) == (2023,)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"all_years": True, "current": True}, "--all and --current cannot be used together"),
        ({"all_years": True, "start_year": 2023}, "--all and --start-year/--end-year"),
        ({"start_year": 2024, "end_year": 2023}, "--start-year 2024 is after --end-year 2023"),
        ({"start_year": 2019}, "OpenF1 has data from 2023 on"),
        ({"end_year": 2030}, "not scheduled yet"),
    ],
)
def test_bulk_years_refuses_contradictions(kwargs: dict[str, object], message: str) -> None:
    """Contradicting or impossible season choices are usage errors (exit 2) with a one-line message."""
    with pytest.raises(BulkUsageError, match=message) as caught:
        bulk_years(now=NOW, **kwargs)  # type: ignore[arg-type]
    assert caught.value.exit_code == 2


def test_bulk_failing_season_is_retried_reported_and_the_next_still_runs(
    tmp_path: Path, db_url: str, world_dir: Path, openf1_server: ServerFactory
) -> None:
    """2023's requests fail every time (503 on every GET while it runs): tried 3 times, failed; 2024 syncs."""
    server = openf1_server(rows=[world_dir / "2023", world_dir / "2024"])
    settings = settings_for(tmp_path, db_url, server)
    events: list[BulkEvent] = []

    def faults_per_season(event: BulkEvent) -> None:
        events.append(event)
        if event.stage == "start" and event.year == 2023:
            server.fail_next("503", 100_000)
        elif event.stage == "start":
            server.clear_faults()

    options = BulkOptions(years=(2023, 2024), results=False, retries=2, retry=FAST)
    summary = bulk_sync(settings, options, on_event=faults_per_season)
    assert summary.exit_code == 1
    failed, ok = summary.seasons
    assert (failed.year, failed.status, failed.attempts) == (2023, "failed", 3)
    assert failed.requests == 3 * 2  # each try: the two year lists, nothing stored to plan phase 2 from
    assert failed.rounds == 0 and failed.error is not None and "request(s) failed" in failed.error
    assert (ok.year, ok.status, ok.attempts) == (2024, "ok", 1)
    assert (ok.rounds, ok.results) == (25, 0) and ok.sessions > 100
    stages = [e.stage for e in events if e.year == 2023]
    assert stages == ["start", "retry", "start", "retry", "start", "done"]
    table = render_bulk(summary)
    header = ["year", "requests", "rounds", "sessions", "results", "(off)", "status", "tries"]
    assert table[0].split() == header
    assert table[1].split()[0::5] == ["2023", "failed"] and table[2].split()[-2:] == ["ok", "1"]
    assert any(line.startswith("season 2023 failed: ") for line in table)
    assert verify(db_url, Store(settings.snapshot_dir)).exit_code == 0


def test_bulk_season_failing_once_succeeds_on_retry(
    tmp_path: Path, db_url: str, conn: psycopg.Connection[tuple[object, ...]], world_dir: Path,
    openf1_server: ServerFactory,
) -> None:
    """The first try loses ``meetings?year=2024`` (503 on each of its tries); the second asks only that and
    succeeds."""
    server = openf1_server(rows=[world_dir / "2024"])
    settings = settings_for(tmp_path, db_url, server)
    server.fail_next("503", FAST.attempts)
    summary = bulk_sync(settings, BulkOptions(years=(2024,), results=True, retries=1, retry=FAST))
    assert summary.exit_code == 0
    [season] = summary.seasons
    assert (season.status, season.attempts, season.error) == ("ok", 2, None)
    assert season.requests == 2 + 3 + 1  # lists, a batch per endpoint, then the lost list again
    assert season.rounds == 25 and season.results > 1000
    assert conn.execute("SELECT count(*) FROM rounds").fetchone() == (25,)


def test_bulk_python_m_all_as_documented(
    tmp_path: Path, db_url: str, world_dir: Path, openf1_server: ServerFactory
) -> None:
    """``python -m ingestion.bulk_sync --all --no-results``: every season to now; empty ones are ok."""
    server = openf1_server(rows=[world_dir / "2023", world_dir / "2024"])
    settings = settings_for(tmp_path, db_url, server)
    args = ["-m", "ingestion.bulk_sync", "--all", "--no-results", "--json"]
    done = run_cli(args, env_for(settings), tmp_path)
    assert done.returncode == 0, done.stderr
    seasons = {s["year"]: s for s in json.loads(done.stdout)["seasons"]}
    this_year = datetime.now(UTC).year
    assert sorted(seasons) == list(range(2023, this_year + 1))
    assert (seasons[2023]["rounds"], seasons[2024]["rounds"]) == (23, 25)
    assert all(s["status"] == "ok" for s in seasons.values())
    assert "season 2023: attempt 1" in done.stderr


def test_bulk_python_m_help_lists_the_documented_options() -> None:
    """``python -m ingestion.bulk_sync --help`` lists the options the original documented."""
    done = subprocess.run(
        [sys.executable, "-m", "ingestion.bulk_sync", "--help"], capture_output=True, text=True, check=False,
        cwd=PROJECT_ROOT, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    documented = ("--all", "--current", "--start-year", "--end-year", "--no-results", "Example: ingest bulk")
    for option in documented:
        assert option in done.stdout


def test_bulk_cli_usage_error_exits_2(tmp_path: Path) -> None:
    """``ingest bulk --all --current`` is one line on stderr and exit 2."""
    done = subprocess.run(
        [sys.executable, "-m", "ingestion", "bulk", "--all", "--current"], capture_output=True, text=True,
        check=False, cwd=tmp_path, timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --all and --current cannot be used together: choose one"
