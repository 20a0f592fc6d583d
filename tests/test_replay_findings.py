"""Issue 21: upstream oddities become findings, not changes (docs/replay.md "Findings").

A real 2024 store replayed, then a later fetch with an oddity: a session filed under another meeting,
inverted dates, impossible positions and negative laps, a meeting gone, a meeting cancelled. Replay keeps
the last good rows and reports a finding (the summary, exit 1); a real cancellation marks the round's
sessions Cancelled without a duplicate round number. Both database layouts.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest
from naming_support import BOTH_NAMINGS
from test_replay_support import AS_OF, FETCHED, body_of, put_answers, world_rows, world_store
from test_sync import run_cli
from test_verify import _one

from ingestion.calendar import SessionStatus
from ingestion.replay.run import run_replay
from ingestion.replay.summary import render_summary
from ingestion.store import Store

Conn = psycopg.Connection[Any]
LATER = FETCHED + timedelta(days=2)


def _meeting(name: str) -> int:
    return next(int(str(m["meeting_key"])) for m in world_rows(2024, "meetings") if m["meeting_name"] == name)


def _race(meeting: int) -> int:
    return next(int(str(s["session_key"])) for s in world_rows(2024, "sessions")
                if s["meeting_key"] == meeting and s["session_name"] == "Race")


def _replayed(db_url: str, root: Path) -> Store:
    store = world_store(root, years=(2024,))
    run_replay(db_url, store, AS_OF, results=True)
    return store


ROUND_OF_SESSION = ("SELECT r.open_f1_meeting_key FROM sessions s JOIN rounds r ON r.id = s.round_id "
                    "WHERE s.open_f1_session_key = %s")
NUMBERS = "SELECT open_f1_meeting_key, round_number FROM rounds ORDER BY 1"
RESULTS_OF_SESSION = ("SELECT count(*) FROM results x JOIN sessions s ON s.id = x.session_id "
                      "WHERE s.open_f1_session_key = %s")


@pytest.mark.reliability("upstream oddities")
@BOTH_NAMINGS
def test_replay_holds_moved_sessions_inverted_dates_and_impossible_results(
    db_url: str, conn: Conn, tmp_path: Path
) -> None:
    """A later fetch files Bahrain's race under Singapore, gives Abu Dhabi's race a date_end before its
    date_start, and Monaco's race positions -3, 0, 999 and laps -5: each stored row stays as it was (the
    race on Bahrain's round, Abu Dhabi's race Completed with its 20 results, Monaco's positions), each is a
    finding in the summary, and the rest of the replay is applied."""
    store = _replayed(db_url, tmp_path / "store")
    bahrain, singapore = _meeting("Bahrain Grand Prix"), _meeting("Singapore Grand Prix")
    abu_dhabi, monaco = _meeting("Abu Dhabi Grand Prix"), _meeting("Monaco Grand Prix")
    bahrain_race, abu_dhabi_race, monaco_race = _race(bahrain), _race(abu_dhabi), _race(monaco)
    monaco_before = conn.execute(
        "SELECT x.id, x.position, x.laps FROM results x JOIN sessions s ON s.id = x.session_id "
        "WHERE s.open_f1_session_key = %s ORDER BY x.id", (monaco_race,)).fetchall()
    sessions = [dict(s) for s in world_rows(2024, "sessions")]
    for s in sessions:
        if s["session_key"] == bahrain_race:
            s["meeting_key"] = singapore
        if s["session_key"] == abu_dhabi_race:
            start = datetime.fromisoformat(str(s["date_start"]))
            s["date_end"] = (start - timedelta(hours=1)).isoformat()
    results = [dict(r) for r in world_rows(2024, "session_result") if r["meeting_key"] == monaco]
    odd = iter([("position", -3), ("position", 0), ("position", 999), ("number_of_laps", -5)])
    for r in results:
        if r["session_key"] == monaco_race:
            change = next(odd, None)
            if change is not None:
                r[change[0]] = change[1]
    put_answers(store, [("/v1/sessions?year=2024", *body_of(sessions)),
                        (f"/v1/session_result?meeting_key={monaco}", *body_of(results))], when=LATER)

    summary = run_replay(db_url, store, AS_OF, results=True)
    kinds = sorted(f.split(":")[0] for f in summary.findings)
    assert kinds == ["result_laps_negative", *["result_position_impossible"] * 3, "session_dates_inverted",
                     "session_moved"], summary.findings
    assert _one(conn, ROUND_OF_SESSION, bahrain_race) == bahrain
    assert _one(conn, RESULTS_OF_SESSION, bahrain_race) == 20
    assert _one(conn, "SELECT status FROM sessions WHERE open_f1_session_key = %s", abu_dhabi_race) == int(
        SessionStatus.Completed)
    assert _one(conn, RESULTS_OF_SESSION, abu_dhabi_race) == 20
    monaco_after = conn.execute(
        "SELECT x.id, x.position, x.laps FROM results x JOIN sessions s ON s.id = x.session_id "
        "WHERE s.open_f1_session_key = %s ORDER BY x.id", (monaco_race,)).fetchall()
    assert monaco_after == monaco_before
    assert any(line.startswith("findings (upstream oddities") for line in render_summary(summary))
    assert run_replay(db_url, store, AS_OF, results=True).findings  # found again, never proven away


@pytest.mark.reliability("upstream oddities")
@BOTH_NAMINGS
def test_replay_meeting_gone_keeps_round_numbers_and_removes_nothing_of_the_season(
    db_url: str, conn: Conn, tmp_path: Path
) -> None:
    """A later meetings list without Singapore: a finding; no two rounds of 2024 share a number, and no
    entrant or result of 2024 is removed."""
    store = _replayed(db_url, tmp_path / "store")
    singapore = _meeting("Singapore Grand Prix")
    numbers_before = conn.execute(NUMBERS).fetchall()
    meetings = [m for m in world_rows(2024, "meetings") if m["meeting_key"] != singapore]
    put_answers(store, [("/v1/meetings?year=2024", *body_of(meetings))], when=LATER)
    summary = run_replay(db_url, store, AS_OF, results=True)
    assert [f.split(":")[0] for f in summary.findings] == ["meeting_missing"]
    assert str(singapore) in summary.findings[0]
    assert conn.execute(NUMBERS).fetchall() == numbers_before
    assert summary.tables["entrants"].removed == 0 and summary.tables["results"].removed == 0


@pytest.mark.reliability("upstream oddities")
@BOTH_NAMINGS
def test_replay_real_cancellation_marks_sessions_cancelled_without_a_duplicate_round(
    db_url: str, conn: Conn, tmp_path: Path
) -> None:
    """A later meetings list flags Singapore ``is_cancelled``: its round keeps its number (no two rounds
    share one), its sessions are Cancelled, and it is a warning, not a finding (exit 0)."""
    store = _replayed(db_url, tmp_path / "store")
    singapore = _meeting("Singapore Grand Prix")
    numbers_before = conn.execute(NUMBERS).fetchall()
    meetings = [dict(m, is_cancelled=m["meeting_key"] == singapore) for m in world_rows(2024, "meetings")]
    put_answers(store, [("/v1/meetings?year=2024", *body_of(meetings))], when=LATER)
    summary = run_replay(db_url, store, AS_OF, results=True)
    assert summary.findings == [] and summary.warnings.get("meeting_cancelled") == 1
    assert conn.execute(NUMBERS).fetchall() == numbers_before
    statuses = conn.execute(
        "SELECT DISTINCT s.status FROM sessions s JOIN rounds r ON r.id = s.round_id "
        "WHERE r.open_f1_meeting_key = %s", (singapore,)).fetchall()
    assert statuses == [(int(SessionStatus.Cancelled),)]


def test_replay_cli_exits_1_on_findings(db_url: str, tmp_path: Path) -> None:
    """``ingest replay`` with a finding: the summary (its findings lines), then exit 1; --json has them;
    ``ingest check`` lists the last replay's findings and exits 1."""
    store = _replayed(db_url, tmp_path / "store")
    monaco = _meeting("Monaco Grand Prix")
    results = [dict(r) for r in world_rows(2024, "session_result") if r["meeting_key"] == monaco]
    results[0]["position"] = 999
    put_answers(store, [(f"/v1/session_result?meeting_key={monaco}", *body_of(results))], when=LATER)
    env = {"DATABASE_URL": db_url, "PATH": "/usr/bin:/bin", "SNAPSHOT_DIR": str(store.root)}
    done = run_cli(["-m", "ingestion", "replay", "--as-of", "2026-01-01"], env, tmp_path)
    assert done.returncode == 1, done.stderr
    assert "findings (upstream oddities: the last good rows kept): 1" in done.stdout
    assert "result_position_impossible" in done.stdout
    as_json = run_cli(["-m", "ingestion", "replay", "--as-of", "2026-01-01", "--json"], env, tmp_path)
    assert as_json.returncode == 1
    assert len(json.loads(as_json.stdout)["findings"]) == 1
    checked = run_cli(["-m", "ingestion", "check", "--season", "2024"], env, tmp_path)
    assert checked.returncode == 1, checked.stderr
    assert "replay_held: the last replay kept the last good rows (1)" in checked.stdout
    assert "result_position_impossible" in checked.stdout


def test_watch_replayed_event_carries_findings_and_allowed_removals_only_when_there_are() -> None:
    """The watcher's ``replayed`` line names the replay's findings and the removals --allow-removals let
    through; without any, the line is byte for byte what it was."""
    from ingestion.watch.events import Replayed, encode

    at = "2026-01-01T00:00:00Z"
    plain = Replayed(at=at, as_of=at, snapshots=5, written=0, tables={})
    assert encode(plain) == (
        '{"at":"2026-01-01T00:00:00Z","event":"replayed","as_of":"2026-01-01T00:00:00Z","snapshots":5,'
        '"written":0,"tables":{}}'
    )
    full = msgspec.structs.replace(
        plain, findings=["session_moved: session 9472 ..."], allowed_removals={"2024": {"entrants": 18}}
    )
    line = json.loads(encode(full))
    assert line["findings"] == ["session_moved: session 9472 ..."]
    assert line["allowed_removals"] == {"2024": {"entrants": 18}}
