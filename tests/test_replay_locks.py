"""Issue 21: locks that speak (RELIABILITY.md). A replay behind an app transaction's row or table lock says,
after a second, whom it waits for (pid and query), gives up after ``--wait`` with one line having written
nothing; SIGTERM (or kill -9) during that wait leaves no backend waiting with the replay lock held; a
watcher whose database session was lost and whose lock another watcher took stops with one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from campaign import FULL
from test_replay_support import AS_OF, FETCHED, body_of, put_answers, world_rows, world_store

from ingestion.db import connect
from ingestion.replay.load import racing_snapshot
from ingestion.replay.lock import LOCK_KEY
from ingestion.replay.run import run_replay
from ingestion.store import Store

Conn = psycopg.Connection[Any]
ABU_DHABI_RACE = 9662


def _replayed_store(db_url: str, root: Path) -> Store:
    """2024 replayed, then a later answer without the Abu Dhabi race's results (a replay removes them)."""
    store = world_store(root, years=(2024,))
    run_replay(db_url, store, AS_OF, results=True)
    sessions = world_rows(2024, "sessions")
    meeting = next(s["meeting_key"] for s in sessions if s["session_key"] == ABU_DHABI_RACE)
    rows = [r for r in world_rows(2024, "session_result")
            if r["meeting_key"] == meeting and r["session_key"] != ABU_DHABI_RACE]
    later = FETCHED + timedelta(days=2)
    put_answers(store, [(f"/v1/session_result?meeting_key={meeting}", *body_of(rows))], when=later)
    return store


def _replay_process(db_url: str, store: Store, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "DATABASE_URL": db_url, "SNAPSHOT_DIR": str(store.root)}
    argv = [sys.executable, "-m", "ingestion", "replay", "--as-of", "2026-01-01", "--allow-removals", *args]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _until(conn: Conn, query: str, want: object, what: str) -> None:
    """Poll ``query`` until its one value is ``want`` (a bounded wait, not a timing assertion)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row = conn.execute(query).fetchone()
        if row is not None and row[0] == want:
            return
        time.sleep(0.05)
    pytest.fail(f"never {what}")


WAITING = ("SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database() "
           "AND wait_event_type = 'Lock'")
#: Whether a session of this database holds the replay lock (advisory locks are per database).
LOCK_HELD = ("SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
             "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
             f"AND classid::bigint = {(LOCK_KEY >> 32) & 0xFFFFFFFF} "
             f"AND objid::bigint = {LOCK_KEY & 0xFFFFFFFF}")


@pytest.fixture
def app(db_url: str, schema_naming: str) -> Iterator[Conn]:
    """The app's connection (its own transaction), reading through the test's snake_case views."""
    with connect(db_url) as conn:
        if schema_naming == "ef":
            conn.execute("SET search_path = snake_view, public")
            conn.commit()
        yield conn


#: (layout, lock): all four in the whole campaign, two in ``make test`` (each layout, each lock once).
LOCK_CASES = [("snake", "row"), ("ef", "table"), ("ef", "row"), ("snake", "table")][: 4 if FULL else 2]


@pytest.mark.reliability("locks that speak")
@pytest.mark.parametrize(("schema_naming", "lock"), LOCK_CASES, indirect=["schema_naming"])
def test_replay_behind_an_app_lock_says_whom_it_waits_for_and_gives_up_after_wait(
    db_url: str, conn: Conn, app: Conn, schema_naming: str, tmp_path: Path, lock: str
) -> None:
    """An app transaction holds a result row replay removes (row) or the results table (table): replay says
    after a second which pid and query it waits for, stops after --wait 2 with one line naming the holder
    (exit 1), and the database is as before."""
    store = _replayed_store(db_url, tmp_path / "store")
    before = racing_snapshot(conn)
    results, key = ('"Results"', '"Id"') if schema_naming == "ef" else ("results", "id")
    if lock == "row":
        app.execute(f"SELECT 1 FROM public.{results} x WHERE x.{key} IN "
                    "(SELECT r.id FROM results r JOIN sessions s ON s.id = r.session_id "
                    "WHERE s.open_f1_session_key = %s) FOR UPDATE", (ABU_DHABI_RACE,))
    else:
        app.execute(f"LOCK TABLE public.{results} IN ACCESS EXCLUSIVE MODE")
    pid = app.info.backend_pid
    try:
        replay = _replay_process(db_url, store, "--wait", "2")
        _out, err = replay.communicate(timeout=120)
    finally:
        app.rollback()
    assert replay.returncode == 1, err
    said = [line for line in err.splitlines() if "replay waits for a lock held by" in line]
    assert said and f"pid {pid}" in said[0] and ("FOR UPDATE" in said[0] or "LOCK TABLE" in said[0]), err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: replay waited 2 s for a lock held by pid") and f"pid {pid}" in last, err
    assert racing_snapshot(conn) == before
    assert conn.execute(LOCK_HELD).fetchone() == (False,)


@pytest.mark.reliability("locks that speak")
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL][: 2 if FULL else 1])
def test_replay_killed_while_waiting_leaves_no_backend_holding_the_replay_lock(
    db_url: str, conn: Conn, app: Conn, tmp_path: Path, how: signal.Signals
) -> None:
    """A replay waiting behind an app's table lock is sent SIGTERM (exit 143, one line) or SIGKILL: its
    backend goes (the statement cancelled; a vanished client noticed within a second), so the replay lock
    is free while the app still holds its lock, and the next replay is not refused."""
    store = _replayed_store(db_url, tmp_path / "store")
    app.execute("LOCK TABLE public.results IN ACCESS EXCLUSIVE MODE")
    try:
        replay = _replay_process(db_url, store, "--wait", "600")
        _until(conn, WAITING, True, "saw the replay wait")
        replay.send_signal(how)
        _out, err = replay.communicate(timeout=60)
        if how == signal.SIGTERM:
            assert replay.returncode == 143, err
            assert err.strip().splitlines()[-1].startswith("terminated (SIGTERM)"), err
        _until(conn, LOCK_HELD, False, "saw the replay lock released")
        assert conn.execute(WAITING).fetchone() == (False,)
    finally:
        app.rollback()
    summary = run_replay(db_url, store, AS_OF, results=True, lock_wait=0, allow_removals=True)
    assert summary.tables["results"].removed == 20


def test_watch_database_lock_lost_and_taken_by_another_watcher_stops_with_one_line(db_url: str) -> None:
    """The watcher's database session is lost (a restart); another watcher takes the lock meanwhile: the
    first one's next take() reconnects, finds the other holder and raises WatchLocked (one line)."""
    from ingestion.watch.locks import DatabaseLock, WatchLocked

    first, second = DatabaseLock(db_url), DatabaseLock(db_url)
    first.take()
    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first.conn.info.backend_pid,))
        second.take()
        try:
            with pytest.raises(WatchLocked) as refused:
                first.take()
            assert "another watcher already watches the database" in str(refused.value)
            assert "\n" not in str(refused.value)
        finally:
            second.release()
            first.release()
