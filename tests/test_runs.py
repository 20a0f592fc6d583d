"""`ingest runs`: fetch runs from the store's log and records, replay runs from ingestion.replay_runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from committed import openf1_fixture
from test_store_commands import cli

from ingestion.fetch.plan import FetchOptions
from ingestion.fetch.record import FetchRecord, describe_options, read_records, record_of, write_record
from ingestion.fetch.summary import Blocked, FailedRequest, FetchSummary
from ingestion.ops.runs import fetch_runs, find_run, history
from ingestion.server import RunningServer
from ingestion.store import Store

COMMITTED = openf1_fixture()  # the committed store's OpenF1 2023 + 2024 (tests/committed.py)


def test_runs_committed_store_is_one_fetch_run_without_record() -> None:
    events = Store(COMMITTED).events()
    (run,) = fetch_runs(events, {})
    assert run.kind == "fetch" and run.requests == len(events) == 148
    assert run.asked == "years 2023, 2024; 48 meeting(s)"
    assert run.exit_code is None and run.finished_at is None  # no record: how it ended is unknown
    assert run.bytes == sum(e.size for e in events)


def test_runs_record_completes_the_log(tmp_path: Path) -> None:
    events = Store(COMMITTED).events()
    run_id = events[0].run
    record = FetchRecord(
        run=run_id, command="fetch", asked="--year 2023 --year 2024", finished_at=events[-1].received_at,
        wall_s=3.0, exit_code=1, planned=150, requests=150, http_requests=160, new_snapshots=146,
        unchanged=0, empty=2, throttled=7, retries=10, failed=["drivers?meeting_key=1: 503"],
    )  # fmt: skip
    write_record(tmp_path, record)
    assert read_records(tmp_path) == {run_id: record}
    (run,) = fetch_runs(events, read_records(tmp_path))
    assert (run.exit_code, run.throttled, run.failed, run.asked) == (1, 7, 1, "fetch --year 2023 --year 2024")
    assert run.started_at == min(events[0].received_at, record.finished_at - timedelta(seconds=3.0))


def test_runs_describe_options_as_typed() -> None:
    assert describe_options(years=[2023, 2024], recent_days=None, all_years=False, results=False,
                            refresh=True) == "--year 2023 --year 2024 --no-results --refresh"  # fmt: skip
    recent = describe_options(years=[], recent_days=3, all_years=False, results=True, refresh=False)
    assert recent == "--recent 3"


def test_runs_record_of_takes_every_count_of_the_summary() -> None:
    summary = FetchSummary(
        run="r1", years=[2024], planned=9, requests=8, http_requests=12, new_snapshots=5, unchanged=2,
        empty=1, throttled=3, retries=4, wall_s=2.5, not_asked=1,
        failed=[FailedRequest(key="laps?session_key=1", url="u", status=503, attempts=3, reason="503")],
        blocked=Blocked(url="u", detail="401", retry_at=None, session=None, advice="retry later"),
    ).finish()  # fmt: skip
    finished = datetime(2024, 3, 2, 18, 0, tzinfo=timezone(timedelta(hours=3)))
    record = record_of(summary, FetchOptions(years=(2024,), results=False), finished)
    assert record == FetchRecord(
        run="r1", command="fetch", asked="--year 2024 --no-results", finished_at=finished.astimezone(UTC),
        wall_s=2.5, exit_code=3, planned=9, requests=8, http_requests=12, new_snapshots=5, unchanged=2,
        empty=1, throttled=3, retries=4, failed=["laps?session_key=1: 503"], blocked="retry later",
    )  # fmt: skip
    assert record.finished_at.tzinfo is UTC


def test_runs_history_newest_first_and_find(tmp_path: Path) -> None:
    events = Store(COMMITTED).events()
    fetches = fetch_runs(events, {})
    later = fetches[0].started_at + timedelta(hours=1)
    replay = fetches[0].__class__(kind="replay", id="6", started_at=later, finished_at=later, asked="replay")
    runs = history(fetches, [replay])
    assert [r.kind for r in runs] == ["replay", "fetch"]
    assert find_run(runs, "6") is replay and find_run(runs, "replay 6") is replay
    assert find_run(runs, fetches[0].id[:9]) == fetches[0]
    assert find_run(runs, "nope") is None


def test_cli_runs_lists_a_fetch_and_a_replay(
    world_2024_server: RunningServer, db_url: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENF1_BASE_URL", world_2024_server.base_url)
    monkeypatch.setenv("OPENF1_RATE_PER_SECOND", "1000")
    monkeypatch.setenv("OPENF1_RATE_PER_MINUTE", "100000")
    monkeypatch.setenv("DATABASE_URL", db_url)
    store = str(tmp_path / "store")
    code, _, err = cli(
        capsys, "fetch", "--year", "2024", "--no-results", "--store", store, "--now", "2025-06-01"
    )
    assert code == 0, err
    code, _, err = cli(capsys, "replay", "--no-results", "--store", store, "--as-of", "2030-01-01T00:00:00Z")
    assert code == 0, err

    code, out, err = cli(capsys, "runs", "--json", "--store", store)
    assert code == 0, err
    listed = json.loads(out)
    assert listed["note"] is None and listed["total"] == 2
    replay, fetch = listed["runs"]
    assert replay["kind"] == "replay" and replay["exit_code"] == 0 and replay["written"] > 0
    assert replay["asked"] == "replay --as-of 2030-01-01T00:00:00Z --no-results"
    assert "results" not in replay["rows"] or replay["rows"]["results"]["inserted"] == 0
    assert fetch["kind"] == "fetch" and fetch["exit_code"] == 0
    assert fetch["asked"] == "fetch --year 2024 --no-results"
    assert fetch["requests"] == fetch["details"]["requests"] > 0 and fetch["throttled"] == 0

    code, out, _ = cli(capsys, "runs", "--store", store)
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == ["KIND", "RUN", "STARTED", "(UTC)", "ASKED", "RESULT", "EXIT", "TOOK"]
    assert lines[1].startswith("replay") and lines[2].startswith("fetch")  # newest first

    code, out, _ = cli(capsys, "runs", "show", replay["id"], "--store", store)
    assert code == 0 and f"replay run {replay['id']}" in out and "INSERTED" in out and "rounds" in out
    code, out, _ = cli(capsys, "runs", "show", fetch["id"][:10], "--json", "--store", store)
    assert code == 0 and json.loads(out)["id"] == fetch["id"]
    code, _, err = cli(capsys, "runs", "show", "nope", "--store", store)
    assert code == 2 and "no run 'nope'" in err


def test_cli_runs_without_database_still_lists_fetches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/x")
    code, out, err = cli(capsys, "runs", "--store", str(COMMITTED))
    assert code == 0
    assert "replay runs not listed: " in err and "cannot reach the database" in err
    assert out.splitlines()[1].startswith("fetch  20261130T000757Z-b4d6db")


def test_runs_committed_store_fetch_has_its_record_exit_0(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The committed store's fetch left its record (runs/RUN.json): `ingest runs` shows exit 0 for it,
    not "?" (unknown), and the record agrees with the log."""
    events = Store(COMMITTED).events()
    record = read_records(COMMITTED)[events[0].run]
    assert record.exit_code == 0 and record.requests == len(events) and not record.failed
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/x")
    code, out, _ = cli(capsys, "runs", "--json", "--store", str(COMMITTED))
    assert code == 0
    [run] = [r for r in json.loads(out)["runs"] if r["kind"] == "fetch"]
    assert run["exit_code"] == 0 and run["finished_at"] is not None


def test_cli_runs_show_prints_words_not_python_values(
    db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`ingest runs show 1`: a replay's details as words (`read 0.02 s, decode ...`, `yes`), never a
    Python dict or bool; nothing shown twice, every line within 80 columns."""
    from ingestion.replay.run import run_replay

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("COLUMNS", "80")
    run_replay(db_url, Store(COMMITTED), datetime.now(UTC), results=True)
    code, out, _ = cli(capsys, "runs", "show", "1", "--store", str(COMMITTED))
    assert code == 0
    assert not any(c in out for c in "{}'") and "True" not in out, out
    assert "  results   yes" in out.splitlines() and " s, decode " in out
    code, out, _ = cli(capsys, "runs", "show", "20261130T000757Z", "--store", str(COMMITTED))
    assert code == 0 and out.count("asked") == 1 and "exit      0" in out
    assert all(len(line) <= 80 for line in out.splitlines())
