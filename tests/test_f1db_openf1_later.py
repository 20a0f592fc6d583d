"""Issue 24, identity: a season the store first has from f1db alone keeps its ids when OpenF1's answers for it
arrive later ("Ids of rows that exist today never change: the app's users point at them").

The store: OpenF1's real 2023 answers (``../shared/openf1/world``, as fetch stores them), then f1db's real
v2025.24.2 release cut to its 2023-2024 seasons, then, later, OpenF1's real 2024 answers. Replayed as of
before OpenF1's 2024 arrives, 2024 comes from f1db alone (its rounds, sessions, entrants and results have
ids made from f1db's facts; Bearman's and Colapinto's rows too, whom OpenF1's 2023 never saw); replayed as
of after, OpenF1 and f1db both have 2024, and every row the database held keeps its id.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from f1db_support import NEW, cut_archive, needs_archives
from naming_support import BOTH_NAMINGS, VIEWS
from test_replay_support import put_answers, world_answers

from ingestion.db import connect
from ingestion.f1db.record import import_archive
from ingestion.ops.verify import verify
from ingestion.replay.adopt import adopt
from ingestion.replay.rows import DriverRow, Racing
from ingestion.replay.run import run_replay
from ingestion.replay.stored_rows import keyed_rows
from ingestion.store import Store
from ingestion.tables import RACING_TABLES

pytestmark = needs_archives
slow = pytest.mark.slow  # end to end: three replays of two seasons and a verify per layout

OPENF1_2023 = datetime(2026, 11, 1, tzinfo=UTC)
F1DB = datetime(2026, 11, 2, tzinfo=UTC)
OPENF1_2024 = datetime(2026, 12, 1, tzinfo=UTC)
BEFORE = datetime(2026, 11, 15, tzinfo=UTC)  # f1db has 2024, OpenF1 not yet
AFTER = datetime(2026, 12, 31, tzinfo=UTC)

Conn = psycopg.Connection[Any]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    root = tmp_path_factory.mktemp("openf1-later")
    store = Store(root / "snapshots")
    put_answers(store, world_answers(2023), OPENF1_2023)
    import_archive(store, cut_archive(NEW, root / "f1db", (2023, 2024)), received_at=F1DB)
    put_answers(store, world_answers(2024), OPENF1_2024)
    return store


def _conn(url: str, naming: str) -> Conn:
    conn = connect(url, autocommit=True)
    if naming == "ef":
        conn.execute(f"SET search_path = {VIEWS}, public")
    return conn


def _ids(conn: Conn) -> dict[str, set[Any]]:
    return {t: {r[0] for r in conn.execute(f"SELECT id FROM {t}").fetchall()} for t in RACING_TABLES}


def _one(conn: Conn, query: str, *args: object) -> Any:
    row = conn.execute(query, args).fetchone()
    assert row is not None
    return row[0]


#: 2024's rows users can point at, each with a readable label (the id is the key).
_LABELS_2024 = {
    "rounds": "SELECT ro.id, ro.slug FROM rounds ro JOIN seasons se ON se.id = ro.season_id "
    "WHERE se.year = 2024",
    "sessions": "SELECT s.id, ro.slug || ' ' || s.type FROM sessions s JOIN rounds ro ON ro.id = s.round_id "
    "JOIN seasons se ON se.id = ro.season_id WHERE se.year = 2024",
    "entrants": "SELECT e.id, ro.slug || ' ' || d.slug FROM entrants e JOIN rounds ro ON ro.id = e.round_id "
    "JOIN drivers d ON d.id = e.driver_id JOIN seasons se ON se.id = ro.season_id WHERE se.year = 2024",
    "results": "SELECT x.id, ro.slug || ' ' || s.type || ' ' || d.slug FROM results x "
    "JOIN sessions s ON s.id = x.session_id JOIN rounds ro ON ro.id = s.round_id "
    "JOIN entrants e ON e.id = x.entrant_id JOIN drivers d ON d.id = e.driver_id "
    "JOIN seasons se ON se.id = ro.season_id WHERE se.year = 2024",
    "drivers": "SELECT d.id, d.slug FROM drivers d",
    "teams": "SELECT t.id, t.slug FROM teams t",
    "circuits": "SELECT c.id, c.slug FROM circuits c",
}


def _labelled(conn: Conn) -> dict[str, dict[Any, str]]:
    return {t: {r[0]: r[1] for r in conn.execute(q).fetchall()} for t, q in _LABELS_2024.items()}


def test_adoption_takes_a_rows_former_id_only_where_it_is_stored_and_no_replayed_row_has_it() -> None:
    """Pure: a replayed row whose own id is not stored takes its former id when a stored row holds it (a);
    never an id another replayed row has (b), an id not stored (d), nor for a row whose own id is stored
    (e). The stored rows' slugs all differ from the replayed ones': no natural key matches."""
    a, b, c, d, e, old_a, old_d, old_e = (uuid.uuid5(uuid.NAMESPACE_DNS, n) for n in "abcde" + "ADE")

    def driver(i: uuid.UUID) -> DriverRow:
        return DriverRow(id=i, first_name="F", last_name=str(i), slug=f"new-{i}", abbreviation=None,
                         headshot_url=None, driver_number=None, open_f1_driver_number=None)

    racing = Racing(drivers=tuple(sorted(map(driver, (a, b, c, d, e)), key=lambda r: r.id)))
    held = [(i, f"old-{i}") for i in (old_a, c, e, old_e)]
    stored = {"drivers": keyed_rows(("id", "slug"), (("slug",),), held)}
    adopted, ids = adopt(racing, stored, {a: old_a, b: c, d: old_d, e: old_e})
    assert ids == {"drivers": {a: old_a}}
    assert {r.id for r in adopted.drivers} == {old_a, b, c, d, e}
    assert adopt(racing, stored) == (racing, {})  # without former ids: nothing


@slow
@BOTH_NAMINGS
def test_a_season_f1db_had_first_keeps_every_id_when_openf1s_answers_arrive(
    db_url: str, schema_naming: str, store: Store
) -> None:
    """2024 replayed from f1db alone, then with OpenF1's 2024 answers too: every row the database held (2024's
    rounds, sessions, drivers, teams, circuits, entrants and results among them) keeps its id and is not
    repeated under another (one row per round, session and driver); the rows take OpenF1's values (its
    meeting and session keys); a user's log on the 2024 Bahrain race stays (the app's database); a second
    replay writes nothing, the database holds no row beside the replayed ones, and verify exits 0."""
    url, naming = db_url, schema_naming
    first = run_replay(url, store, BEFORE, results=True)
    assert not first.findings
    with _conn(url, naming) as conn:
        ids_before, held = _ids(conn), _labelled(conn)
        assert len(held["rounds"]) == 24 and len(held["results"]) > 2000  # 2024 from f1db alone
        race = _one(
            conn,
            "SELECT s.id FROM sessions s JOIN rounds ro ON ro.id = s.round_id "
            "WHERE ro.slug = '2024-bahrain-grand-prix' AND s.type = 6",
        )
        assert _one(conn, "SELECT open_f1_session_key FROM sessions WHERE id = %s", race) is None
        mexico = _one(conn, "SELECT id FROM rounds WHERE slug = '2024-mexican-grand-prix'")  # f1db's name
        antonelli = _one(conn, "SELECT id FROM drivers WHERE slug = 'kimi-antonelli'")  # f1db's slug
    if naming == "ef":
        with connect(url, autocommit=True) as conn:
            conn.execute("""INSERT INTO "AspNetUsers" ("Id", "UserName") VALUES ('fan', 'fan')""")
            conn.execute('INSERT INTO "Logs" ("Id", "UserId", "SessionId", "StarRating") '
                         "VALUES (%s, 'fan', %s, 4.5)", (uuid.uuid4(), race))

    second = run_replay(url, store, AFTER, results=True)
    assert not second.findings
    with _conn(url, naming) as conn:
        ids_after, now = _ids(conn), _labelled(conn)
        assert _one(conn, "SELECT open_f1_session_key FROM sessions WHERE id = %s", race) is not None
        # the sources name them differently: the stored rows take OpenF1's values, under their ids
        assert conn.execute(
            "SELECT slug, open_f1_meeting_key FROM rounds WHERE id = %s", (mexico,)
        ).fetchone() == ("2024-mexico-city-grand-prix", 1248)
        assert _one(conn, "SELECT slug FROM drivers WHERE id = %s", antonelli) == "andrea-kimi-antonelli"
    for table, labels in held.items():
        gone = {labels[i] for i in labels.keys() - now[table].keys()}
        assert not gone, f"{table}: {len(gone)} row(s) lost their id: {sorted(gone)[:5]}"
    for table in ("rounds", "sessions", "drivers", "teams", "circuits"):  # one row per real thing
        repeated = len(now[table]) - len(set(now[table].values()))
        assert not repeated, f"{table}: {repeated} label(s) on two rows"
    for table, ids in ids_before.items():
        assert ids <= ids_after[table], table
    if naming == "ef":
        with connect(url, autocommit=True) as conn:
            assert _one(conn, 'SELECT count(*) FROM "Logs" WHERE "SessionId" = %s', race) == 1
    again = run_replay(url, store, AFTER, results=True)
    assert again.written == 0
    with _conn(url, naming) as conn:  # no row left over beside the replayed ones: nothing twice
        stored = {t: _one(conn, f"SELECT count(*) FROM {t}") for t in again.tables}
    assert stored == {t: c.unchanged for t, c in again.tables.items()}
    assert verify(url, store, AFTER, results=True).exit_code == 0
