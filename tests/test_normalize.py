"""normalize: the rules of docs/replay.md, checked on the real OpenF1 world data (pure: no database)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_replay_support import (
    AS_OF,
    CHAMPIONSHIP_2024,
    EDGE,
    FETCHED,
    Answer,
    body_of,
    snapshots,
    world_answers,
    world_rows,
)

from ingestion.replay import Racing, Replayed, normalize
from ingestion.replay.identity import Sighting, assign_identities, make_id, unique_slugs
from ingestion.replay.rows import DriverRole, ResultStatus, SessionStatus, SessionType
from ingestion.replay.values import local_end_date


@pytest.fixture(scope="module")
def both() -> Replayed:
    return normalize(snapshots(world_answers(2023) + world_answers(2024)), AS_OF, results=True)


def _season(racing: Racing, year: int) -> set[object]:
    season = next(s for s in racing.seasons if s.year == year)
    return {r.id for r in racing.rounds if r.season_id == season.id}


def _driver(racing: Racing, last: str, first: str | None = None) -> list[object]:
    return [d for d in racing.drivers if d.last_name == last and (first is None or d.first_name == first)]


def test_normalize_2024_has_25_rounds_testing_zero(both: Replayed) -> None:
    """2024: 25 rounds, pre-season testing is round 0 and the grands prix are 1..24 in date order."""
    racing = both.racing
    rounds = sorted((r for r in racing.rounds if r.id in _season(racing, 2024)), key=lambda r: r.date_start)
    assert len(rounds) == 25
    assert [r.round_number for r in rounds] == list(range(25))
    assert rounds[0].slug == "2024-pre-season-testing"
    assert [r.slug for r in rounds if r.name == "São Paulo Grand Prix"] == ["2024-sao-paulo-grand-prix"]


def test_normalize_las_vegas_rounds_end_on_the_local_day_of_the_race(both: Replayed) -> None:
    """Real rows: both Las Vegas races end at 08:00Z with gmt_offset -08:00, i.e. at local midnight: the round
    ends on the Saturday the race started (not the next day); it starts on the local day of Practice 1."""
    rounds = both.racing.rounds
    vegas = {r.open_f1_meeting_key: (r.date_start, r.date_end) for r in rounds if "Vegas" in r.name}
    assert vegas == {
        1225: (date(2023, 11, 16), date(2023, 11, 18)),
        1250: (date(2024, 11, 21), date(2024, 11, 23)),
    }


def test_local_end_date_midnight_belongs_to_the_day_it_started() -> None:
    """An end exactly at local midnight is the day before; a second later is the next day; never before the
    start's day (a zero-length session at midnight)."""
    start = datetime(2023, 11, 19, 6, tzinfo=UTC)
    assert local_end_date(start, datetime(2023, 11, 19, 8, tzinfo=UTC), "-08:00:00") == date(2023, 11, 18)
    later = datetime(2023, 11, 19, 8, 0, 1, tzinfo=UTC)
    assert local_end_date(start, later, "-08:00:00") == date(2023, 11, 19)
    midnight = datetime(2023, 11, 19, 8, tzinfo=UTC)
    assert local_end_date(midnight, midnight, "-08:00:00") == date(2023, 11, 19)


def test_normalize_2024_has_123_sessions_all_typed(both: Replayed) -> None:
    """2024: 123 sessions, every session name known (no unknown-name warning), all Completed long after."""
    racing = both.racing
    ids = _season(racing, 2024)
    sessions = [s for s in racing.sessions if s.round_id in ids]
    assert len(sessions) == 123
    assert not [w for w in both.warnings if w.kind == "session_unknown_name"]
    assert {s.status for s in sessions} == {SessionStatus.Completed}
    counts = Counter(SessionType(s.type) for s in sessions)
    assert counts[SessionType.Sprint] == 6 and counts[SessionType.SprintQualifying] == 6
    assert counts[SessionType.Race] == 24 and counts[SessionType.Qualifying] == 24


def test_normalize_2024_points_match_the_championship(both: Replayed) -> None:
    """Per-driver 2024 points summed over results equal the official drivers' championship."""
    racing = both.racing
    ids = _season(racing, 2024)
    drivers = {d.id: d for d in racing.drivers}
    entrants = {e.id: e for e in racing.entrants}
    points: Counter[str | None] = Counter()
    for result in racing.results:
        entrant = entrants[result.entrant_id]
        if entrant.round_id in ids and result.points:
            points[drivers[entrant.driver_id].abbreviation] += result.points
    assert {k: points[k] for k in CHAMPIONSHIP_2024} == CHAMPIONSHIP_2024


def test_normalize_2023_has_23_rounds_without_imola(both: Replayed) -> None:
    """2023: 23 rounds; Imola (cancelled that year, absent from OpenF1) is not one of them."""
    racing = both.racing
    rounds = [r for r in racing.rounds if r.id in _season(racing, 2023)]
    assert len(rounds) == 23
    assert not [r for r in rounds if "emilia" in r.slug or "imola" in r.slug]


def test_normalize_hungary_2023_has_the_20_f1_entrants(both: Replayed) -> None:
    """2023 Hungary: feeder-series rows of FP1 (session 9223) skipped; exactly 20 entrants, Ricciardo in."""
    racing = both.racing
    hungary = next(r for r in racing.rounds if r.slug == "2023-hungarian-grand-prix")
    drivers = {d.id: d for d in racing.drivers}
    names = {drivers[e.driver_id].last_name for e in racing.entrants if e.round_id == hungary.id}
    assert len([e for e in racing.entrants if e.round_id == hungary.id]) == 20
    assert "Ricciardo" in names and "Verstappen" in names
    assert not {"Aron", "Bortoleto", "Montoya", "Edgar"} & {
        d.last_name for d in racing.drivers if d.last_name
    }
    skipped = [w for w in both.warnings if w.request == "drivers?meeting_key=1215"]
    assert len(skipped) == 30 and {w.kind for w in skipped} == {"driver_without_team", "driver_name_mismatch"}
    assert all(w.row is not None for w in skipped)


def test_normalize_bearman_38_and_50_is_one_driver(both: Replayed) -> None:
    """Bearman as 38 (Ferrari) and 50 (Haas) is one driver with an alias for 38; current number 50."""
    racing = both.racing
    [bearman] = _driver(racing, "Bearman")
    assert bearman.driver_number == 50
    aliases = {(a.alias_slug, a.driver_number) for a in racing.driver_aliases if a.driver_id == bearman.id}
    assert aliases == {("oliver-bearman-38", 38)}
    teams = {t.id: t.name for t in racing.teams}
    assert {teams[e.team_id] for e in racing.entrants if e.driver_id == bearman.id} == {
        "Ferrari",
        "Haas F1 Team",
    }


def test_normalize_colapinto_43_and_45_is_one_driver(both: Replayed) -> None:
    """Colapinto as 43 and 45 is one driver."""
    [colapinto] = _driver(both.racing, "Colapinto")
    assert colapinto.driver_number == 43
    assert [a.driver_number for a in both.racing.driver_aliases if a.driver_id == colapinto.id] == [45]


def test_normalize_lawson_is_one_driver_and_40_is_two_people(both: Replayed) -> None:
    """Lawson as 40 (2023) and 30 (2024) is one driver; 40 in 2024 is Iwasa, another driver."""
    racing = both.racing
    [lawson] = _driver(racing, "Lawson")
    [iwasa] = _driver(racing, "Iwasa")
    assert lawson.id != iwasa.id
    assert lawson.driver_number == 30 and iwasa.driver_number == 40
    assert [a.driver_number for a in racing.driver_aliases if a.driver_id == lawson.id] == [40]
    assert not [a for a in racing.driver_aliases if a.driver_id == iwasa.id]


def test_normalize_antonelli_name_variants_are_one_driver() -> None:
    """ "Andrea Kimi ANTONELLI" then "Kimi ANTONELLI" is one driver named by the latest row, with an alias.

    The first row is OpenF1's real 2024 row; the second is the same real row as OpenF1 wrote it later
    (README: "Kimi ANTONELLI"), placed in a later real 2024 session of the same meeting.
    """
    rows = [dict(r) for r in world_rows(2024, "drivers") if r["last_name"] == "Antonelli"]
    assert len(rows) == 2
    later = dict(rows[1], first_name="Kimi", full_name="Kimi ANTONELLI", broadcast_name="K ANTONELLI")
    meeting = rows[0]["meeting_key"]
    answers = [
        ("/v1/meetings?year=2024", *body_of(world_rows(2024, "meetings"))),
        ("/v1/sessions?year=2024", *body_of(world_rows(2024, "sessions"))),
        (f"/v1/drivers?meeting_key={meeting}", *body_of([rows[0], later])),
    ]
    assert rows[0]["session_key"] != rows[1]["session_key"]
    racing = normalize(snapshots(answers), AS_OF, results=False).racing
    [antonelli] = _driver(racing, "Antonelli")
    sessions = {s.open_f1_session_key: s.start_time_utc for s in racing.sessions}
    latest_is_kimi = sessions[rows[1]["session_key"]] > sessions[rows[0]["session_key"]]  # type: ignore[index]
    assert (antonelli.first_name == "Kimi") is latest_is_kimi
    assert [a.alias_name for a in racing.driver_aliases if a.driver_id == antonelli.id] == [
        "Andrea Kimi Antonelli" if latest_is_kimi else "Kimi Antonelli"
    ]


def _with_drivers(answers: tuple[Answer, ...], change: Callable[[dict[str, Any]], None]) -> list[Answer]:
    """The answers with every driver row passed through ``change`` (in place)."""
    out = []
    for path, status, body in answers:
        if path.startswith("/v1/drivers?") and status == 200:
            rows = json.loads(body)
            for row in rows:
                change(row)
            out.append((path, *body_of(rows)))
        else:
            out.append((path, status, body))
    return out


def test_normalize_two_people_sharing_surname_and_acronym_are_two_drivers() -> None:
    """Never two people in one row: Arthur Leclerc written as LEC (Charles's acronym) is still another driver.

    Real 2024 rows; Arthur's acronym (LEL) changed to LEC. Both Leclercs are in Abu Dhabi FP1 (session 9461)
    for Ferrari: two entrants, and both results are kept (Charles P1, Arthur P18).
    """

    def arthur_as_lec(row: dict[str, Any]) -> None:
        if row["first_name"] == "Arthur" and row["last_name"] == "Leclerc":
            row["name_acronym"] = "LEC"

    replayed = normalize(snapshots(_with_drivers(world_answers(2024), arthur_as_lec)), AS_OF, results=True)
    racing = replayed.racing
    leclercs = {d.first_name: d for d in _driver(racing, "Leclerc")}
    assert set(leclercs) == {"Charles", "Arthur"}
    assert leclercs["Charles"].id == make_id("driver", "leclerc/LEC")  # the earlier person keeps the key
    assert leclercs["Arthur"].driver_number == 39 and leclercs["Charles"].driver_number == 16
    fp1 = next(s for s in racing.sessions if s.open_f1_session_key == 9461)
    entrants = {e.id: e for e in racing.entrants}
    positions = {
        entrants[r.entrant_id].driver_id: r.position for r in racing.results if r.session_id == fp1.id
    }
    assert positions[leclercs["Charles"].id] == 1 and positions[leclercs["Arthur"].id] == 18
    assert not [w for w in replayed.warnings if w.kind == "result_duplicate"]


def test_normalize_acronym_change_keeps_one_driver() -> None:
    """One person, one row: Lawson's acronym changed from LAW to LWS in later meetings is still one driver."""

    def lawson_renamed(row: dict[str, Any]) -> None:
        if row["last_name"] == "Lawson" and row["meeting_key"] >= 1250:
            row["name_acronym"] = "LWS"

    answers = _with_drivers(world_answers(2024), lawson_renamed)
    racing = normalize(snapshots(answers), AS_OF, results=False).racing
    [lawson] = _driver(racing, "Lawson")
    assert lawson.id == make_id("driver", "lawson/LAW") and lawson.slug == "liam-lawson"
    assert lawson.abbreviation == "LWS"  # the latest
    rounds = {e.round_id for e in racing.entrants if e.driver_id == lawson.id}
    assert len(rounds) == 6  # 2024 meetings 1247..1252


_SIGHTINGS = [
    Sighting(str(r["first_name"]), str(r["last_name"]), r["name_acronym"], int(r["session_key"]), FETCHED)  # type: ignore[arg-type, call-overload]
    for y in (2023, 2024)
    for r in world_rows(y, "drivers")
    if r["team_name"] and r["first_name"] and r["last_name"]
][::7]


@settings(max_examples=25, deadline=None)
@given(st.permutations(range(len(_SIGHTINGS))), st.sets(st.integers(0, len(_SIGHTINGS) - 1), max_size=40))
def test_assign_identities_ignore_input_order(perm: list[int], blank: set[int]) -> None:
    """Each row's identity key depends on the rows, never on their order (some acronyms blanked)."""
    rows = [s._replace(acronym=None) if i in blank else s for i, s in enumerate(_SIGHTINGS)]
    keys = assign_identities(rows)
    shuffled = assign_identities([rows[i] for i in perm])
    assert [keys[i] for i in perm] == shuffled
    # in 2023-2024 a first and last name is one person: one key per name, one name per key
    people = {(key, s.first, s.last) for key, s in zip(keys, rows, strict=True)}
    assert len(people) == len({key for key, _, _ in people}) == len({(f, last) for _, f, last in people})


def test_normalize_results_mapping_on_real_rows(both: Replayed) -> None:
    """Qualifying times as 1:29.708 with the best in ms; lapped gaps as +1 Lap; grid from qualifying."""
    racing = both.racing
    sessions = {s.id: s for s in racing.sessions}
    quali = [r for r in racing.results if sessions[r.session_id].type == SessionType.Qualifying]
    pole = next(r for r in quali if r.q3_time == "1:29.179")  # VER, Bahrain 2024 (real row: 89.179)
    assert pole.time_milliseconds == 89179 and pole.points is None and pole.time is None
    races = [
        r for r in racing.results if sessions[r.session_id].type in (SessionType.Race, SessionType.Sprint)
    ]
    assert {r.status_detail for r in races} >= {"+1 Lap", "+2 Laps", None}
    assert sum(1 for r in races if r.grid_position is not None) > 0.9 * len(races)
    assert all(r.q1_time is None for r in races)
    assert all(r.fastest_lap is False for r in racing.results)
    winner_2024_bahrain = [r for r in races if r.position == 1 and r.time is not None]
    assert all(
        r.time_milliseconds == round(r.time.total_seconds() * 1000) for r in winner_2024_bahrain if r.time
    )


def test_normalize_results_only_after_sessions_end() -> None:
    """As of mid-2024 only the sessions that ended have results; later sessions are Scheduled."""
    as_of = datetime(2024, 7, 1, tzinfo=UTC)
    racing = normalize(snapshots(world_answers(2024)), as_of, results=True).racing
    started = {s.id for s in racing.sessions if s.start_time_utc < as_of}
    assert racing.results and {r.session_id for r in racing.results} <= started
    assert {s.status for s in racing.sessions if s.start_time_utc > as_of} == {SessionStatus.Scheduled}


def test_normalize_session_status_at_as_of_and_cancelled() -> None:
    """Status from as_of: Completed after date_end, InProgress between, Scheduled before; is_cancelled wins.

    As of 16:00 UTC on 2 March 2024 the Bahrain race (9472, 15:00-17:00) is running: InProgress and no
    results yet, while the qualifying the day before is Completed with its results. FP1 (9465), flagged
    is_cancelled, is Cancelled although it ended long before.
    """
    as_of = datetime(2024, 3, 2, 16, 0, tzinfo=UTC)
    sessions = [dict(s) for s in world_rows(2024, "sessions")]
    for row in sessions:
        if row["session_key"] == 9465:
            row["is_cancelled"] = True
    answers = [
        (path, *body_of(sessions)) if path == "/v1/sessions?year=2024" else (path, status, body)
        for path, status, body in world_answers(2024)
    ]
    racing = normalize(snapshots(answers), as_of, results=True).racing
    status = {s.open_f1_session_key: SessionStatus(s.status) for s in racing.sessions}
    assert status[9472] == SessionStatus.InProgress
    assert status[9465] == SessionStatus.Cancelled
    assert status[9468] == SessionStatus.Completed  # qualifying, 1 March
    ends = {row["session_key"]: datetime.fromisoformat(str(row["date_end"])) for row in sessions}
    starts = {row["session_key"]: datetime.fromisoformat(str(row["date_start"])) for row in sessions}
    assert (
        len(status) == 123 and Counter(status.values())[SessionStatus.Completed] == 6
    )  # testing x3, FP2, FP3, Q
    for key in set(status) - {9465, 9472}:
        assert status[key] == (SessionStatus.Completed if ends[key] <= as_of else SessionStatus.Scheduled)
        assert starts[key] > as_of or ends[key] <= as_of
    with_results = {
        s.open_f1_session_key for s in racing.sessions if s.id in {r.session_id for r in racing.results}
    }
    assert 9468 in with_results and 9472 not in with_results


def test_normalize_result_status_flags_and_unflagged_disqualification(both: Replayed) -> None:
    """DSQ from the flag (Hulkenberg, Brazil 2024); NC when the position is null and no flag says why.

    OpenF1 lists Russell's 2024 Belgian GP disqualification with all three flags false: NC, position null,
    0 points (the real row); Hamilton and Leclerc at Austin 2023 likewise.
    """
    racing = both.racing
    sessions = {s.id: s for s in racing.sessions}
    rounds = {r.id: r.slug for r in racing.rounds}
    entrants = {e.id: e for e in racing.entrants}
    drivers = {d.id: d.abbreviation for d in racing.drivers}
    races = {
        (rounds[sessions[r.session_id].round_id], drivers[entrants[r.entrant_id].driver_id]): r
        for r in racing.results
        if sessions[r.session_id].type == SessionType.Race
    }
    russell = races[("2024-belgian-grand-prix", "RUS")]
    assert (russell.status, russell.position, russell.points) == (ResultStatus.NC, None, 0.0)
    assert races[("2024-sao-paulo-grand-prix", "HUL")].status == ResultStatus.DSQ
    assert {races[("2023-united-states-grand-prix", d)].status for d in ("HAM", "LEC")} == {ResultStatus.NC}
    assert races[("2024-belgian-grand-prix", "HAM")].status == ResultStatus.Finished


def test_normalize_grid_from_qualifying_for_race_and_sprint_qualifying_for_sprint(both: Replayed) -> None:
    """China 2024: the Sprint starts from Sprint Qualifying's grid (Norris on pole), the Race from
    Qualifying's (Verstappen on pole); 2023's Sprint Shootout gives the sprint grid the same way."""
    racing = both.racing
    sessions = {s.id: s for s in racing.sessions}
    rounds = {r.id: r.slug for r in racing.rounds}
    entrants = {e.id: e for e in racing.entrants}
    drivers = {d.id: d.abbreviation for d in racing.drivers}
    poles = {
        (rounds[sessions[r.session_id].round_id], SessionType(sessions[r.session_id].type)): drivers[
            entrants[r.entrant_id].driver_id
        ]
        for r in racing.results
        if r.grid_position == 1
    }
    assert poles[("2024-chinese-grand-prix", SessionType.Sprint)] == "NOR"
    assert poles[("2024-chinese-grand-prix", SessionType.Race)] == "VER"
    assert not {kind for _, kind in poles} - {SessionType.Race, SessionType.Sprint}
    assert ("2023-azerbaijan-grand-prix", SessionType.Sprint) in poles  # from the Sprint Shootout


def test_normalize_no_results_flag_gives_no_results() -> None:
    """results=False: no result rows at all, whatever the snapshots hold."""
    replayed = normalize(snapshots(world_answers(2024)), AS_OF, results=False)
    assert replayed.racing.results == () and len(replayed.racing.sessions) == 123


def test_normalize_roles_test_fp1only_regular(both: Replayed) -> None:
    """Testing rounds give Test entrants; practice-only drivers Fp1Only; racers Regular."""
    racing = both.racing
    testing = {r.id for r in racing.rounds if r.round_number == 0}
    assert {e.role for e in racing.entrants if e.round_id in testing} == {DriverRole.Test}
    drivers = {d.id: d for d in racing.drivers}
    fp1 = {drivers[e.driver_id].last_name for e in racing.entrants if e.role == DriverRole.Fp1Only}
    assert {"Iwasa", "Hirakawa", "Browning"} <= fp1


def test_normalize_team_colour_is_upper_hex_without_hash(both: Replayed) -> None:
    """Team colours are six upper-case hex digits, without '#'."""
    colours = [t.primary_color for t in both.racing.teams]
    assert all(c is not None and len(c) == 6 and c == c.upper() and "#" not in c for c in colours)


def test_normalize_is_deterministic_whatever_the_snapshot_order(both: Replayed) -> None:
    """The same snapshots given in another order give the same rows and ids."""
    reversed_snapshots = list(reversed(snapshots(world_answers(2023) + world_answers(2024))))
    again = normalize(reversed_snapshots, AS_OF, results=True)
    assert again.racing == both.racing


def _edge(name: str) -> bytes:
    return next(EDGE.glob(f"{name}*")).read_bytes()


def test_normalize_exact_duplicate_driver_row_counts_once() -> None:
    """Issue #408: an exact duplicate row for one driver in one session gives one driver and one entrant."""
    body = _edge("drivers_session11230")
    rows = json.loads(body)
    session = {
        "session_key": 11230,
        "meeting_key": 1279,
        "session_name": "Race",
        "date_start": "2025-10-26T20:00:00+00:00",
        "date_end": "2025-10-26T22:00:00+00:00",
    }
    meeting = json.loads(_edge("meetings_1282"))[0] | {
        "meeting_key": 1279,
        "meeting_name": "Mexico City Grand Prix",
    }
    answers = [
        ("/v1/meetings?year=2025", *body_of([meeting])),
        ("/v1/sessions?year=2025", *body_of([session])),
        ("/v1/drivers?meeting_key=1279", 200, body),
    ]
    racing = normalize(snapshots(answers), AS_OF, results=False).racing
    assert len(rows) == 2 and len(racing.drivers) == 1 and len(racing.entrants) == 1


def test_normalize_driver_under_two_teams_keeps_one_row_deterministically() -> None:
    """Issue #461: Lawson twice in one session under two teams: one entrant, the same in any order."""
    body = _edge("drivers_session11353")
    rows = json.loads(body)
    session = {
        "session_key": 11353,
        "meeting_key": 1292,
        "session_name": "Practice 1",
        "date_start": "2026-01-01T10:00:00+00:00",
        "date_end": "2026-01-01T11:00:00+00:00",
    }
    meeting = json.loads(_edge("meetings_1282"))[0] | {"meeting_key": 1292}
    base = [("/v1/meetings?year=2026", *body_of([meeting])), ("/v1/sessions?year=2026", *body_of([session]))]
    picks = []
    for order in (rows, rows[::-1]):
        racing = normalize(
            snapshots([*base, ("/v1/drivers?meeting_key=1292", *body_of(order))]), AS_OF, results=False
        ).racing
        assert len(racing.entrants) == 1 and len(racing.drivers) == 1
        picks.append((racing.entrants, racing.teams))
    assert picks[0] == picks[1]


def test_normalize_2026_meeting_schema_and_pre_rename_sprint() -> None:
    """Issue #367 (2026 meetings: date_end, no meeting_code) and #303 (SQ typed as Sprint Shootout)."""
    meeting = _edge("meetings_1282")
    session = json.loads(_edge("sessions_9841"))[0]
    qatar = dict(json.loads(meeting)[0], meeting_key=1275, year=2025, meeting_name="Qatar Grand Prix")
    answers = [
        ("/v1/meetings?year=2026", 200, meeting),
        ("/v1/meetings?year=2025", *body_of([qatar])),
        ("/v1/sessions?year=2025", *body_of([session])),
    ]
    racing = normalize(snapshots(answers), AS_OF, results=False).racing
    [bahrain] = [r for r in racing.rounds if r.open_f1_meeting_key == 1282]
    assert bahrain.slug == "2026-bahrain-grand-prix" and bahrain.round_number == 1
    assert (bahrain.date_start.isoformat(), bahrain.date_end.isoformat()) == ("2026-04-10", "2026-04-12")
    [sq] = racing.sessions
    assert sq.type == SessionType.SprintQualifying and sq.open_f1_session_key == 9841


def test_normalize_cancelled_meeting_keeps_its_round_with_a_warning() -> None:
    """A meeting with is_cancelled (2026 schema; the real #367 row, flagged) stays a round, numbered like
    any other (issue 21: no duplicate round number once it is cancelled), with a warning."""
    meeting = dict(json.loads(_edge("meetings_1282"))[0], is_cancelled=True)
    replayed = normalize(snapshots([("/v1/meetings?year=2026", *body_of([meeting]))]), AS_OF, results=False)
    assert [(r.open_f1_meeting_key, r.round_number) for r in replayed.racing.rounds] == [(1282, 1)]
    assert [w.kind for w in replayed.warnings] == ["meeting_cancelled"]


def test_normalize_later_snapshot_of_a_key_wins() -> None:
    """Issue #420: a result later corrected; the later snapshot of the same request replaces the earlier.
    A later "No results found." for it cannot be true (it had rows): the earlier rows stay, with a warning
    naming the empty answer (issue 21: no detected fault deletes data)."""
    early = snapshots([("/v1/session_result?session_key=11299", 200, _edge("session_result_11299"))])
    [corrected] = json.loads(_edge("session_result_11299"))
    late = snapshots(
        [("/v1/session_result?session_key=11299", 200, json.dumps([dict(corrected, position=4)]).encode())],
        when=FETCHED.replace(year=2026),
        run="later",
    )
    empty = snapshots(
        [("/v1/session_result?session_key=11299", 404, b'{"detail":"No results found."}')],
        when=FETCHED.replace(year=2027),
        run="empty",
    )
    from ingestion.replay.decoded import decode_snapshots

    decoded, _ = decode_snapshots(early + late, results=True)
    [(row, _origin)] = decoded.results[(11299, 6)]
    assert row.position == 4
    decoded, warnings = decode_snapshots(early + late + empty, results=True)
    [(row, _origin)] = decoded.results[(11299, 6)]
    assert row.position == 4
    [warning] = warnings
    assert warning.kind == "answer_cannot_be_true" and warning.request == "session_result?session_key=11299"
    decoded, _ = decode_snapshots(early, results=True)
    [(row, _origin)] = decoded.results[(11299, 6)]
    assert row.position == 3 and row.points == 15


def test_normalize_unknown_session_name_is_never_guessed() -> None:
    """A session whose name is not one of the known ones is skipped with a warning, never stored as a Race."""
    sessions = [dict(s) for s in world_rows(2024, "sessions") if s["meeting_key"] == 1229]
    sessions[0]["session_name"] = "Day 4"
    answers = [
        ("/v1/meetings?year=2024", *body_of(world_rows(2024, "meetings"))),
        ("/v1/sessions?year=2024", *body_of(sessions)),
    ]
    replayed = normalize(snapshots(answers), AS_OF, results=False)
    assert len(replayed.racing.sessions) == len(sessions) - 1
    assert [w.kind for w in replayed.warnings] == ["session_unknown_name"]


def test_unique_slugs_suffix_in_order() -> None:
    """Two meetings with one name in a season: the later one gets -2 (2026's two pre-season tests)."""
    assert unique_slugs(["2026-pre-season-testing", "2026-x", "2026-pre-season-testing"]) == [
        "2026-pre-season-testing",
        "2026-x",
        "2026-pre-season-testing-2",
    ]
