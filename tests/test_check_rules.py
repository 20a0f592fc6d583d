"""The pure checker and the regulations, without a database: example tests and hypothesis properties.

A generated classification that follows the season's regulations (contiguous positions, full points with
at most one fastest-lap point, a row for every entrant, a grid for every starter) yields no finding;
changing one points value to one the table does not give, or removing one race row, yields exactly one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingestion.ops.check import (
    Entrant,
    Round,
    Row,
    Session,
    Snapshot,
    check,
    openf1_request,
    render_check,
    with_snapshots,
)
from ingestion.regulations import FULL_RACE, FULL_SPRINT, race_scales, sprint_scales
from ingestion.replay.rows import ResultStatus, SessionType
from ingestion.store import Event, Request

START = datetime(2024, 3, 2, 15, tzinfo=UTC)


# --- the regulations ------------------------------------------------------------------------------------

def test_regulations_race_points_and_fastest_lap_by_season() -> None:
    for season in (2019, 2022, 2024):
        scales = race_scales(season)
        assert scales is not None
        assert scales[0].points == FULL_RACE and scales[0].fastest_lap
        assert scales[0].allowed(1) == (25.0, 26.0) and scales[0].allowed(11) == (0.0,)
    for season in (2018, 2025, 2026):
        scales = race_scales(season)
        assert scales is not None and scales[0].points == FULL_RACE and not scales[0].fastest_lap
    assert race_scales(2009) is None


def test_regulations_shortened_races() -> None:
    """Up to 2021 half points; from 2022 the 6/13/19-point tables (the 50-75% one keeps the fastest lap)."""
    old = race_scales(2021)
    assert old is not None
    assert [s.points[:2] for s in old] == [(25.0, 18.0), (12.5, 9.0), ()]
    new = race_scales(2023)
    assert new is not None
    assert [(s.points[:3], len(s.points), s.fastest_lap) for s in new] == [
        ((25.0, 18.0, 15.0), 10, True), ((6.0, 4.0, 3.0), 5, False), ((13.0, 10.0, 8.0), 9, False),
        ((19.0, 14.0, 12.0), 10, True), ((), 0, False),
    ]
    assert [s.fits(2) for s in new] == [True, False, False, False, True]
    assert [s.fits(3) for s in new] == [True, True, True, True, False]


def test_regulations_sprint_points() -> None:
    assert sprint_scales(2020) is None
    s2021 = sprint_scales(2021)
    s2022 = sprint_scales(2022)
    assert s2021 is not None and s2022 is not None
    assert s2021[0].points == (3.0, 2.0, 1.0) and s2022[0].points == FULL_SPRINT
    assert not s2022[0].fastest_lap


def test_openf1_request_keeps_the_order_given() -> None:
    assert openf1_request("session_result", session_key=9472, driver_number=1) == (
        "https://api.openf1.org/v1/session_result?session_key=9472&driver_number=1"
    )
    local = openf1_request("starting_grid", "http://127.0.0.1:8000/v1/", session_key=None, meeting_key=1229)
    assert local == "http://127.0.0.1:8000/v1/starting_grid?meeting_key=1229"


# --- generated classifications -------------------------------------------------------------------------

def _driver(i: int) -> tuple[str, str, int]:
    return f"Driver {i}", f"driver-{i}", i + 2


@st.composite
def rounds(draw: st.DrawFn) -> Round:
    """A round whose Race (and, from 2021, Sprint) follow the season's regulations exactly."""
    season = draw(st.integers(2019, 2026))
    cars = draw(st.integers(3, 22))
    sessions = [
        Session(
            key=100, type=SessionType.Qualifying, completed=True, start=START,
            rows=tuple(
                Row(driver=_driver(i)[0], slug=_driver(i)[1], number=_driver(i)[2], position=i + 1,
                    status=ResultStatus.Finished, points=None, laps=12, grid=None)
                for i in range(cars)
            ),
        )
    ]
    kinds = [SessionType.Race] + ([SessionType.Sprint] if season >= 2021 and draw(st.booleans()) else [])
    for n, kind in enumerate(kinds):
        scales = race_scales(season) if kind == SessionType.Race else sprint_scales(season)
        assert scales is not None
        full = scales[0]
        order = draw(st.permutations(range(cars)))
        classified = draw(st.integers(2, cars))
        laps = draw(st.integers(3, 70))
        fastest = draw(st.sampled_from([None, *range(min(classified, 10))])) if full.fastest_lap else None
        rows = []
        for place, i in enumerate(order):
            name, slug, number = _driver(i)
            if place < classified:
                points = full.for_position(place + 1) + (1 if place == fastest else 0)
                status, position, car_laps = ResultStatus.Finished, place + 1, laps
            else:
                status = draw(st.sampled_from([ResultStatus.DNF, ResultStatus.DNS, ResultStatus.DSQ]))
                position, points, car_laps = None, 0.0, draw(st.integers(0, laps))
            grid = None if status == ResultStatus.DNS else place + 1
            rows.append(Row(driver=name, slug=slug, number=number, position=position, status=status,
                            points=points, laps=car_laps, grid=grid))
        # the grid: the starters in some order, 1..n
        grid_order = draw(st.permutations([r for r in rows if r.grid is not None]))
        slots = {r.slug: g + 1 for g, r in enumerate(grid_order)}
        rows = [msgspec.structs.replace(r, grid=slots.get(r.slug)) for r in rows]
        sessions.append(Session(key=200 + n, type=kind, completed=True, start=START + timedelta(days=1 + n),
                                rows=tuple(rows)))
    if SessionType.Sprint in kinds:
        sessions.append(Session(key=300, type=SessionType.SprintQualifying, completed=True,
                                start=START - timedelta(days=1), rows=sessions[0].rows))
    entrants = tuple(
        Entrant(driver=_driver(i)[0], slug=_driver(i)[1], number=_driver(i)[2]) for i in range(cars)
    )
    return Round(season=season, number=1, name="Generated Grand Prix", meeting_key=1,
                 sessions=tuple(sessions), entrants=entrants)


def _race(rnd: Round) -> tuple[int, Session]:
    return next((i, s) for i, s in enumerate(rnd.sessions) if s.type == SessionType.Race)


def _with_race(rnd: Round, rows: tuple[Row, ...]) -> Round:
    i, race = _race(rnd)
    sessions = list(rnd.sessions)
    sessions[i] = msgspec.structs.replace(race, rows=rows)
    return msgspec.structs.replace(rnd, sessions=tuple(sessions))


@settings(max_examples=150, deadline=None)
@given(rounds())
def test_check_consistent_classification_has_no_finding(rnd: Round) -> None:
    report = check([rnd])
    assert report.findings == (), render_check(report)
    assert report.exit_code == 0


@settings(max_examples=150, deadline=None)
@given(rounds(), st.data())
def test_check_one_wrong_points_value_is_one_finding(rnd: Round, data: st.DataObject) -> None:
    _, race = _race(rnd)
    scored = [i for i, r in enumerate(race.rows) if r.position is not None and r.position <= 10]
    i = data.draw(st.sampled_from(scored))
    row = race.rows[i]
    scales = race_scales(rnd.season)
    assert scales is not None and row.position is not None
    # a value no table gives, a missing one, or the value a shortened-race table gives that position
    full = scales[0].allowed(row.position)
    others = [v for s in scales[1:] for v in s.allowed(row.position) if v not in full]
    wrong = data.draw(st.sampled_from([0.0, None, (row.points or 0.0) + 2.5, *others]))
    rows = list(race.rows)
    rows[i] = msgspec.structs.replace(row, points=wrong)
    report = check([_with_race(rnd, tuple(rows))])
    (finding,) = report.findings
    assert finding.kind == ("points_missing" if not wrong else "points_off_table")
    assert (finding.session, finding.driver_number) == ("Race", row.number)
    assert finding.request == openf1_request("session_result", session_key=race.key, driver_number=row.number)


@settings(max_examples=150, deadline=None)
@given(rounds(), st.data())
def test_check_one_removed_race_row_is_one_finding(rnd: Round, data: st.DataObject) -> None:
    _, race = _race(rnd)
    i = data.draw(st.integers(0, len(race.rows) - 1))
    gone = race.rows[i]
    report = check([_with_race(rnd, race.rows[:i] + race.rows[i + 1:])])
    (finding,) = report.findings
    assert (finding.kind, finding.driver, finding.driver_number) == (
        "entrant_without_result", gone.driver, gone.number
    )


def test_check_points_sum_two_fastest_lap_points() -> None:
    """Every row is plausible alone, but two drivers have the fastest-lap point: one points_sum finding."""
    rows = tuple(
        Row(driver=f"D{p}", slug=f"d{p}", number=p, position=p, status=ResultStatus.Finished,
            points=FULL_RACE[p - 1] + (1 if p in (1, 2) else 0) if p <= 10 else 0.0, laps=50, grid=p)
        for p in range(1, 21)
    )
    rnd = Round(season=2024, number=3, name="Test GP", meeting_key=9,
                sessions=(Session(key=5, type=SessionType.Race, completed=True, start=START, rows=rows),))
    (finding,) = check([rnd]).findings
    assert (finding.kind, finding.expected, finding.openf1) == (
        "points_sum", "101 (+1 for the fastest lap) in all (full points, 2024 Art. 6.4)", "103 in all"
    )
    assert finding.request == "https://api.openf1.org/v1/session_result?session_key=5"


def test_check_shortened_race_scale_is_accepted_and_named() -> None:
    """A 2023 race scored on the 50-75% table is consistent; one wrong value is judged on that table."""
    table = (19.0, 14.0, 12.0, 9.0, 8.0, 6.0, 5.0, 3.0, 2.0, 1.0)
    rows = [
        Row(driver=f"D{p}", slug=f"d{p}", number=p, position=p, status=ResultStatus.Finished,
            points=table[p - 1] if p <= 10 else 0.0, laps=30, grid=p)
        for p in range(1, 21)
    ]
    race = Session(key=5, type=SessionType.Race, completed=True, start=START, rows=tuple(rows))
    rnd = Round(season=2023, number=3, name="Test GP", meeting_key=9, sessions=(race,))
    assert check([rnd]).findings == ()
    rows[2] = msgspec.structs.replace(rows[2], points=0.0)
    rows[0] = msgspec.structs.replace(rows[0], points=25.0)  # a winner with full points: outvoted by 8 rows
    rnd = msgspec.structs.replace(rnd, sessions=(msgspec.structs.replace(race, rows=tuple(rows)),))
    kinds = [(f.kind, f.driver_number) for f in check([rnd]).findings]
    assert kinds == [("points_off_table", 1), ("points_missing", 3)]
    (finding,) = [f for f in check([rnd]).findings if f.driver_number == 3]
    assert finding.kind == "points_missing"
    assert finding.expected == (
        "12 (P3, reduced points (shortened race: 50% to less than 75% of the distance), 2023 Art. 6.5; "
        "13 with the fastest lap)"
    )


@pytest.mark.parametrize(
    ("positions", "kind"),
    [((1, 2, 2, 4), "position_duplicate"), ((1, 2, 4, 5), "position_gap")],
)
def test_check_classification_shape(positions: tuple[int, ...], kind: str) -> None:
    rows = tuple(
        Row(driver=f"D{i}", slug=f"d{i}", number=i, position=p, status=ResultStatus.Finished, points=None,
            laps=None, grid=None)
        for i, p in enumerate(positions)
    )
    quali = Session(key=5, type=SessionType.Qualifying, completed=True, start=START, rows=rows)
    rnd = Round(season=2024, number=1, name="Test GP", meeting_key=9, sessions=(quali,))
    (finding,) = check([rnd]).findings
    assert finding.kind == kind


def test_check_sprint_without_grid_is_one_finding() -> None:
    rows = tuple(
        Row(driver=f"D{p}", slug=f"d{p}", number=p, position=p, status=ResultStatus.Finished,
            points=FULL_SPRINT[p - 1] if p <= 8 else 0.0, laps=19, grid=None)
        for p in range(1, 21)
    )
    sq = Session(key=4, type=SessionType.SprintQualifying, completed=True, start=START, rows=())
    sprint = Session(key=5, type=SessionType.Sprint, completed=True, start=START + timedelta(hours=20),
                     rows=rows)
    rnd = Round(season=2025, number=2, name="Test GP", meeting_key=9, sessions=(sq, sprint))
    kinds = [(f.kind, f.session_key, f.request) for f in check([rnd]).findings]
    assert kinds == [
        ("session_without_results", 4, "https://api.openf1.org/v1/session_result?session_key=4"),
        ("grid_missing", 5, "https://api.openf1.org/v1/starting_grid?session_key=4"),
    ]


def test_regulations_winner_points_name_one_scale() -> None:
    """No two scales of a season give the winner the same points, so a right winner tells the scale."""
    for season in range(2010, 2027):
        for scales in (race_scales(season), sprint_scales(season)):
            if scales is None:
                continue
            values = [v for s in scales for v in (s.allowed(1) if s.points else (0.0,))]
            assert len(values) == len(set(values)), (season, values)


def _event(url: str, at: datetime, status: int = 200) -> Event:
    request = Request.from_url(url)
    return Event(
        run="r", seq=0, endpoint=request.endpoint, query=request.query, url=f"http://x/v1/{request.key}",
        status=status, received_at=at, address="a" * 64, size=2,
    )


def test_with_snapshots_names_the_newest_answer_covering_the_meeting() -> None:
    """A batch (meeting keys OR'd) newer than the meeting's own request is the one that shows it; other
    endpoints, other meetings and failed answers are not evidence."""
    rows = tuple(
        Row(driver=f"D{p}", slug=f"d{p}", number=p, position=p, status=ResultStatus.Finished,
            points=0.0 if p == 2 else (FULL_RACE[p - 1] if p <= 10 else 0.0), laps=50, grid=p)
        for p in range(1, 21)
    )
    race = Session(key=7779, type=SessionType.Race, completed=True, start=START, rows=rows)
    report = check([Round(season=2023, number=2, name="Saudi", meeting_key=1142, sessions=(race,))])
    events = [
        _event("session_result?meeting_key=1142", START),
        _event("session_result?meeting_key=1141&meeting_key=1142", START + timedelta(days=1)),
        _event("session_result?meeting_key=1143", START + timedelta(days=2)),
        _event("drivers?meeting_key=1142", START + timedelta(days=3)),
        _event("session_result?meeting_key=1142&meeting_key=1150", START + timedelta(days=4), status=500),
    ]
    (finding,) = with_snapshots(report, {e.key: e for e in events}).findings
    assert finding.snapshot == Snapshot(
        request="session_result?meeting_key=1141&meeting_key=1142",
        received_at=START + timedelta(days=1), address="a" * 64,
    )
    (bare,) = with_snapshots(report, {}).findings
    assert bare.snapshot is None
