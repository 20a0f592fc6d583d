"""End to end on the committed fixture snapshots (real OpenF1 data, 2023 and 2024), as `make run` and CI do.

The facts asserted come from outside the project: the official 2024 calendar and drivers' championship, and
the 2023 Hungarian Grand Prix's entry list.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from committed import openf1_fixture

from ingestion.cli import main
from ingestion.config import PROJECT_ROOT
from ingestion.db import connect
from ingestion.replay.run import run_replay
from ingestion.store import Store

SNAPSHOTS = PROJECT_ROOT / "snapshots"  # the whole committed store: OpenF1 2023-2024 and f1db v2025.24.2
OPENF1 = openf1_fixture()  # its OpenF1 part (tests/committed.py)
AS_OF = datetime.now(UTC)  # the fixtures were fetched in the past: everything in them is visible now

pytestmark = pytest.mark.slow


def _ingest(*args: str, db_url: str, store: Path = OPENF1) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db_url, "SNAPSHOT_DIR": str(store)}
    return subprocess.run(
        [sys.executable, "-m", "ingestion", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def replayed_db(db_factory: object) -> str:
    """One database holding the committed snapshots replayed with results."""
    url: str = db_factory()  # type: ignore[operator]
    summary = run_replay(url, Store(OPENF1), AS_OF, results=True)
    assert summary.snapshots > 0
    return url


def _scalar(url: str, query: str, *params: object) -> object:
    with connect(url, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return row[0]


def test_fixture_store_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    """`ingest snapshots fsck` finds no problem in the committed store: exit 0, no problem listed (one pass
    over its 16,000 blobs, through the CLI in this process: the command prints what ``fsck`` returns)."""
    with pytest.raises(SystemExit) as done:
        main(["snapshots", "fsck", "--json", "--store", str(SNAPSHOTS)])
    report = json.loads(capsys.readouterr().out)
    assert report["problems"] == [] and report["ok"] is True, report
    assert report["store"] == str(SNAPSHOTS)
    assert done.value.code in (0, None)


def test_fixture_store_holds_real_requests_of_both_seasons() -> None:
    """The log records the fetch's real requests: the year lists and per-meeting requests of 2023 and 2024."""
    keys = set(Store(OPENF1).latest(AS_OF))
    assert {"meetings?year=2023", "meetings?year=2024", "sessions?year=2023", "sessions?year=2024"} <= keys
    assert "session_result?meeting_key=1229" in keys  # 2024 Bahrain Grand Prix
    assert "starting_grid?meeting_key=1229" in keys


def test_fixture_replay_2024_has_24_grands_prix_and_testing(replayed_db: str) -> None:
    """2024: rounds 1..24 are grands prix and round 0 is pre-season testing."""
    numbers = _scalar(
        replayed_db,
        "SELECT array_agg(r.round_number ORDER BY r.round_number) FROM rounds r "
        "JOIN seasons s ON s.id = r.season_id WHERE s.year = 2024",
    )
    assert numbers == [0, *range(1, 25)]


def test_fixture_replay_2024_championship_top_five(replayed_db: str) -> None:
    """Summed 2024 points give the official top five: VER 437, NOR 374, LEC 356, PIA 292, SAI 290."""
    with connect(replayed_db, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT d.abbreviation, sum(re.points) FROM results re JOIN entrants e ON e.id = re.entrant_id "
            "JOIN drivers d ON d.id = e.driver_id JOIN rounds r ON r.id = e.round_id "
            "JOIN seasons s ON s.id = r.season_id WHERE s.year = 2024 AND re.points IS NOT NULL "
            "GROUP BY d.abbreviation ORDER BY sum(re.points) DESC LIMIT 5"
        ).fetchall()
    assert [(a, float(p)) for a, p in rows] == [  # type: ignore[arg-type]
        ("VER", 437.0),
        ("NOR", 374.0),
        ("LEC", 356.0),
        ("PIA", 292.0),
        ("SAI", 290.0),
    ]


def test_fixture_replay_hungary_2023_has_exactly_20_entrants(replayed_db: str) -> None:
    """The 2023 Hungarian GP has the 20 F1 drivers who raced it, Ricciardo included, no F3 leak."""
    with connect(replayed_db, autocommit=True) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT d.last_name FROM entrants e JOIN drivers d ON d.id = e.driver_id "
                "JOIN rounds r ON r.id = e.round_id WHERE r.slug = '2023-hungarian-grand-prix'"
            ).fetchall()
        ]
    assert len(names) == 20
    assert "Ricciardo" in names
    assert "Aron" not in names


def test_fixture_replay_no_results_writes_no_result(db_url: str) -> None:
    """`--no-results` on the committed store leaves `results` empty while the calendar is complete."""
    result = _ingest("replay", "--no-results", db_url=db_url)
    assert result.returncode == 0, result.stderr
    assert _scalar(db_url, "SELECT count(*) FROM results") == 0
    assert _scalar(db_url, "SELECT count(*) FROM sessions") == 236


def test_fixture_verify_passes_after_replay(replayed_db: str) -> None:
    """`ingest verify` proves the replayed database matches the committed snapshots (exit 0)."""
    result = _ingest("verify", db_url=replayed_db)
    assert result.returncode == 0, result.stdout + result.stderr


def test_fixture_main_job_twice_changes_nothing_the_second_time(db_url: str) -> None:
    """`ingest run` (what `make run` runs) on the whole committed store prints a season per line, 1950 to
    2025, under 80 columns; run again, it writes nothing and says so."""
    first = _ingest("run", db_url=db_url, store=SNAPSHOTS)
    assert first.returncode == 0, first.stderr
    report = first.stdout[first.stdout.index("Seasons in the database:") :].splitlines()
    table = report[2 : next(i for i, line in enumerate(report) if line.startswith("Totals:"))]
    seasons = [line.split()[0] for line in table]
    assert seasons == [str(year) for year in range(1950, 2026)]
    assert "    1950            7        0        14  Nino Farina (FAR), 30 points" in report
    assert "    2024           24        1       123  Max Verstappen (VER), 437 points" in report
    assert all(len(line) <= 80 for line in report)
    second = _ingest("run", db_url=db_url, store=SNAPSHOTS)
    assert second.returncode == 0, second.stderr
    assert "nothing changed" in second.stdout
    assert "0 row(s) written" in second.stdout
