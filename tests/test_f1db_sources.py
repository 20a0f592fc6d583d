"""Issue 24: one truth from two sources, where one source fills the other's gaps.

- a non-starter OpenF1 never listed in a round gets his entrant and his DNS row from f1db, with the ids
  OpenF1 itself would give them; a driver who cannot be placed with certainty is a finding;
- a session's start comes from the source that knows it was moved (2024 Sao Paulo qualifying);
- a meeting whose drivers OpenF1 never answered (``ingest serve --drop drivers:M``) still gets its results;
- a new f1db release's corrections flow through replay, `ingest diff` names them and their sources, and the
  rows the app's users point at are updated in place on the app's own database;
- the same snapshots give the same database whichever source was fetched first.

The OpenF1 side is the committed 2023-2024 store (or ``ingest serve`` over ``../shared/openf1/world``); the
f1db side the real archives of ``../shared/f1db``, cut to the seasons a test needs (``f1db_support``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest
from committed import copy_store, openf1_fixture
from conftest import Databases
from f1db_support import NEW, OLD, SHARED_F1DB, cut_archive, needs_archives, seasons_only
from server_fixtures import FAST, ServerFactory, client_settings

from ingestion.db import connect
from ingestion.f1db import read_archive
from ingestion.f1db.decode import Decoded
from ingestion.f1db.record import import_archive
from ingestion.fetch import FetchOptions, fetch
from ingestion.fetch.f1db import fetch_f1db
from ingestion.ops.diff import diff, render_diff
from ingestion.replay.decoded import decode_snapshots
from ingestion.replay.f1db import OpenF1Links, combine, f1db_part
from ingestion.replay.findings import F1DB_ROW_UNPLACED, FINDING_KINDS
from ingestion.replay.load import racing_snapshot
from ingestion.replay.normalize import normalize_linked
from ingestion.replay.precedence import SESSION_PRECEDENCE, Source
from ingestion.replay.release import decode_release, release_input
from ingestion.replay.rows import Racing, Replayed, ResultRow, ResultStatus, SessionType
from ingestion.replay.run import replay, run_replay, snapshots_of
from ingestion.store import Store

pytestmark = needs_archives

AS_OF = datetime(2026, 12, 31, tzinfo=UTC)  # the committed store was fetched on 2026-11-30
RACE, QUALIFYING, SPRINT = int(SessionType.Race), int(SessionType.Qualifying), int(SessionType.Sprint)


class Inputs(msgspec.Struct, frozen=True):
    openf1: Replayed
    links: OpenF1Links
    files: dict[str, Decoded]


@pytest.fixture(scope="module")
def inputs() -> Inputs:
    """The committed OpenF1 store (2023-2024) normalized (rows and links), and v2025.24.2's 2023-2024
    seasons decoded: the inputs of f1db's merge, made once."""
    store = Store(openf1_fixture())
    snapshots = snapshots_of(store, AS_OF, results=True)
    decoded, warnings = decode_snapshots(snapshots, results=True, as_of=AS_OF)
    replayed, links = normalize_linked(decoded, warnings, AS_OF, results=True)
    data = read_archive((SHARED_F1DB / NEW).read_bytes()).data()
    release = release_input("v2025.24.2", seasons_only(data, (2023, 2024)))
    return Inputs(replayed, links, decode_release(release.files))


def _merge(openf1: Replayed, links: OpenF1Links, files: dict[str, Decoded]) -> Replayed:
    return combine(openf1, f1db_part(files, openf1.racing, links, AS_OF, results=True, release="v2025.24.2"))


@pytest.fixture(scope="module")
def merged(inputs: Inputs) -> Replayed:
    return _merge(inputs.openf1, inputs.links, inputs.files)


def _round(racing: Racing, slug: str) -> uuid.UUID:
    return next(r.id for r in racing.rounds if r.slug == slug)


def _driver(racing: Racing, last_name: str) -> uuid.UUID:
    return next(d.id for d in racing.drivers if d.last_name == last_name)


def _results(racing: Racing, slug: str, kind: int) -> dict[str, ResultRow]:
    """One session's results by the driver's last name."""
    round_id = _round(racing, slug)
    sessions = {s.id for s in racing.sessions if s.round_id == round_id and s.type == kind}
    entrants = {e.id: e.driver_id for e in racing.entrants}
    names = {d.id: d.last_name for d in racing.drivers}
    return {names[entrants[r.entrant_id]]: r for r in racing.results if r.session_id in sessions}


def _without(
    inputs: Inputs, slug: str, last_name: str, *, everywhere: bool = False
) -> tuple[Replayed, set[uuid.UUID], OpenF1Links]:
    """OpenF1's rows as if OpenF1 had never listed the driver in round ``slug`` (no driver row there: no
    entrant, no result, no car), or his car in no round at all (``everywhere``: f1db cannot match him);
    the ids of the entrants taken out, and the links without his cars."""
    racing = inputs.openf1.racing
    round_id, driver = _round(racing, slug), _driver(racing, last_name)
    gone = {e.id for e in racing.entrants if e.round_id == round_id and e.driver_id == driver}
    cut = msgspec.structs.replace(
        racing,
        entrants=tuple(e for e in racing.entrants if e.id not in gone),
        results=tuple(r for r in racing.results if r.entrant_id not in gone),
    )
    cars = {
        r: {k: who for k, who in c.items() if not (who[0] == driver and (everywhere or r == round_id))}
        for r, c in inputs.links.cars.items()
    }
    return Replayed(racing=cut), gone, msgspec.structs.replace(inputs.links, cars=cars)


def test_f1db_non_starters_openf1_left_without_a_row_get_f1dbs_dns_row(merged: Replayed) -> None:
    """Two of issue 24's "missing rows": drivers who did not start, whom OpenF1 listed in the round but
    gave no result: 2023 Azerbaijan sprint Sargeant and 2023 Singapore race Stroll, DNS with f1db's reason."""
    sargeant = _results(merged.racing, "2023-azerbaijan-grand-prix", SPRINT)["Sargeant"]
    assert (sargeant.status, sargeant.position, sargeant.status_detail) == (
        ResultStatus.DNS, None, "Car damaged in qualifying"
    )
    stroll = _results(merged.racing, "2023-singapore-grand-prix", RACE)["Stroll"]
    assert (stroll.status, stroll.status_detail) == (ResultStatus.DNS, "Accident in qualifying")


def test_f1db_non_starter_openf1_never_listed_gets_his_entrant_and_rows_with_openf1s_ids(
    inputs: Inputs, merged: Replayed
) -> None:
    """2023 Singapore without any OpenF1 row of Stroll (as OpenF1 leaves out a driver who withdrew): f1db's
    rows are not skipped: his entrant is made with the id OpenF1 gives it, and his five sessions' rows
    (the race a DNS, "Accident in qualifying") are exactly those of the replay where OpenF1 lists him, ids
    included; no finding."""
    cut, gone, links = _without(inputs, "2023-singapore-grand-prix", "Stroll")
    assert len(gone) == 1
    filled = _merge(cut, links, inputs.files)
    [entrant] = [e for e in filled.racing.entrants if e.id in gone]
    assert entrant in merged.racing.entrants
    mine = sorted((r for r in filled.racing.results if r.entrant_id in gone), key=lambda r: r.id.int)
    assert mine == sorted(
        (r for r in merged.racing.results if r.entrant_id in gone), key=lambda r: r.id.int
    )
    assert len(mine) == 5
    race = _results(filled.racing, "2023-singapore-grand-prix", RACE)["Stroll"]
    assert (race.status, race.status_detail, race.car_number) == (
        ResultStatus.DNS, "Accident in qualifying", "18"
    )
    assert not [w for w in filled.warnings if w.kind == F1DB_ROW_UNPLACED]


def test_f1db_row_that_cannot_be_placed_for_certain_is_a_finding(inputs: Inputs) -> None:
    """When f1db's driver cannot be matched one-to-one (OpenF1 never shows his car: nothing ties f1db's
    lance-stroll to an OpenF1 driver), his rows in a round without his OpenF1 entrant are left out and
    named in an ``f1db_row_unplaced`` finding (ingest replay exits 1), never put on a guessed driver."""
    cut, gone, links = _without(inputs, "2023-singapore-grand-prix", "Stroll", everywhere=True)
    filled = _merge(cut, links, inputs.files)
    assert not [r for r in filled.racing.results if r.entrant_id in gone]
    assert "Stroll" not in _results(filled.racing, "2023-singapore-grand-prix", RACE)
    unplaced = [w.message for w in filled.warnings if w.kind == F1DB_ROW_UNPLACED]
    assert F1DB_ROW_UNPLACED in FINDING_KINDS
    assert any(
        m.startswith("2023 15-singapore: f1db's rows of lance-stroll (aston-martin; ")
        and m.endswith("the driver is not matched one-to-one with OpenF1 left out")
        for m in unplaced
    ), unplaced


def test_f1db_session_start_comes_from_the_source_that_knows_it_was_moved(
    inputs: Inputs, merged: Replayed
) -> None:
    """2024 Sao Paulo qualifying, postponed by rain to the Sunday morning: OpenF1 keeps its published
    schedule (2024-11-02 18:00 UTC), f1db, which has classified it, says 2024-11-03 10:30 UTC: the session
    (same id) starts at f1db's time. Before f1db has classified it (the release without its file) OpenF1's
    start stays; so do the 2023 starts (f1db gives their days only). It is the one session of 2023-2024
    whose start the sources disagree on."""
    assert SESSION_PRECEDENCE["start_time_utc"] is Source.F1DB
    slug = "2024-sao-paulo-grand-prix"

    def start(racing: Racing, kind: int) -> tuple[uuid.UUID, datetime]:
        round_id = _round(racing, slug)
        [session] = [s for s in racing.sessions if s.round_id == round_id and s.type == kind]
        return session.id, session.start_time_utc

    before, after = start(inputs.openf1.racing, QUALIFYING), start(merged.racing, QUALIFYING)
    assert before == (after[0], datetime(2024, 11, 2, 18, 0, tzinfo=UTC))
    assert after[1] == datetime(2024, 11, 3, 10, 30, tzinfo=UTC)
    starts = {s.id: s.start_time_utc for s in inputs.openf1.racing.sessions}
    moved = {s.id for s in merged.racing.sessions if starts.get(s.id, s.start_time_utc) != s.start_time_utc}
    assert moved == {after[0]}
    unclassified = {
        p: f for p, f in inputs.files.items() if p != "seasons/2024/races/21-sao-paulo/qualifying-results.yml"
    }
    assert start(_merge(inputs.openf1, inputs.links, unclassified).racing, QUALIFYING) == before
    round_id = _round(merged.racing, "2023-bahrain-grand-prix")
    [race] = [s for s in merged.racing.sessions if s.round_id == round_id and s.type == RACE]
    assert race.start_time_utc == datetime(2023, 3, 5, 15, 0, tzinfo=UTC)  # OpenF1's; f1db: the day only


def _options() -> FetchOptions:
    return FetchOptions(years=(2024,), retry=FAST, revalidate_days=30)


def test_f1db_fills_a_meeting_whose_drivers_openf1_never_answered(
    openf1_server: ServerFactory, world_dir: Path, tmp_path: Path
) -> None:
    """Issue 24 item 7: ``ingest serve --drop drivers:1250`` (2024 Las Vegas: OpenF1 answers its drivers
    "No results found."): OpenF1's results of the meeting have no entrant to go on, yet with f1db the round
    gets its results, on the entrants and with the ids a store holding OpenF1's drivers gives, f1db's
    classification in them (Russell P1, 25 points); without f1db the meeting has none."""
    release = cut_archive(NEW, tmp_path / "mirror", (2024,))
    data = release_input("v2025.24.2", read_archive(release.read_bytes()).data())
    now = datetime.now(UTC)
    stores = {}
    for name, drops in (("healthy", ()), ("gap", ("drivers:1250",))):
        server = openf1_server(rows=[world_dir / "2024"], drops=list(drops))
        settings = client_settings(server, tmp_path / name)
        assert fetch(settings, _options(), now).exit_code == 0
        stores[name] = Store(tmp_path / name)
    when = datetime.now(UTC)
    healthy = replay(stores["healthy"], when, results=True, f1db=data).racing
    alone = replay(stores["gap"], when, results=True, f1db=None).racing
    gap = replay(stores["gap"], when, results=True, f1db=data)
    slug = "2024-las-vegas-grand-prix"
    assert _results(alone, slug, RACE) == {}
    filled, reference = _results(gap.racing, slug, RACE), _results(healthy, slug, RACE)
    assert len(filled) == 20 and filled == reference
    assert (filled["Russell"].position, filled["Russell"].points) == (1, 25)
    round_id = _round(healthy, slug)
    assert {e for e in gap.racing.entrants if e.round_id == round_id} == {
        e for e in healthy.entrants if e.round_id == round_id
    }
    assert not [w for w in gap.warnings if w.kind == F1DB_ROW_UNPLACED]


def _one(conn: psycopg.Connection[Any], query: str, *args: object) -> Any:
    row = conn.execute(query, args).fetchone()
    assert row is not None
    return row[0]


@pytest.mark.parametrize("schema_naming", ["ef"], indirect=True)
def test_f1db_new_release_corrects_rows_in_place_under_the_apps_users(tmp_path: Path, db_url: str) -> None:
    """Issue 24 item 4, on the app's own EF database: the committed OpenF1 store with v2024.24.2 replayed;
    a user logs, reviews and lists the 2024 Canadian race; v2025.24.2 arrives (f1db corrected the race:
    Sainz "Collision" -> "Collision damage", Perez "Accident" -> "Accident damage"). ``ingest diff`` names
    the rows and the release each side came from; the replay updates them in place: the session and every
    result keep their ids, the values change, and not one racing row is deleted (a trigger counts), so the
    user's log, review and list item stay."""
    store = Store(tmp_path / "store")
    copy_store(openf1_fixture(), store.root)
    t1, t2 = datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)
    import_archive(store, cut_archive(OLD, tmp_path / "old", (2024,)), received_at=t1)
    import_archive(store, cut_archive(NEW, tmp_path / "new", (2024,)), received_at=t2)
    before, after = t1 + timedelta(hours=1), t2 + timedelta(hours=1)
    run_replay(db_url, store, before, results=True)
    race = (
        'SELECT s."Id" FROM "Sessions" s JOIN "Rounds" r ON r."Id" = s."RoundId" '
        "WHERE r.\"Slug\" = '2024-canadian-grand-prix' AND s.\"Type\" = 6"
    )
    details = 'SELECT "Id", "CarNumber", "StatusDetail" FROM "Results" WHERE "SessionId" = %s ORDER BY "Id"'
    with connect(db_url, autocommit=True) as conn:
        session = _one(conn, race)
        conn.execute("""INSERT INTO "AspNetUsers" ("Id", "UserName") VALUES ('fan', 'fan')""")
        log, review, listing = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        conn.execute('INSERT INTO "Logs" ("Id", "UserId", "SessionId", "StarRating") '
                     "VALUES (%s, 'fan', %s, 4.5)", (log, session))
        conn.execute('INSERT INTO "Reviews" ("Id", "LogId", "Body") VALUES (%s, %s, %s)',
                     (review, log, "Wet"))
        conn.execute('INSERT INTO "UserLists" ("Id", "UserId", "Name") VALUES (%s, %s, %s)',
                     (listing, "fan", "Rain"))
        conn.execute('INSERT INTO "ListItems" ("Id", "UserListId", "SessionId", "OrderIndex") '
                     "VALUES (%s, %s, %s, 0)", (uuid.uuid4(), listing, session))
        conn.execute("CREATE TABLE public.deleted_racing (tbl text, id uuid)")
        conn.execute(
            "CREATE FUNCTION public.note_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "INSERT INTO public.deleted_racing VALUES (TG_TABLE_NAME, OLD.\"Id\"); RETURN OLD; END $$"
        )
        for table in ("Sessions", "Results", "Entrants", "Rounds"):
            conn.execute(f'CREATE TRIGGER note_delete AFTER DELETE ON "{table}" '
                         "FOR EACH ROW EXECUTE FUNCTION public.note_delete()")
        old = {r[0]: (r[1], r[2]) for r in conn.execute(details, (session,)).fetchall()}

    change = diff(store, before, after, results=True)
    results = change.table("results")
    assert not results.added and not results.removed
    named = {
        change.notes_after[c.id].label: (
            [(x.column, x.before, x.after) for x in c.columns],
            change.notes_before[c.id].source, change.notes_after[c.id].source,
        )
        for c in results.changed
    }
    # the classification and its provenance (the release its file has been as it is since) change together
    assert named["2024-canadian-grand-prix Race car 55 Carlos Sainz"] == (
        [("status_detail", "Collision", "Collision damage"), ("source_version", "v2024.24.2", "v2025.24.2")],
        "f1db v2024.24.2",
        "f1db v2025.24.2",
    )
    assert named["2024-canadian-grand-prix Race car 11 Sergio Perez"][0] == [
        ("status_detail", "Accident", "Accident damage"), ("source_version", "v2024.24.2", "v2025.24.2")
    ]
    # every changed row: the new release moves the provenance of every row of each file it changed
    lines = render_diff(change, limit=len(results.changed))
    assert any(
        "2024-canadian-grand-prix Race car 55 Carlos Sainz [f1db v2024.24.2 -> f1db v2025.24.2]: "
        "status_detail 'Collision' -> 'Collision damage'" in line
        for line in lines
    ), lines

    run_replay(db_url, store, after, results=True)
    with connect(db_url, autocommit=True) as conn:
        assert _one(conn, race) == session
        new = {r[0]: (r[1], r[2]) for r in conn.execute(details, (session,)).fetchall()}
        assert new.keys() == old.keys()  # every result of the race keeps its id
        changed = {old[k][0]: (old[k][1], new[k][1]) for k in old if old[k] != new[k]}
        assert changed == {"55": ("Collision", "Collision damage"), "11": ("Accident", "Accident damage")}
        assert _one(conn, "SELECT count(*) FROM public.deleted_racing") == 0
        assert _one(conn, 'SELECT count(*) FROM "Logs" l JOIN "Reviews" v ON v."LogId" = l."Id" '
                          'WHERE l."SessionId" = %s', session) == 1
        assert _one(conn, 'SELECT count(*) FROM "ListItems" WHERE "SessionId" = %s', session) == 1


def test_f1db_replay_is_the_same_whichever_source_was_fetched_first(
    openf1_server: ServerFactory, world_dir: Path, tmp_path: Path, db_factory: Databases
) -> None:
    """Issue 24: replay stays a pure function of the snapshots. ``ingest serve`` over the 2024 world and
    v2025.24.2 (its 2024 season): one store fetches OpenF1 then f1db, another f1db then OpenF1; each
    replays into a fresh database, and the two databases hold the same rows, ids included (2024's
    corrections and Sao Paulo's moved qualifying among them)."""
    mirror = cut_archive(NEW, tmp_path / "mirror", (2024,)).parent
    server = openf1_server(rows=[world_dir / "2024"], f1db=mirror)
    now = datetime.now(UTC)
    snapshots = []
    for name, order in (("openf1-first", ("openf1", "f1db")), ("f1db-first", ("f1db", "openf1"))):
        for source in order:
            settings = client_settings(server, tmp_path / name, sources=(source,))
            if source == "f1db":
                assert fetch_f1db(settings).outcome == "new"
            else:
                assert fetch(settings, _options(), now).exit_code == 0
        url = db_factory("snake")
        try:
            summary = run_replay(url, Store(tmp_path / name), datetime.now(UTC), results=True)
            assert summary.rows["results"] > 2400 and not summary.findings
            with connect(url) as conn:
                snapshots.append(racing_snapshot(conn))
        finally:
            db_factory.release(url)
    first, second = snapshots
    assert first == second
    sessions = {row[0]: row for row in first["sessions"]}
    assert any(row[3] == datetime(2024, 11, 3, 10, 30, tzinfo=UTC) for row in sessions.values())
