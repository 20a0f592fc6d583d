"""``ingest sync``: the real fetch from the OpenF1 stand-in server (real HTTP on 127.0.0.1), then the real
replay into a fresh PostgreSQL database, on the real 2023/2024 rows of ``shared/openf1/world``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from server_fixtures import FAST, ServerFactory, client_settings

from ingestion.config import PROJECT_ROOT, Settings
from ingestion.errors import UsageError
from ingestion.ops.sync import SyncOptions, SyncUsageError, render_sync, sync
from ingestion.ops.verify import verify
from ingestion.replay.summary import ReplayStep
from ingestion.server import RunningServer
from ingestion.store import Store
from ingestion.store.coverage import covering

#: Tests never back off for long.
#: Right after the 2024 Bahrain Grand Prix (race 2024-03-02 15:00 UTC), the first race of 2024.
AFTER_BAHRAIN = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)
BAHRAIN_2024 = 1229
Conn = psycopg.Connection[tuple[object, ...]]
ABU_DHABI_2023 = 1226


def settings_for(tmp_path: Path, db_url: str, server: RunningServer) -> Settings:
    """Settings pointing at a fresh store in ``tmp_path``, the test database and the stand-in server."""
    return client_settings(server, tmp_path / "store", database_url=db_url)


def world_rows(world_dir: Path, year: int, endpoint: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads((world_dir / str(year) / f"{endpoint}.json").read_bytes())
    return rows


def env_for(settings: Settings) -> dict[str, str]:
    """The environment a person would set for ``python -m ingestion ...`` against these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENF1_", "SNAPSHOT_", "DATABASE_"))}
    env.update(
        DATABASE_URL=str(settings.database_url),
        SNAPSHOT_DIR=str(settings.snapshot_dir),
        OPENF1_BASE_URL=settings.openf1_base_url,
        OPENF1_RATE_PER_SECOND="1000",
        OPENF1_RATE_PER_MINUTE="100000",
    )
    return env


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_sync_year_fetches_then_replays_and_second_sync_changes_nothing(
    tmp_path: Path, db_url: str, world_2024_server: RunningServer
) -> None:
    """A season sync stores every answer and replays it, telling its progress display each replay stage;
    syncing again writes nothing and verify agrees."""
    settings = settings_for(tmp_path, db_url, world_2024_server)
    stages: list[ReplayStep] = []
    first = sync(settings, SyncOptions(year=2024, retry=FAST), replay_progress=stages.append)
    assert [s.name for s in stages][:2] == ["reading the store", "decoding"]
    assert stages[1].count == 5 and stages[-1].index == stages[-1].stages  # the end is reported too
    assert first.exit_code == 0 and first.failed == 0
    assert first.years == [2024]
    assert first.requests == 2 + 3  # the year lists, then one batch per endpoint of the 25 meetings
    assert first.synced["meetings"].inserted == 24 + 1  # 24 Grands Prix and the pre-season test
    assert first.synced["sessions"].inserted == first.replay.rows["sessions"] > 100
    assert first.synced["results"].inserted > 0 and first.synced["entrants"].inserted > 0
    assert first.replay.snapshots == first.requests

    second = sync(settings, SyncOptions(year=2024, retry=FAST))
    assert second.exit_code == 0
    assert all(c.inserted == 0 and c.updated == 0 and c.removed == 0 for c in second.synced.values())
    assert second.synced["results"].unchanged == first.synced["results"].inserted
    assert verify(db_url, Store(settings.snapshot_dir)).exit_code == 0
    text = render_sync(second)
    assert text[2].split() == ["synced", "inserted", "updated", "unchanged", "removed"]
    assert text[3].split() == ["meetings", "0", "0", "25", "0"]
    assert text[-1] == "status: ok"


def test_sync_summary_counts_rows_the_replay_removed(
    tmp_path: Path, db_url: str, conn: Conn, world_2024_server: RunningServer
) -> None:
    """An entrant of a synced round that the snapshots do not hold: the next sync removes it and counts it."""
    settings = settings_for(tmp_path, db_url, world_2024_server)
    assert sync(settings, SyncOptions(year=2024, results=False, retry=FAST)).exit_code == 0
    conn.execute(
        "INSERT INTO entrants (id, round_id, driver_id, team_id, role) "
        "SELECT gen_random_uuid(), r.id, d.id, t.id, 0 FROM rounds r, drivers d, teams t "
        "WHERE NOT EXISTS (SELECT 1 FROM entrants e WHERE e.round_id = r.id AND e.driver_id = d.id) LIMIT 1"
    )
    again = sync(settings, SyncOptions(year=2024, results=False, retry=FAST))
    assert again.synced["entrants"].removed == 1
    entrants = next(line for line in render_sync(again) if line.split()[0] == "entrants")
    assert entrants.split()[1:] == ["0", "0", str(again.synced["entrants"].unchanged), "1"]


def test_sync_recent_replays_the_whole_recent_meeting(
    tmp_path: Path, db_url: str, conn: psycopg.Connection[tuple[object, ...]], world_dir: Path,
    world_2024_server: RunningServer,
) -> None:
    """``--recent 7`` right after Bahrain 2024 asks about that meeting only and replays all of it at once."""
    settings = settings_for(tmp_path, db_url, world_2024_server)
    summary = sync(settings, SyncOptions(recent_days=7, retry=FAST), now=AFTER_BAHRAIN)
    assert summary.exit_code == 0
    asked = {e.request.key for e in Store(settings.snapshot_dir).events()}
    assert asked == {
        "meetings?year=2024",
        "sessions?year=2024",
        f"drivers?meeting_key={BAHRAIN_2024}",
        f"session_result?meeting_key={BAHRAIN_2024}",
        f"starting_grid?meeting_key={BAHRAIN_2024}",
    }
    rounds_with_entrants = conn.execute(
        "SELECT DISTINCT r.open_f1_meeting_key FROM entrants e JOIN rounds r ON r.id = e.round_id"
    ).fetchall()
    assert rounds_with_entrants == [(BAHRAIN_2024,)]
    # every Bahrain session with a result in the real data has all of its results in the database
    real = world_rows(world_dir, 2024, "session_result")
    expected: dict[int, int] = {}
    for row in real:
        if row["meeting_key"] == BAHRAIN_2024:
            key = int(str(row["session_key"]))
            expected[key] = expected.get(key, 0) + 1
    held = {
        int(str(key)): int(str(count))
        for key, count in conn.execute(
            "SELECT s.open_f1_session_key, count(*) FROM results x JOIN sessions s ON s.id = x.session_id "
            "GROUP BY 1"
        ).fetchall()
    }
    assert held == expected
    assert verify(db_url, Store(settings.snapshot_dir)).exit_code == 0


def test_sync_recent_across_new_year_reaches_the_previous_season(
    tmp_path: Path, db_url: str, conn: psycopg.Connection[tuple[object, ...]], world_dir: Path,
    openf1_server: ServerFactory,
) -> None:
    """On 2024-01-03, ``--recent 60`` asks both years' lists and the late-2023 meetings (Abu Dhabi too)."""
    server = openf1_server(rows=[world_dir / "2023", world_dir / "2024"])
    settings = settings_for(tmp_path, db_url, server)
    summary = sync(settings, SyncOptions(recent_days=60, retry=FAST), now=datetime(2024, 1, 3, tzinfo=UTC))
    assert summary.exit_code == 0
    assert summary.years == [2023, 2024]
    asked = {e.request.key for e in Store(settings.snapshot_dir).events()}
    assert {"meetings?year=2023", "sessions?year=2023", "meetings?year=2024", "sessions?year=2024"} <= asked
    # over for more than 14 days by 3 January: asked in one batch, which covers each of them
    covered = covering(Store(settings.snapshot_dir).events())
    drivers = {int(u.value) for u in covered if u.endpoint == "drivers"}
    assert drivers == {1224, 1225, ABU_DHABI_2023}
    entrants = conn.execute(
        "SELECT count(*) FROM entrants e JOIN rounds r ON r.id = e.round_id WHERE r.open_f1_meeting_key = %s",
        (ABU_DHABI_2023,),
    ).fetchone()
    assert entrants is not None and int(str(entrants[0])) >= 20


def test_sync_pinned_as_of_in_the_past_replays_the_store_as_it_was_and_says_so(
    tmp_path: Path, db_url: str, conn: Conn, world_2024_server: RunningServer
) -> None:
    """``--as-of T`` pins both clocks: answers fetched now arrived after T, so the replay leaves them out."""
    settings = settings_for(tmp_path, db_url, world_2024_server)
    summary = sync(settings, SyncOptions(recent_days=7, retry=FAST), now=AFTER_BAHRAIN, as_of=AFTER_BAHRAIN)
    assert summary.exit_code == 0 and summary.requests == 5
    assert summary.as_of == AFTER_BAHRAIN and summary.replay.snapshots == 0
    assert any("arrived after --as-of" in note for note in summary.notes)
    assert conn.execute("SELECT count(*) FROM rounds").fetchone() == (0,)


def test_sync_failed_requests_exit_1_and_still_replay_what_was_stored(
    tmp_path: Path, db_url: str, conn: psycopg.Connection[tuple[object, ...]], world_dir: Path,
    openf1_server: ServerFactory,
) -> None:
    """A request that fails every try makes the sync exit 1; every answer stored is replayed anyway."""
    server = openf1_server(rows=[world_dir / "2024"])
    settings = settings_for(tmp_path, db_url, server)
    # the drivers batch of the 25 settled meetings, every try
    server.fail_at("503", *range(3, 3 + FAST.attempts))
    summary = sync(settings, SyncOptions(year=2024, results=False, retry=FAST))
    assert summary.exit_code == 1 and summary.failed == 1
    assert summary.fetch.failed[0].key.startswith("drivers?meeting_key=1228&meeting_key=1229&")
    assert summary.synced["meetings"].inserted == 25 and summary.synced["sessions"].inserted > 100
    assert conn.execute("SELECT count(*) FROM results").fetchone() == (0,)
    entrant_rounds = conn.execute("SELECT count(DISTINCT round_id) FROM entrants").fetchone()
    assert entrant_rounds == (0,)  # the drivers of every meeting were in the failed batch
    assert "FAILED" in "\n".join(render_sync(summary))


def test_sync_year_and_recent_together_is_a_usage_error(tmp_path: Path, db_url: str) -> None:
    """``--year`` with ``--recent`` is refused (exit 2) before anything is fetched."""
    settings = Settings(database_url=db_url, snapshot_dir=tmp_path / "s", pgdata_dir=tmp_path / "p")
    with pytest.raises(SyncUsageError) as caught:
        sync(settings, SyncOptions(year=2024, recent_days=3))
    assert isinstance(caught.value, UsageError) and caught.value.exit_code == 2
    assert not (tmp_path / "s").exists()


def test_sync_python_m_ingestion_no_results_against_the_stand_in(
    tmp_path: Path, db_url: str, conn: Conn, world_2024_server: RunningServer
) -> None:
    """``python -m ingestion sync --year 2024 --no-results`` with the env set, as the team types it."""
    settings = settings_for(tmp_path, db_url, world_2024_server)
    env = env_for(settings)
    done = run_cli(["-m", "ingestion", "sync", "--year", "2024", "--no-results"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "sync 2024: 3 request(s) asked" in done.stdout  # the lists and one batch of drivers
    assert "off (--no-results)" in done.stdout and "status: ok" in done.stdout
    assert conn.execute("SELECT count(*) FROM rounds").fetchone() == (25,)
    assert conn.execute("SELECT count(*) FROM results").fetchone() == (0,)

    again = run_cli(["-m", "ingestion", "sync", "--year", "2024", "--no-results", "--json"], env, tmp_path)
    assert again.returncode == 0, again.stderr
    document = json.loads(again.stdout)
    assert document["exit_code"] == 0 and document["synced"]["meetings"]["unchanged"] == 25

    usage = run_cli(["-m", "ingestion", "sync", "--year", "2024", "--recent", "3"], env, tmp_path)
    assert usage.returncode == 2
    assert usage.stderr.strip().splitlines() == [
        "error: --year and --recent cannot be used together: choose one"
    ]


def test_sync_cli_help_has_an_example() -> None:
    """``ingest sync --help`` documents the command with an example."""
    done = subprocess.run(
        [sys.executable, "-m", "ingestion", "sync", "--help"], capture_output=True, text=True, check=False,
        cwd=PROJECT_ROOT, timeout=60,
    )
    assert done.returncode == 0 and "Example: ingest sync --recent 3" in done.stdout


def test_sync_live_session_block_exits_3_and_replays_what_was_stored(
    tmp_path: Path, db_url: str, conn: Conn, world_dir: Path, openf1_server: ServerFactory
) -> None:
    """OpenF1's live-session 401 stops the fetch (exit 3); the year lists already stored are replayed."""
    server = openf1_server(rows=[world_dir / "2024"])
    settings = settings_for(tmp_path, db_url, server)
    server.fail_at("401", 3)  # the first request about meetings: the drivers batch
    summary = sync(settings, SyncOptions(year=2024, results=False, retry=FAST))
    assert summary.exit_code == 3
    assert summary.fetch.blocked is not None and summary.fetch.not_asked == 1
    assert summary.synced["meetings"].inserted == 25 and summary.synced["entrants"].inserted == 0
    assert conn.execute("SELECT count(*) FROM sessions").fetchone() == (summary.replay.rows["sessions"],)
    text = "\n".join(render_sync(summary))
    assert "stopped: " in text and "STOPPED: live-session block" in text


def test_sync_several_years_syncs_each(tmp_path: Path, db_url: str, world_2024_server: RunningServer) -> None:
    """`sync --year 2023 --year 2024` asks for both seasons (it used to sync 2024 alone, silently)."""
    settings = settings_for(tmp_path, db_url, world_2024_server)  # this stand-in has no 2023 rows
    summary = sync(settings, SyncOptions(years=(2024, 2023), results=False, retry=FAST))
    assert summary.years == [2023, 2024]
    asked = {event.key for event in Store(settings.snapshot_dir).events()}
    assert {"meetings?year=2023", "sessions?year=2023", "meetings?year=2024"} <= asked
    assert SyncOptions(year=2024, years=(2023, 2024)).seasons() == (2023, 2024)
