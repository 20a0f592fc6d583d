"""A load into empty racing tables COPYs the rows straight in (``ingestion.replay.write.copy_fresh``): it
must leave exactly what the staged load (stage, adopt, remove, upsert) leaves, and record the same run."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from conftest import Databases
from naming_support import NAMINGS
from test_replay_support import AS_OF, put_answers, world_answers

from ingestion.db import connect
from ingestion.replay import ReplaySummary, racing_snapshot, run_replay
from ingestion.replay.unchanged import PROOF_KEY
from ingestion.store import Store

load_module = importlib.import_module("ingestion.replay.load")  # the package exports the function `load`


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("store"))
    put_answers(store, world_answers(2024))
    return store


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
            patch.setattr(load_module, "is_empty", lambda *_: False)
            staged = _replayed(staged_url, store, results=results)
        calls: list[str] = []
        real = load_module.copy_in

        def counting(conn: Any, db: Any, spec: Any, rows: Any) -> None:
            calls.append(spec.name)
            real(conn, db, spec, rows)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(load_module, "copy_in", counting)
            fresh = _replayed(fresh_url, store, results=results)
        assert calls == []  # nothing staged
        assert fresh[0].tables == staged[0].tables
        assert fresh[0].rows == staged[0].rows
        assert fresh[1] == staged[1]
        assert fresh[2] == staged[2]
        assert fresh[3] == staged[3]
        assert fresh[3][0][2] is not None  # the proof the next, unchanged, replay uses
        assert all(c.inserted == fresh[0].rows.get(n, 0) for n, c in fresh[0].tables.items() if results)
        # the next replay, now into full tables, stages as before and writes nothing
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(load_module, "is_empty", lambda *_: False)
            patch.setattr(load_module.unchanged, "proven", lambda *a, **k: ("", False))
            again = run_replay(fresh_url, store, AS_OF, results=results)
        assert again.written == 0
    finally:
        db_factory.release(staged_url)
        db_factory.release(fresh_url)
