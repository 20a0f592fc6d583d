"""``db clean-racing`` on a real database: it deletes racing rows and never cascades into user data.

The user tables here stand in for the app's (``logs`` of watched sessions, ``reviews``...): the refusal is
found from the catalog, so any table referencing a racing table counts, in any schema.
"""

from __future__ import annotations

import io
import re
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from naming_support import BOTH_NAMINGS
from test_audit import Seed, racing_counts, run_cli, run_module, seed_racing

from ingestion.db.clean import (
    CleanReport,
    UserDataReferencesRacing,
    clean_racing,
    counts_by_table,
    delete_order,
)
from ingestion.db.naming import RACING_TABLES

Conn = psycopg.Connection[tuple[object, ...]]

EMPTY = dict.fromkeys(
    ("series", "seasons", "circuits", "rounds", "sessions", "drivers", "teams", "entrants", "results",
     "driver_aliases", "team_aliases", "circuit_aliases"),
    0,
)


@pytest.fixture
def seeded(conn: Conn, world_dir: Path) -> Seed:
    return seed_racing(conn, world_dir)


def _logs(conn: Conn) -> None:
    conn.execute(
        "CREATE TABLE logs (id uuid PRIMARY KEY,"
        " session_id uuid REFERENCES sessions ON DELETE CASCADE, note text)"
    )


def _log_rows(conn: Conn, seed: Seed, *session_keys: int) -> list[uuid.UUID]:
    ids = []
    for key in session_keys:
        ids.append(uuid.uuid4())
        conn.execute(
            "INSERT INTO logs (id, session_id, note) VALUES (%s, %s, 'watched it')",
            (ids[-1], seed.sessions[key]),
        )
    return ids


class Diary:
    """Users' diary entries on sessions, on either naming: a ``logs`` table of our own making beside the
    snake_case schema; the app's own ``"Logs"`` (one user per entry: unique per user and session) on ef."""

    def __init__(self, conn: Conn, naming: str) -> None:
        self.conn, self.ef = conn, naming == "ef"
        self.table = '"Logs"' if self.ef else "logs"  # as clean-racing names it
        self.reference = '"Logs"(SessionId) -> Sessions' if self.ef else "logs(session_id) -> sessions"
        if not self.ef:
            _logs(conn)

    def add(self, seed: Seed, *session_keys: int) -> list[uuid.UUID]:
        if not self.ef:
            return _log_rows(self.conn, seed, *session_keys)
        ids = []
        for key in session_keys:
            user, log = f"fan-{uuid.uuid4()}", uuid.uuid4()
            self.conn.execute('INSERT INTO public."AspNetUsers" ("Id", "UserName") VALUES (%s, %s)',
                              (user, user))
            self.conn.execute(
                'INSERT INTO public."Logs" ("Id", "UserId", "SessionId", "StarRating") '
                "VALUES (%s, %s, %s, 4.5)",
                (log, user, seed.sessions[key]),
            )
            ids.append(log)
        return ids

    def count(self) -> int:
        return _count(self.conn, 'public."Logs"' if self.ef else "logs")


def _racing_set(naming: str) -> tuple[str, ...]:
    """The tables clean-racing deletes: the model's (on the app's database the driver aliases of the
    ingester's making are ingestion.driver_aliases), and there the app's "SeriesAliases", "DriverAliases"."""
    return (*RACING_TABLES, "series_aliases", "app_driver_aliases") if naming == "ef" else RACING_TABLES


def _expected(seeded: Seed, naming: str) -> dict[str, int]:
    return {t: seeded.counts.get(t, 0) for t in _racing_set(naming)}


def _count(conn: Conn, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(str(row[0]))


# --- the library ---------------------------------------------------------------------------------------

@BOTH_NAMINGS
def test_clean_racing_refuses_when_user_rows_reference_sessions(
    conn: Conn, seeded: Seed, schema_naming: str
) -> None:
    """Diary entries pointing at sessions: UserDataReferencesRacing with the table and count; nothing
    deleted (on the app's database: its own "Logs")."""
    diary = Diary(conn, schema_naming)
    diary.add(seeded, 9472, 9472, 9468)
    with pytest.raises(UserDataReferencesRacing) as refused:
        clean_racing(conn, dry_run=False)
    error = refused.value
    assert error.tables == (diary.table,)
    assert error.counts == {diary.table: 3}
    assert error.exit_code == 1
    assert f"{diary.reference}: 3 rows" in error.message and "nothing was deleted" in error.message
    assert racing_counts(conn) == seeded.counts
    assert diary.count() == 3


def test_clean_racing_ef_names_every_user_table_that_would_lose_rows(db_factory: object) -> None:
    """The app's database: a diary entry with its review, a list item and a grandstand block the clean;
    each user table is listed with its count, direct references and chains alike."""
    from ingestion.db import connect
    from ingestion.replay.identity import make_id

    url: str = db_factory("ef")  # type: ignore[operator]
    with connect(url, autocommit=True) as conn:
        seed = seed_racing_ef(conn)
        log, user = uuid.uuid4(), "fan"
        conn.execute('INSERT INTO "AspNetUsers" ("Id") VALUES (%s)', (user,))
        conn.execute('INSERT INTO "Logs" ("Id", "UserId", "SessionId") VALUES (%s, %s, %s)',
                     (log, user, seed))
        conn.execute('INSERT INTO "Reviews" VALUES (%s, %s, %s, false)', (uuid.uuid4(), log, "great race"))
        conn.execute('INSERT INTO "UserLists" VALUES (%s, %s, %s)', (make_id("list", 1), user, "best"))
        conn.execute('INSERT INTO "ListItems" VALUES (%s, %s, %s, 0, NULL), (%s, %s, %s, 1, NULL)',
                     (uuid.uuid4(), make_id("list", 1), seed, uuid.uuid4(), make_id("list", 1), seed))
        conn.execute('INSERT INTO "Grandstands" SELECT %s, "Id", %s FROM "Circuits"', (uuid.uuid4(), "North"))
        with pytest.raises(UserDataReferencesRacing) as refused:
            clean_racing(conn, dry_run=False)
        assert refused.value.counts == {'"Grandstands"': 1, '"ListItems"': 2, '"Logs"': 1}
        described = [r.describe() for r in refused.value.referrers]
        assert '"Reviews"(LogId) -> "Logs" -> Sessions: 1 row' in described
        dry = clean_racing(conn, dry_run=True)
        assert [r.describe() for r in dry.blockers] == described
        assert _count(conn, '"Sessions"') == 1 and _count(conn, '"Reviews"') == 1


def seed_racing_ef(conn: Conn) -> uuid.UUID:
    """One session of one round in the app's own tables (its names), written as the app would."""
    ids = [uuid.uuid4() for _ in range(5)]
    series, season, circuit, rnd, session = ids
    conn.execute('INSERT INTO "Series" ("Id", "Name", "Slug") VALUES (%s, %s, %s)', (series, "F1", "f1"))
    conn.execute('INSERT INTO "Seasons" VALUES (%s, %s, 2024)', (season, series))
    conn.execute('INSERT INTO "Circuits" ("Id", "Name", "Slug", "Location", "Country") '
                 "VALUES (%s, 'Sakhir', 'sakhir', 'Sakhir', 'Bahrain')", (circuit,))
    conn.execute('INSERT INTO "Rounds" ("Id", "SeasonId", "CircuitId", "Name", "Slug", "RoundNumber", '
                 '"DateStart", "DateEnd") VALUES (%s, %s, %s, %s, %s, 1, %s, %s)',
                 (rnd, season, circuit, "Bahrain", "2024-bahrain", "2024-03-01", "2024-03-02"))
    conn.execute('INSERT INTO "Sessions" VALUES (%s, %s, 6, %s, 2, 9472)',
                 (session, rnd, "2024-03-02T15:00Z"))
    return session


@BOTH_NAMINGS
def test_clean_racing_deletes_racing_data_and_keeps_user_tables(
    conn: Conn, seeded: Seed, schema_naming: str
) -> None:
    """With the user table empty, every racing row goes (the app's database: the results' provenance in
    ``ingestion.result_provenance`` with them); user tables and their rows stay."""
    if schema_naming == "ef":
        assert _count(conn, "ingestion.result_provenance") == seeded.counts["results"] > 0
    diary = Diary(conn, schema_naming)
    conn.execute("CREATE TABLE public.accounts (id uuid PRIMARY KEY, name text)")
    conn.execute("INSERT INTO public.accounts VALUES (%s, 'fan')", (uuid.uuid4(),))
    report = clean_racing(conn, dry_run=False)
    assert report.deleted and not report.dry_run
    assert counts_by_table(report) == _expected(seeded, schema_naming)
    assert diary.table in report.referencing_tables
    assert racing_counts(conn) == EMPTY
    if schema_naming == "ef":
        assert _count(conn, "ingestion.result_provenance") == 0
    assert _count(conn, "public.accounts") == 1
    assert diary.count() == 0  # the table is intact and usable


def test_clean_racing_then_reseed(conn: Conn, seeded: Seed, world_dir: Path) -> None:
    """After a clean, the same racing rows load again with the same ids (what the next replay does)."""
    clean_racing(conn, dry_run=False)
    again = seed_racing(conn, world_dir)
    assert again.counts == seeded.counts and again.sessions == seeded.sessions


@BOTH_NAMINGS
def test_clean_racing_dry_run_deletes_nothing(conn: Conn, seeded: Seed, schema_naming: str) -> None:
    """--dry-run returns the counts it would delete and leaves every row in place."""
    report = clean_racing(conn, dry_run=True)
    assert report.dry_run and not report.deleted
    assert counts_by_table(report) == _expected(seeded, schema_naming)
    assert report.total == sum(seeded.counts.values())
    assert racing_counts(conn) == seeded.counts


@BOTH_NAMINGS
def test_clean_racing_dry_run_reports_blockers(conn: Conn, seeded: Seed, schema_naming: str) -> None:
    """A dry run with user rows referencing racing data returns them instead of raising."""
    diary = Diary(conn, schema_naming)
    diary.add(seeded, 9465)
    report = clean_racing(conn, dry_run=True)
    assert [(b.table, b.rows) for b in report.blockers] == [(diary.table, 1)]
    assert racing_counts(conn) == seeded.counts


def test_clean_racing_null_references_do_not_block(conn: Conn, seeded: Seed) -> None:
    """A user row whose reference is NULL points at nothing: it neither blocks nor disappears."""
    _logs(conn)
    conn.execute("INSERT INTO logs (id, session_id) VALUES (%s, NULL)", (uuid.uuid4(),))
    clean_racing(conn, dry_run=False)
    assert racing_counts(conn) == EMPTY
    assert _count(conn, "logs") == 1


def test_clean_racing_finds_references_in_any_schema_to_any_racing_table(conn: Conn, seeded: Seed) -> None:
    """Tables found from pg_constraint: another schema, a RESTRICT key, a key to drivers and to rounds."""
    conn.execute("CREATE SCHEMA app")
    conn.execute(
        "CREATE TABLE app.favourites (id uuid PRIMARY KEY,"
        " driver_id uuid REFERENCES drivers ON DELETE RESTRICT)"
    )
    conn.execute(
        "CREATE TABLE reviews (id uuid PRIMARY KEY, round_id uuid REFERENCES rounds ON DELETE SET NULL)"
    )
    conn.execute("INSERT INTO app.favourites VALUES (%s, %s), (%s, %s)",
                 (uuid.uuid4(), seeded.drivers[1], uuid.uuid4(), seeded.drivers[4]))
    conn.execute("INSERT INTO reviews VALUES (%s, %s)", (uuid.uuid4(), seeded.rounds[1229]))
    with pytest.raises(UserDataReferencesRacing) as refused:
        clean_racing(conn, dry_run=False)
    assert refused.value.counts == {"app.favourites": 2, "reviews": 1}
    assert racing_counts(conn) == seeded.counts


def test_clean_racing_reports_chains_through_user_tables(conn: Conn, seeded: Seed) -> None:
    """A user table reaching racing data through another user table is reported along its path."""
    _logs(conn)
    conn.execute(
        "CREATE TABLE log_likes (id uuid PRIMARY KEY, log_id uuid REFERENCES logs ON DELETE CASCADE)"
    )
    conn.execute("CREATE TABLE lists (id uuid PRIMARY KEY)")  # unrelated to racing
    logs = _log_rows(conn, seeded, 9472, 9466)
    conn.execute("INSERT INTO log_likes VALUES (%s, %s), (%s, %s), (%s, %s)",
                 (uuid.uuid4(), logs[0], uuid.uuid4(), logs[0], uuid.uuid4(), logs[1]))
    with pytest.raises(UserDataReferencesRacing) as refused:
        clean_racing(conn, dry_run=False)
    described = [r.describe() for r in refused.value.referrers]
    assert described == [
        "logs(session_id) -> sessions: 2 rows",
        "log_likes(log_id) -> logs -> sessions: 3 rows",
    ]
    assert refused.value.tables == ("logs",)  # the decision rests on the direct reference
    assert _count(conn, "log_likes") == 3


def test_clean_racing_not_migrated(empty_db_url: str) -> None:
    """On a database without the racing tables it says to migrate."""
    from ingestion.db import connect
    from ingestion.errors import NotMigrated

    with (
        connect(empty_db_url, autocommit=True) as conn,
        pytest.raises(NotMigrated, match="ingest db migrate"),
    ):
        clean_racing(conn, dry_run=True)


@BOTH_NAMINGS
def test_delete_order_of_the_schema(conn: Conn, schema_naming: str) -> None:
    """The order computed from the catalog deletes children before parents (results before sessions...)."""
    report: CleanReport = clean_racing(conn, dry_run=True)
    order = [c.table for c in report.counts]
    assert sorted(order) == sorted(_racing_set(schema_naming))
    for child, parent in [("results", "sessions"), ("results", "entrants"), ("entrants", "drivers"),
                          ("sessions", "rounds"), ("rounds", "circuits"), ("seasons", "series"),
                          ("driver_aliases", "drivers"), ("circuit_aliases", "circuits")]:
        assert order.index(child) < order.index(parent), (child, parent)


@given(st.data())
def test_delete_order_children_before_parents(data: st.DataObject) -> None:
    """For any acyclic set of foreign keys, every child comes before its parent, and every table once."""
    n = data.draw(st.integers(min_value=1, max_value=9))
    tables = [f"t{i}" for i in range(n)]
    rank = data.draw(st.permutations(range(n)))  # edges go from lower to higher rank: acyclic
    pairs = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=20))
    edges = [(tables[a], tables[b]) for a, b in pairs if rank[a] < rank[b]]
    order = delete_order(tables, edges)
    assert sorted(order) == sorted(tables)
    for child, parent in edges:
        assert order.index(child) < order.index(parent)


def test_delete_order_rejects_cycles() -> None:
    """A cycle of foreign keys has no delete order."""
    with pytest.raises(ValueError, match="cycle"):
        delete_order(["a", "b"], [("a", "b"), ("b", "a")])


# --- the command -----------------------------------------------------------------------------------------

def test_clean_racing_cli_without_yes_and_without_tty_refuses(
    db_url: str, seeded: Seed, conn: Conn, tmp_path: Path
) -> None:
    """No --yes and no terminal to confirm on: exit 2 telling to pass --yes; nothing deleted."""
    done = run_module("ingestion", "db", "clean-racing", env={"DATABASE_URL": db_url}, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "--yes" in done.stderr
    assert racing_counts(conn) == seeded.counts


def test_clean_racing_cli_yes_deletes(
    db_url: str, seeded: Seed, conn: Conn, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    """`ingest db clean-racing --yes` deletes the racing rows and prints what it deleted."""
    code, out, err = run_cli(["db", "clean-racing", "--yes"], db_url, monkeypatch, capsys, tmp_path)
    assert code == 0, err
    assert f"deleted {sum(seeded.counts.values())} racing row(s) in 12 tables" in out
    assert racing_counts(conn) == EMPTY


@BOTH_NAMINGS
def test_clean_racing_cli_refusal_names_tables(
    db_url: str, seeded: Seed, conn: Conn, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path, schema_naming: str,
) -> None:
    """User rows referencing sessions: --yes still refuses, exit 1, one line naming the table and count."""
    diary = Diary(conn, schema_naming)
    diary.add(seeded, 9472)
    code, _, err = run_cli(["db", "clean-racing", "--yes"], db_url, monkeypatch, capsys, tmp_path)
    assert code == 1
    assert err.count("\n") == 1 and f"{diary.reference}: 1 row" in err
    assert racing_counts(conn) == seeded.counts


@BOTH_NAMINGS
def test_clean_racing_cli_dry_run(
    db_url: str, seeded: Seed, conn: Conn, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path, schema_naming: str,
) -> None:
    """--dry-run prints the counts and deletes nothing; with blockers it says it would refuse (exit 1)."""
    code, out, _ = run_cli(["db", "clean-racing", "--dry-run"], db_url, monkeypatch, capsys, tmp_path)
    assert code == 0
    assert f"would delete {sum(seeded.counts.values())} racing row(s)" in out and "nothing was deleted" in out
    diary = Diary(conn, schema_naming)
    diary.add(seeded, 9472)
    code, out, _ = run_cli(["db", "clean-racing", "--dry-run"], db_url, monkeypatch, capsys, tmp_path)
    assert code == 1
    assert "would refuse" in out and f"{diary.reference}: 1 row" in out
    assert racing_counts(conn) == seeded.counts


def test_clean_racing_python_m_ingestion_db_dry_run(
    db_url: str, seeded: Seed, conn: Conn, tmp_path: Path
) -> None:
    """`python -m ingestion.db clean-racing --dry-run` runs as the team types it and deletes nothing."""
    done = run_module("ingestion.db", "clean-racing", "--dry-run", env={"DATABASE_URL": db_url}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert re.search(rf"^\s+results\s+{seeded.counts['results']}$", done.stdout, re.M), done.stdout
    assert "would delete" in done.stdout
    assert racing_counts(conn) == seeded.counts


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(refs=st.lists(st.sampled_from([None, 9465, 9466, 9467, 9468, 9472]), max_size=6))
def test_clean_racing_all_or_nothing(conn: Conn, world_dir: Path, refs: list[int | None]) -> None:
    """For any user rows (some NULL): refusal counts exactly the non-NULL ones and changes nothing; otherwise
    every racing row goes and every user row stays."""
    conn.execute("DROP TABLE IF EXISTS logs")
    if racing_counts(conn)["sessions"] == 0:
        seed = seed_racing(conn, world_dir)
    else:
        seed = Seed()
        seed.sessions = {int(str(k)): v for k, v in  # type: ignore[misc]
                         conn.execute("SELECT open_f1_session_key, id FROM sessions").fetchall()}
        seed.counts = racing_counts(conn)
    _logs(conn)
    for key in refs:
        session = seed.sessions.get(key) if key is not None else None
        conn.execute("INSERT INTO logs (id, session_id) VALUES (%s, %s)", (uuid.uuid4(), session))
    pointing = sum(1 for key in refs if key is not None and key in seed.sessions)
    if pointing:
        with pytest.raises(UserDataReferencesRacing) as refused:
            clean_racing(conn, dry_run=False)
        assert refused.value.counts == {"logs": pointing}
        assert racing_counts(conn) == seed.counts
    else:
        clean_racing(conn, dry_run=False)
        assert racing_counts(conn) == EMPTY
    assert _count(conn, "logs") == len(refs)


class _Terminal(io.StringIO):
    """Standard input that says it is a terminal, with the operator's answer already typed."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "code"), [("n\n", 1), ("y\n", 0)])
def test_clean_racing_cli_asks_on_a_terminal(
    db_url: str, seeded: Seed, conn: Conn, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path, answer: str, code: int,
) -> None:
    """On a terminal without --yes it shows the counts and asks: `n` deletes nothing (exit 1), `y` deletes."""
    monkeypatch.setattr(sys, "stdin", _Terminal(answer))
    got, out, _ = run_cli(["db", "clean-racing"], db_url, monkeypatch, capsys, tmp_path)
    assert got == code
    assert f"Delete these {sum(seeded.counts.values())} rows" in out
    if code:
        assert "aborted: nothing was deleted" in out
        assert racing_counts(conn) == seeded.counts
    else:
        assert racing_counts(conn) == EMPTY
