"""The messages the issue found misleading: each says what happened and a fix that works in that case."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingestion.cli import main
from ingestion.config import Settings
from ingestion.ops.healthcheck import format_check, healthcheck
from ingestion.replay import TABLE_NAMES
from ingestion.replay.summary import ReplaySummary, TableCounts, render_summary
from ingestion.server import RunningServer


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_messages_replay_no_results_says_results_are_kept() -> None:
    summary = ReplaySummary(
        as_of=datetime(2025, 1, 1, tzinfo=UTC), results=False, snapshots=3,
        rows={name: 0 for name in TABLE_NAMES}, tables={name: TableCounts() for name in TABLE_NAMES},
        warnings={}, seconds={},
    )  # fmt: skip
    lines = render_summary(summary)
    (results,) = [line for line in lines if line.strip().startswith("results")]
    assert results.split() == ["results", "kept", "(not", "touched:", "--no-results)"]


def test_messages_replay_of_an_empty_store_is_an_error_unless_allowed(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    store = tmp_path / "empty-store"
    store.mkdir()
    code, out, err = _cli(capsys, "replay", "--store", str(store), "--as-of", "2025-01-01T00:00:00Z")
    assert code == 1 and out == ""
    assert err.strip() == (
        f"error: nothing to replay: the store at {store} has no snapshot received at or before "
        "2025-01-01T00:00:00Z: fetch first (ingest fetch), check --store/--as-of, or pass --allow-empty"
    )
    code, out, err = _cli(capsys, "replay", "--store", str(store), "--allow-empty", "--json")
    assert code == 0, err


def test_messages_fetch_without_year_names_the_season_and_says_openf1_has_none_yet(
    world_2024_server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENF1_BASE_URL", world_2024_server.base_url)
    monkeypatch.setenv("OPENF1_RATE_PER_SECOND", "1000")
    monkeypatch.setenv("OPENF1_RATE_PER_MINUTE", "100000")
    store = str(tmp_path / "store")
    code, out, err = _cli(capsys, "fetch", "--store", store, "--now", "2026-03-01T00:00:00Z")
    assert code == 0, err
    assert "note: no --year given: the current season, 2026 (in UTC); --year chooses another" in out
    assert 'note: OpenF1 has no meetings for 2026 yet (it answered "No results found.")' in out


def test_messages_fetch_unresolvable_host_stops_quickly_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENF1_BASE_URL", "http://nonexistent-host.invalid/v1")
    started = time.monotonic()
    code, out, err = _cli(capsys, "fetch", "--year", "2024", "--store", str(tmp_path / "store"))
    took = time.monotonic() - started
    assert code == 1 and out == ""
    assert err.splitlines()[-1] == (
        "error: cannot resolve nonexistent-host.invalid: check the network or OPENF1_BASE_URL"
    )
    assert took < 10  # 3 tries, backoffs capped at 2 s (it was 23 s of retries per request)


def test_messages_healthcheck_never_starts_the_embedded_database(tmp_path: Path) -> None:
    from ingestion.db import embedded

    pgdata = tmp_path / "pgdata"
    settings = Settings(database_url=None, snapshot_dir=tmp_path / "snapshots", pgdata_dir=pgdata)
    database, migrations = healthcheck(settings, offline=True)[:2]
    assert database.status == "fail" and database.message.startswith("the embedded PostgreSQL is not running")
    assert database.fix is not None and database.fix.startswith("ingest db up")
    assert migrations.status == "fail"
    assert not embedded.is_running(pgdata) and not pgdata.exists()


def test_messages_healthcheck_store_and_openf1_failures_print_a_fix(db_url: str, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the store should be")
    settings = Settings(
        database_url=db_url, snapshot_dir=blocker / "snapshots", pgdata_dir=tmp_path / "pgdata",
        openf1_base_url="http://nonexistent-host.invalid/v1", sources=("openf1",),
        f1db_url="http://127.0.0.1:1/repos/f1db/f1db",  # never GitHub
    )  # fmt: skip
    checks = {c.name: c for c in healthcheck(settings, offline=False)}
    store, openf1 = checks["snapshots"], checks["openf1"]
    assert store.status == "fail" and "Error" not in store.message  # the cause in words, no raw OSError
    assert store.fix is not None and "SNAPSHOT_DIR" in store.fix
    assert openf1.status == "fail" and openf1.message == "cannot resolve nonexistent-host.invalid"
    assert openf1.fix is not None and "OPENF1_BASE_URL" in openf1.fix
    lines = format_check(openf1, ascii_only=True)
    assert len(lines) == 2 and lines[1].split()[0] == "fix:"
