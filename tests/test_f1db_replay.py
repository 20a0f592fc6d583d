"""f1db's releases replayed into the racing tables (ingestion.replay.f1db), on the real archives of ../shared:
every season 1950-2025 counted against the files, named facts from five eras, both database layouts, a
second replay that writes nothing, OpenF1's rows and ids kept where both sources have a round.

Each archive is read and decoded once per test process (``f1db_warm``), and the stores start with the
decode cache a replay would have left: of the stores' replays, only the merge memo's test decodes its release
cold, end to end (a release given as bytes, ``committed_replays``, is decoded by replay as always)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import f1db_warm
import msgspec
import psycopg
import pytest
from conftest import Databases
from naming_support import NAMINGS, VIEWS

from ingestion.db import connect
from ingestion.f1db.cache import CACHE_FILE
from ingestion.f1db.record import import_archive
from ingestion.ops.verify import verify
from ingestion.replay.f1db import PIT_LANE, OpenF1Links, f1db_part, merge_f1db
from ingestion.replay.release import MEMO_FILE, RESULTS_FILE, ReleaseInput
from ingestion.replay.rows import DriverRole, Racing, Replayed, ResultRow, ResultStatus, SessionType
from ingestion.replay.run import replay, run_replay
from ingestion.replay.summary import ReplaySummary
from ingestion.store import Store, address_of

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "f1db"
REPO = Path(__file__).resolve().parents[1]
AS_OF = datetime(2026, 1, 1, tzinfo=UTC)
OLD, NEW = "f1db-2024.24.2.tar.gz", "f1db-2025.24.2.tar.gz"
Conn = psycopg.Connection[Any]


@pytest.fixture(scope="session")
def release_2025() -> ReleaseInput:
    """v2025.24.2's files replay reads (the archive is read once per test process)."""
    return f1db_warm.release(NEW)


@pytest.fixture(scope="session")
def f1db_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A store holding v2025.24.2 alone (imported as ``ingest snapshots import`` does), no OpenF1 snapshot,
    with the release's decode cache (what its first replay would write)."""
    store = Store(tmp_path_factory.mktemp("f1db-store"))
    import_archive(store, SHARED / NEW, received_at=datetime(2025, 12, 19, tzinfo=UTC))
    f1db_warm.seed_decode_cache(store.root, NEW)
    return store


class History:
    def __init__(self, url: str, naming: str, first: ReplaySummary, second: ReplaySummary) -> None:
        self.url, self.naming, self.first, self.second = url, naming, first, second

    def conn(self) -> psycopg.Connection[tuple[object, ...]]:
        conn = connect(self.url, autocommit=True)
        if self.naming == "ef":
            conn.execute(f"SET search_path = {VIEWS}, public")
        return conn


@pytest.fixture(params=NAMINGS)
def history(request: pytest.FixtureRequest, db_factory: Databases, f1db_store: Store) -> Iterator[History]:
    """The whole history (the store's f1db release, no OpenF1 snapshot) replayed twice into a fresh
    database of each layout (one test per layout uses it: under xdist a shared fixture would be built once
    per worker)."""
    naming = str(request.param)
    url = db_factory(naming)
    first = run_replay(url, f1db_store, AS_OF, results=True)
    second = run_replay(url, f1db_store, AS_OF, results=True)
    yield History(url, naming, first, second)
    db_factory.release(url)


def _file_counts(release: ReleaseInput) -> dict[int, tuple[int, int, int, int]]:
    """Per season, straight from the YAML text (no decoder): races, race-result rows, qualifying rows, and
    the race-result rows that repeat a driver in one race (shared drives, merged into one row)."""
    races: Counter[int] = Counter()
    race_rows: Counter[int] = Counter()
    quali_rows: Counter[int] = Counter()
    repeated: Counter[int] = Counter()
    for path, body in release.files.items():
        match = re.fullmatch(r"seasons/(\d{4})/races/[^/]+/([a-z0-9-]+)\.yml", path)
        if match is None:
            continue
        year, name = int(match.group(1)), match.group(2)
        text = body.decode()
        rows = len(re.findall(r"^- ", text, re.M))
        if name == "race":
            races[year] += 1
        elif name == "race-results":
            race_rows[year] += rows
            drivers = Counter(re.findall(r"^  driverId: (\S+)$", text, re.M))
            repeated[year] += sum(n - 1 for n in drivers.values())
        elif name == "qualifying-results":
            drivers = Counter(re.findall(r"^  driverId: (\S+)$", text, re.M))
            quali_rows[year] += len(drivers)  # a driver twice in one qualifying: one row
    return {y: (races[y], race_rows[y], quali_rows[y], repeated[y]) for y in sorted(races)}


_PER_SEASON = """
SELECT se.year,
       count(DISTINCT ro.id),
       count(re.id) FILTER (WHERE s.type = 6),
       count(re.id) FILTER (WHERE s.type = 3)
FROM seasons se JOIN rounds ro ON ro.season_id = se.id
LEFT JOIN sessions s ON s.round_id = ro.id
LEFT JOIN results re ON re.session_id = s.id
GROUP BY se.year ORDER BY se.year
"""


def _counts_every_seasons_races_and_results_as_the_files_do(
    history: History, release_2025: ReleaseInput
) -> None:
    """After replaying v2025.24.2, each season 1950-2025 holds as many rounds as the archive has races, as
    many race results as race-results rows (less the shared drives, merged into one row per driver), and as
    many qualifying results as drivers classified in qualifying."""
    files = _file_counts(release_2025)
    assert sorted(files) == list(range(1950, 2026))
    with history.conn() as conn:
        database = {int(y): (int(r), int(a), int(q)) for y, r, a, q in conn.execute(_PER_SEASON).fetchall()}
    expected = {y: (races, rows - repeated, quali) for y, (races, rows, quali, repeated) in files.items()}
    assert database == expected
    # the README's 89 drivers twice (or three times) in one race: 95 rows merged into their better row
    assert sum(f[3] for f in files.values()) == 95


def _result(conn: Conn, year: int, round_name: str, driver_slug: str, kind: int = 6) -> tuple[object, ...]:
    row = conn.execute(
        """
        SELECT re.position, re.points, re.grid_position, re.status, re.status_detail, re.laps, re.time,
               re.time_milliseconds, re.fastest_lap
        FROM results re JOIN sessions s ON s.id = re.session_id JOIN rounds ro ON ro.id = s.round_id
        JOIN seasons se ON se.id = ro.season_id JOIN entrants e ON e.id = re.entrant_id
        JOIN drivers d ON d.id = e.driver_id
        WHERE se.year = %s AND ro.name = %s AND d.slug = %s AND s.type = %s
        """,
        (year, round_name, driver_slug, kind),
    ).fetchone()
    assert row is not None, (year, round_name, driver_slug)
    return tuple(row)


def _named_facts_from_five_eras_hold(history: History) -> None:
    """Facts read in the archive's YAML, one per era: 1950 British GP Farina P1 with 9 points from grid 1;
    1950 Italian GP Ascari P2 with 3 points in the car he took over (car 48), his own car 16 a DNF; 1976
    Japanese GP Hunt P3, 4 points, grid 2, 72 laps; 1993 European GP (Donington) Senna P1, 10 points, grid 4,
    1:50:46.570; 2005 Alonso 133 points over the season; 2012 Brazilian GP Vettel P6, 8 points, grid 4;
    2012 Chinese GP Vergne from the pit lane (grid 0)."""
    with history.conn() as conn:
        farina = _result(conn, 1950, "British Grand Prix", "nino-farina")
        assert farina[:4] == (1, 9.0, 1, 0)
        ascari = _result(conn, 1950, "Italian Grand Prix", "alberto-ascari")
        assert ascari[:4] == (2, 3.0, None, 0) or ascari[:2] == (2, 3.0)
        assert "also car 16 (DNF)" in str(ascari[4])
        hunt = _result(conn, 1976, "Japanese Grand Prix", "james-hunt")
        assert (hunt[0], hunt[1], hunt[2], hunt[5]) == (3, 4.0, 2, 72)
        senna = _result(conn, 1993, "European Grand Prix", "ayrton-senna")
        senna_ms = ((1 * 60 + 50) * 60 + 46) * 1000 + 570
        assert (senna[0], senna[1], senna[2], senna[7]) == (1, 10.0, 4, senna_ms)
        vettel = _result(conn, 2012, "Brazilian Grand Prix", "sebastian-vettel")
        assert vettel[:3] == (6, 8.0, 4)
        vergne = _result(conn, 2012, "Chinese Grand Prix", "jean-eric-vergne")
        assert vergne[2] == 0
        alonso = conn.execute(
            """
            SELECT sum(re.points) FROM results re JOIN sessions s ON s.id = re.session_id
            JOIN rounds ro ON ro.id = s.round_id JOIN seasons se ON se.id = ro.season_id
            JOIN entrants e ON e.id = re.entrant_id JOIN drivers d ON d.id = e.driver_id
            WHERE se.year = 2005 AND d.slug = 'fernando-alonso' AND s.type = 6
            """
        ).fetchone()
        assert alonso is not None and alonso[0] == 133.0
        hamilton = conn.execute(
            "SELECT date_of_birth::text, place_of_birth, nationality, abbreviation FROM drivers "
            "WHERE slug = 'lewis-hamilton'"
        ).fetchall()
        assert hamilton == [("1985-01-07", "Stevenage", "British", "HAM")]


def _second_replay_writes_nothing(history: History) -> None:
    """The same release replayed again writes 0 rows, on both layouts."""
    assert history.first.written > 100_000
    assert history.second.written == 0


def _verify_finds_nothing_missing_extra_or_different(history: History, f1db_store: Store) -> None:
    """``ingest verify`` replays the store's release as replay did and finds the database exactly as replay
    left it: exit 0 (on our layout as a person runs it; the library's report on the app's)."""
    if history.naming == "ef":
        report = verify(history.url, f1db_store)
        assert sum(check.differences for check in report.tables) == 0
        assert report.ok and report.exit_code == 0
    else:
        done = subprocess.run(
            [sys.executable, "-m", "ingestion", "verify", "--store", str(f1db_store.root)],
            env={**os.environ, "DATABASE_URL": history.url}, capture_output=True, text=True, timeout=300,
        )
        assert done.returncode == 0, done.stderr
        assert "OK: the database matches the snapshots" in done.stdout


def _statuses_keep_the_original_code(history: History) -> None:
    """DNQ/DNPQ/EX become the closest status (DNS, DNS, DSQ) with f1db's code in status_detail; every
    result has a status the app knows."""
    with history.conn() as conn:
        rows = dict(
            conn.execute(
                "SELECT status_detail, status FROM results WHERE status_detail IN ('DNQ', 'DNPQ', 'EX') "
                "GROUP BY 1, 2"
            ).fetchall()
        )
        assert rows == {"DNQ": 2, "DNPQ": 2, "EX": 3}
        bad = conn.execute("SELECT count(*) FROM results WHERE status NOT BETWEEN 0 AND 4").fetchone()
        assert bad == (0,)


def test_f1db_replay_whole_history_on_each_layout(
    history: History, release_2025: ReleaseInput, f1db_store: Store
) -> None:
    """v2025.24.2 replayed into each layout: every season's races and results counted as the files have them,
    named facts from five eras, f1db's codes kept, a second replay that writes nothing, ``verify`` OK (each
    check's docstring says what it holds)."""
    _counts_every_seasons_races_and_results_as_the_files_do(history, release_2025)
    _named_facts_from_five_eras_hold(history)
    _statuses_keep_the_original_code(history)
    _second_replay_writes_nothing(history)
    _verify_finds_nothing_missing_extra_or_different(history, f1db_store)


@pytest.fixture(scope="module")
def committed_replays(release_2025: ReleaseInput) -> tuple[Racing, Replayed]:
    """The committed OpenF1 store (2023-2024) replayed once without f1db (what the sessions are before f1db
    has them) and once with v2025.24.2 (after)."""
    store = Store(REPO / "snapshots")
    as_of = datetime(2026, 12, 31, tzinfo=UTC)  # the committed store was fetched on 2026-11-30
    alone = replay(store, as_of, results=True, f1db=None).racing
    return alone, replay(store, as_of, results=True, f1db=release_2025)


def _results_of(racing: Racing, round_slug: str, kind: int) -> dict[str, ResultRow]:
    """One session's results by the driver's last name."""
    rounds = {r.id for r in racing.rounds if r.slug == round_slug}
    sessions = {s.id for s in racing.sessions if s.round_id in rounds and s.type == kind}
    entrants = {e.id: e.driver_id for e in racing.entrants}
    names = {d.id: d.last_name for d in racing.drivers}
    return {names[entrants[r.entrant_id]]: r for r in racing.results if r.session_id in sessions}


def test_f1db_replay_keeps_openf1s_rounds_and_ids_and_adds_the_rest(
    committed_replays: tuple[Racing, Replayed],
) -> None:
    """With the committed OpenF1 store (2023-2024): every OpenF1 row keeps its id; the 46 OpenF1 rounds get
    no f1db round; Hamilton is one driver across 2007-2025 (OpenF1's id, f1db's date of birth); McLaren is
    one team; f1db's other rounds (1950-2022, 2025) are added."""
    alone, both = committed_replays
    merged = both.racing
    for name in ("circuits", "rounds", "sessions", "drivers", "teams", "entrants", "results"):
        ids = {r.id for r in merged.table(name)}
        assert {r.id for r in alone.table(name)} <= ids, name
    years = Counter(next(s.year for s in merged.seasons if s.id == r.season_id) for r in merged.rounds)
    assert years[2023] == sum(1 for r in alone.rounds if r.slug.startswith("2023-"))
    assert years[1950] == 7 and years[2025] == 24
    hamilton = [d for d in merged.drivers if d.last_name == "Hamilton" and d.first_name == "Lewis"]
    assert len(hamilton) == 1
    assert hamilton[0].id in {d.id for d in alone.drivers}
    assert str(hamilton[0].date_of_birth) == "1985-01-07"
    entrant_years: defaultdict[str, set[int]] = defaultdict(set)
    round_year = {r.id: next(s.year for s in merged.seasons if s.id == r.season_id) for r in merged.rounds}
    for e in merged.entrants:
        if e.driver_id == hamilton[0].id:
            entrant_years["hamilton"].add(round_year[e.round_id])
    assert entrant_years["hamilton"] == set(range(2007, 2026))
    assert len([t for t in merged.teams if t.name == "McLaren"]) == 1
    slugs = [d.slug for d in merged.drivers]
    assert len(slugs) == len(set(slugs))
    assert not [w.message for w in both.warnings if w.kind.startswith("f1db")]  # all 46 rounds matched
    assert len(merged.drivers) == 912  # every OpenF1 driver (practice-only ones too) is f1db's person
    # every real pair is certain (issue 24): no identity finding, nothing held, nothing for the app's queue
    assert not [w.message for w in both.warnings if w.kind.startswith("identity")]
    assert both.held == frozenset() and both.pending == ()
    # Max Verstappen (#33 2015-2021, #1 since; 2014 Japan practice for Toro Rosso) is one driver: OpenF1's
    # (Jos Verstappen, 1994-2003, is another person and another row)
    verstappen = [d for d in merged.drivers if (d.first_name, d.last_name) == ("Max", "Verstappen")]
    assert len(verstappen) == 1 and verstappen[0].id in {d.id for d in alone.drivers}
    assert {round_year[e.round_id] for e in merged.entrants if e.driver_id == verstappen[0].id} == set(
        range(2014, 2026)
    )


def test_f1db_replay_real_renamed_slug_keeps_its_driver_id(release_2025: ReleaseInput) -> None:
    """Between the two real releases f1db renamed ``andrea-kimi-antonelli`` (first name Andrea) to
    ``kimi-antonelli`` (first name Kimi): the same person by date of birth and last name, so the same
    driver id in both; only the slug and first name follow the newer release, and each release's slug is an
    alias of that one driver."""
    older, newer = f1db_warm.decoded(OLD), f1db_warm.decoded(NEW)  # decoded once per process
    assert (older.tag, newer.tag, set(newer.files)) == ("v2024.24.2", "v2025.24.2", set(release_2025.files))
    empty = Replayed(racing=Racing())
    before = merge_f1db(older.files, empty, OpenF1Links(), AS_OF, results=True).racing
    after = merge_f1db(newer.files, empty, OpenF1Links(), AS_OF, results=True).racing
    old = [d for d in before.drivers if d.last_name == "Antonelli"]
    new = [d for d in after.drivers if d.last_name == "Antonelli"]
    assert [(d.slug, d.first_name) for d in old] == [("andrea-kimi-antonelli", "Andrea")]
    assert [(d.slug, d.first_name) for d in new] == [("kimi-antonelli", "Kimi")]
    assert old[0].id == new[0].id
    old_aliases = {a.alias_slug for a in before.driver_aliases if a.driver_id == old[0].id}
    new_aliases = {a.alias_slug for a in after.driver_aliases if a.driver_id == new[0].id}
    assert (old_aliases, new_aliases) == ({"andrea-kimi-antonelli"}, {"kimi-antonelli"})
    # every round (2014 Russia's date was corrected), session, team and circuit (Losail renamed Lusail, slug
    # and name) of 1950-2024 keeps its id from one release to the next; every driver but the one whose
    # date of birth f1db corrected (Alex Soler-Roig: 1932 -> 1931), whom a database keeps by his slug
    for name in ("rounds", "sessions", "teams", "circuits"):
        assert {r.id for r in before.table(name)} <= {r.id for r in after.table(name)}, name
    kept = {d.id for d in after.drivers}
    assert {d.slug for d in before.drivers if d.id not in kept} == {"alex-soler-roig"}


def test_f1db_replay_newer_release_keeps_every_row_id(
    db_factory: Databases, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A store holding both real releases (and no OpenF1 snapshot) replays the older as of its day, then the
    newer, both with ``--no-results``: no driver, round, session, team or circuit row is left behind (a date
    of birth corrected: the row is kept by its slug), Antonelli keeps his row under his new slug, and not
    one result row is written. (The store starts with both releases' decode cache: this is about ids.)"""
    store = Store(tmp_path_factory.mktemp("two-releases"))
    import_archive(store, SHARED / OLD, received_at=datetime(2024, 12, 9, tzinfo=UTC))
    import_archive(store, SHARED / NEW, received_at=datetime(2025, 12, 19, tzinfo=UTC))
    f1db_warm.seed_decode_cache(store.root, OLD, NEW)
    url = db_factory("snake")
    try:
        run_replay(url, store, datetime(2025, 1, 1, tzinfo=UTC), results=False)
        with connect(url) as conn:
            before = dict(conn.execute("SELECT slug, id FROM drivers").fetchall())
        newer = run_replay(url, store, AS_OF, results=False)
        with connect(url) as conn:
            after = dict(conn.execute("SELECT slug, id FROM drivers").fetchall())
            for table in ("drivers", "rounds", "sessions", "teams", "circuits"):
                stored = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
                assert stored == (newer.rows[table],), table
            assert conn.execute("SELECT count(*) FROM results").fetchone() == (0,)
        assert newer.rows["results"] == 0 and newer.rows["rounds"] == 1149
        assert after["kimi-antonelli"] == before["andrea-kimi-antonelli"]
        assert after["alex-soler-roig"] == before["alex-soler-roig"]
        assert set(before.values()) <= set(after.values())
    finally:
        db_factory.release(url)


def test_f1db_replay_merge_memo_is_used_only_for_the_same_inputs(f1db_store: Store) -> None:
    """The memo of the last merge (``cache/f1db-merged.msgpack``) and the sessions' results it made
    (``cache/f1db-results.msgpack``) give the rows a fresh merge gives; they are never used for other
    inputs (results off after on: no result row), and a damaged or deleted memo, results file or decode
    cache changes nothing but the time."""
    memo, made = f1db_store.root / MEMO_FILE, f1db_store.root / RESULTS_FILE
    with_results = replay(f1db_store, AS_OF, results=True).racing
    assert memo.exists() and made.exists()
    assert replay(f1db_store, AS_OF, results=True).racing == with_results
    without = replay(f1db_store, AS_OF, results=False).racing
    assert without.results == () and without.rounds == with_results.rounds
    memo.write_bytes(b"\x00 not a memo")  # merged again, each session's results taken from their file
    (f1db_store.root / CACHE_FILE).unlink()
    assert replay(f1db_store, AS_OF, results=True).racing == with_results
    memo.unlink()
    made.write_bytes(made.read_bytes()[:-1000])  # a torn file: every session made again
    assert replay(f1db_store, AS_OF, results=True).racing == with_results


def test_f1db_merge_takes_an_earlier_merges_session_results_only_for_the_same_inputs() -> None:
    """Given the files' addresses, a merge keys each session's results by everything they are made of; a
    later merge takes the earlier one's rows (the very objects) for each session whose key it holds and
    makes the others. One race-results file edited (another address, a retirement reason rewritten): that
    session alone is made again, and the part is the one a merge without the earlier results makes. The
    same files under another release tag (another provenance) reuse nothing; a driver born another day
    (another person: other result ids) has their sessions made again. (The release's first three seasons
    and every file outside the seasons: six small merges instead of whole ones.)"""
    first = tuple(f"seasons/{year}/" for year in (1950, 1951, 1952))

    def taken(path: str) -> bool:
        return not path.startswith("seasons/") or path.startswith(first)

    files = {p: v for p, v in f1db_warm.decoded(NEW).files.items() if taken(p)}
    addresses = {p: address_of(body) for p, body in f1db_warm.release(NEW).files.items() if taken(p)}

    def merged(files: dict[str, Any], addresses: dict[str, str], earlier: Any = None, tag: str = "v1") -> Any:
        return f1db_part(files, Racing(), OpenF1Links(), AS_OF, results=True, release=tag,
                         addresses=addresses, earlier=earlier)

    base = merged(files, addresses)
    assert len(base.session_results) == 46  # 23 races of 1950-1952: a race and a qualifying each
    path, rows = next(
        (p, v) for p, v in sorted(files.items())
        if p.endswith("/race-results.yml") and any(r.reason_retired == "Engine" for r in v)
    )
    at = next(i for i, r in enumerate(rows) if r.reason_retired == "Engine")
    edited = {**files, path: [*rows[:at], msgspec.structs.replace(rows[at], reason_retired="Engine failure"),
                              *rows[at + 1 :]]}
    moved = {**addresses, path: "0" * 64}
    warm = merged(edited, moved, base.session_results)
    assert warm == merged(edited, moved)
    assert any(r.status_detail == "Engine failure" for r in warm.results)
    kept = warm.session_results.keys() & base.session_results.keys()
    assert len(warm.session_results) - len(kept) == 1  # the edited session alone is new
    assert all(warm.session_results[k] is base.session_results[k] for k in kept)
    other = merged(files, addresses, base.session_results, tag="v2")
    assert not other.session_results.keys() & base.session_results.keys()
    # the edited row's driver born another day: another person, so other result ids in their sessions
    person = f"drivers/{rows[at].driver_id}.yml"
    reborn = {**files, person: msgspec.structs.replace(files[person], date_of_birth=date(1900, 1, 1))}
    renamed = {**addresses, person: "1" * 64}
    again = merged(reborn, renamed, base.session_results)
    assert again == merged(reborn, renamed)
    assert len(again.session_results.keys() - base.session_results.keys()) > 1


def test_f1db_replay_precedence_corrects_openf1s_classification(
    committed_replays: tuple[Racing, Replayed],
) -> None:
    """Where both sources have a session, f1db's classification wins (precedence.py) and OpenF1's ids stay:
    2023 Saudi Arabia Verstappen 0 -> 19 points; 2023 United States Hamilton and Leclerc DSQ, Norris P2 with
    18 points; before f1db (the replay without it) the same rows carry OpenF1's values."""
    alone, both = committed_replays
    race = int(SessionType.Race)
    before, after = _results_of(alone, "2023-saudi-arabian-grand-prix", race), _results_of(
        both.racing, "2023-saudi-arabian-grand-prix", race
    )
    assert before["Verstappen"].points == 0 and after["Verstappen"].points == 19
    assert after["Verstappen"].id == before["Verstappen"].id and after["Verstappen"].position == 2
    before, after = _results_of(alone, "2023-united-states-grand-prix", race), _results_of(
        both.racing, "2023-united-states-grand-prix", race
    )
    for name in ("Hamilton", "Leclerc"):
        assert before[name].status != ResultStatus.DSQ
        assert after[name].status == ResultStatus.DSQ and after[name].position is None
        assert after[name].id == before[name].id
    assert before["Norris"].points == 0
    assert (after["Norris"].position, after["Norris"].points) == (2, 18)
    assert {r.id for r in alone.results} <= {r.id for r in both.racing.results}  # every id stays


def test_f1db_replay_precedence_adds_rows_only_f1db_has(committed_replays: tuple[Racing, Replayed]) -> None:
    """2023 Belgian qualifying, absent from OpenF1, gets f1db's 20 rows on OpenF1's session and entrants;
    pit-lane starts (f1db's PL) are grid 0 on OpenF1's race rows."""
    alone, both = committed_replays
    quali = int(SessionType.Qualifying)
    assert len(_results_of(alone, "2023-belgian-grand-prix", quali)) < 20
    rows = _results_of(both.racing, "2023-belgian-grand-prix", quali)
    assert len(rows) == 20 and rows["Verstappen"].position == 1
    assert {r.entrant_id for r in rows.values()} <= {e.id for e in alone.entrants}
    openf1_ids = {r.id for r in alone.results}
    pit_lane = [r for r in both.racing.results if r.grid_position == PIT_LANE and r.id in openf1_ids]
    assert pit_lane
    grids = {r.id: r.grid_position for r in alone.results}
    assert any(grids[r.id] != PIT_LANE for r in pit_lane)


def test_f1db_replay_provenance_names_the_source_of_each_classification(
    committed_replays: tuple[Racing, Replayed],
) -> None:
    """Each result says where its classification came from: the rows f1db's classification corrected or
    added (2023 Saudi Arabia Verstappen, 2023 United States Hamilton, Leclerc and Norris, 2023 Belgian
    qualifying, pit-lane starts) say f1db, release v2025.24.2 and the file; before f1db (the replay without
    it) the same rows say OpenF1, the stored answer (its address) and its request; rows only OpenF1
    classifies (2024 pre-season testing) keep OpenF1's provenance with f1db."""
    alone, both = committed_replays
    race, quali = int(SessionType.Race), int(SessionType.Qualifying)

    def f1db(row: ResultRow, file: str) -> bool:
        return (row.source, row.source_version) == ("f1db", "v2025.24.2") and bool(
            re.fullmatch(rf"src/data/seasons/2023/races/\d\d-{file}", str(row.source_path))
        )

    saudi = _results_of(both.racing, "2023-saudi-arabian-grand-prix", race)["Verstappen"]
    assert saudi.points == 19 and f1db(saudi, "saudi-arabia/race-results.yml")
    us = _results_of(both.racing, "2023-united-states-grand-prix", race)
    assert all(f1db(us[n], "united-states/race-results.yml") for n in ("Hamilton", "Leclerc", "Norris"))
    belgium = _results_of(both.racing, "2023-belgian-grand-prix", quali)
    assert len(belgium) == 20 and all(f1db(r, "belgium/qualifying-results.yml") for r in belgium.values())
    openf1_ids = {r.id for r in alone.results}
    pit_lane = [r for r in both.racing.results if r.grid_position == PIT_LANE and r.id in openf1_ids]
    assert pit_lane and all((r.source, r.source_version) == ("f1db", "v2025.24.2") for r in pit_lane)
    assert {r.source for r in alone.results} == {"openf1"}
    before = _results_of(alone, "2023-saudi-arabian-grand-prix", race)["Verstappen"]
    assert before.source_path is not None and before.source_path.startswith("session_result?")
    assert before.source_version is not None and re.fullmatch(r"[0-9a-f]{64}", before.source_version)
    kept = [r for r in both.racing.results if r.source == "openf1"]
    rounds = {r.id: r.slug for r in both.racing.rounds}
    sessions = {s.id: rounds[s.round_id] for s in both.racing.sessions}
    assert kept and {sessions[r.session_id] for r in kept} == {"2024-pre-season-testing"}
    assert set(kept) <= set(alone.results)  # exactly OpenF1's rows, provenance included


def test_f1db_replay_one_driver_row_per_person(committed_replays: tuple[Racing, Replayed]) -> None:
    """Across 1950-2025 no two driver rows are one person (same names and date of birth), every driver row
    has an entrant (not one more), and OpenF1's practice-only drivers keep their OpenF1 row and id."""
    alone, both = committed_replays
    merged = both.racing
    people = Counter((d.first_name, d.last_name, d.date_of_birth) for d in merged.drivers)
    assert [p for p, n in people.items() if n > 1] == []
    assert {d.id for d in merged.drivers} == {e.driver_id for e in merged.entrants}
    practice_only = {e.driver_id for e in alone.entrants if e.role == DriverRole.Fp1Only} - {
        e.driver_id for e in alone.entrants if e.role != DriverRole.Fp1Only
    }
    assert practice_only
    kept = {d.id: (d.first_name, d.last_name) for d in merged.drivers}
    for d in alone.drivers:
        if d.id in practice_only:
            assert kept[d.id] == (d.first_name, d.last_name)
