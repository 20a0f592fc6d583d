"""A replay proven unchanged skips the staging (``ingestion.replay.unchanged``), and only then: any change
behind replay's back is found and repaired as before, and the database ends as a full load leaves it. A load
into empty tables skips it too (``ingestion.replay.write.copy_fresh``), leaving what a staged load leaves."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import Databases
from naming_support import BOTH_NAMINGS, NAMINGS
from test_replay_support import AS_OF, FETCHED, put_answers, world_answers

from ingestion.db import connect
from ingestion.replay.inputs import INPUTS_KEY
from ingestion.replay.load import racing_snapshot
from ingestion.replay.run import run_replay
from ingestion.replay.summary import ReplaySummary
from ingestion.replay.unchanged import PROOF_KEY
from ingestion.store import Store

Conn = psycopg.Connection[Any]
load_module = importlib.import_module("ingestion.replay.load")  # the module, not its function `load`
unchanged_module = importlib.import_module("ingestion.replay.unchanged")
run_module = importlib.import_module("ingestion.replay.run")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("store"))
    put_answers(store, world_answers(2024))
    return store


def _no_staging(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("the load staged rows although nothing changed")

    monkeypatch.setattr(load_module, "copy_in", refuse)


def _proofs(conn: Conn) -> list[bool]:
    rows = conn.execute(f"SELECT summary ? '{PROOF_KEY}' FROM ingestion.replay_runs ORDER BY id").fetchall()
    return [bool(r[0]) for r in rows]


@BOTH_NAMINGS
def test_replay_unchanged_skips_the_staging_and_records_the_same_counts(
    store: Store, db_url: str, conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first load leaves exactly its rows and records a proof; the second stages nothing, writes
    nothing, counts every row unchanged, and keeps the proof."""
    first = run_replay(db_url, store, AS_OF, results=True)
    before = racing_snapshot(conn)
    _no_staging(monkeypatch)
    again = run_replay(db_url, store, AS_OF, results=True)
    assert again.written == 0
    assert {n: c.unchanged for n, c in again.tables.items()} == first.rows
    assert racing_snapshot(conn) == before
    assert _proofs(conn) == [True, True]


def test_replay_unchanged_reads_no_row_when_no_row_version_changed(
    store: Store, db_url: str, conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the racing tables hold the very row versions the last load left (``xmin``), the proof holds
    without hashing a row: the second replay never calls ``database_state``."""
    run_replay(db_url, store, AS_OF, results=True)
    _no_staging(monkeypatch)

    def refuse(*_: object) -> None:
        raise AssertionError("the proof hashed the rows although no row version changed")

    monkeypatch.setattr(unchanged_module, "database_state", refuse)
    assert run_replay(db_url, store, AS_OF, results=True).written == 0
    assert _proofs(conn) == [True, True]


def test_replay_after_rows_rewritten_to_their_own_values_is_proven_by_hashing_them(
    store: Store, db_url: str, conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An UPDATE that sets a column to the value it had writes new row versions: the versions differ, so the
    proof hashes the rows, finds them as recorded, and the replay stages nothing and writes nothing."""
    run_replay(db_url, store, AS_OF, results=True)
    before = racing_snapshot(conn)
    assert conn.execute("UPDATE results SET points = points").rowcount >= 1
    hashed: list[int] = []
    real = unchanged_module.database_state

    def counting(*args: Any) -> Any:
        hashed.append(1)
        return real(*args)

    monkeypatch.setattr(unchanged_module, "database_state", counting)
    _no_staging(monkeypatch)
    assert run_replay(db_url, store, AS_OF, results=True).written == 0
    assert hashed
    assert racing_snapshot(conn) == before
    assert _proofs(conn) == [True, True]


_TAMPERS = {
    "a result's points": "UPDATE results SET points = points + 1 "
    "WHERE id = (SELECT id FROM results WHERE points IS NOT NULL ORDER BY id LIMIT 1)",
    "a circuit's name": "UPDATE circuits SET name = name || ' (edited)' "
    "WHERE id = (SELECT min(id::text)::uuid FROM circuits)",
    "a deleted alias": "DELETE FROM driver_aliases "
    "WHERE id = (SELECT min(id::text)::uuid FROM driver_aliases)",
    "a deleted result": "DELETE FROM results WHERE id = (SELECT min(id::text)::uuid FROM results)",
    "a team set to no colour": "UPDATE teams SET primary_color = NULL WHERE primary_color IS NOT NULL",
}


@pytest.mark.parametrize("tamper", sorted(_TAMPERS))
def test_replay_repairs_a_database_changed_behind_its_back(
    store: Store, db_url: str, conn: Conn, tamper: str
) -> None:
    """After a change the proof does not know of, the full load runs: it writes the difference back and the
    database ends as it was; the replay after that is proven unchanged again."""
    run_replay(db_url, store, AS_OF, results=True)
    before = racing_snapshot(conn)
    assert conn.execute(_TAMPERS[tamper]).rowcount >= 1
    assert racing_snapshot(conn) != before
    repaired = run_replay(db_url, store, AS_OF, results=True)
    assert repaired.written >= 1
    assert racing_snapshot(conn) == before
    assert run_replay(db_url, store, AS_OF, results=True).written == 0
    assert _proofs(conn) == [True, True, True]


def test_replay_of_a_database_holding_other_rows_never_skips(
    store: Store, db_url: str, conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database holding racing rows replay does not produce (here a season of another series) records no
    proof: every replay then runs the whole load."""
    other = "00000000-0000-0000-0000-000000000001"
    conn.execute(f"INSERT INTO series (id, name, slug) VALUES ('{other}', 'Other', 'other')")
    run_replay(db_url, store, AS_OF, results=True)
    again = run_replay(db_url, store, AS_OF, results=True)
    assert again.written == 0
    assert _proofs(conn) == [False, False]


def test_replay_with_other_options_runs_the_whole_load(store: Store, db_url: str, conn: Conn) -> None:
    """A proof holds for the same rows and ``results`` only: --no-results after a full replay loads again."""
    run_replay(db_url, store, AS_OF, results=True)
    calls: list[str] = []
    real = load_module.copy_in

    def counting(conn_: Conn, db: Any, spec: Any, rows: Any) -> None:
        calls.append(spec.name)
        real(conn_, db, spec, rows)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(load_module, "copy_in", counting)
        assert run_replay(db_url, store, AS_OF, results=False).written == 0
    assert calls and "results" not in calls


def _replayed(url: str, store: Store, *, results: bool) -> tuple[ReplaySummary, Any, Any, list[Any]]:
    summary = run_replay(url, store, AS_OF, results=results)
    with connect(url) as conn:
        runs = conn.execute(
            "SELECT results, summary -> 'tables', summary -> %s FROM ingestion.replay_runs ORDER BY id",
            (PROOF_KEY,),
        ).fetchall()
        return summary, racing_snapshot(conn), _side_rows(conn), runs


def _side_rows(conn: Any) -> list[tuple[object, ...]]:
    """ingestion.circuit_keys as it is (the ``ef`` database's side table; ours has none)."""
    row = conn.execute("SELECT to_regclass('ingestion.circuit_keys') IS NOT NULL").fetchone()
    if not row[0]:
        return []
    return [tuple(r) for r in conn.execute("SELECT * FROM ingestion.circuit_keys ORDER BY 1").fetchall()]


@pytest.mark.parametrize("results", [True, False], ids=["results", "no-results"])
@pytest.mark.parametrize("naming", NAMINGS)
def test_replay_into_empty_tables_leaves_what_the_staged_load_leaves(
    store: Store, db_factory: Databases, naming: str, results: bool
) -> None:
    """Same rows, same ids, same side rows, same counts, the same replay_runs record (proof included) as the
    staged load into the same empty tables; and only the empty database takes the straight COPY."""
    staged_url, fresh_url = db_factory(naming), db_factory(naming)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(load_module, "tables_empty", lambda *_: False)
            staged = _replayed(staged_url, store, results=results)
        def refuse(*_: object) -> None:
            raise AssertionError("the load staged rows into empty tables")

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(load_module, "copy_in", refuse)
            fresh = _replayed(fresh_url, store, results=results)
        assert fresh[0].tables == staged[0].tables
        assert fresh[0].rows == staged[0].rows
        assert fresh[1] == staged[1]
        assert fresh[2] == staged[2]
        assert fresh[3] == staged[3]
        assert fresh[3][0][2] is not None  # the proof the next, unchanged, replay uses
        assert all(c.inserted == fresh[0].rows.get(n, 0) for n, c in fresh[0].tables.items() if results)
        # the next replay, now into full tables, stages as before and writes nothing
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(load_module, "tables_empty", lambda *_: False)
            patch.setattr(load_module.unchanged, "proven", lambda *a, **k: ("", False))
            patch.setattr(run_module, "load_unchanged", lambda *a, **k: None)  # nor from its inputs
            again = run_replay(fresh_url, store, AS_OF, results=results)
        assert again.written == 0
    finally:
        db_factory.release(staged_url)
        db_factory.release(fresh_url)


def _no_rows_computed(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the replay decoded or normalized although its inputs were unchanged")

    monkeypatch.setattr(run_module, "decode_snapshots", refuse)
    monkeypatch.setattr(run_module, "normalize_linked", refuse)
    _no_staging(monkeypatch)


@BOTH_NAMINGS
def test_replay_of_the_inputs_the_last_load_recorded_computes_no_row(
    store: Store, db_url: str, conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same snapshots, code and options, an ``as_of`` inside the recorded window, the database as the
    last load left it: the replay neither decodes nor normalizes, and says what the full replay says (rows,
    warnings, kept answers, findings; every row unchanged), recording the same proof and inputs."""
    first = run_replay(db_url, store, AS_OF, results=True)
    full = run_replay(db_url, store, AS_OF, results=True)  # proven from its rows: the whole replay ran
    before = racing_snapshot(conn)
    _no_rows_computed(monkeypatch)
    again = run_replay(db_url, store, AS_OF + timedelta(days=30), results=True)
    assert again.written == 0
    assert (again.rows, again.warnings, again.kept, again.findings, again.tables) == (
        full.rows, full.warnings, full.kept, full.findings, full.tables
    )
    assert {n: c.unchanged for n, c in again.tables.items()} == first.rows
    assert racing_snapshot(conn) == before
    assert _proofs(conn) == [True, True, True]
    query = f"SELECT summary -> '{INPUTS_KEY}' FROM ingestion.replay_runs ORDER BY id"
    records = conn.execute(query).fetchall()
    assert records[0] == records[1] == records[2] and records[0][0] is not None


@pytest.mark.parametrize("tamper", ["a result's points", "a deleted result"])
def test_replay_of_unchanged_inputs_into_an_edited_database_computes_and_repairs(
    store: Store, db_url: str, conn: Conn, tamper: str
) -> None:
    """The inputs are those recorded but a row was edited behind replay's back: the database is not as the
    last load left it, so the replay computes its rows and writes the difference back."""
    run_replay(db_url, store, AS_OF, results=True)
    before = racing_snapshot(conn)
    assert conn.execute(_TAMPERS[tamper]).rowcount >= 1
    computed: list[int] = []
    real = run_module.normalize_linked

    def counting(*args: Any, **kwargs: Any) -> Any:
        computed.append(1)
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run_module, "normalize_linked", counting)
        assert run_replay(db_url, store, AS_OF, results=True).written >= 1
    assert computed and racing_snapshot(conn) == before


def test_replay_of_other_inputs_computes_its_rows(
    store: Store, db_url: str, conn: Conn, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Another ``results``, an ``as_of`` close to a session (outside the recorded window), another store
    (one more answer), or a record from another version of the code: each replay computes its rows."""
    run_replay(db_url, store, AS_OF, results=True)
    computed: list[int] = []
    real = run_module.normalize_linked

    def counting(*args: Any, **kwargs: Any) -> Any:
        computed.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(run_module, "normalize_linked", counting)
    run_replay(db_url, store, AS_OF, results=False)
    assert len(computed) == 1
    run_replay(db_url, store, AS_OF, results=True)  # results again: computed (the last run had none)
    assert len(computed) == 2
    run_replay(db_url, store, AS_OF, results=True)
    assert len(computed) == 2  # the same inputs: proven from them
    last_race = datetime(2024, 12, 8, 13, tzinfo=UTC)  # Abu Dhabi 2024, within the window's margin
    run_replay(db_url, store, last_race + timedelta(days=1), results=True)
    assert len(computed) == 3
    other = Store(tmp_path / "other")
    put_answers(other, world_answers(2024))
    put_answers(other, world_answers(2024)[:1], FETCHED + timedelta(days=1))  # one answer asked again
    run_replay(db_url, other, AS_OF, results=True)
    assert len(computed) == 4
    run_replay(db_url, other, AS_OF, results=True)
    assert len(computed) == 4
    monkeypatch.setattr(run_module, "code_digest", lambda: "another version of the code")
    run_replay(db_url, other, AS_OF, results=True)
    assert len(computed) == 5
