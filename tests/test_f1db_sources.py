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
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from committed import openf1_fixture
from f1db_support import NEW, SHARED_F1DB, cut_archive, needs_archives, seasons_only
from server_fixtures import FAST, ServerFactory, client_settings

from ingestion.f1db import read_archive
from ingestion.f1db.decode import Decoded
from ingestion.fetch import FetchOptions, fetch
from ingestion.replay.decoded import decode_snapshots
from ingestion.replay.f1db import OpenF1Links, combine, f1db_part
from ingestion.replay.findings import F1DB_ROW_UNPLACED, FINDING_KINDS
from ingestion.replay.normalize import normalize_linked
from ingestion.replay.precedence import SESSION_PRECEDENCE, Source
from ingestion.replay.release import decode_release, release_input
from ingestion.replay.rows import Racing, Replayed, ResultRow, ResultStatus, SessionType
from ingestion.replay.run import replay, snapshots_of
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
