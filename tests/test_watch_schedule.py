"""The watch schedule is a pure function of (stored calendar, stored events, options, now): hypothesis
properties over the real 2023 and 2024 calendars of ../shared/openf1/world."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingestion.fetch.plan import (
    SETTLE,
    Season,
    decode_meetings,
    decode_sessions,
    meeting_ends,
    meeting_request,
    year_requests,
)
from ingestion.openf1.wire import Session
from ingestion.store.model import Event, Request
from ingestion.watch.schedule import (
    CORRECTIONS,
    ClosedWindows,
    Schedule,
    Step,
    WatchOptions,
    Window,
    closed_now,
    closed_windows,
    due_step,
    meeting_steps,
    next_step,
    next_wake,
    schedule,
)

WORLD = Path(__file__).resolve().parents[2] / "shared" / "openf1" / "world"
ADDRESS = "0" * 64
ENDPOINTS = ("drivers", "session_result", "starting_grid")


def _season(year: int) -> Season:
    folder = WORLD / str(year)
    if not folder.is_dir():
        pytest.skip(f"{folder} is not there", allow_module_level=True)
    return Season(
        year,
        decode_meetings((folder / "meetings.json").read_bytes()),
        decode_sessions((folder / "sessions.json").read_bytes()),
    )


SEASONS = {year: _season(year) for year in (2023, 2024)}
ALL = list(SEASONS.values())
SESSIONS: list[tuple[int, Session]] = [
    (year, s) for year, season in SEASONS.items() for s in season.sessions if s.date_start and s.date_end
]


def _event(request: Request, received_at: datetime) -> Event:
    return Event(
        run="20240101T000000Z-000000", seq=0, endpoint=request.endpoint, query=request.query,
        url=f"/v1/{request.key}", status=200, received_at=received_at, address=ADDRESS, size=2,
    )


def _requests(season: Season) -> list[Request]:
    keys = {s.meeting_key for s in season.sessions}
    return [*year_requests(season.year), *(meeting_request(e, m) for m in sorted(keys) for e in ENDPOINTS)]


@st.composite
def _world(draw: st.DrawFn) -> tuple[datetime, dict[str, Event]]:
    """An instant in 2023-2024 and a store whose requests were answered (or not) at random times before it."""
    year = draw(st.sampled_from([2023, 2024]))
    start = datetime(year, 1, 1, tzinfo=UTC)
    now = start + timedelta(minutes=draw(st.integers(0, 366 * 24 * 60 - 1)))
    requests = _requests(SEASONS[year])
    answered = draw(st.lists(st.tuples(st.sampled_from(requests), st.integers(0, 60 * 24 * 40)), max_size=40))
    if draw(st.booleans()):  # a store that holds everything, answered a day ago, plus the drawn answers
        answered = [(request, 60 * 24) for request in requests] + answered
    return now, {request.key: _event(request, now - timedelta(minutes=age)) for request, age in answered}


def _answer(latest: Mapping[str, Event], plan: Schedule, now: datetime) -> dict[str, Event]:
    answered = dict(latest)
    for due in plan.due:
        answered[due.key] = _event(due.planned.request, now)
    return answered


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(SESSIONS), st.data())
def test_schedule_nothing_due_during_a_live_window_without_credentials(
    picked: tuple[int, Session], data: st.DataObject
) -> None:
    _, session = picked
    assert session.date_start is not None and session.date_end is not None
    options = WatchOptions()
    start, end = session.date_start - options.live_margin, session.date_end + options.live_margin
    now = start + timedelta(seconds=data.draw(st.integers(0, int((end - start).total_seconds()) - 1)))
    _, latest = data.draw(_world())
    plan = schedule(ALL, latest, options, now)
    assert plan.due == ()
    assert plan.closed is not None
    assert plan.next_wake > now


def test_schedule_with_credentials_live_windows_stay_open() -> None:
    race = next(s for _, s in SESSIONS if s.session_name == "Race" and s.year == 2024)
    assert race.date_start is not None
    now = race.date_start + timedelta(minutes=30)
    free = schedule(ALL, {}, WatchOptions(), now)
    paid = schedule(ALL, {}, WatchOptions(paid=True), now)
    assert free.due == () and free.closed is not None
    assert paid.closed is None
    assert {"meetings?year=2024", "sessions?year=2024"} <= set(paid.due_keys)


@settings(max_examples=150, deadline=None)
@given(_world(), st.booleans(), st.booleans())
def test_schedule_wake_ups_move_forward_and_due_is_answered_once(
    world: tuple[datetime, dict[str, Event]], paid: bool, results: bool
) -> None:
    now, latest = world
    options = WatchOptions(paid=paid, results=results)
    plan = schedule(ALL, latest, options, now)
    assert now < plan.next_wake <= now + options.max_sleep
    assert all(step.at > now for step in plan.upcoming)
    assert len(set(plan.due_keys)) == len(plan.due)
    if not results:
        assert not any(k.startswith(("session_result", "starting_grid")) for k in plan.due_keys)
    again = schedule(ALL, _answer(latest, plan, now), options, now)
    assert again.due == ()  # everything due was answered by asking it once
    later = schedule(ALL, _answer(latest, plan, now), options, plan.next_wake)
    assert later.next_wake > plan.next_wake


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(ALL), st.data())
def test_schedule_a_settled_meeting_is_never_due(season: Season, data: st.DataObject) -> None:
    ends = meeting_ends([season])
    meeting_key = data.draw(st.sampled_from(sorted(ends)))
    settles_at = ends[meeting_key] + SETTLE
    received = settles_at + timedelta(minutes=data.draw(st.integers(1, 60 * 24 * 30)))
    now = received + timedelta(minutes=data.draw(st.integers(0, 60 * 24 * 400)))
    _, latest = data.draw(_world())
    for endpoint in ENDPOINTS:
        request = meeting_request(endpoint, meeting_key)
        latest[request.key] = _event(request, received)
    plan = schedule(ALL, latest, WatchOptions(paid=data.draw(st.booleans())), now)
    assert not [d for d in plan.due if d.planned.meeting_key == meeting_key]
    assert not [s for s in plan.upcoming if s.key.endswith(f"meeting_key={meeting_key}")]


def _simulate(
    season: Season, meeting_key: int, options: WatchOptions, start: datetime, stop: datetime
) -> dict[str, list[datetime]]:
    """A watcher that wakes when told and answers everything due at once: when each request was asked."""
    latest = {r.key: _event(r, start) for r in _requests(season)}
    for endpoint in ENDPOINTS:
        latest.pop(meeting_request(endpoint, meeting_key).key)
    asked: dict[str, list[datetime]] = {}
    now = start
    while now <= stop:
        plan = schedule([season], latest, options, now)
        for due in plan.due:
            asked.setdefault(due.key, []).append(now)
        latest = _answer(latest, plan, now)
        assert plan.next_wake > now
        now = plan.next_wake
    return asked


@settings(max_examples=15, deadline=None)
@given(st.sampled_from(ALL), st.data())
def test_schedule_every_ended_sessions_meeting_is_due_once_per_step(
    season: Season, data: st.DataObject
) -> None:
    ends = meeting_ends([season])
    meeting_key = data.draw(st.sampled_from(sorted(ends)))
    options = WatchOptions(max_sleep=timedelta(days=1), paid=data.draw(st.booleans()))
    sessions = [s for s in season.sessions if s.meeting_key == meeting_key]
    first = min(s.date_start for s in sessions if s.date_start is not None)
    start = first - timedelta(days=2)
    stop = ends[meeting_key] + SETTLE + timedelta(days=3)
    asked = _simulate(season, meeting_key, options, start, stop)
    windows = [] if options.paid else closed_windows([season], options.live_margin)

    def opened(at: datetime) -> datetime:
        return next((w.end for w in windows if w.start <= at < w.end), at)

    for endpoint in ENDPOINTS:
        key = meeting_request(endpoint, meeting_key).key
        steps = meeting_steps(meeting_key, sessions, endpoint, options, settles_at=ends[meeting_key] + SETTLE)
        expected = sorted({opened(s.at) for s in steps if start < opened(s.at) <= stop})
        assert asked.get(key, []) == expected, endpoint
    result = asked[meeting_request("session_result", meeting_key).key]
    assert len(result) >= len(CORRECTIONS) + 1  # after the last session: every correction, then settled


def test_schedule_first_start_asks_the_lists_then_every_ended_meeting() -> None:
    season = SEASONS[2024]
    now = datetime(2024, 12, 8, 18, 0, tzinfo=UTC)  # Abu Dhabi's race ended at 15:00 (+ 30 min closed)
    cold = schedule([], {}, WatchOptions(), now)
    assert cold.due_keys == ["meetings?year=2024", "sessions?year=2024"]
    lists = {r.key: _event(r, now) for r in year_requests(2024)}
    plan = schedule([season], lists, WatchOptions(), now)
    # every ended meeting: the 23 settled ones in one batch per endpoint, Qatar and Abu Dhabi one by one
    assert sum(len(d.planned.units()) for d in plan.due) == 3 * len(meeting_ends([season]))
    assert len(plan.due) == 3 + 3 * 2
    assert plan.next_wake == now + timedelta(hours=1)
    no_results = schedule([season], lists, WatchOptions(results=False), now)
    assert {d.planned.request.endpoint for d in no_results.due} == {"drivers"}


def test_schedule_corrections_follow_the_race_then_stop() -> None:
    season = SEASONS[2024]
    abu_dhabi = 1252
    end = meeting_ends([season])[abu_dhabi]
    options = WatchOptions(max_sleep=timedelta(hours=6))
    asked = _simulate(season, abu_dhabi, options, end - timedelta(days=3), end + timedelta(days=20))
    result = asked["session_result?meeting_key=1252"]
    assert result[-7:] == [
        end + options.live_margin,  # the race's end + 15 min falls in its closed window: at its end
        *(end + delta for delta in CORRECTIONS),
        end + SETTLE + timedelta(minutes=1),  # the settling answer; nothing after it
    ]
    assert len(result) == 5 + len(CORRECTIONS) + 1  # FP1, FP2, FP3, qualifying, race; corrections; settled
    assert asked["drivers?meeting_key=1252"][-1] == end + SETTLE + timedelta(minutes=1)


def test_schedule_a_known_gap_of_a_settled_meeting_is_due_alone_after_its_back_off() -> None:
    """Issue 21: a settled meeting whose drivers answer is "No results found." although its sessions ended
    (a gap) is due alone once fetch's back-off is over (1 h after the run that got it), never before; the
    other meetings stay settled."""
    from ingestion.fetch.plan import Rowless, Stored
    from ingestion.store.coverage import units_of

    season = SEASONS[2024]
    received = datetime(2024, 11, 4, 9, tzinfo=UTC)  # a quiet Monday; Bahrain (1229) long settled
    latest = {r.key: _event(r, received) for r in _requests(season)}
    gap = meeting_request("drivers", 1229)
    empty = Event(
        run="20241104T090000Z-000001", seq=0, endpoint="drivers", query=gap.query, url=f"/v1/{gap.key}",
        status=404, received_at=received, address="1" * 64, size=30,
    )
    latest[gap.key] = empty
    stored = Stored(rowless={units_of("drivers", gap.query)[0]: Rowless((empty,), had_rows=True)})
    before = schedule([season], latest, WatchOptions(), received + timedelta(minutes=59), stored=stored)
    assert [d.key for d in before.due if d.planned.phase == 2] == []
    after = schedule([season], latest, WatchOptions(), received + timedelta(hours=1), stored=stored)
    assert [(d.key, d.planned.reason) for d in after.due if d.planned.phase == 2] == [(gap.key, "empty")]


# --- the small steps of schedule() ------------------------------------------------------------------------

T0 = datetime(2024, 12, 8, 12, tzinfo=UTC)


def _steps(*hours: float) -> list[Step]:
    return [Step(T0 + timedelta(hours=h), "drivers?meeting_key=1252", f"step {h}") for h in hours]


def test_schedule_due_step_is_the_last_passed_step_after_the_answer() -> None:
    """A request is due for its last passed step that its latest answer came before; an answer after it
    (or no passed step) leaves it not due; a never-asked request is due for its last passed step."""
    open_all = ClosedWindows([])
    steps = _steps(1, 2, 5)
    now = T0 + timedelta(hours=3)
    assert due_step(steps, None, open_all, now) == steps[1]
    assert due_step(steps, T0 + timedelta(hours=1, minutes=30), open_all, now) == steps[1]
    assert due_step(steps, T0 + timedelta(hours=2, minutes=1), open_all, now) is None
    assert due_step(steps, None, open_all, T0) is None


def test_schedule_next_step_is_the_first_after_now_moved_out_of_windows() -> None:
    """The next step is the first one after ``now``; one inside a closed window moves to the window's end
    (and a passed step moved past ``now`` by a window is still to come, not due)."""
    steps = _steps(1, 2, 5)
    now = T0 + timedelta(hours=1, minutes=30)
    assert next_step(steps, ClosedWindows([]), now) == steps[1]
    window = Window(T0 + timedelta(minutes=30), T0 + timedelta(hours=4), "2024 Abu Dhabi Grand Prix, Race")
    closed = ClosedWindows([window])
    moved = next_step(steps, closed, now)
    assert moved is not None and moved.at == window.end and moved.why == "step 1"
    assert due_step(steps, None, closed, now) is None


def test_schedule_next_wake_is_capped_and_waits_for_a_closed_window() -> None:
    """The wake-up is the earliest step to come, at most ``max_sleep`` away; in a closed window, its end
    (capped the same way); with nothing to come, ``now + max_sleep``."""
    hour = timedelta(hours=1)
    steps = _steps(0.5, 3)
    assert next_wake(steps, None, T0, hour) == steps[0].at
    assert next_wake(steps[1:], None, T0, hour) == T0 + hour
    assert next_wake((), None, T0, hour) == T0 + hour
    window = Window(T0, T0 + timedelta(minutes=20), "race")
    assert next_wake(steps, window, T0, hour) == window.end


def test_schedule_closed_now_extends_to_a_live_block() -> None:
    """Outside every window nothing is closed; a live 401 met closes everything until ``blocked_until``,
    even inside a window that ends sooner; a block already over changes nothing."""
    window = Window(T0, T0 + timedelta(minutes=30), "2024 Abu Dhabi Grand Prix, Race")
    windows = ClosedWindows([window])
    assert closed_now(windows, T0 - timedelta(minutes=1)) is None
    assert closed_now(windows, T0 + timedelta(minutes=1)) == window
    later = T0 + timedelta(hours=2)
    assert closed_now(windows, T0 + timedelta(minutes=1), later) == Window(
        T0 + timedelta(minutes=1), later, window.session
    )
    block = closed_now(ClosedWindows([]), T0, later)
    assert block is not None and block.end == later and block.session == "a live session (401)"
    assert closed_now(ClosedWindows([]), T0, T0 - timedelta(minutes=1)) is None
