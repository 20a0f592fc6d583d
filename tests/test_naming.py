"""The app's own database (EF Core naming) beside ours: detection, migrate, and the cases of issue 13 that
only the app's database has (its user tables, its (round, driver) entrants index).

The app's database is built from ``app_schema_ef.sql`` (written from ../shared/SCHEMA.md); the tests that run
on both namings live with their subject (test_replay, test_verify, test_audit, test_clean_racing...).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest
from conftest import DbFactory
from hypothesis import given
from hypothesis import strategies as st
from naming_support import build_app_database, ef_name, snake_name
from test_replay_support import (
    AS_OF,
    CHAMPIONSHIP_2024,
    FETCHED,
    body_of,
    put_answers,
    world_rows,
    world_store,
)
from test_sync import run_cli

from ingestion.config import load_settings
from ingestion.db import connect, migrate, require_schema, status
from ingestion.db.clean import UserDataReferencesRacing, clean_racing
from ingestion.db.migrate import available
from ingestion.db.naming import EF, SNAKE, detect, pascal, resolve, snake
from ingestion.errors import ConfigError, MigrationError, NotMigrated
from ingestion.ops.healthcheck import healthcheck
from ingestion.ops.verify import verify
from ingestion.replay.identity import make_id
from ingestion.replay.rows import EntrantRow, Racing, ResultRow, one_entrant_per_driver
from ingestion.replay.run import run_replay
from ingestion.store import Store

Conn = psycopg.Connection[Any]

ABU_DHABI_RACE = 9662
#: When the corrected answers were fetched; BEFORE sees the first fetch only.
CORRECTED = FETCHED + timedelta(days=2)
BEFORE = FETCHED + timedelta(days=1)


def _one(conn: Conn, query: str, *params: object) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def _public_tables(conn: Conn) -> list[str]:
    return [str(t) for (t,) in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").fetchall()]


@pytest.fixture
def app_db(empty_db_url: str) -> Iterator[str]:
    """The app's database as its own migrations leave it: no schema ingestion yet."""
    with connect(empty_db_url, autocommit=True) as conn:
        build_app_database(conn)
    yield empty_db_url


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return world_store(tmp_path_factory.mktemp("store"), years=(2024,))


# --- the names ------------------------------------------------------------------------------------------

def test_naming_pascal_follows_schema_md() -> None:
    """SCHEMA.md's examples: every word capitalised and joined; ui_order is UIOrder."""
    assert pascal("open_f1_session_key") == "OpenF1SessionKey"
    assert pascal("q1_time") == "Q1Time" and pascal("start_time_utc") == "StartTimeUtc"
    assert pascal("driver_aliases") == "DriverAliases" and pascal("id") == "Id"
    assert pascal("ui_order") == "UIOrder" and snake("UIOrder") == "ui_order"
    assert EF.rel("sessions").as_string(None) == '"public"."Sessions"'
    assert SNAKE.rel("sessions").as_string(None) == '"public"."sessions"'
    assert EF.side("circuits", "open_f1_circuit_key") is not None and SNAKE.side("circuits", "x") is None


@given(st.lists(st.from_regex(r"[a-z][a-z]{0,6}|f1|q[1-3]", fullmatch=True), min_size=1, max_size=4))
def test_naming_snake_and_pascal_invert_each_other(words: list[str]) -> None:
    """Any snake_case name the model could hold comes back from its EF name (and agrees with the tests'
    own independent rule)."""
    name = "_".join(words)
    if name == "ui_order":
        return
    assert snake(pascal(name)) == name
    assert pascal(name) == ef_name(name) and snake_name(pascal(name)) == name


def test_naming_setting_is_validated(tmp_path: Path) -> None:
    """DATABASE_SCHEMA is auto, snake or ef (any case); anything else is a one-line configuration error."""
    assert load_settings({}, tmp_path).database_schema == "auto"
    assert load_settings({"DATABASE_SCHEMA": "EF"}, tmp_path).database_schema == "ef"
    (tmp_path / ".env").write_text("DATABASE_SCHEMA=snake\n")
    assert load_settings({}, tmp_path).database_schema == "snake"
    with pytest.raises(ConfigError, match="DATABASE_SCHEMA: must be auto, snake or ef"):
        load_settings({"DATABASE_SCHEMA": "pascal"}, tmp_path)
    assert load_settings({"DATABASE_SCHEMA": "ef"}, tmp_path).database_schema == "ef"


def test_naming_detected_from_the_catalog(db_factory: DbFactory, empty_db_url: str, app_db: str) -> None:
    """Ours (migrated) is snake, the app's is ef (before and after `db migrate`), an empty one neither;
    DATABASE_SCHEMA forces one either way."""
    with connect(db_factory(), autocommit=True) as conn:
        assert detect(conn) == "snake" and resolve(conn, "auto") == SNAKE and resolve(conn, "ef") == EF
    with connect(app_db, autocommit=True) as conn:
        assert detect(conn) == "ef" and resolve(conn, "auto") == EF and resolve(conn, "snake") == SNAKE
        migrate(conn)
        assert detect(conn) == "ef"
    with connect(db_factory("ef"), autocommit=True) as conn:
        assert detect(conn) == "ef"


def test_naming_app_database_without_ef_history_is_the_apps(app_db: str) -> None:
    """An app database made by EF's EnsureCreated (its tables, no "__EFMigrationsHistory") is detected as
    the app's: `db migrate` creates schema ingestion only, never our snake_case tables in its public
    schema; forcing DATABASE_SCHEMA=snake on it is refused with nothing applied."""
    with connect(app_db, autocommit=True) as conn:
        conn.execute('DROP TABLE "__EFMigrationsHistory"')
        before = _public_tables(conn)
        assert detect(conn) == "ef" and resolve(conn, "auto") == EF
        forced = resolve(conn, "snake")  # DATABASE_SCHEMA=snake, as the settings pass it down
        with pytest.raises(MigrationError, match="never creates its own tables in the app's public schema"):
            migrate(conn, naming=forced)
        assert migrate(conn) == [m.name for m in available("ef")]
        assert _public_tables(conn) == before
        assert require_schema(conn) == EF
        checks = {c.name: c for c in healthcheck(load_settings({"DATABASE_URL": app_db}), offline=True)}
        assert checks["app"].status == "ok" and "without EF migrations" in checks["app"].message


# --- migrate --------------------------------------------------------------------------------------------

def test_naming_migrate_on_the_app_database_creates_nothing_in_public(app_db: str) -> None:
    """`db migrate` on the app's database applies only the ef migrations: schema ingestion gets its tables,
    public (the app's racing and user tables) is left exactly as it was; a second run does nothing."""
    with connect(app_db, autocommit=True) as conn:
        before = _public_tables(conn)
        columns = _one(conn, "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public'")
        indexes = _one(conn, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")
        with pytest.raises(NotMigrated, match=r"pending migrations .*ingest db migrate"):
            require_schema(conn)
        assert migrate(conn) == [m.name for m in available("ef")]
        assert migrate(conn) == []
        assert _public_tables(conn) == before
        assert _one(conn, "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public'") \
            == columns
        assert _one(conn, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'") == indexes
        assert {str(t) for (t,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'ingestion'").fetchall()} == {
            "schema_migrations", "circuit_keys", "replay_runs", "driver_aliases",
            "result_provenance"}
        assert require_schema(conn) == EF
        assert [s.name for s in status(conn)] == [m.name for m in available("ef")]


def test_naming_forced_ef_without_the_app_tables_is_one_line(empty_db_url: str) -> None:
    """DATABASE_SCHEMA=ef on a database without the app's tables: migrate says to run the app's migrations
    first, and creates nothing."""
    with connect(empty_db_url, autocommit=True) as conn:
        first = r"run the app's migrations first \(dotnet ef database update\)"
        with pytest.raises(NotMigrated, match=first):
            migrate(conn, naming=EF)
        assert _one(conn, "SELECT to_regnamespace('ingestion') IS NULL") is True


def test_naming_db_status_and_migrate_say_the_naming(
    app_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`ingest db migrate` on the app's database says it manages schema ingestion only; `db status` names
    the naming (and --json carries it)."""
    env = {"DATABASE_URL": app_db, "PATH": "/usr/bin:/bin"}
    done = run_cli(["-m", "ingestion", "db", "migrate"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "only schema ingestion is managed here" in done.stdout and "applied 0001_ef" in done.stdout
    done = run_cli(["-m", "ingestion", "db", "status"], env, tmp_path)
    assert done.returncode == 0 and "naming: ef (the app's EF Core database" in done.stdout
    done = run_cli(["-m", "ingestion", "db", "status", "--json"], env, tmp_path)
    assert done.returncode == 0 and '"naming": "ef"' in done.stdout


# --- the done-when: the app's database filled, twice, verified, users' data untouched ---------------------

def _corrected_store(root: Path, session_key: int = ABU_DHABI_RACE, drop_driver: int | None = None) -> Store:
    """The real 2024 store, then a later fetch of that race's meeting whose session_result no longer lists
    the race (and, with ``drop_driver``, whose drivers answer no longer lists that driver)."""
    store = world_store(root, years=(2024,))
    meeting = next(int(str(s["meeting_key"])) for s in world_rows(2024, "sessions")
                   if s["session_key"] == session_key)
    results = [r for r in world_rows(2024, "session_result")
               if r["meeting_key"] == meeting and r["session_key"] != session_key]
    answers = [(f"/v1/session_result?meeting_key={meeting}", *body_of(results))]
    if drop_driver is not None:
        drivers = [d for d in world_rows(2024, "drivers")
                   if d["meeting_key"] == meeting and d["driver_number"] != drop_driver]
        answers.append((f"/v1/drivers?meeting_key={meeting}", *body_of(drivers)))
    put_answers(store, answers, when=CORRECTED)
    return store


def test_naming_app_database_end_to_end_keeps_a_users_diary(app_db: str, tmp_path: Path) -> None:
    """migrate, replay (2024: Verstappen 437 points), replay again (0 rows), verify (exit 0); a user's diary
    entry and review on a 2024 race survive a replay whose snapshots no longer hold that race's results and a
    --no-results replay; clean-racing refuses, naming the user tables, and deletes nothing."""
    store = _corrected_store(tmp_path / "store")
    with connect(app_db, autocommit=True) as conn:
        migrate(conn)
    first = run_replay(app_db, store, BEFORE, results=True)
    assert first.tables["results"].inserted > 400
    assert run_replay(app_db, store, BEFORE, results=True).written == 0
    assert verify(app_db, store).exit_code == 0
    with connect(app_db, autocommit=True) as conn:
        points: dict[Any, Any] = dict(conn.execute(  # type: ignore[arg-type]
            'SELECT d."Abbreviation", sum(x."Points")::int FROM "Results" x '
            'JOIN "Entrants" e ON e."Id" = x."EntrantId" JOIN "Drivers" d ON d."Id" = e."DriverId" '
            "GROUP BY 1").fetchall())
        assert points["VER"] == 437 and {k: points[k] for k in CHAMPIONSHIP_2024} == CHAMPIONSHIP_2024
        race = _one(conn, 'SELECT "Id" FROM "Sessions" WHERE "OpenF1SessionKey" = %s', ABU_DHABI_RACE)
        log, review = uuid.uuid4(), uuid.uuid4()
        conn.execute('INSERT INTO "AspNetUsers" ("Id", "UserName") VALUES (%s, %s)', ("u1", "fan"))
        conn.execute('INSERT INTO "Logs" ("Id", "UserId", "SessionId", "StarRating", "Liked") '
                     "VALUES (%s, %s, %s, 4.5, true)", (log, "u1", race))
        conn.execute('INSERT INTO "Reviews" VALUES (%s, %s, %s, true)', (review, log, "what a finale"))
        results_of_race = 'SELECT count(*) FROM "Results" WHERE "SessionId" = %s'
        assert _one(conn, results_of_race, race) == 20

    # the snapshots no longer list the race's results
    corrected = run_replay(app_db, store, AS_OF, results=True, allow_removals=True)  # a settled season's
    assert corrected.tables["results"].removed == 20
    run_replay(app_db, store, AS_OF, results=False)  # --no-results
    assert verify(app_db, store).exit_code == 0
    with connect(app_db, autocommit=True) as conn:
        assert _one(conn, results_of_race, race) == 0
        assert _one(conn, 'SELECT "Id" FROM "Sessions" WHERE "OpenF1SessionKey" = %s', ABU_DHABI_RACE) == race
        assert conn.execute('SELECT "SessionId", "StarRating" FROM "Logs"').fetchall() == [(race, 4.5)]
        assert _one(conn, 'SELECT "Body" FROM "Reviews" WHERE "LogId" = %s', log) == "what a finale"
        with pytest.raises(UserDataReferencesRacing) as refused:
            clean_racing(conn, dry_run=False)
        assert refused.value.counts == {'"Logs"': 1}
        assert '"Reviews"(LogId) -> "Logs" -> Sessions: 1 row' in refused.value.message
        assert _one(conn, 'SELECT count(*) FROM "Sessions"') == 123
        assert _one(conn, 'SELECT count(*) FROM "Reviews"') == 1


def test_naming_no_results_writes_no_results_row(app_db: str, store: Store) -> None:
    """--no-results on the app's database: "Sessions" and "Entrants" filled, not one "Results" row."""
    with connect(app_db, autocommit=True) as conn:
        migrate(conn)
    summary = run_replay(app_db, store, AS_OF, results=False)
    assert summary.tables["sessions"].inserted == 123 and summary.tables["results"].inserted == 0
    with connect(app_db, autocommit=True) as conn:
        assert _one(conn, 'SELECT count(*) FROM "Results"') == 0
        assert _one(conn, 'SELECT count(*) FROM "Entrants"') > 400


def test_naming_app_rows_with_other_ids_are_adopted(app_db: str, store: Store) -> None:
    """Rows the app wrote under its own ids (same session key, meeting key, slugs, and an entrant of that
    round and driver with another team) keep their ids; the circuit key goes to ingestion.circuit_keys."""
    with connect(app_db, autocommit=True) as conn:
        migrate(conn)
        series, season, circuit, rnd, sess, team, driver, entrant = (make_id("app", n) for n in range(8))
        conn.execute('INSERT INTO "Series" ("Id", "Name", "Slug") VALUES (%s, %s, %s)', (series, "F1",
                                                                                      "formula-1"))
        conn.execute('INSERT INTO "Seasons" VALUES (%s, %s, 2024)', (season, series))
        conn.execute('INSERT INTO "Circuits" ("Id", "Name", "Slug", "Location", "Country") '
                     "VALUES (%s, 'Sakhir', 'sakhir', 'x', 'y')", (circuit,))
        conn.execute('INSERT INTO "Rounds" ("Id", "SeasonId", "CircuitId", "Name", "Slug", "RoundNumber", '
                     '"DateStart", "DateEnd", "OpenF1MeetingKey") '
                     "VALUES (%s, %s, %s, %s, %s, 1, %s, %s, 1229)",
                     (rnd, season, circuit, "Bahrain", "bahrain-2024", "2024-03-01", "2024-03-02"))
        conn.execute('INSERT INTO "Sessions" VALUES (%s, %s, 6, %s, 0, 9472)',
                     (sess, rnd, "2024-03-02T15:00Z"))
        conn.execute('INSERT INTO "Teams" ("Id", "Name", "Slug") VALUES (%s, %s, %s)', (team, "Williams",
                                                                                      "williams"))
        conn.execute('INSERT INTO "Drivers" ("Id", "FirstName", "LastName", "Slug") VALUES (%s, %s, %s, %s)',
                     (driver, "Max", "V", "max-verstappen"))
        conn.execute('INSERT INTO "Entrants" VALUES (%s, %s, %s, %s, 0)', (entrant, rnd, driver, team))
    run_replay(app_db, store, AS_OF, results=True)
    with connect(app_db, autocommit=True) as conn:
        assert _one(conn, 'SELECT "Id" FROM "Sessions" WHERE "OpenF1SessionKey" = 9472') == sess
        assert _one(conn, 'SELECT "Id" FROM "Rounds" WHERE "OpenF1MeetingKey" = 1229') == rnd
        assert _one(conn, 'SELECT "Id" FROM "Drivers" WHERE "Slug" = %s', "max-verstappen") == driver
        assert _one(conn, 'SELECT circuit_id FROM ingestion.circuit_keys WHERE open_f1_circuit_key = 63') \
            == circuit
        row = conn.execute('SELECT e."Id", t."Slug" FROM "Entrants" e JOIN "Teams" t ON t."Id" = e."TeamId" '
                           'WHERE e."RoundId" = %s AND e."DriverId" = %s', (rnd, driver)).fetchall()
        assert row == [(entrant, "red-bull-racing")]
        of_max = ('SELECT count(*) FROM "Results" x JOIN "Entrants" e ON e."Id" = x."EntrantId" '
                  'WHERE e."RoundId" = %s AND e."DriverId" = %s')
        assert _one(conn, of_max, rnd, driver) >= 3  # practice, qualifying, race...
        assert _one(conn, 'SELECT count(*) FROM "Results" WHERE "EntrantId" = %s', entrant) == _one(
            conn, of_max, rnd, driver)
    assert run_replay(app_db, store, AS_OF, results=True).written == 0
    assert verify(app_db, store).exit_code == 0  # the app's ids, adopted, are what verify compares


def test_naming_aliases_of_its_own_making_live_in_schema_ingestion(app_db: str, store: Store) -> None:
    """On the app's database the driver aliases replay makes go to ingestion.driver_aliases: the app's
    "DriverAliases" (here one row of its own, even marked openf1) are never written, changed or deleted, and
    the public tables that receive rows are exactly the app's racing tables replay writes."""
    with connect(app_db, autocommit=True) as conn:
        migrate(conn)
        driver, alias = make_id("app", 1), make_id("app", 2)
        conn.execute('INSERT INTO "Drivers" ("Id", "FirstName", "LastName", "Slug") VALUES (%s, %s, %s, %s)',
                     (driver, "Max", "Verstappen", "max-verstappen"))
        conn.execute('INSERT INTO "DriverAliases" ("Id", "DriverId", "AliasName", "AliasSlug", "Source") '
                     "VALUES (%s, %s, 'Super Max', 'super-max', 'openf1')", (alias, driver))
        before = conn.execute('SELECT *, xmin::text FROM "DriverAliases"').fetchall()
        filled = {t: _one(conn, f'SELECT count(*) FROM public."{t}"') for t in _public_tables(conn)}
    run_replay(app_db, store, AS_OF, results=True)
    assert run_replay(app_db, store, AS_OF, results=True).written == 0
    with connect(app_db, autocommit=True) as conn:
        assert conn.execute('SELECT *, xmin::text FROM "DriverAliases"').fetchall() == before
        assert _one(conn, "SELECT count(*) FROM ingestion.driver_aliases WHERE source = 'openf1'") > 0
        assert _one(conn, 'SELECT count(*) FROM ingestion.driver_aliases a WHERE NOT EXISTS '
                          '(SELECT 1 FROM "Drivers" d WHERE d."Id" = a.driver_id)') == 0
        grown = {t for t in _public_tables(conn)
                 if _one(conn, f'SELECT count(*) FROM public."{t}"') != filled[t]}
        assert grown == {"Series", "Seasons", "Circuits", "Rounds", "Sessions", "Drivers", "Teams",
                         "Entrants", "Results"}
    assert verify(app_db, store).exit_code == 0


def test_naming_removals_spare_rows_user_tables_depend_on(db_url: str, conn: Conn, tmp_path: Path) -> None:
    """Found from the catalog, not a list: a user table of our own making that references results (CASCADE)
    keeps the result it points at, and the entrant whose deletion would cascade into it, when the snapshots
    no longer hold them; every other such row goes."""
    norris = 4
    store = _corrected_store(tmp_path / "store", drop_driver=norris)
    run_replay(db_url, store, BEFORE, results=True)
    conn.execute("CREATE TABLE favourite_results (id uuid PRIMARY KEY,"
                 " result_id uuid NOT NULL REFERENCES results ON DELETE CASCADE)")
    result, entrant = conn.execute(
        "SELECT x.id, x.entrant_id FROM results x JOIN sessions s ON s.id = x.session_id "
        "JOIN entrants e ON e.id = x.entrant_id JOIN drivers d ON d.id = e.driver_id "
        "WHERE s.open_f1_session_key = %s AND d.driver_number = %s", (ABU_DHABI_RACE, norris)).fetchone() \
        or (None, None)
    conn.execute("INSERT INTO favourite_results VALUES (%s, %s)", (uuid.uuid4(), result))
    summary = run_replay(db_url, store, AS_OF, results=True, allow_removals=True)  # a settled season's
    assert summary.tables["results"].removed >= 19
    assert summary.tables["entrants"].removed == 0  # Norris's entrant would cascade into the favourite
    race_results = "SELECT x.id FROM results x JOIN sessions s ON s.id = x.session_id " \
                   "WHERE s.open_f1_session_key = %s"
    assert conn.execute(race_results, (ABU_DHABI_RACE,)).fetchall() == [(result,)]
    assert _one(conn, "SELECT count(*) FROM entrants WHERE id = %s", entrant) == 1
    assert _one(conn, "SELECT count(*) FROM favourite_results") == 1
    report = verify(db_url, store)  # what replay spares is kept, not a difference
    assert report.exit_code == 0
    assert {c.table: c.kept for c in report.tables if c.table in ("results", "entrants")} == {
        "results": 1, "entrants": 1}
    conn.execute("DELETE FROM favourite_results")
    after = run_replay(db_url, store, AS_OF, results=True)  # nothing depends on them any more: they go
    assert (after.tables["results"].removed, after.tables["entrants"].removed) == (1, 1)


# --- one entrant per (round, driver), where the database asks for it -----------------------------------

def _entrant(n: int, driver: int, role: int = 0) -> EntrantRow:
    return EntrantRow(id=make_id("e", n), round_id=make_id("r", 1), driver_id=make_id("d", driver),
                      team_id=make_id("t", n), role=role)


def _result(n: int, entrant: EntrantRow, session: int) -> ResultRow:
    return ResultRow(id=make_id("x", n), session_id=make_id("s", session), entrant_id=entrant.id,
                     position=n, grid_position=None, status=0, points=None, time=None, laps=None,
                     fastest_lap=False, time_milliseconds=None, status_detail=None, q1_time=None,
                     q2_time=None, q3_time=None, car_number=None)


def test_naming_one_entrant_per_driver_keeps_the_one_with_results() -> None:
    """A driver listed with two teams in a round: the entrant with more results stays, the other's results
    move to it (one per session), other drivers untouched; without such a driver the rows are unchanged."""
    main, practice, other = _entrant(1, 1), _entrant(2, 1, role=2), _entrant(3, 2)
    racing = Racing(
        entrants=tuple(sorted((main, practice, other), key=lambda e: e.id)),
        results=tuple(sorted((_result(1, main, 1), _result(2, main, 2), _result(3, practice, 2),
                              _result(4, practice, 3), _result(5, other, 1)), key=lambda r: r.id)),
    )
    merged = one_entrant_per_driver(racing)
    assert {e.id for e in merged.entrants} == {main.id, other.id}
    assert sorted((r.session_id, r.entrant_id) for r in merged.results) == sorted(
        [(make_id("s", 1), main.id), (make_id("s", 2), main.id), (make_id("s", 3), main.id),
         (make_id("s", 1), other.id)])
    assert [r.id for r in merged.results] == sorted(r.id for r in merged.results)
    alone = msgspec.structs.replace(racing, entrants=(other,), results=())
    assert one_entrant_per_driver(alone) is alone


# --- healthcheck ----------------------------------------------------------------------------------------

def _settings(url: str, tmp_path: Path) -> Any:
    from ingestion.config import Settings

    return Settings(database_url=url, openf1_base_url="http://127.0.0.1:1/v1",
                    snapshot_dir=tmp_path / "snapshots", pgdata_dir=tmp_path / "pgdata",
                    sources=("openf1",), f1db_url="http://127.0.0.1:1/repos/f1db/f1db")


def test_naming_healthcheck_on_the_app_database(db_factory: DbFactory, tmp_path: Path) -> None:
    """On the app's database: the naming is named; the app's migrations, schema ingestion and the session
    key index pass; the missing (RoundId, DriverId, TeamId) index is a warning whose statement adds it."""
    url = db_factory("ef")
    checks = {c.name: c for c in healthcheck(_settings(url, tmp_path), offline=True)}
    assert "naming ef" in checks["database"].message
    assert checks["migrations"].status == "ok" and "schema ingestion only" in checks["migrations"].message
    assert checks["app"].status == "ok"
    entrants = checks["entrants"]
    assert entrants.status == "warn" and entrants.passed
    assert entrants.fix == ('CREATE UNIQUE INDEX "IX_Entrants_RoundId_DriverId_TeamId" ON "Entrants" '
                            '("RoundId", "DriverId", "TeamId");')
    with connect(url, autocommit=True) as conn:
        conn.execute(entrants.fix)
    checks = {c.name: c for c in healthcheck(_settings(url, tmp_path), offline=True)}
    assert checks["entrants"].status == "ok"


def test_naming_healthcheck_app_failures_name_their_fix(db_factory: DbFactory, tmp_path: Path) -> None:
    """The session key index dropped: a failure with the statement that restores it (as EF names it); an
    empty "__EFMigrationsHistory": the app's migrations were not applied."""
    url = db_factory("ef")
    with connect(url, autocommit=True) as conn:
        conn.execute('DROP INDEX "IX_Sessions_OpenF1SessionKey"')
        conn.execute('DELETE FROM "__EFMigrationsHistory"')
    checks = {c.name: c for c in healthcheck(_settings(url, tmp_path), offline=True)}
    assert checks["migrations"].status == "fail"
    assert '"Sessions" ("OpenF1SessionKey")' in checks["migrations"].message
    fix = checks["migrations"].fix
    assert fix is not None and 'CREATE UNIQUE INDEX "IX_Sessions_OpenF1SessionKey"' in fix
    assert checks["app"].status == "fail" and "dotnet ef database update" in (checks["app"].fix or "")
    with connect(url, autocommit=True) as conn:
        conn.execute(fix.split(" -c '", 1)[1].rstrip("'"))
    checks = {c.name: c for c in healthcheck(_settings(url, tmp_path), offline=True)}
    assert checks["migrations"].status == "ok"
