"""``ingest check`` on the committed snapshots (2023 and 2024), replayed once into a test database.

Every named case is a real fault of OpenF1's data, verified against ``../shared/openf1/world`` (the rows
the snapshots were fetched from): each test asserts the finding's full row, and one test asks every
finding's request of ``ingest serve`` over those rows and checks that the answer shows what it says.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
from committed import openf1_fixture
from conftest import DbFactory

from ingestion.cli import main
from ingestion.db import connect
from ingestion.ops.audit import audit
from ingestion.ops.check import (
    PUBLIC_BASE_URL,
    CheckReport,
    Finding,
    summary_line,
)
from ingestion.ops.check.read import check_database, read_rounds
from ingestion.replay.run import run_replay
from ingestion.server import ServerConfig, load_rows, start_server
from ingestion.store import Store

Conn = psycopg.Connection[tuple[object, ...]]
SNAPSHOTS = openf1_fixture()  # the committed store's OpenF1 2023 + 2024 (tests/committed.py)


def _stored(endpoint: str, meeting_key: int) -> str:
    """The committed store's newest answer of ``endpoint`` asked for ``meeting_key`` (alone, or OR'd with
    other meetings in a batch): its request key."""
    held = [
        e for e in Store(SNAPSHOTS).latest().values()
        if e.endpoint == endpoint and ("meeting_key", str(meeting_key)) in e.request.params()
    ]
    return max(held, key=lambda e: (e.received_at, e.run, e.seq)).key


#: The stored answer holding 2023 Saudi Arabia's results.
SAUDI = _stored("session_result", 1142)


@pytest.fixture(scope="module")
def replayed_url(db_factory: DbFactory) -> str:
    """One database holding the committed snapshots (results included), for the whole module."""
    url = db_factory()
    run_replay(url, Store(SNAPSHOTS), datetime.now(UTC), results=True)
    return url


@pytest.fixture(scope="module")
def report_2023(replayed_url: str) -> CheckReport:
    with connect(replayed_url, autocommit=True) as conn:
        return check_database(conn, 2023)


@pytest.fixture(scope="module")
def report_2024(replayed_url: str) -> CheckReport:
    with connect(replayed_url, autocommit=True) as conn:
        return check_database(conn, 2024)


def _find(report: CheckReport, kind: str, session_key: int, number: int | None = None) -> list[Finding]:
    return [
        f for f in report.findings
        if f.kind == kind and f.session_key == session_key and (number is None or f.driver_number == number)
    ]


def _url(session_key: int, number: int | None = None, endpoint: str = "session_result") -> str:
    tail = f"&driver_number={number}" if number is not None else ""
    return f"https://api.openf1.org/v1/{endpoint}?session_key={session_key}{tail}"


def test_check_saudi_arabia_2023_verstappen_second_with_no_points(report_2023: CheckReport) -> None:
    """OpenF1 gives Verstappen, P2 in the 2023 Saudi Arabian GP, 0 points (officially 18 + 1)."""
    assert _find(report_2023, "points_missing", 7779) == [
        Finding(
            kind="points_missing", season=2023, round=2, round_name="Saudi Arabian Grand Prix",
            session="Race", session_key=7779, driver="Max Verstappen", driver_number=1,
            expected="18 (P2, full points, 2023 Art. 6.4; 19 with the fastest lap)",
            openf1="0 (P2)",
            request=_url(7779, 1), meeting_key=1142,
        )
    ]


def test_check_united_states_2023_places_2_to_10_with_no_points(report_2023: CheckReport) -> None:
    """2023 United States GP: everyone from P2 to P10 has 0 points; P1 has its 25; the sum is not
    reported again (the rows say it)."""
    found = _find(report_2023, "points_missing", 9213)
    assert [(f.driver_number, f.expected.split(" (")[0], f.openf1) for f in found] == [
        (4, "18", "0 (P2)"), (55, "15", "0 (P3)"), (11, "12", "0 (P4)"), (63, "10", "0 (P5)"),
        (10, "8", "0 (P6)"), (18, "6", "0 (P7)"), (22, "4", "0 (P8)"), (23, "2", "0 (P9)"),
        (2, "1", "0 (P10)"),
    ]
    assert found[0] == Finding(
        kind="points_missing", season=2023, round=18, round_name="United States Grand Prix",
        session="Race", session_key=9213, driver="Lando Norris", driver_number=4,
        expected="18 (P2, full points, 2023 Art. 6.4; 19 with the fastest lap)", openf1="0 (P2)",
        request=_url(9213, 4), meeting_key=1222,
    )
    assert not [f for f in report_2023.findings if f.session_key == 9213 and f.kind.startswith("points_")
                and f.kind != "points_missing"]


def test_check_united_states_2023_unflagged_disqualifications(report_2023: CheckReport) -> None:
    """Hamilton and Leclerc, disqualified after the 2023 United States GP, are 'not classified' in OpenF1
    (position null, dsq false) although they covered every lap: both readings are said."""
    found = _find(report_2023, "unflagged_unclassified", 9213)
    assert [(f.driver, f.driver_number, f.request) for f in found] == [
        ("Charles Leclerc", 16, _url(9213, 16)),
        ("Lewis Hamilton", 44, _url(9213, 44)),
    ]
    hamilton = found[1]
    assert hamilton.expected == "a position, or a dnf/dns/dsq flag saying why there is none"
    assert hamilton.openf1 == (
        "position null with dnf, dns and dsq all false: 'not classified' or an unflagged disqualification; "
        "it completed 56 of the winner's 56 laps (90% classifies a car), so most likely a disqualification"
    )


def test_check_belgium_2024_russell_unflagged_disqualification(report_2024: CheckReport) -> None:
    """Russell, first on the road at Spa 2024 and disqualified (car underweight), is stored as NC."""
    (found,) = _find(report_2024, "unflagged_unclassified", 9574)
    assert (found.season, found.round, found.round_name, found.session) == (
        2024, 14, "Belgian Grand Prix", "Race"
    )
    assert (found.driver, found.driver_number, found.request) == ("George Russell", 63, _url(9574, 63))
    assert "completed 44 of the winner's 44 laps" in found.openf1


def test_check_monaco_2024_qualifying_unflagged_disqualifications(report_2024: CheckReport) -> None:
    """The Haas pair, disqualified from 2024 Monaco qualifying, have no position and no flag."""
    found = _find(report_2024, "unflagged_unclassified", 9519)
    assert [(f.session, f.driver, f.driver_number) for f in found] == [
        ("Qualifying", "Kevin Magnussen", 20), ("Qualifying", "Nico Hulkenberg", 27),
    ]


def test_check_belgium_2023_qualifying_has_no_results(report_2023: CheckReport) -> None:
    """2023 Belgian qualifying (session 9135) has no session_result row, though its grid exists."""
    assert _find(report_2023, "session_without_results", 9135) == [
        Finding(
            kind="session_without_results", season=2023, round=12, round_name="Belgian Grand Prix",
            session="Qualifying", session_key=9135, driver=None, driver_number=None,
            expected="the classification of a completed session",
            openf1="no row (404 No results found), while the round's other sessions have 80; "
            "its starting_grid gives 20 cars",
            request=_url(9135), meeting_key=1216,
        )
    ]


def test_check_singapore_2023_stroll_non_starter_has_no_row(report_2023: CheckReport) -> None:
    """Stroll withdrew from the 2023 Singapore GP after his qualifying crash: no race row at all."""
    assert _find(report_2023, "entrant_without_result", 9165) == [
        Finding(
            kind="entrant_without_result", season=2023, round=15, round_name="Singapore Grand Prix",
            session="Race", session_key=9165, driver="Lance Stroll", driver_number=18,
            expected="a row for every regular entrant of the round (a non-starter as DNS); 20 entrants",
            openf1="no row for #18 Lance Stroll; 19 rows",
            request=_url(9165, 18), meeting_key=1219,
        )
    ]


def test_check_baku_2023_sprint_sargeant_has_no_row(report_2023: CheckReport) -> None:
    """Sargeant did not start the 2023 Azerbaijan sprint: OpenF1 has no row for him."""
    (found,) = _find(report_2023, "entrant_without_result", 9069)
    assert (found.session, found.driver, found.driver_number, found.request) == (
        "Sprint", "Logan Sargeant", 2, _url(9069, 2)
    )
    assert found.openf1 == "no row for #2 Logan Sargeant; 19 rows"


def test_check_pit_lane_starts_have_no_grid_row(report_2023: CheckReport) -> None:
    """Pérez and Bottas started the 2023 Australian GP from the pit lane: starting_grid (filed under
    qualifying, 7783) cannot say so and has 18 cars."""
    found = _find(report_2023, "starter_without_grid", 7787)
    assert [(f.driver_number, f.request) for f in found] == [
        (11, _url(7783, 11, "starting_grid")), (77, _url(7783, 77, "starting_grid")),
    ]
    assert "18 cars on the grid, 20 started" in found[0].openf1


def test_check_bahrain_2024_has_no_finding(report_2024: CheckReport) -> None:
    """Rounds known to be right (2024 Bahrain, race 9472, qualifying 9468) give nothing."""
    assert [f for f in report_2024.findings if f.round == 1] == []
    assert [f for f in report_2024.findings if f.session_key in (9468, 9472)] == []


def test_check_counts_per_season(report_2023: CheckReport, report_2024: CheckReport) -> None:
    """The whole of both seasons, kind by kind (every finding is one of the cases above or their kin)."""
    assert (report_2023.seasons, report_2023.rounds, report_2023.sessions) == ((2023,), 23, 56)
    assert report_2023.counts() == {
        "points_missing": 10, "unflagged_unclassified": 6, "session_without_results": 1,
        "entrant_without_result": 2, "starter_without_grid": 4,
    }
    assert report_2024.counts() == {"unflagged_unclassified": 5}
    assert report_2024.exit_code == 1


def test_check_every_request_shows_its_finding(
    report_2023: CheckReport, report_2024: CheckReport, world_dir: Path
) -> None:
    """Each finding's request, asked of `ingest serve` over the real rows, answers what it says: the row
    with the value said, or 404 where a row is missing."""
    config = ServerConfig(per_second=0, per_minute=0)
    rows = load_rows([world_dir / "2023", world_dir / "2024"])
    with start_server(rows, config) as server, httpx.Client() as client:
        for finding in (*report_2023.findings, *report_2024.findings):
            assert finding.request.startswith(PUBLIC_BASE_URL + "/")
            answer = client.get(server.base_url + finding.request.removeprefix(PUBLIC_BASE_URL))
            if finding.kind in ("session_without_results", "entrant_without_result", "starter_without_grid"):
                assert answer.status_code == 404, finding
                continue
            assert answer.status_code == 200, finding
            (row,) = answer.json()
            if finding.kind == "points_missing":
                assert row["points"] == 0 and f"(P{row['position']})" in finding.openf1
            if finding.kind == "unflagged_unclassified":
                assert row["position"] is None
                assert (row["dnf"], row["dns"], row["dsq"]) == (False, False, False)


def test_check_read_rounds_typed_rows(replayed_url: str) -> None:
    """The query layer gives typed rounds: sessions with their rows, regular entrants with numbers."""
    with connect(replayed_url, autocommit=True) as conn:
        rounds = read_rounds(conn, 2023)
    singapore = next(r for r in rounds if r.number == 15)
    assert (singapore.season, singapore.name, singapore.meeting_key) == (2023, "Singapore Grand Prix", 1219)
    race = next(s for s in singapore.sessions if s.key == 9165)
    assert len(race.rows) == 19 and race.rows[0].driver == "Carlos Sainz" and race.rows[0].points == 25
    assert ("lance-stroll", 18) in {(e.slug, e.number) for e in singapore.entrants}


def _received(request: str) -> str:
    return Store(SNAPSHOTS).latest()[request].received_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_check_snapshots_hold_what_each_finding_says(replayed_url: str) -> None:
    """With the store, each finding names the stored answer that shows it; that body (the real bytes
    OpenF1 sent) holds the row as the finding says, or lacks it."""
    store = Store(SNAPSHOTS)
    with connect(replayed_url, autocommit=True) as conn:
        report = check_database(conn, None, store=store)
    assert report.findings and all(f.snapshot is not None for f in report.findings)
    latest = store.latest()
    for finding in report.findings:
        assert finding.snapshot is not None
        event = latest[finding.snapshot.request]
        assert (event.address, event.received_at) == (finding.snapshot.address, finding.snapshot.received_at)
        body = json.loads(store.read_event(event)) if event.status == 200 else []
        endpoint = finding.request.removeprefix(PUBLIC_BASE_URL + "/").split("?")[0]
        assert finding.snapshot.request.startswith(f"{endpoint}?")
        key = int(finding.request.split("session_key=")[1].split("&")[0])
        rows = [r for r in body if r["session_key"] == key
                and (finding.driver_number is None or r["driver_number"] == finding.driver_number)]
        if finding.kind in ("session_without_results", "entrant_without_result", "starter_without_grid"):
            assert rows == [], finding
        else:
            assert rows, finding
    saudi = next(f for f in report.findings if f.session_key == 7779)
    assert saudi.snapshot is not None and saudi.snapshot.request == SAUDI


def test_check_without_a_store_folder_names_no_snapshot(replayed_url: str, tmp_path: Path) -> None:
    with connect(replayed_url, autocommit=True) as conn:
        report = check_database(conn, 2023, store=Store(tmp_path / "absent"))
    assert report.findings and all(f.snapshot is None for f in report.findings)


def _run(argv: list[str], url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
         tmp_path: Path) -> tuple[int, str, str]:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SNAPSHOT_DIR", str(SNAPSHOTS))
    monkeypatch.chdir(tmp_path)  # no stray .env
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), out.out, out.err


def test_check_cli_season_2023_lists_findings_with_requests(
    replayed_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = _run(["check", "--season", "2023"], replayed_url, monkeypatch, capsys, tmp_path)
    assert code == 1
    lines = out.splitlines()
    saudi = lines.index("  2023 R2 Saudi Arabian Grand Prix, Race 7779 #1 Max Verstappen")
    assert lines[saudi + 1:saudi + 5] == [
        "      expected  18 (P2, full points, 2023 Art. 6.4; 19 with the fastest lap)",
        "      OpenF1    0 (P2)",
        f"      request   {_url(7779, 1)}",
        f"      snapshot  {SAUDI} received {_received(SAUDI)}",
    ]
    for request in (_url(9213, 4), _url(9213, 44), _url(9213, 16), _url(9135), _url(9165, 18)):
        assert f"      request   {request}" in lines
    assert lines[-1] == (
        "check 2023: 23 rounds, 56 classified sessions: 23 finding(s): points_missing 10, "
        "unflagged_unclassified 6, session_without_results 1, entrant_without_result 2, "
        "starter_without_grid 4"
    )


def test_check_cli_json_gives_the_same(
    replayed_url: str, report_2023: CheckReport, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    code, out, _ = _run(["check", "--season", "2023", "--json"], replayed_url, monkeypatch, capsys, tmp_path)
    assert code == 1
    data = json.loads(out)
    assert data["ok"] is False and data["seasons"] == [2023] and data["counts"] == report_2023.counts()
    assert len(data["findings"]) == len(report_2023.findings) == 23
    event = Store(SNAPSHOTS).latest()[SAUDI]
    assert data["findings"][1] == {
        "kind": "points_missing", "season": 2023, "round": 2, "round_name": "Saudi Arabian Grand Prix",
        "session": "Race", "session_key": 7779, "driver": "Max Verstappen", "driver_number": 1,
        "expected": "18 (P2, full points, 2023 Art. 6.4; 19 with the fastest lap)", "openf1": "0 (P2)",
        "request": _url(7779, 1), "meeting_key": 1142,
        "snapshot": {
            "request": SAUDI,
            "received_at": event.received_at.isoformat().replace("+00:00", "Z"),
            "address": event.address,
        },
    }


def test_check_cli_clean_exits_0(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A database with nothing to find (no round yet) exits 0 and says so."""
    code, out, _ = _run(["check"], db_url, monkeypatch, capsys, tmp_path)
    assert code == 0
    assert out.splitlines() == ["check (no round in the database): no finding"]


@pytest.mark.parametrize(
    ("season", "says"),
    [("1949", "--season 1949: OpenF1 has data from 2023 on"), ("2025", "--season 2025: no round of 2025")],
)
def test_check_cli_season_it_cannot_check_exits_2(
    season: str, says: str, replayed_url: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    """A season OpenF1 has no data for (1949, as fetch refuses it) or with no round in the database is a
    usage error (exit 2, one line), never "no finding" about rounds that were not checked."""
    code, out, err = _run(["check", "--season", season], replayed_url, monkeypatch, capsys, tmp_path)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {says}") and len(err.splitlines()) == 1


def test_check_cli_unmigrated_database_is_one_line(
    empty_db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _run(["check"], empty_db_url, monkeypatch, capsys, tmp_path)
    assert code == 1 and out == ""
    assert err.startswith("error: the database lacks the racing tables") and "ingest db migrate" in err
    assert len(err.splitlines()) == 1


def test_check_is_a_section_of_db_audit(replayed_url: str) -> None:
    """`db audit` reports the check's counts per kind as a section; they are not integrity problems."""
    with connect(replayed_url, autocommit=True) as conn:
        report = audit(conn)
    assert report.regulations == {
        "points_missing": 10, "unflagged_unclassified": 11, "session_without_results": 1,
        "entrant_without_result": 2, "starter_without_grid": 4,
    }
    assert report.ok


def test_check_app_database_gives_the_same_findings(db_factory: DbFactory, report_2023: CheckReport) -> None:
    """On the app's own (EF Core named) database the check reads the same rows through the table specs
    and finds the same 2023 findings."""
    url = db_factory("ef")
    run_replay(url, Store(SNAPSHOTS), datetime.now(UTC), results=True)
    with connect(url, autocommit=True) as conn:
        report = check_database(conn, 2023)
    assert report == report_2023


def test_check_terminal_tables_keep_each_request_whole(report_2023: CheckReport) -> None:
    """On a terminal: one rich table per kind, the request never folded (it is copied into reports)."""
    from rich.console import Console

    from ingestion.cli.check import print_tables

    out = io.StringIO()
    print_tables(report_2023, Console(file=out, width=160, color_system=None))
    text = out.getvalue()
    assert "points_missing: classified in the points with 0 or null points (10)" in text
    for finding in report_2023.findings:
        assert finding.request in text
    tail = text.rstrip().splitlines()[-2:]  # the summary, wrapped at the console's 160 columns
    assert " ".join(x.strip() for x in tail) == summary_line(report_2023)
