"""replay and load against a real PostgreSQL, from stores built from the real OpenF1 world files."""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import DbFactory
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from naming_support import BOTH_NAMINGS
from test_replay_support import (
    AS_OF,
    CHAMPIONSHIP_2024,
    FETCHED,
    body_of,
    put_answers,
    snapshots,
    world_answers,
    world_rows,
)

from ingestion.cli import main
from ingestion.db import connect
from ingestion.ops.verify import render_verify, verify
from ingestion.replay import TABLE_NAMES, Replayed, normalize
from ingestion.replay.identity import make_id
from ingestion.replay.load import load, racing_snapshot
from ingestion.replay.run import replay, run_replay
from ingestion.store import Store
from tests.provenance_support import answer_blind

#: Health checks on, but the function-scoped fixture one: the examples share the test's database on purpose.
DB_SETTINGS = settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
Conn = psycopg.Connection[Any]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("store"))
    for year in (2023, 2024):
        put_answers(store, world_answers(year))
    return store


def _one(conn: Conn, query: str, *params: object) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def _xmins(conn: Conn) -> dict[str, list[tuple[object, ...]]]:
    return {t: conn.execute(f"SELECT id, xmin::text FROM {t} ORDER BY id").fetchall() for t in TABLE_NAMES}


@BOTH_NAMINGS
def test_replay_loads_the_2023_and_2024_facts(store: Store, db_url: str, conn: Conn) -> None:
    """Replaying the real store: 25 rounds and 123 sessions in 2024, the championship points, Hungary 2023."""
    summary = run_replay(db_url, store, AS_OF, results=True)
    assert summary.tables["rounds"].inserted == 48 and summary.warnings == {
        "driver_name_mismatch": 15,
        "driver_without_team": 15,
    }
    assert (
        _one(conn, "SELECT count(*) FROM rounds r JOIN seasons s ON s.id = r.season_id WHERE s.year = 2024")
        == 25
    )
    assert (
        _one(conn, "SELECT count(*) FROM rounds r JOIN seasons s ON s.id = r.season_id WHERE s.year = 2023")
        == 23
    )
    assert _one(
        conn, "SELECT array_agg(round_number ORDER BY date_start) FROM rounds WHERE slug LIKE '2024-%%'"
    ) == list(range(25))
    assert (
        _one(
            conn,
            "SELECT count(*) FROM sessions s JOIN rounds r ON r.id = s.round_id WHERE r.slug LIKE '2024-%%'",
        )
        == 123
    )
    points = dict(
        conn.execute(
            "SELECT d.abbreviation, sum(x.points)::int FROM results x JOIN entrants e ON e.id = x.entrant_id "
            "JOIN drivers d ON d.id = e.driver_id JOIN rounds r ON r.id = e.round_id "
            "WHERE r.slug LIKE '2024-%%' GROUP BY 1"
        ).fetchall()
    )
    assert {k: points[k] for k in CHAMPIONSHIP_2024} == CHAMPIONSHIP_2024
    hungary = conn.execute(
        "SELECT d.last_name FROM entrants e JOIN rounds r ON r.id = e.round_id "
        "JOIN drivers d ON d.id = e.driver_id "
        "WHERE r.slug = '2023-hungarian-grand-prix'"
    ).fetchall()
    assert len(hungary) == 20 and ("Ricciardo",) in hungary
    assert (
        _one(conn, "SELECT count(*) FROM drivers WHERE last_name IN ('Bearman', 'Lawson', 'Colapinto')") == 3
    )
    assert _one(conn, "SELECT count(*) FROM ingestion.replay_runs") == 1


@BOTH_NAMINGS
def test_replay_circuits_carry_the_meeting_country_code(store: Store, db_url: str, conn: Conn) -> None:
    """A circuit takes location, country and country code from its latest meeting (Sakhir: Bahrain, BRN)."""
    run_replay(db_url, store, AS_OF, results=False)
    assert conn.execute(
        "SELECT name, location, country, country_code FROM circuits WHERE open_f1_circuit_key = 63"
    ).fetchone() == ("Sakhir", "Sakhir", "Bahrain", "BRN")
    assert _one(conn, "SELECT count(*) FROM circuits WHERE country_code IS NULL") == 0


@BOTH_NAMINGS
def test_replay_second_run_writes_nothing(store: Store, db_url: str, conn: Conn) -> None:
    """A second replay of the same store changes no racing row (same xmin); only a run is recorded."""
    run_replay(db_url, store, AS_OF, results=True)
    before = _xmins(conn)
    again = run_replay(db_url, store, AS_OF, results=True)
    assert again.written == 0
    assert sum(c.unchanged for c in again.tables.values()) == sum(again.rows.values())
    assert _xmins(conn) == before
    assert _one(conn, "SELECT count(*) FROM ingestion.replay_runs") == 2


@BOTH_NAMINGS
def test_replay_no_results_never_touches_results(store: Store, db_url: str, conn: Conn) -> None:
    """--no-results: results stay empty on a fresh database, and untouched (not even deleted) later."""
    summary = run_replay(db_url, store, AS_OF, results=False)
    assert summary.rows["results"] == 0 and _one(conn, "SELECT count(*) FROM results") == 0
    assert _one(conn, "SELECT count(*) FROM entrants") > 0
    run_replay(db_url, store, AS_OF, results=True)
    results_before = conn.execute("SELECT id, xmin::text FROM results ORDER BY id").fetchall()
    assert results_before
    # an earlier as_of would drop every 2024 result with results on; with results off nothing moves
    run_replay(db_url, store, datetime(2024, 6, 1, tzinfo=UTC), results=False)
    assert conn.execute("SELECT id, xmin::text FROM results ORDER BY id").fetchall() == results_before


def test_replay_as_of_replays_the_past(tmp_path: Path, db_url: str, conn: Conn) -> None:
    """Events received after --as-of are ignored: a store fetched twice replays its first state."""
    store = Store(tmp_path)
    put_answers(store, world_answers(2023))
    put_answers(store, world_answers(2024), when=FETCHED + timedelta(days=1))
    replay_first = run_replay(db_url, store, FETCHED + timedelta(hours=1), results=True)
    assert replay_first.rows["rounds"] == 23
    later = FETCHED + timedelta(days=2)
    assert run_replay(db_url, store, later, results=True).tables["rounds"].inserted == 25


@BOTH_NAMINGS
def test_replay_adopts_ids_of_an_older_pipeline(store: Store, db_url: str, conn: Conn) -> None:
    """Rows an older pipeline wrote under other ids (same session key, meeting key, slugs) keep their ids, and
    ``ingest verify`` then exits 0 (it compares what adoption keeps), still failing on a real difference."""
    series, season, circuit, rnd, sess, team, driver = (make_id("legacy", n) for n in range(7))
    conn.execute("INSERT INTO series (id, name, slug) VALUES (%s, 'F1', 'formula-1')", (series,))
    conn.execute("INSERT INTO seasons (id, series_id, year) VALUES (%s, %s, 2024)", (season, series))
    conn.execute(
        "INSERT INTO circuits (id, name, slug, location, country) VALUES (%s, 'Sakhir', 'sakhir', 'x', 'y')",
        (circuit,),
    )
    conn.execute(
        "INSERT INTO rounds (id, season_id, circuit_id, name, slug, round_number, date_start, date_end, "
        "open_f1_meeting_key) VALUES (%s, %s, %s, 'Bahrain', '2024-bahrain-grand-prix', 1, '2024-03-01', "
        "'2024-03-02', 1229)",
        (rnd, season, circuit),
    )
    conn.execute(
        "INSERT INTO sessions (id, round_id, type, start_time_utc, status, open_f1_session_key) "
        "VALUES (%s, %s, 6, '2024-03-02T15:00:00Z', 0, 9472)",
        (sess, rnd),
    )
    conn.execute("INSERT INTO teams (id, name, slug) VALUES (%s, 'Ferrari', 'ferrari')", (team,))
    conn.execute(
        "INSERT INTO drivers (id, first_name, last_name, slug) VALUES (%s, 'Max', 'V', 'max-verstappen')",
        (driver,),
    )
    run_replay(db_url, store, AS_OF, results=True)
    assert _one(conn, "SELECT id FROM sessions WHERE open_f1_session_key = 9472") == sess
    assert _one(conn, "SELECT id FROM rounds WHERE open_f1_meeting_key = 1229") == rnd
    assert _one(conn, "SELECT id FROM teams WHERE slug = 'ferrari'") == team
    assert _one(conn, "SELECT id FROM drivers WHERE slug = 'max-verstappen'") == driver
    assert _one(conn, "SELECT count(*) FROM results WHERE session_id = %s", sess) == 20
    assert _one(conn, "SELECT id FROM circuits WHERE open_f1_circuit_key = 63") == circuit
    assert run_replay(db_url, store, AS_OF, results=True).written == 0
    report = verify(db_url, store)  # verify compares what adoption keeps, not the deterministic ids
    assert report.exit_code == 0, render_verify(report)
    # and a real difference in an adopted row still fails it
    conn.execute("UPDATE sessions SET start_time_utc = start_time_utc + interval '1 h' WHERE id = %s",
                 (sess,))
    changed = verify(db_url, store)
    assert changed.exit_code == 1
    sessions = next(c for c in changed.tables if c.table == "sessions")
    assert sessions.different == 1 and sessions.different_examples[0].id == str(sess)
    assert sum(c.missing + c.extra for c in changed.tables) == 0


def _ingest(args: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code in (0, None)


@BOTH_NAMINGS
def test_replay_cli_prints_the_summary_as_json(
    store: Store, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ingest replay --json --store DIR --as-of T` loads and prints the summary as one JSON document."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    _ingest(
        ["replay", "--json", "--store", str(store.root), "--as-of", "2026-01-01T00:00:00Z", "--no-results"]
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["results"] is False and summary["tables"]["sessions"]["inserted"] == 236
    assert set(summary["seconds"]) == {"read", "decode", "normalize", "load"}
    _ingest(["replay", "--store", str(store.root), "--as-of", "2026-01-01"])
    out = capsys.readouterr().out
    assert "results" in out and "driver_name_mismatch" in out


def test_replay_cli_rejects_a_bad_as_of(capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed --as-of is a usage error (exit 2) with a one-line message."""
    with pytest.raises(SystemExit) as exit_info:
        main(["replay", "--as-of", "yesterday"])
    assert exit_info.value.code == 2 and "--as-of" in capsys.readouterr().err


def test_replay_cli_missing_store_is_one_line(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --store that does not exist is a usage error (exit 2, one line), not a silent empty replay."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    with pytest.raises(SystemExit) as exit_info:
        main(["replay", "--store", str(tmp_path / "typo")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "no snapshot store at" in err and len(err.strip().splitlines()) == 1
    with connect(db_url) as conn:
        assert _one(conn, "SELECT count(*) FROM ingestion.replay_runs") == 0


# --- properties ----------------------------------------------------------------------------------------

ANSWERS_2024 = world_answers(2024)
MEETINGS_AND_SESSIONS = ANSWERS_2024[:2]
PER_MEETING = ANSWERS_2024[2:]
INSTANTS = [datetime(2024, m, 15, tzinfo=UTC) for m in (1, 3, 6, 9, 12)] + [AS_OF]


@functools.lru_cache(maxsize=16)
def _normalized(answers: tuple[Any, ...], as_of: datetime, results: bool) -> Replayed:
    """``normalize`` of the answers: pure, and its rows frozen, so the examples that replay the same answers
    (the whole of 2024, a second replay of the same rows) share one result instead of normalizing again."""
    return normalize(snapshots(answers), as_of, results=results)


def _load(url: str, answers: Any, as_of: datetime, results: bool = True) -> int:
    with connect(url) as conn:
        return load(conn, _normalized(tuple(answers), as_of, results), results=results).written


def _tables(url: str) -> dict[str, list[tuple[object, ...]]]:
    with connect(url) as conn:
        return racing_snapshot(conn)


@pytest.fixture(scope="module")
def fresh_2024(db_factory: DbFactory) -> Callable[[str], dict[str, list[tuple[object, ...]]]]:
    """The tables of a fresh database of one naming after a replay of the whole of 2024 (as of ``AS_OF``),
    made once per naming for the module: every example compares against the same fresh replay, which is
    deterministic (test_replay_two_fresh_databases_get_identical_ids)."""

    @functools.cache
    def tables(naming: str) -> dict[str, list[tuple[object, ...]]]:
        url = db_factory(naming)  # made in a test's body: dropped when that test ends, its rows read here
        _load(url, ANSWERS_2024, AS_OF)
        return _tables(url)

    return tables


@BOTH_NAMINGS
@DB_SETTINGS
@given(
    subset=st.lists(st.sampled_from(PER_MEETING), max_size=30, unique=True),
    as_of=st.sampled_from(INSTANTS),
    results=st.booleans(),
)
def test_replay_fresh_equals_incremental(
    db_factory: DbFactory,
    fresh_2024: Callable[[str], dict[str, list[tuple[object, ...]]]],
    schema_naming: str,
    subset: list[Any],
    as_of: datetime,
    results: bool,
) -> None:
    """Replaying over an older state (fewer requests, earlier as_of) equals a fresh replay, ids too."""
    full = list(ANSWERS_2024)
    incremental = db_factory(schema_naming)
    _load(incremental, [*MEETINGS_AND_SESSIONS, *subset], as_of, results)
    _load(incremental, full, AS_OF)
    assert _tables(incremental) == fresh_2024(schema_naming)
    assert _load(incremental, full, AS_OF) == 0


@BOTH_NAMINGS
@DB_SETTINGS
@given(picks=st.lists(st.integers(0, len(PER_MEETING) - 1), min_size=1, max_size=8, unique=True))
def test_replay_two_fresh_databases_get_identical_ids(
    db_factory: DbFactory, schema_naming: str, picks: list[int]
) -> None:
    """The same snapshots replayed into two fresh databases give identical rows and ids."""
    answers = [*MEETINGS_AND_SESSIONS, *(PER_MEETING[i] for i in sorted(picks))]
    first, second = db_factory(schema_naming), db_factory(schema_naming)
    _load(first, answers, AS_OF)
    _load(second, list(reversed(answers)), AS_OF)
    assert _tables(first) == _tables(second)


@BOTH_NAMINGS
@DB_SETTINGS
@given(results=st.booleans(), picks=st.lists(st.integers(0, len(PER_MEETING) - 1), max_size=10, unique=True))
def test_replay_no_results_leaves_results_empty(
    db_factory: DbFactory, schema_naming: str, results: bool, picks: list[int]
) -> None:
    """With results off nothing is written to results, whatever the snapshots hold and whatever ran before."""
    url = db_factory(schema_naming)
    answers = [*MEETINGS_AND_SESSIONS, *(PER_MEETING[i] for i in picks)]
    if results:
        _load(url, answers, AS_OF, True)
    before = _tables(url)["results"]
    _load(url, list(ANSWERS_2024), AS_OF, False)
    assert _tables(url)["results"] == before


@settings(max_examples=15, deadline=None)
@given(index=st.integers(0, len(ANSWERS_2024) - 1), other=st.integers(0, len(ANSWERS_2024) - 1))
def test_replay_later_version_of_a_request_wins(index: int, other: int) -> None:
    """Snapshots plus an earlier different version of one request give the same tables as without it.

    Unless the later version is empty (the one 404 of these answers): an empty answer after one with rows
    cannot be true, and the earlier rows stay, with a warning (issue 21; test_credibility's property)."""
    path, status, _body = ANSWERS_2024[index]
    assume(status == 200)
    older = snapshots([(path, *ANSWERS_2024[other][1:])], when=FETCHED - timedelta(days=30), run="old")
    with_older = normalize(older + snapshots(ANSWERS_2024), AS_OF, results=True)
    plain = _normalized(ANSWERS_2024, AS_OF, True)  # the same for every example: normalized once
    # the same rows; a result's provenance may name the older answer that already held it as it is
    assert answer_blind(with_older.racing) == answer_blind(plain.racing)
    assert with_older.warnings == plain.warnings
    assert (with_older.held, with_older.pending) == (plain.held, plain.pending)


def test_replay_store_with_a_later_version_equals_the_later_alone(
    tmp_path: Path, db_factory: Callable[[], str]
) -> None:
    """Through the store: an old empty answer then the real answer, equals the real answer alone."""
    with_history, plain = Store(tmp_path / "a"), Store(tmp_path / "b")
    put_answers(
        with_history,
        [(p, 404, b'{"detail":"No results found."}') for p, _, _ in ANSWERS_2024[2:]],
        when=FETCHED - timedelta(days=3),
    )
    put_answers(with_history, ANSWERS_2024)
    put_answers(plain, ANSWERS_2024)
    assert replay(with_history, AS_OF, results=True) == replay(plain, AS_OF, results=True)
    first, second = db_factory(), db_factory()
    run_replay(first, with_history, AS_OF, results=True)
    run_replay(second, plain, AS_OF, results=True)
    assert _tables(first) == _tables(second)


# OpenF1-shaped rows: real 2024 rows of two meetings with fields swapped for values seen elsewhere, or nulls
_REAL = {
    ep: world_rows(2024, ep) for ep in ("meetings", "sessions", "drivers", "session_result", "starting_grid")
}


@functools.cache
def _values(endpoint: str, field: str) -> tuple[object, ...]:
    """The values ``field`` takes in the first 400 real rows of ``endpoint``, and null (computed once: the
    generator asks for them for every field of every row it mutates)."""
    seen = {json.dumps(r.get(field)) for r in _REAL[endpoint][:400]}
    return (*(json.loads(v) for v in sorted(seen)), None)


@st.composite
def _mutated_world(draw: st.DrawFn) -> list[Any]:
    meetings = draw(st.lists(st.sampled_from([1229, 1230, 1232, 1234]), min_size=1, max_size=2, unique=True))
    rng = random.Random(draw(st.integers(0, 2**32)))
    rate = draw(st.sampled_from([0.0, 0.02, 0.1, 0.3]))
    answers = []
    for endpoint in _REAL:
        rows = [dict(r) for r in _REAL[endpoint] if r["meeting_key"] in meetings]
        for row in rows:
            for field in list(row):
                if rng.random() < rate:
                    row[field] = rng.choice(_values(endpoint, field))
        path = (
            f"/v1/{endpoint}?year=2024"
            if endpoint in ("meetings", "sessions")
            else f"/v1/{endpoint}?meeting_key={meetings[0]}"
        )
        answers.append((path, *body_of(rows)))
    return answers


@BOTH_NAMINGS
@DB_SETTINGS
@given(answers=_mutated_world())
def test_replay_mutated_openf1_rows_load_and_settle(
    db_factory: DbFactory, schema_naming: str, answers: list[Any]
) -> None:
    """Real rows with fields swapped or nulled never crash loading; a second replay writes nothing."""
    url = db_factory(schema_naming)
    _load(url, answers, AS_OF)
    assert _load(url, answers, AS_OF) == 0
