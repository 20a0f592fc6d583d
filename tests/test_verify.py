"""``ingest verify``: the database against what the store implies, on a store of the real 2024 rows (split per
meeting as fetch stores them) replayed into a fresh PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from committed import copy_store
from conftest import Databases
from naming_support import BOTH_NAMINGS
from test_replay_support import AS_OF, world_store
from test_sync import run_cli

from ingestion.ops.verify import compare, render_verify, verify
from ingestion.replay.run import run_replay
from ingestion.store import Store

Conn = psycopg.Connection[tuple[object, ...]]

#: Every test here runs on our schema and on the app's own (EF Core) database.
pytestmark = BOTH_NAMINGS


Replayed2024 = Callable[[str], tuple[str, Path]]


@pytest.fixture(scope="module")
def replayed_2024(db_factory: Databases, tmp_path_factory: pytest.TempPathFactory) -> Replayed2024:
    """Per naming, made once for the module: a database into which a store of the real 2024 season was
    replayed (with results) as of long after it ended, and that store as the replay left it (its caches
    included). Tests never touch these: they take copies (:func:`replayed`)."""
    made: dict[str, tuple[str, Path]] = {}

    def get(naming: str) -> tuple[str, Path]:
        if naming not in made:
            store = world_store(tmp_path_factory.mktemp(f"replayed-{naming}") / "store", years=(2024,))
            url = db_factory(naming)
            run_replay(url, store, AS_OF, results=True)
            made[naming] = (url, store.root)
        return made[naming]

    return get


@pytest.fixture
def db_url(
    request: pytest.FixtureRequest, db_factory: Databases, schema_naming: str, replayed_2024: Replayed2024
) -> Iterator[str]:
    """This test's own database: for a test that takes ``replayed``, a copy of the module's replayed
    database (a file copy: the same rows, row versions and replay records as a replay into it would leave);
    else a fresh migrated one, as conftest's. Dropped once the test ends."""
    if "replayed" in request.fixturenames:
        url = db_factory.copy(replayed_2024(schema_naming)[0])
    else:
        url = db_factory(schema_naming)
    yield url
    db_factory.release(url)


@pytest.fixture
def replayed(tmp_path: Path, db_url: str, schema_naming: str, replayed_2024: Replayed2024) -> Store:
    """The real 2024 season in a store, replayed (with results) as of long after it ended into ``db_url``:
    this test's copies of the module's one replay per naming (the store copied as the replay left it, the
    database by :func:`db_url`), so that each test starts where its own replay would have left it."""
    return Store(copy_store(replayed_2024(schema_naming)[1], tmp_path / "store"))


def _one(conn: Conn, query: str, *params: object) -> object:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def test_verify_after_replay_matches(replayed: Store, db_url: str) -> None:
    """Right after a replay every table matches: exit 0, nothing missing, extra or different."""
    report = verify(db_url, replayed)
    assert report.exit_code == 0 and report.ok
    assert report.as_of == AS_OF and report.results is True and "replay run" in report.source
    assert all(c.differences == 0 and c.kept == 0 for c in report.tables)
    assert report.counts["rounds"] == 25 and report.rounds_per_season == {2024: 25}
    assert report.sessions_per_type["Race"] == 24 and report.sessions_per_type["Sprint"] == 6
    assert report.latest_completed is not None
    assert report.latest_completed.round == "2024 Abu Dhabi Grand Prix"
    assert report.latest_completed.type == "Race"
    text = render_verify(report)
    assert text[-1] == "OK: the database matches the snapshots"
    assert "rounds per season: 2024 25" in text


def test_verify_names_a_result_changed_by_hand_and_replay_fixes_it(
    replayed: Store, db_url: str, conn: Conn
) -> None:
    """UPDATE one result's position: verify exits 1 naming the row and column; a replay fixes it; exit 0."""
    row = conn.execute(
        "SELECT x.id, s.open_f1_session_key, d.slug, x.source_version FROM results x "
        "JOIN sessions s ON s.id = x.session_id "
        "JOIN entrants e ON e.id = x.entrant_id JOIN drivers d ON d.id = e.driver_id "
        "WHERE x.position = 3 AND s.type = 6 ORDER BY s.start_time_utc LIMIT 1"
    ).fetchone()
    assert row is not None
    result_id, session_key, driver, address = row
    conn.execute("UPDATE results SET position = 17 WHERE id = %s", (result_id,))

    report = verify(db_url, replayed)
    assert report.exit_code == 1
    results = next(c for c in report.tables if c.table == "results")
    assert (results.missing, results.extra, results.different) == (0, 0, 1)
    [issue] = results.different_examples
    named = f"session {session_key} {driver} (openf1 {str(address)[:12]})"  # its provenance: OpenF1's answer
    assert issue.id == str(result_id) and issue.label == named
    assert [(c.column, c.database, c.expected) for c in issue.columns] == [("position", 17, 3)]
    assert all(c.differences == 0 for c in report.tables if c.table != "results")
    text = "\n".join(render_verify(report))
    assert f"different: {named} (id {result_id}): position 17 in the database" in text
    assert text.splitlines()[-1].startswith("DIFFERENT: 1 row(s)")

    fixed = run_replay(db_url, replayed, AS_OF, results=True)
    assert fixed.tables["results"].updated == 1
    assert verify(db_url, replayed).exit_code == 0


def test_verify_compares_a_results_provenance_like_any_column(
    replayed: Store, db_url: str, conn: Conn, schema_naming: str
) -> None:
    """Each result says where its classification came from: OpenF1, the stored answer (its address) and
    its request. A provenance changed by hand (ours: on ``results``; the app's database: in
    ``ingestion.result_provenance``) is a difference naming the column; a replay puts it back."""
    rows = conn.execute(
        "SELECT x.id, x.source, x.source_version, x.source_path, s.open_f1_session_key FROM results x "
        "JOIN sessions s ON s.id = x.session_id ORDER BY x.id"
    ).fetchall()
    assert rows and {r[1] for r in rows} == {"openf1"}
    result_id, _, address, request, session_key = rows[0]
    assert replayed.read(str(address))  # a blob of the store: the answer the row came from
    assert str(request).startswith("session_result?")
    if schema_naming == "ef":
        conn.execute(
            "UPDATE ingestion.result_provenance SET source = 'f1db' WHERE result_id = %s", (result_id,)
        )
    else:
        conn.execute("UPDATE results SET source = 'f1db' WHERE id = %s", (result_id,))

    report = verify(db_url, replayed)
    assert report.exit_code == 1
    results = next(c for c in report.tables if c.table == "results")
    [issue] = results.different_examples
    assert [(c.column, c.database, c.expected) for c in issue.columns] == [("source", "f1db", "openf1")]
    assert issue.label.startswith(f"session {session_key} ")
    assert issue.label.endswith(f"(openf1 {str(address)[:12]})")

    fixed = run_replay(db_url, replayed, AS_OF, results=True)
    assert fixed.tables["results"].updated == 1
    assert verify(db_url, replayed).exit_code == 0


def test_verify_missing_extra_and_kept_rows(replayed: Store, db_url: str, conn: Conn) -> None:
    """A deleted result is missing; a stray entrant of a replayed round is extra; a stray session is kept."""
    result_id = _one(conn, "SELECT id FROM results ORDER BY id LIMIT 1")
    conn.execute("DELETE FROM results WHERE id = %s", (result_id,))
    round_id, driver_id, team_id = conn.execute(
        "SELECT e.round_id, d.id, t.id FROM entrants e, drivers d, teams t "
        "WHERE NOT EXISTS (SELECT 1 FROM entrants x WHERE x.round_id = e.round_id AND x.driver_id = d.id) "
        "LIMIT 1"
    ).fetchone() or (None, None, None)
    stray_entrant = uuid.uuid4()
    conn.execute(
        "INSERT INTO entrants (id, round_id, driver_id, team_id, role) VALUES (%s, %s, %s, %s, 0)",
        (stray_entrant, round_id, driver_id, team_id),
    )
    stray_session = uuid.uuid4()
    conn.execute(
        "INSERT INTO sessions (id, round_id, type, start_time_utc, status, open_f1_session_key) "
        "SELECT %s, round_id, 0, start_time_utc, 3, 999999 FROM sessions LIMIT 1",
        (stray_session,),
    )

    report = verify(db_url, replayed)
    tables = {c.table: c for c in report.tables}
    assert report.exit_code == 1
    assert tables["results"].missing == 1 and tables["results"].missing_examples[0].id == str(result_id)
    assert tables["entrants"].extra == 1 and tables["entrants"].extra_examples[0].id == str(stray_entrant)
    assert (tables["sessions"].kept, tables["sessions"].differences) == (1, 0)
    assert tables["sessions"].kept_examples[0].label == "session 999999"

    # restores the result, deletes the entrant, keeps the session
    run_replay(db_url, replayed, AS_OF, results=True)
    after = verify(db_url, replayed)
    assert after.exit_code == 0 and {c.table: c.kept for c in after.tables}["sessions"] == 1
    assert verify(db_url, replayed, strict=True).exit_code == 1


def test_verify_reads_never_writes(replayed: Store, db_url: str, conn: Conn) -> None:
    """verify works on a database that refuses every write, and records no replay run."""
    runs = _one(conn, "SELECT count(*) FROM ingestion.replay_runs")
    name = _one(conn, "SELECT current_database()")
    conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    try:
        assert verify(db_url, replayed).exit_code == 0
    finally:
        conn.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
    assert _one(conn, "SELECT count(*) FROM ingestion.replay_runs") == runs


def test_verify_results_off_follows_the_last_replay(tmp_path: Path, db_url: str, conn: Conn) -> None:
    """After a replay without results, verify compares without them (results not compared) and matches."""
    store = world_store(tmp_path / "store", years=(2024,))
    run_replay(db_url, store, AS_OF, results=False)
    report = verify(db_url, store)
    assert report.exit_code == 0 and report.results is False
    results = next(c for c in report.tables if c.table == "results")
    assert not results.compared
    assert "not compared (results off)" in "\n".join(render_verify(report))
    # asking for results explicitly: every result the snapshots imply is missing
    with_results = verify(db_url, store, results=True)
    assert with_results.exit_code == 1
    assert next(c for c in with_results.tables if c.table == "results").missing > 1000


def test_verify_compare_of_identical_rows_is_empty(replayed: Store, db_url: str) -> None:
    """The pure comparison of the replay's rows with themselves finds nothing."""
    from ingestion.replay import TABLES
    from ingestion.replay.run import replay

    racing = replay(replayed, AS_OF, results=True).racing
    as_rows = {spec.name: [tuple(getattr(r, c) for c in spec.columns) for r in racing.table(spec.name)]
               for spec in TABLES}
    assert all(c.differences == 0 and c.kept == 0 for c in compare(racing, as_rows, results=True))


def test_verify_python_m_ingestion_verify(replayed: Store, db_url: str, conn: Conn, tmp_path: Path) -> None:
    """``python -m ingestion verify`` exits 0 on a matching database and 1 (naming the table) otherwise."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SNAPSHOT_DIR")}
    env.update(DATABASE_URL=db_url, SNAPSHOT_DIR=str(replayed.root))
    done = run_cli(["-m", "ingestion", "verify"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "OK: the database matches the snapshots" in done.stdout
    assert "latest completed session: 2024 Abu Dhabi Grand Prix, Race" in done.stdout

    conn.execute("UPDATE drivers SET abbreviation = 'XXX' WHERE slug = 'max-verstappen'")
    done = run_cli(["-m", "ingestion", "verify", "--json"], env, tmp_path)
    assert done.returncode == 1
    assert '"table": "drivers"' in done.stdout and '"column": "abbreviation"' in done.stdout


def test_verify_of_a_missing_store_is_a_usage_error(replayed: Store, db_url: str, tmp_path: Path) -> None:
    """A mistyped SNAPSHOT_DIR is one line and exit 2, not "OK" with every row kept."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SNAPSHOT_DIR")}
    env.update(DATABASE_URL=db_url, SNAPSHOT_DIR=str(tmp_path / "typo"))
    done = run_cli(["-m", "ingestion", "verify"], env, tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"error: no snapshot store at {tmp_path / 'typo'}")
