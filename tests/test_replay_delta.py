"""The delta load (``ingestion.replay.delta``): when the database is proven to hold exactly the last load's
rows, only the rows that differ from them are staged; the database ends exactly as a full load leaves it
(rows, ids, side rows, counts, proof). It is never taken after a change behind replay's back, nor without
its cache (deletable at any time; a damaged one is ignored)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest
from conftest import Databases
from naming_support import NAMINGS
from test_replay_support import AS_OF, put_answers, world_answers

from ingestion.db import connect
from ingestion.db.naming import resolve
from ingestion.replay.delta import ROWS_FILE, RowsCache, changed, entry, index
from ingestion.replay.load import load, racing_snapshot
from ingestion.replay.rows import TABLES, Racing, Replayed
from ingestion.replay.run import replay
from ingestion.replay.scope import written
from ingestion.replay.summary import LoadSummary
from ingestion.replay.unchanged import PROOF_KEY
from ingestion.store import Store

Conn = psycopg.Connection[Any]
load_module = importlib.import_module("ingestion.replay.load")  # the module, not its function `load`
unchanged_module = importlib.import_module("ingestion.replay.unchanged")


def _refused(*_args: object) -> None:
    raise AssertionError("a delta load hashed every row of the database")


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    store = Store(tmp_path_factory.mktemp("store"))
    put_answers(store, world_answers(2024))
    return replay(store, AS_OF, results=True)


def _edited(replayed: Replayed) -> Replayed:
    """The same rows, some values changed (ids kept): a circuit's name and OpenF1 key (a side table on the
    app's database), a driver's first name and slug, two results' status detail and points."""
    r = replayed.racing
    circuits = list(r.circuits)
    circuits[0] = msgspec.structs.replace(
        circuits[0], name="Renamed Circuit", open_f1_circuit_key=(circuits[0].open_f1_circuit_key or 0) + 9000
    )
    drivers = list(r.drivers)
    drivers[1] = msgspec.structs.replace(drivers[1], first_name="Renamed", slug=f"{drivers[1].slug}-renamed")
    results = list(r.results)
    for i in (0, 5):
        results[i] = msgspec.structs.replace(results[i], status_detail="Engine failure",
                                             points=(results[i].points or 0) + 1)
    racing = msgspec.structs.replace(
        r, circuits=tuple(circuits), drivers=tuple(drivers), results=tuple(results)
    )
    return msgspec.structs.replace(replayed, racing=racing)


def _load(url: str, rows: Replayed, cache: RowsCache | None) -> LoadSummary:
    with connect(url) as conn:
        return load(conn, rows, results=True, as_of=AS_OF, started_at=AS_OF, rows_cache=cache)


def _state(url: str) -> tuple[Any, ...]:
    """Everything a load leaves: the racing rows, the app's side table, the last run's counts and proof."""
    with connect(url) as conn:
        side = conn.execute("SELECT to_regclass('ingestion.circuit_keys') IS NOT NULL").fetchone()
        keys = (
            [tuple(r) for r in conn.execute("SELECT * FROM ingestion.circuit_keys ORDER BY 1").fetchall()]
            if side is not None and side[0] else []
        )
        run = conn.execute(
            "SELECT summary -> 'tables', summary -> %s FROM ingestion.replay_runs ORDER BY id DESC LIMIT 1",
            (PROOF_KEY,),
        ).fetchone()
        return racing_snapshot(conn), keys, run


def _delta_taken(url: str) -> bool:
    with connect(url) as conn:
        row = conn.execute(
            "SELECT coalesce((summary ->> 'delta')::boolean, false) FROM ingestion.replay_runs "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return bool(row and row[0])


@pytest.fixture
def staged(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """The rows each load stages, per table."""
    calls: dict[str, int] = {}
    real: Callable[..., None] = load_module.copy_in

    def counting(conn: Conn, db: Any, spec: Any, rows: Any) -> None:
        calls[spec.name] = calls.get(spec.name, 0) + len(rows)
        real(conn, db, spec, rows)

    monkeypatch.setattr(load_module, "copy_in", counting)
    yield calls


_FULL: dict[str, tuple[Any, ...]] = {}


def _full(db_factory: Databases, naming: str, first: Replayed, then: Replayed) -> tuple[Any, ...]:
    """What a full load of ``then`` (:func:`_edited`) leaves after a load of ``first`` (no cache: every
    row staged); once per naming."""
    if naming in _FULL:
        return _FULL[naming]
    url = db_factory(naming)
    try:
        _load(url, first, None)
        _load(url, then, None)
        assert not _delta_taken(url)
        _FULL[naming] = _state(url)
        return _FULL[naming]
    finally:
        db_factory.release(url)


@pytest.mark.parametrize("naming", NAMINGS)
def test_delta_load_stages_only_the_changed_rows_and_leaves_what_a_full_load_leaves(
    replayed: Replayed, db_factory: Databases, naming: str, tmp_path: Path, staged: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    edited = _edited(replayed)
    full = _full(db_factory, naming, replayed, edited)
    url = db_factory(naming)
    try:
        cache = RowsCache(tmp_path)
        _load(url, replayed, cache)
        assert (tmp_path / ROWS_FILE).exists()
        staged.clear()
        # the delta load shifts the last state by the staged rows' hashes: it never hashes every row, and
        # its proof (in _state) is the one the full load's whole-table query gave
        whole = unchanged_module.database_state
        with monkeypatch.context() as m:
            m.setattr(unchanged_module, "database_state", _refused)
            summary = _load(url, edited, cache)
        assert _delta_taken(url)
        with connect(url) as conn:
            now = whole(conn, resolve(conn), written(results=True))
        assert unchanged_module.kept_state(_state(url)[2][1]) == now
        assert staged == {"circuits": 1, "drivers": 1, "results": 2}
        assert summary.tables["results"].updated == 2
        assert summary.tables["results"].unchanged == len(edited.racing.results) - 2
        assert _state(url) == full
        # and the load after it, from the rows it kept, stages nothing: the rows are proven unchanged
        staged.clear()
        assert sum(c.inserted + c.updated + c.removed for c in _load(url, edited, cache).tables.values()) == 0
        assert staged == {}
    finally:
        db_factory.release(url)


@pytest.mark.parametrize("naming", NAMINGS)
def test_delta_load_is_never_taken_after_a_row_edited_behind_replays_back(
    replayed: Replayed, db_factory: Databases, naming: str, tmp_path: Path, staged: dict[str, int]
) -> None:
    """The cached rows are no longer what the database holds: every row is staged and the edit repaired."""
    edited = _edited(replayed)
    full = _full(db_factory, naming, replayed, edited)
    url = db_factory(naming)
    try:
        cache = RowsCache(tmp_path)
        _load(url, replayed, cache)
        with connect(url) as conn:
            table = "drivers" if naming == "snake" else '"Drivers"'
            column = "first_name" if naming == "snake" else '"FirstName"'
            assert conn.execute(f"UPDATE {table} SET {column} = 'Edited' WHERE ctid = "
                                f"(SELECT ctid FROM {table} LIMIT 1)").rowcount == 1
        staged.clear()
        _load(url, edited, cache)
        assert not _delta_taken(url)
        assert staged["results"] == len(edited.racing.results)
        rows, keys, (_, proof) = _state(url)
        assert (rows, keys, proof) == (full[0], full[1], full[2][1])  # one driver more updated: the repair
    finally:
        db_factory.release(url)


@pytest.mark.parametrize("damage", ["deleted", "damaged", "another key"])
def test_delta_load_cache_is_deletable_and_a_damaged_one_is_ignored(
    replayed: Replayed, db_factory: Databases, tmp_path: Path, staged: dict[str, int], damage: str
) -> None:
    edited = _edited(replayed)
    full = _full(db_factory, "snake", replayed, edited)
    url = db_factory("snake")
    try:
        cache = RowsCache(tmp_path)
        _load(url, replayed, cache)
        path = tmp_path / ROWS_FILE
        if damage == "deleted":
            path.unlink()
        elif damage == "damaged":
            body = bytearray(path.read_bytes())
            body[-3] ^= 0xFF
            path.write_bytes(bytes(body))
        else:
            body = bytearray(path.read_bytes())
            body[0:1] = b"0" if body[0:1] != b"0" else b"1"
            path.write_bytes(bytes(body))
        staged.clear()
        _load(url, edited, cache)
        assert not _delta_taken(url)
        assert staged["results"] == len(edited.racing.results)
        assert _state(url) == full
    finally:
        db_factory.release(url)


def test_changed_rows_are_those_whose_values_differ_and_only_when_the_ids_are_the_same(
    replayed: Replayed,
) -> None:
    specs = written(results=True)
    old, new = replayed.racing, _edited(replayed).racing
    delta = changed(index(old, specs), index(new, specs), new, specs)
    assert delta is not None
    assert {spec.name: len(delta.table(spec.name)) for spec in TABLES if delta.table(spec.name)} == {
        "circuits": 1, "drivers": 1, "results": 2,
    }
    assert all(row in new.table(spec.name) for spec in TABLES for row in delta.table(spec.name))

    def same(racing: Racing) -> Racing | None:
        return changed(index(old, specs), index(racing, specs), racing, specs)

    assert same(old) == Racing()  # nothing differs: nothing staged
    added = msgspec.structs.replace(old, results=(*old.results, old.results[0]))
    assert same(added) is None  # a row more
    assert same(msgspec.structs.replace(old, results=old.results[1:])) is None  # a row gone
    other_id = msgspec.structs.replace(old.drivers[0], id=old.drivers[0].id.__class__(int=1))
    moved = msgspec.structs.replace(old, drivers=(other_id, *old.drivers[1:]))
    assert same(moved) is None  # an id changed
    twin = msgspec.structs.replace(old.drivers[1], slug=old.drivers[0].slug)
    assert same(msgspec.structs.replace(old, drivers=(old.drivers[0], twin, *old.drivers[2:]))) is None


def test_index_takes_a_known_entry_for_that_very_row_only(replayed: Replayed) -> None:
    """``known`` entries (an earlier merge's results, hashed when made) stand in for hashing their rows, but
    only for the very object they were made for: an equal row elsewhere in memory is hashed."""
    specs = written(results=True)
    racing = replayed.racing
    plain = index(racing, specs)
    first = racing.results[0]
    marked = b"\x01" * 48
    assert index(racing, specs, {id(first): (first, marked)})["results"][0] == marked
    twin = msgspec.structs.replace(first)  # equal, another object
    assert twin == first and twin is not first
    assert index(racing, specs, {id(twin): (twin, marked)}) == plain
    assert plain["results"][0] == entry(first)
