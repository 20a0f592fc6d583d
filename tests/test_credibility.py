"""The one rule for answers that cannot be true (ingestion/openf1/credibility.py), on real 2024 sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_replay_support import AS_OF, FETCHED, body_of, snapshots, world_rows

from ingestion.fetch.plan import decode_meetings, decode_sessions
from ingestion.openf1.credibility import Evidence, cannot_be_true, units_with_rows
from ingestion.openf1.wire import Meeting, Session
from ingestion.replay.decoded import CANNOT_BE_TRUE, decode_snapshots
from ingestion.store import Event, address_of
from ingestion.store.coverage import Unit

NOW = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def world(world_dir: Path) -> tuple[list[Meeting], list[Session]]:
    root = world_dir / "2024"
    return (
        list(decode_meetings((root / "meetings.json").read_bytes())),
        list(decode_sessions((root / "sessions.json").read_bytes())),
    )


def test_cannot_be_true_year_lists_and_meetings(world: tuple[list[Meeting], list[Session]]) -> None:
    """An empty sessions list while the year's meetings have started, an empty meetings list while its
    sessions are known, a meeting's drivers after a session ended, results after a qualifying or race,
    a grid after a race, anything that had rows: cannot be true. Testing's results and grid, a year nobody
    has listed yet, a meeting before its first session ended: can be."""
    meetings, sessions = world
    testing = tuple(s for s in sessions if s.meeting_key == 1228)
    bahrain = tuple(s for s in sessions if s.meeting_key == 1229)
    year = "2024"
    assert cannot_be_true(Unit("sessions", "year", year), Evidence(meetings=tuple(meetings)), NOW)
    assert cannot_be_true(Unit("meetings", "year", year), Evidence(sessions=tuple(sessions)), NOW)
    assert cannot_be_true(Unit("sessions", "year", year), Evidence(), NOW) is None
    early = datetime(2023, 12, 1, tzinfo=UTC)  # before 2024's first meeting started
    assert cannot_be_true(Unit("sessions", "year", year), Evidence(meetings=tuple(meetings)), early) is None
    for endpoint in ("drivers", "session_result", "starting_grid"):
        unit = Unit(endpoint, "meeting_key", "1229")
        assert cannot_be_true(unit, Evidence(sessions=bahrain), NOW)
        first_end = min(s.date_end for s in bahrain if s.date_end is not None)
        assert cannot_be_true(unit, Evidence(sessions=bahrain), first_end - timedelta(minutes=1)) is None
    assert cannot_be_true(Unit("drivers", "meeting_key", "1228"), Evidence(sessions=testing), NOW)
    for endpoint in ("session_result", "starting_grid"):
        assert cannot_be_true(Unit(endpoint, "meeting_key", "1228"), Evidence(sessions=testing), NOW) is None
        assert cannot_be_true(Unit(endpoint, "meeting_key", "1228"), Evidence(had_rows=True), NOW)
    assert cannot_be_true(Unit("laps", "session_key", "9472"), Evidence(had_rows=True), NOW)
    assert cannot_be_true(Unit("laps", "session_key", "9472"), Evidence(), NOW) is None


def test_units_with_rows_of_a_batch_are_its_meetings_with_rows() -> None:
    """A batch holds rows for the meetings its rows name; a single request for its unit when it has any
    row; "No results found." for none."""
    body = b'[{"meeting_key":1229,"session_key":1},{"meeting_key":1231.0,"session_key":2}]'

    def event(query: str, data: bytes, status: int = 200) -> Event:
        return Event(
            run="r", seq=0, endpoint="drivers", query=query, url="u", status=status, received_at=NOW,
            address=address_of(data), size=len(data),
        )

    batch = event("meeting_key=1229&meeting_key=1230&meeting_key=1231", body)
    unit = {key: Unit("drivers", "meeting_key", key) for key in ("1229", "1231")}
    assert units_with_rows(batch, body) == {unit["1229"], unit["1231"]}
    assert units_with_rows(event("meeting_key=1229", body), body) == {unit["1229"]}
    empty = b'{"detail":"No results found."}'
    assert units_with_rows(event("meeting_key=1229", empty, 404), empty) == frozenset()


_DRIVERS_1229 = tuple(r for r in world_rows(2024, "drivers") if r["meeting_key"] == 1229)
_LISTS = [(f"/v1/{e}?year=2024", *body_of(world_rows(2024, e))) for e in ("meetings", "sessions")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(1, 20)), min_size=1, max_size=6))
def test_decoded_rows_of_a_unit_are_its_latest_answer_with_rows(history: list[int | None]) -> None:
    """Whatever the order of answers with rows (the first N of Bahrain's driver rows) and "No results
    found." for drivers?meeting_key=1229 (whose sessions ended), replay decodes exactly the rows of the
    latest answer with rows (none if there is none), never fewer; an empty latest answer is warned about
    once, naming it."""
    answers = snapshots(_LISTS)
    for day, count in enumerate(history, start=1):
        rows = _DRIVERS_1229[:count] if count else ()
        answers += snapshots(
            [("/v1/drivers?meeting_key=1229", *body_of(rows))], FETCHED + timedelta(days=day), f"r{day}"
        )
    decoded, warnings = decode_snapshots(answers, results=False, as_of=AS_OF)
    with_rows = [count for count in history if count]
    shown = _DRIVERS_1229[: with_rows[-1]] if with_rows else ()
    expected = {(r["session_key"], r["driver_number"]) for r in shown}
    assert set(decoded.drivers) == expected
    kept = [w for w in warnings if w.kind == CANNOT_BE_TRUE]
    assert len(kept) == (1 if history[-1] is None else 0)
    assert all(w.request == "drivers?meeting_key=1229" for w in kept)


def test_serve_drop_parses_and_leaves_the_meetings_rows_out() -> None:
    """`ingest serve --drop ENDPOINT:KEYS` (or `:all`) leaves those meetings' rows out of that endpoint's
    answers (404 when none is left); anything else is a usage error naming the syntax."""
    from ingestion.server import Dataset, Drop, FaultSyntaxError
    from ingestion.server._answers import answer_get

    rows = [{"meeting_key": 1, "session_key": 10}, {"meeting_key": 2, "session_key": 20}]
    data = Dataset.of({"drivers": rows, "sessions": rows})
    drop = Drop.parse("drivers:1")
    assert (drop.endpoint, drop.meetings, str(drop)) == ("drivers", frozenset({1}), "drivers:1")
    assert answer_get(data, "drivers", "", drops=(drop,)).body == b'[{"meeting_key":2,"session_key":20}]'
    assert answer_get(data, "sessions", "", drops=(drop,)).status == 200
    assert answer_get(data, "drivers", "meeting_key=1", drops=(drop,)).status == 404
    assert answer_get(data, "sessions", "", drops=(Drop.parse("sessions:all"),)).status == 404
    for bad in ("drivers", "drivers:", "drivers:x", ":1"):
        with pytest.raises(FaultSyntaxError, match="--drop"):
            Drop.parse(bad)


def test_a_meeting_start_that_cannot_be_shifted_to_utc_is_no_start() -> None:
    """A damaged meetings answer's ``0001-01-01T00:00:00+14:00`` (before year 1 in UTC; hypothesis found it
    crashing replay's normalize with OverflowError): the judgement and fetch's season plan take it as no
    start, and a good meeting beside it still counts."""
    from ingestion.fetch.season import Season, _meeting_order, season_settles_at

    damaged = decode_meetings(
        b'[{"meeting_key": 1228, "year": 2024, "date_start": "0001-01-01T00:00:00+14:00"},'
        b' {"meeting_key": 1229, "year": 2024, "date_start": "2024-02-29T11:30:00+00:00"}]'
    )
    assert damaged[0].date_start is not None  # decoded as written: the conversion is what must not fail
    assert cannot_be_true(Unit("sessions", "year", "2024"), Evidence(meetings=damaged[:1]), NOW) is None
    reason = cannot_be_true(Unit("sessions", "year", "2024"), Evidence(meetings=damaged), NOW)
    assert reason is not None and "1 meeting(s)" in reason
    season = Season(2024, meetings=damaged)
    assert season_settles_at(season) == season_settles_at(Season(2024, meetings=damaged[1:]))
    assert _meeting_order([season]) == [(2024, 1229), (2024, 1228)]  # the unknown start sorts last
