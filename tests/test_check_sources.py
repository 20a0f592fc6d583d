"""``ingest check`` compares the sources: the committed 2023-2024 snapshots against the real f1db release
v2025.24.2 (``../shared/f1db``), imported once into a copy of the store (one module-scoped fixture).

f1db follows the FIA's classification: every named disagreement is one of OpenF1's errors listed in issue
24 and ``../shared/f1db/README.md`` (2023 Saudi Arabia: Verstappen P2 with 0 points; 2023 United States:
P2-P10 with 0 points, Hamilton and Leclerc disqualified; 2023 Belgian qualifying missing; 2024 Sao Paulo
qualifying at its original time); the regulation findings f1db's codes explain (pit-lane starts, NC cars)
are set apart.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import msgspec
import pytest
from committed import openf1_fixture
from conftest import DbFactory

from ingestion.cli import main
from ingestion.config import PROJECT_ROOT
from ingestion.db import connect
from ingestion.f1db.record import import_archive
from ingestion.ops.check import (
    CheckReport,
    Disagreement,
    Finding,
    Snapshot,
    compare_sources,
    render_check,
    report_json,
    summary_line,
)
from ingestion.ops.check.read import check_database, release_files
from ingestion.replay.decoded import decode_snapshots
from ingestion.replay.normalize import normalize_linked
from ingestion.replay.run import run_replay, snapshots_of
from ingestion.store import Store, short_key

SNAPSHOTS = openf1_fixture()  # the committed store's OpenF1 2023 + 2024, no release (tests/committed.py)
ARCHIVE = PROJECT_ROOT.parent / "shared" / "f1db" / "f1db-2025.24.2.tar.gz"
if not ARCHIVE.is_file():  # a worktree under /work/wt: the shared folder is next to it
    ARCHIVE = Path("/work/shared/f1db/f1db-2025.24.2.tar.gz")
RELEASE = "v2025.24.2"
AS_OF = datetime(2026, 12, 1, tzinfo=UTC)

pytestmark = pytest.mark.skipif(not ARCHIVE.is_file(), reason="the real f1db archive is not here")


class Checked(NamedTuple):
    url: str
    store: Store
    report_2023: CheckReport
    report_2024: CheckReport


@pytest.fixture(scope="module")
def checked(db_factory: DbFactory, tmp_path_factory: pytest.TempPathFactory) -> Checked:
    """The committed store with the real release imported, its OpenF1 snapshots replayed into a database
    (without f1db: the comparison reads both sources from the store, whatever the database holds), and
    both seasons checked."""
    root = tmp_path_factory.mktemp("sources") / "store"
    shutil.copytree(SNAPSHOTS, root)
    store = Store(root)
    import_archive(store, ARCHIVE, received_at=datetime(2025, 12, 20, tzinfo=UTC))
    url = db_factory()
    run_replay(url, store, AS_OF, results=True, f1db=None)
    with connect(url, autocommit=True) as conn:
        reports = [check_database(conn, year, store=store, now=AS_OF) for year in (2023, 2024)]
    return Checked(url, store, *reports)


def _url(session_key: int, number: int | None = None, endpoint: str = "session_result") -> str:
    tail = f"&driver_number={number}" if number is not None else ""
    return f"https://api.openf1.org/v1/{endpoint}?session_key={session_key}{tail}"


def _stored(store: Store, endpoint: str, meeting_key: int) -> Snapshot:
    held = [
        e for e in store.latest().values()
        if e.endpoint == endpoint and ("meeting_key", str(meeting_key)) in e.request.params()
    ]
    event = max(held, key=lambda e: (e.received_at, e.run, e.seq))
    return Snapshot(request=event.key, received_at=event.received_at, address=event.address)


def _found(report: CheckReport, field: str, session_key: int) -> list[Disagreement]:
    return [d for d in report.disagreements if d.field == field and d.session_key == session_key]


def test_check_sources_saudi_arabia_2023_verstappen_points_both_sides(checked: Checked) -> None:
    """2023 Saudi Arabia: OpenF1 gives Verstappen (P2) 0 points, f1db 19 (18 + 1 for the fastest lap):
    one disagreement naming the OpenF1 request and stored answer, and f1db's file, row and release."""
    assert _found(checked.report_2023, "points", 7779) == [
        Disagreement(
            field="points", season=2023, round=2, round_name="Saudi Arabian Grand Prix", session="Race",
            session_key=7779, driver="Max Verstappen", driver_number=1, openf1="0", f1db="19",
            request=_url(7779, 1),
            f1db_file="src/data/seasons/2023/races/02-saudi-arabia/race-results.yml", f1db_row=2,
            release=RELEASE, right="f1db", meeting_key=1142,
            snapshot=_stored(checked.store, "session_result", 1142),
        )
    ]


def test_check_sources_united_states_2023_points_and_disqualifications(checked: Checked) -> None:
    """2023 United States: P2-P10 have 0 points in OpenF1 and the FIA's points in f1db (Tsunoda's 5 with
    the fastest lap); Hamilton and Leclerc are OpenF1's unflagged NC and f1db's DSQ."""
    points = _found(checked.report_2023, "points", 9213)
    assert [(d.driver_number, d.openf1, d.f1db, d.f1db_row) for d in points] == [
        (4, "0", "18", 2), (55, "0", "15", 3), (11, "0", "12", 4), (63, "0", "10", 5), (10, "0", "8", 6),
        (18, "0", "6", 7), (22, "0", "5", 8), (23, "0", "2", 9), (2, "0", "1", 10),
    ]
    assert {d.f1db_file for d in points} == {"src/data/seasons/2023/races/18-united-states/race-results.yml"}
    assert all(d.request == _url(9213, d.driver_number) and d.snapshot is not None for d in points)
    status = _found(checked.report_2023, "status", 9213)
    assert [(d.driver, d.openf1, d.f1db) for d in status] == [
        ("Charles Leclerc", "NC (no position and no dnf/dns/dsq flag)", "DSQ"),
        ("Lewis Hamilton", "NC (no position and no dnf/dns/dsq flag)", "DSQ"),
    ]


def test_check_sources_missing_rows_and_moved_session(checked: Checked) -> None:
    """Rows OpenF1 lacks (all of 2023 Belgian qualifying; Stroll's Singapore DNS) and 2024 Sao Paulo
    qualifying, postponed by rain to the next morning, at its original time in OpenF1."""
    (belgium,) = _found(checked.report_2023, "rows", 9135)
    assert (belgium.openf1, belgium.f1db, belgium.request, belgium.f1db_row) == (
        "no row", "20 rows", _url(9135), None
    )
    (stroll,) = _found(checked.report_2023, "row", 9165)
    assert (stroll.driver_number, stroll.openf1, stroll.f1db, stroll.f1db_row) == (18, "no row", "DNS", 20)
    (moved,) = _found(checked.report_2024, "start", 9627)
    assert (moved.session, moved.openf1, moved.f1db) == ("Qualifying", "2024-11-02 18:00", "2024-11-03 10:30")
    assert moved.request == _url(9627, endpoint="sessions")
    assert moved.f1db_file == "src/data/seasons/2024/races/21-sao-paulo/race.yml"
    assert moved.snapshot is not None and moved.snapshot.request == "sessions?year=2024"


def test_check_sources_pit_lane_starts_are_grid_disagreements(checked: Checked) -> None:
    """Pit-lane starters: OpenF1's starting_grid has no row for them (2023 Australia) or a back-row slot;
    f1db says PL. The grid's request is OpenF1's starting_grid, filed under the qualifying session."""
    australia = _found(checked.report_2023, "grid", 7787)
    assert [(d.driver_number, d.openf1, d.f1db, d.request) for d in australia] == [
        (11, "none (no starting_grid row)", "PL (pit lane)", _url(7783, 11, "starting_grid")),
        (77, "none (no starting_grid row)", "PL (pit lane)", _url(7783, 77, "starting_grid")),
    ]
    grids = [d for d in (*checked.report_2023.disagreements, *checked.report_2024.disagreements)
             if d.field == "grid"]
    # none where OpenF1 has no grid for the session at all (grid_missing says it)
    assert sum(1 for d in grids if d.f1db == "PL (pit lane)") == 41


def _pairs(findings: tuple[Finding, ...]) -> set[tuple[str, int | None, int | None]]:
    return {(f.kind, f.session_key, f.driver_number) for f in findings}


#: The regulation findings f1db's codes explain: pit-lane starts (PL) and cars f1db classifies NC.
FALSE_ALARMS = {
    ("starter_without_grid", 7787, 11), ("starter_without_grid", 7787, 77),
    ("starter_without_grid", 9149, 20),
    ("unflagged_unclassified", 7775, 2), ("unflagged_unclassified", 9064, 21),
    ("unflagged_unclassified", 9122, 77), ("unflagged_unclassified", 9298, 2),
}


def test_check_sources_false_alarms_set_apart(checked: Checked) -> None:
    """The 7 false alarms (3 pit-lane starts, 4 cars f1db classifies NC) are no longer findings, but
    listed as explained; the real faults stay (Saudi and US points, US and 2024 disqualifications)."""
    findings = (*checked.report_2023.findings, *checked.report_2024.findings)
    explained = (*checked.report_2023.explained, *checked.report_2024.explained)
    assert _pairs(explained) == FALSE_ALARMS
    assert not _pairs(findings) & FALSE_ALARMS
    assert checked.report_2023.counts() == {
        "points_missing": 10, "unflagged_unclassified": 2, "session_without_results": 1,
        "entrant_without_result": 2, "starter_without_grid": 1,
    }
    assert checked.report_2024.counts() == {"unflagged_unclassified": 5}


def test_check_sources_counts_per_season(checked: Checked) -> None:
    """Both seasons, field by field: nothing but OpenF1's known errors (points, DSQ, missing rows, grids
    without pit lane or penalties, one moved session)."""
    assert checked.report_2023.release == RELEASE
    assert checked.report_2023.disagreement_counts() == {
        "rows": 1, "row": 2, "status": 2, "points": 10, "grid": 18,
    }
    assert checked.report_2024.disagreement_counts() == {"status": 5, "grid": 25, "start": 1}
    assert checked.report_2024.exit_code == 1


def test_check_sources_session_only_one_source_has_is_no_disagreement(checked: Checked) -> None:
    """A session f1db has not published (its file taken out of the release) and the rounds OpenF1 never had
    (f1db's 1950-2022) give no disagreement: only sessions both sources have are compared."""
    snapshots = snapshots_of(checked.store, AS_OF, results=True)
    decoded, warnings = decode_snapshots(snapshots, results=True, as_of=AS_OF)
    replayed, links = normalize_linked(decoded, warnings, AS_OF, results=True)
    release = checked.store.f1db_release(AS_OF)
    assert release is not None
    recent = release_files(checked.store, release, None)  # OpenF1's seasons: 2023 on
    saudi = "seasons/2023/races/02-saudi-arabia/race-results.yml"
    without = {path: value for path, value in recent.items() if path != saudi}
    assert saudi in recent and "seasons/2025/races/01-australia/race-results.yml" in recent
    everything = compare_sources(replayed.racing, links, without, RELEASE)
    assert not [d for d in everything if d.session_key == 7779]
    assert {d.season for d in everything} == {2023, 2024}  # f1db's 2025: OpenF1's store has none of it
    whole = compare_sources(replayed.racing, links, recent, RELEASE)
    assert [d.session_key for d in whole if d.session_key == 7779] == [7779]
    older = release_files(checked.store, release, 2022) | release_files(checked.store, release, 2023)
    assert "seasons/2022/races/01-bahrain/race-results.yml" in older
    assert {d.season for d in compare_sources(replayed.racing, links, older, RELEASE)} == {2023}


def test_check_sources_without_a_release_behaves_as_before(checked: Checked) -> None:
    """The committed OpenF1 snapshots without a release: nothing compared, nothing set apart, the findings as
    before (and the summary says nothing of f1db)."""
    with connect(checked.url, autocommit=True) as conn:
        report = check_database(conn, 2023, store=Store(SNAPSHOTS), now=AS_OF)
    assert (report.release, report.disagreements, report.explained) == (None, (), ())
    assert _pairs(report.findings) == _pairs(checked.report_2023.findings) | FALSE_ALARMS  # all in 2023
    assert "f1db" not in "\n".join(render_check(report, 80))


def test_check_sources_lines_short_and_json_whole(checked: Checked) -> None:
    """The lines name a stored batch by its short key and fit 80 columns (a URL or a path alone may run
    over); ``--json`` carries the whole key and every field of each disagreement."""
    report = checked.report_2023
    batch = "session_result?" + "&".join(f"meeting_key={key}" for key in range(1141, 1166))  # 25 meetings
    first = report.disagreements[0]
    assert first.snapshot is not None
    batched = msgspec.structs.replace(first, snapshot=msgspec.structs.replace(first.snapshot, request=batch))
    shown = render_check(msgspec.structs.replace(report, disagreements=(batched,)), 80)
    assert not [line for line in shown if batch in line]
    assert any(short_key(batch) in line for line in shown)
    whole_json = json.dumps(report_json(msgspec.structs.replace(report, disagreements=(batched,))))
    assert whole_json.count(batch) == 1
    lines = render_check(report, 80)
    assert all(len(line) <= 80 or len(line) - len(max(line.split(), key=len)) <= 30 for line in lines)
    saudi = lines.index("  2023 R2 Saudi Arabian Grand Prix, Race 7779 #1 Max Verstappen", lines.index(
        "points: points of a Race or Sprint (10)"))
    snapshot = _stored(checked.store, "session_result", 1142)
    assert lines[saudi + 1:saudi + 7] == [
        "      OpenF1    0",
        "      f1db      19",
        f"      request   {_url(7779, 1)}",
        f"      snapshot  {short_key(snapshot.request)} received "
        f"{snapshot.received_at:%Y-%m-%dT%H:%M:%SZ}",
        "      file      src/data/seasons/2023/races/02-saudi-arabia/race-results.yml",
        "                @ v2025.24.2, row 2",
    ]
    assert summary_line(report) == (
        "check 2023: 23 rounds, 56 classified sessions: 16 finding(s): points_missing 10, "
        "unflagged_unclassified 2, session_without_results 1, entrant_without_result 2, "
        "starter_without_grid 1; 33 disagreement(s) with f1db v2025.24.2: rows 1, row 2, status 2, "
        "points 10, grid 18"
    )
    assert " ".join(line.strip() for line in lines[-4:]).endswith(summary_line(report))
    data = json.loads(json.dumps(report_json(report)))
    assert data["release"] == RELEASE and data["ok"] is False
    assert data["disagreement_counts"]["points"] == 10
    assert len(data["explained"]) == 7
    whole = msgspec.convert(data["disagreements"], list[Disagreement])
    assert [d.snapshot.request for d in whole if d.snapshot] == [
        d.snapshot.request for d in report.disagreements if d.snapshot
    ]


def test_check_sources_cli_season_2023(
    checked: Checked, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`ingest check --season 2023` on the store with the release lists the Saudi and United States
    points disagreements with both sides' evidence, and none of the false alarms; exit 1; the store is
    left as it was (no decode cache written by a read-only command)."""
    monkeypatch.setenv("DATABASE_URL", checked.url)
    monkeypatch.setenv("SNAPSHOT_DIR", str(checked.store.root))
    monkeypatch.chdir(tmp_path)
    before = {p: p.stat().st_mtime_ns for p in checked.store.root.rglob("*")}
    with pytest.raises(SystemExit) as exited:
        main(["check", "--season", "2023"])
    out = capsys.readouterr().out
    assert exited.value.code == 1
    assert {p: p.stat().st_mtime_ns for p in checked.store.root.rglob("*")} == before  # read-only: no cache
    assert "      f1db      19" in out
    assert "src/data/seasons/2023/races/18-united-states/race-results.yml" in out
    assert f"      request   {_url(9213, 4)}" in out
    assert "starter_without_grid: a car that started with no starting_grid row (pit-lane start or missing " \
        "row) (1)" in out  # Ocon's 2023 Baku sprint: f1db gives no grid; Perez's pit-lane start is gone
    assert "f1db explains 7 regulation finding(s)" in out


def test_check_sources_terminal_tables_keep_each_request_whole(checked: Checked) -> None:
    """On a wide terminal: one table per disagreeing field after the findings' tables, each OpenF1 request
    whole (it is copied into reports), the f1db file named with its release."""
    import io

    from rich.console import Console

    from ingestion.cli.check import print_tables

    out = io.StringIO()
    print_tables(checked.report_2023, Console(file=out, width=200, color_system=None))
    text = out.getvalue()
    assert "f1db v2025.24.2 disagrees: points: points of a Race or Sprint (10)" in text
    for disagreement in checked.report_2023.disagreements:
        assert disagreement.request in text
    assert "2023/races/02-saudi-arabia/race-results.yml" in text and "@ v2025.24.2, row 2" in text
