"""Issue 21's attacks on replay's removals (RELIABILITY.md): a fault must never delete data silently.

- the circuit breaker: a replay that would remove more than a few rows of a settled season stops before
  writing (``RemovalsRefused``, exit 1) and names them; ``--allow-removals`` lets it go ahead, the summary
  shows it;
- the app writing at the same time: an app transaction that adds a user's row referencing a result replay
  is about to remove never loses that row to the cascade (rows in scope are locked before users' data is
  checked).

Both on our schema and on the app's EF Core database (``schema_naming``).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from campaign import FULL
from naming_support import BOTH_NAMINGS, NAMINGS
from test_replay_support import AS_OF, FETCHED, body_of, put_answers, world_rows, world_store
from test_sync import run_cli

from ingestion.calendar import SessionStatus
from ingestion.db import connect
from ingestion.replay.breaker import RemovalsRefused
from ingestion.replay.load import racing_snapshot
from ingestion.replay.run import run_replay
from ingestion.replay.summary import ReplaySummary, render_summary
from ingestion.store import Store

Conn = psycopg.Connection[Any]

#: The 2024 Abu Dhabi Grand Prix (the season's last race) and its meeting.
ABU_DHABI_RACE = 9662
#: A later fetch than the first one (FETCHED).
LATER = FETCHED + timedelta(days=2)


def _meeting_of(session_key: int) -> int:
    sessions = world_rows(2024, "sessions")
    return next(int(str(s["meeting_key"])) for s in sessions if s["session_key"] == session_key)


def _store_with_drivers(root: Path, drop: int) -> Store:
    """The real 2024 store, then a later answer for Abu Dhabi's drivers without its last ``drop`` driver
    numbers (a non-empty answer: no false empty, just fewer rows)."""
    store = world_store(root, years=(2024,))
    meeting = _meeting_of(ABU_DHABI_RACE)
    rows = [d for d in world_rows(2024, "drivers") if d["meeting_key"] == meeting]
    everyone = sorted({int(str(d["driver_number"])) for d in rows})
    numbers = everyone[: len(everyone) - drop]
    kept = [d for d in rows if int(str(d["driver_number"])) in numbers]
    put_answers(store, [(f"/v1/drivers?meeting_key={meeting}", *body_of(kept))], when=LATER)
    return store


def _replayed_first(db_url: str, store: Store) -> None:
    """The database as the first fetch left it (the later answer not seen yet)."""
    run_replay(db_url, store, LATER - timedelta(hours=1), results=True)


@pytest.mark.reliability("circuit breaker on removals")
@BOTH_NAMINGS
def test_replay_breaker_refuses_mass_removal_of_a_settled_season(
    db_url: str, conn: Conn, tmp_path: Path
) -> None:
    """A later answer that drops 18 of a settled meeting's drivers: replay stops before writing
    (RemovalsRefused, exit 1) naming the season and the rows; the database is exactly as before.
    ``allow_removals`` lets it go ahead and the summary says so."""
    store = _store_with_drivers(tmp_path / "store", drop=18)
    _replayed_first(db_url, store)
    before = racing_snapshot(conn)
    with pytest.raises(RemovalsRefused) as refused:
        run_replay(db_url, store, AS_OF, results=True)
    assert refused.value.exit_code == 1
    assert set(refused.value.settled) == {2024}
    assert refused.value.settled[2024]["entrants"] == 18
    assert "2024: " in str(refused.value) and "--allow-removals" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert racing_snapshot(conn) == before

    allowed = run_replay(db_url, store, AS_OF, results=True, allow_removals=True)
    assert allowed.tables["entrants"].removed == 18
    assert allowed.allowed_removals[2024]["entrants"] == 18
    said = "removals allowed (--allow-removals): 2024: "
    assert any(line.startswith(said) for line in render_summary(allowed))


@pytest.mark.reliability("circuit breaker on removals")
def test_replay_breaker_lets_a_small_correction_through(db_url: str, conn: Conn, tmp_path: Path) -> None:
    """One driver withdrawn from a settled meeting (1 entrant, its 5 results): under the limit, removed
    without --allow-removals, and the summary names no allowed removals."""
    store = _store_with_drivers(tmp_path / "store", drop=1)
    _replayed_first(db_url, store)
    summary: ReplaySummary = run_replay(db_url, store, AS_OF, results=True)
    assert summary.tables["entrants"].removed == 1
    assert 0 < summary.tables["results"].removed <= 9
    assert summary.allowed_removals == {}
    assert not any(line.startswith("removals allowed") for line in render_summary(summary))


@pytest.mark.reliability("circuit breaker on removals")
def test_replay_breaker_cli_exits_1_in_one_line(db_url: str, tmp_path: Path) -> None:
    """``ingest replay`` refused by the breaker: exit 1, one line on stderr naming the rows and the way out;
    with ``--allow-removals`` exit 0 and the summary line."""
    store = _store_with_drivers(tmp_path / "store", drop=18)
    _replayed_first(db_url, store)
    env = {"DATABASE_URL": db_url, "PATH": "/usr/bin:/bin", "SNAPSHOT_DIR": str(store.root)}
    args = ["-m", "ingestion", "replay", "--as-of", "2026-01-01"]
    refused = run_cli(args, env, tmp_path)
    assert refused.returncode == 1, refused.stderr
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, refused.stderr
    assert "2024: 18 entrants" in lines[0] and "--allow-removals" in lines[0]
    allowed = run_cli([*args, "--allow-removals"], env, tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    assert "removals allowed (--allow-removals): 2024: " in allowed.stdout


def _waiting(conn: Conn, at_least: int, what: str) -> None:
    """Until ``at_least`` backends of this database wait on a lock (a bounded wait, not a timing check)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        ).fetchone()
        if row and row[0] >= at_least:
            return
        time.sleep(0.05)
    pytest.fail(f"{what} never waited on a lock")


def _app_setup(db_url: str, conn: Conn, schema_naming: str, root: Path) -> tuple[Store, object]:
    """2024 replayed, a later answer without Abu Dhabi's race results, a user table ``favourites`` with ON
    DELETE CASCADE to the results; the store and the id of one of the race's results."""
    store = world_store(root, years=(2024,))
    meeting = _meeting_of(ABU_DHABI_RACE)
    results = [r for r in world_rows(2024, "session_result")
               if r["meeting_key"] == meeting and r["session_key"] != ABU_DHABI_RACE]
    put_answers(store, [(f"/v1/session_result?meeting_key={meeting}", *body_of(results))], when=LATER)
    _replayed_first(db_url, store)
    parent = 'public."Results"("Id")' if schema_naming == "ef" else "public.results(id)"
    conn.execute(f"CREATE TABLE public.favourites (id uuid PRIMARY KEY, "
                 f"result_id uuid NOT NULL REFERENCES {parent} ON DELETE CASCADE)")
    row = conn.execute("SELECT x.id FROM results x JOIN sessions s ON s.id = x.session_id "
                       "WHERE s.open_f1_session_key = %s ORDER BY x.id LIMIT 1", (ABU_DHABI_RACE,)).fetchone()
    assert row is not None
    return store, row[0]


def _in_thread(outcome: list[object], work: Callable[[], object]) -> threading.Thread:
    """Run ``work`` in a thread, its result or exception appended to ``outcome``."""

    def run() -> None:
        try:
            outcome.append(work())
        except Exception as error:  # reported by the test's assertions
            outcome.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.reliability("removals vs the app writing")
@BOTH_NAMINGS
def test_replay_removal_never_cascades_a_users_row_added_meanwhile(
    db_url: str, conn: Conn, schema_naming: str, tmp_path: Path
) -> None:
    """The app adds a user's row referencing a result (ON DELETE CASCADE) in a transaction that is open while
    replay removes that result: replay waits for it, then sees the row and keeps the result; the user's
    row survives."""
    store, result = _app_setup(db_url, conn, schema_naming, tmp_path / "store")
    outcome: list[object] = []
    with connect(db_url) as app:
        app.execute("INSERT INTO public.favourites VALUES (%s, %s)", (uuid.uuid4(), result))  # not committed
        thread = _in_thread(
            outcome, lambda: run_replay(db_url, store, AS_OF, results=True, allow_removals=True)
        )
        try:
            _waiting(conn, 1, "replay")
        finally:
            app.commit()
            thread.join(timeout=300)
    assert len(outcome) == 1 and isinstance(outcome[0], ReplaySummary), outcome
    assert outcome[0].tables["results"].removed == 19  # the race's other results go
    assert conn.execute("SELECT count(*) FROM public.favourites").fetchone() == (1,)
    assert conn.execute("SELECT count(*) FROM results WHERE id = %s", (result,)).fetchone() == (1,)


@pytest.mark.reliability("removals vs the app writing")
@pytest.mark.parametrize("schema_naming", NAMINGS if FULL else ("ef",), indirect=True)  # the app's, sampled
def test_replay_removal_makes_a_later_app_insert_wait_then_fail_cleanly(
    db_url: str, conn: Conn, schema_naming: str, tmp_path: Path
) -> None:
    """The other order: replay has locked and deleted the race's results (and waits, further on, behind an
    app lock on a session it updates) when the app inserts a user's row on one of them: the insert waits
    for replay, then fails with a foreign-key violation once replay commits; no user row is lost, none
    points at nothing."""
    store, result = _app_setup(db_url, conn, schema_naming, tmp_path / "store")
    other = conn.execute("SELECT id FROM sessions WHERE open_f1_session_key <> %s ORDER BY id LIMIT 1",
                         (ABU_DHABI_RACE,)).fetchone()
    assert other is not None
    conn.execute("UPDATE sessions SET status = %s WHERE id = %s", (int(SessionStatus.Scheduled), other[0]))
    sessions, key = ('public."Sessions"', '"Id"') if schema_naming == "ef" else ("public.sessions", "id")
    replayed: list[object] = []
    inserted: list[object] = []
    with connect(db_url) as holder, connect(db_url) as app:
        holder.execute(f"SELECT 1 FROM {sessions} WHERE {key} = %s FOR UPDATE", (other[0],))
        replay = _in_thread(
            replayed,
            lambda: run_replay(db_url, store, AS_OF, results=True, allow_removals=True, lock_wait=300),
        )
        try:
            _waiting(conn, 1, "replay")  # behind the holder, at the sessions: the results are gone by now

            def insert() -> None:
                app.execute("INSERT INTO public.favourites VALUES (%s, %s)", (uuid.uuid4(), result))
                app.commit()

            adding = _in_thread(inserted, insert)
            _waiting(conn, 2, "the app's insert")
        finally:
            holder.rollback()
            replay.join(timeout=300)
        adding.join(timeout=300)
    assert len(replayed) == 1 and isinstance(replayed[0], ReplaySummary), replayed
    assert replayed[0].tables["results"].removed == 20
    assert len(inserted) == 1 and isinstance(inserted[0], psycopg.errors.ForeignKeyViolation), inserted
    assert conn.execute("SELECT count(*) FROM public.favourites").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM results WHERE id = %s", (result,)).fetchone() == (0,)
