"""The fetch plan as a pure function of the store's contents, the options and `now` (hypothesis)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingestion.fetch.plan import (
    MAX_BATCH,
    MAX_PATH,
    REVALIDATE_DAYS,
    SETTLE,
    FetchOptions,
    FetchUsageError,
    PlannedRequest,
    Season,
    batch_request,
    decode_meetings,
    decode_sessions,
    meeting_ends,
    meeting_request,
    plan,
    split_batches,
    validate,
    year_requests,
    years_for,
)
from ingestion.openf1.wire import Meeting, Session
from ingestion.store import Event

RESULTS = {"session_result", "starting_grid"}
UTC0 = datetime(2023, 1, 1, tzinfo=UTC)
#: The plan one request per meeting, no automatic revalidation: what the oracle below describes.
PER_MEETING = {"batch": False, "revalidate_days": None}


def _meetings(planned: list[PlannedRequest]) -> set[int]:
    """The meetings a plan's phase 2 asks about, per meeting or in batches."""
    return {int(unit.value) for p in planned for unit in p.units()}


def _event(key: str, received_at: datetime) -> Event:
    endpoint, _, query = key.partition("?")
    return Event(
        run="20240101T000000Z-aaaaaa",
        seq=0,
        endpoint=endpoint,
        query=query,
        url=f"http://x/v1/{key}",
        status=200,
        received_at=received_at,
        address="0" * 64,
        size=2,
    )


@st.composite
def seasons(draw: st.DrawFn) -> list[Season]:
    """One or two consecutive years of meetings, each with 1-5 sessions over a few days."""
    first = draw(st.integers(2023, 2025))
    result = []
    key = 1000
    for year in range(first, first + draw(st.integers(1, 2))):
        meetings, sessions = [], []
        for _ in range(draw(st.integers(0, 6))):
            key += 1
            start = datetime(year, 1, 1, tzinfo=UTC) + timedelta(hours=draw(st.integers(0, 364 * 24)))
            meetings.append(Meeting(meeting_key=key, year=year, date_start=start))
            for s in range(draw(st.integers(1, 5))):
                begin = start + timedelta(hours=s * 20)
                end = begin + timedelta(hours=draw(st.integers(1, 3))) if draw(st.booleans()) else None
                sessions.append(
                    Session(
                        session_key=key * 10 + s, meeting_key=key, year=year, date_start=begin, date_end=end
                    )
                )
        result.append(Season(year, tuple(meetings), tuple(sessions)))
    return result


def _session_end(session: Session) -> datetime:
    assert session.date_start is not None
    return session.date_end or session.date_start + timedelta(hours=2)


def _candidates(
    season_list: list[Season], options: FetchOptions, now: datetime
) -> dict[str, datetime | None]:
    """Every request the options could need -> the time after which its answers are final (an oracle)."""
    wanted: dict[str, datetime | None] = {}
    years = years_for(options, now)
    for season in season_list:
        if season.year not in years:
            continue
        ends: dict[int, datetime] = {}
        for session in season.sessions:
            end = _session_end(session)
            ends[session.meeting_key] = max(end, ends.get(session.meeting_key, end))
        for meeting_key, end in ends.items():
            ended = any(_session_end(s) <= now for s in season.sessions if s.meeting_key == meeting_key)
            if not ended:
                continue
            endpoints = ["drivers", "session_result", "starting_grid"] if options.results else ["drivers"]
            for endpoint in endpoints:
                wanted[meeting_request(endpoint, meeting_key).key] = end + SETTLE
    for year in years:
        season = next((s for s in season_list if s.year == year), Season(year))
        last = max([_session_end(s) for s in season.sessions], default=datetime(year, 1, 1, tzinfo=UTC))
        for request in year_requests(year):
            wanted[request.key] = max(datetime(year + 1, 1, 1, tzinfo=UTC), last + SETTLE)
    return wanted


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[Season], dict[str, Event], datetime, FetchOptions]:
    season_list = draw(seasons())
    first = season_list[0].year
    now = datetime(first, 1, 1, tzinfo=UTC) + timedelta(hours=draw(st.integers(0, 3 * 365 * 24)))
    options = FetchOptions(
        years=tuple(s.year for s in season_list),
        results=draw(st.booleans()),
        refresh=draw(st.booleans()),
        **PER_MEETING,  # type: ignore[arg-type]
    )
    keys = sorted(_candidates(season_list, FetchOptions(years=options.years), now))
    latest = {}
    for key in draw(st.lists(st.sampled_from(keys), unique=True)) if keys else []:
        received = datetime(first, 1, 1, tzinfo=UTC) + timedelta(hours=draw(st.integers(0, 3 * 365 * 24)))
        latest[key] = _event(key, received)
    return season_list, latest, now, options


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_plan_never_asks_settled_answers_again(
    world: tuple[list[Season], dict[str, Event], datetime, FetchOptions],
) -> None:
    """Without --refresh, a stored answer received (and now) past its meeting's end + 14 days, or past the
    year's end and its last session + 14 days for the lists, is never planned again."""
    season_list, latest, now, options = world
    options = FetchOptions(years=options.years, results=options.results, **PER_MEETING)  # type: ignore[arg-type]
    settle = _candidates(season_list, options, now)
    for item in plan(latest, season_list, options, now).all:
        event = latest.get(item.key)
        settles_at = settle[item.key]
        if event is not None and settles_at is not None:
            assert not (event.received_at > settles_at and now > settles_at), item


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_plan_asks_everything_needed_once(
    world: tuple[list[Season], dict[str, Event], datetime, FetchOptions],
) -> None:
    """The plan is exactly the needed requests that are missing, stale, or (--refresh) all of them, each
    once, with the right reason; --no-results never yields a results request."""
    season_list, latest, now, options = world
    settle = _candidates(season_list, options, now)
    planned = plan(latest, season_list, options, now).all
    keys = [p.key for p in planned]
    assert len(keys) == len(set(keys))
    expected = {}
    for key, settles_at in settle.items():
        event = latest.get(key)
        if options.refresh:
            expected[key] = "refresh"
        elif event is None:
            expected[key] = "missing"
        elif settles_at is None or not (event.received_at > settles_at and now > settles_at):
            expected[key] = "stale"
    assert {p.key: p.reason for p in planned} == expected
    if not options.results:
        assert not any(p.request.endpoint in RESULTS for p in planned)


@settings(max_examples=200, deadline=None)
@given(seasons(), st.integers(0, 3 * 365 * 24), st.booleans())
def test_plan_cold_store_is_two_lists_and_three_per_ended_meeting(
    season_list: list[Season], hours: int, results: bool
) -> None:
    """On an empty store: 2 year lists per year, then 3 (or 1 with --no-results) requests per meeting
    with a session already ended, and nothing for meetings not started."""
    now = datetime(season_list[0].year, 1, 1, tzinfo=UTC) + timedelta(hours=hours)
    options = FetchOptions(
        years=tuple(s.year for s in season_list), results=results, **PER_MEETING  # type: ignore[arg-type]
    )
    result = plan({}, season_list, options, now)
    ended = {s.meeting_key for season in season_list for s in season.sessions if _session_end(s) <= now}
    assert len(result.lists) == 2 * len(season_list)
    assert len(result.meetings) == (3 if results else 1) * len(ended)
    assert {p.meeting_key for p in result.meetings} == ended
    assert all(p.reason == "missing" for p in result.all)


def _december_and_january() -> list[Season]:
    def meeting(key: int, year: int, start: datetime) -> tuple[Meeting, Session]:
        return (
            Meeting(meeting_key=key, year=year, date_start=start),
            Session(
                session_key=key * 10,
                meeting_key=key,
                year=year,
                date_start=start,
                date_end=start + timedelta(hours=2),
            ),
        )

    early_dec = meeting(1, 2024, datetime(2024, 12, 6, 12, tzinfo=UTC))
    late_dec = meeting(2, 2024, datetime(2024, 12, 30, 12, tzinfo=UTC))
    jan = meeting(3, 2025, datetime(2025, 1, 3, 12, tzinfo=UTC))
    feb = meeting(4, 2025, datetime(2025, 2, 20, 12, tzinfo=UTC))
    return [
        Season(2024, (early_dec[0], late_dec[0]), (early_dec[1], late_dec[1])),
        Season(2025, (jan[0], feb[0]), (jan[1], feb[1])),
    ]


def test_plan_recent_reaches_back_across_new_year() -> None:
    """On 5 January, --recent 7 plans both years' lists and the meeting of 30 December, not 6 December."""
    now = datetime(2025, 1, 5, 9, tzinfo=UTC)
    options = FetchOptions(recent_days=7)
    assert years_for(options, now) == [2024, 2025]
    result = plan({}, _december_and_january(), options, now)
    assert {p.key for p in result.lists} == {
        "meetings?year=2024",
        "sessions?year=2024",
        "meetings?year=2025",
        "sessions?year=2025",
    }
    assert _meetings(result.meetings) == {2, 3}


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 90 * 24), st.integers(1, 40))
def test_plan_recent_only_meetings_with_a_session_in_the_window(hours: int, days: int) -> None:
    """--recent N asks only about meetings with a session between now - N days and now, over any year."""
    now = datetime(2024, 12, 1, tzinfo=UTC) + timedelta(hours=hours)
    season_list = _december_and_january()
    result = plan({}, season_list, FetchOptions(recent_days=days), now)
    start = now - timedelta(days=days)
    expected = {
        s.meeting_key
        for season in season_list
        for s in season.sessions
        if s.date_start is not None
        and s.date_start <= now
        and _session_end(s) >= start
        and _session_end(s) <= now
    }
    assert _meetings(result.meetings) == expected
    assert all(p.year in years_for(FetchOptions(recent_days=days), now) for p in result.all)


def test_plan_all_years_from_2023() -> None:
    """--all covers every season from 2023 to now's year; the default is now's year alone."""
    now = datetime(2026, 3, 1, tzinfo=UTC)
    assert years_for(FetchOptions(all_years=True), now) == [2023, 2024, 2025, 2026]
    assert years_for(FetchOptions(), now) == [2026]


def test_plan_validate_rejects_contradictions() -> None:
    """--year with --recent, --all with --year, --recent 0, a year before 2023: usage errors (exit 2)."""
    now = datetime(2025, 1, 5, tzinfo=UTC)
    for options in (
        FetchOptions(years=(2024,), recent_days=7),
        FetchOptions(years=(2024,), all_years=True),
        FetchOptions(recent_days=0),
        FetchOptions(years=(2019,)),
    ):
        with pytest.raises(FetchUsageError) as caught:
            validate(options, now)
        assert caught.value.exit_code == 2


def test_plan_decoding_skips_bad_rows(world_dir: Path) -> None:
    """Stored meetings/sessions decode tolerantly: undecodable rows are skipped; the detail is no rows."""
    assert len(decode_meetings((world_dir / "2024" / "meetings.json").read_bytes())) == 25
    assert len(decode_sessions((world_dir / "2024" / "sessions.json").read_bytes())) == 123
    body = json.dumps([{"meeting_key": "not a number"}, {"meeting_key": 1229.0, "year": 2024}]).encode()
    assert [m.meeting_key for m in decode_meetings(body)] == [1229]  # lenient, as replay: 1229.0 is 1229
    # an array holding a non-object is not an OpenF1 answer (the one body contract): no rows at all
    assert decode_meetings(json.dumps([{"meeting_key": 1229, "year": 2024}, 7]).encode()) == ()
    assert decode_sessions(b'{"detail":"No results found."}') == ()
    assert decode_sessions(b"<html>") == ()


def _real_season(world_dir: Path, year: int) -> Season:
    return Season(
        year,
        decode_meetings((world_dir / str(year) / "meetings.json").read_bytes()),
        decode_sessions((world_dir / str(year) / "sessions.json").read_bytes()),
    )


def test_plan_real_2024_season_cold_is_5_batched_77_per_meeting(world_dir: Path) -> None:
    """From the real 2024 lists, a cold plan after the season is 2 lists + 1 batch per endpoint = 5
    requests (3 with --no-results); one request per meeting it was 2 + 3 x 25 = 77."""
    season = _real_season(world_dir, 2024)
    after = datetime(2025, 6, 1, tzinfo=UTC)
    result = plan({}, [season], FetchOptions(years=(2024,)), after)
    assert len(result.all) == 5
    assert [p.request.endpoint for p in result.meetings] == ["drivers", "session_result", "starting_grid"]
    assert all(len(p.meetings) == 25 and len(p.key) < MAX_PATH for p in result.meetings)
    # the testing meeting (1228) has no race or qualifying: no results or grid are required of it
    assert [len(p.expect) for p in result.meetings] == [25, 24, 24]
    assert len(plan({}, [season], FetchOptions(years=(2024,), results=False), after).all) == 3
    per_meeting = plan({}, [season], FetchOptions(years=(2024,), batch=False), after)
    assert len(per_meeting.all) == 77
    both = plan({}, [_real_season(world_dir, 2023), season], FetchOptions(years=(2023, 2024)), after)
    assert len(both.all) == 10
    mid_season = plan({}, [season], FetchOptions(years=(2024,)), datetime(2024, 6, 1, tzinfo=UTC))
    # testing and the first 8 Grands Prix had started by 1 June; the 7 over for 14 days are batched
    assert len(_meetings(mid_season.meetings)) == 9
    assert [len(p.meetings) for p in mid_season.meetings if p.is_batch] == [7, 7, 7]
    assert sum(1 for p in mid_season.meetings if not p.is_batch) == 3 * 2


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_plan_batched_covers_exactly_the_per_meeting_plan(
    world: tuple[list[Season], dict[str, Event], datetime, FetchOptions],
) -> None:
    """The batched plan asks about exactly the (endpoint, meeting) pairs the per-meeting plan asks, each
    once, with the same reason (a batch's is its strongest); batches hold only meetings over for 14 days,
    of one year, within the path limit; the others stay one request per meeting (as does a settled
    meeting alone in its year and endpoint: a batch of one)."""
    season_list, latest, now, options = world
    per_meeting = plan(latest, season_list, options, now)
    batched = plan(latest, season_list, msgspec.structs.replace(options, batch=True), now)
    assert batched.lists == per_meeting.lists
    expected = {u: p.reason for p in per_meeting.meetings for u in p.units()}
    got = [u for p in batched.meetings for u in p.units()]
    assert len(got) == len(set(got))
    assert set(got) == set(expected)
    ends = meeting_ends(season_list)
    for p in batched.meetings:
        reasons = {expected[u] for u in p.units()}
        assert p.reason in reasons
        if p.is_batch:
            assert len(p.request.path) <= MAX_PATH
            assert list(p.meetings) == sorted(p.meetings)
            assert all(ends[k] + SETTLE < now for k in p.meetings)
            assert all(k in p.meetings for k in p.expect)
        else:  # one request per meeting: a meeting not over for 14 days, or a settled one alone
            assert p.meeting_key is not None
            settled = [
                q
                for q in batched.meetings
                if (q.year, q.request.endpoint) == (p.year, p.request.endpoint)
                and (q.is_batch or ends[q.meeting_key or 0] + SETTLE < now)
            ]
            assert not ends[p.meeting_key] + SETTLE < now or settled == [p]


def test_plan_batches_split_past_the_path_limit() -> None:
    """Past MAX_PATH characters or MAX_BATCH meetings a batch is split; every key is in exactly one chunk,
    in order."""
    keys = list(range(1000, 1300))
    chunks = split_batches("session_result", keys)
    assert len(chunks) > 1
    assert [k for chunk in chunks for k in chunk] == keys
    assert all(len(batch_request("session_result", chunk).path) <= MAX_PATH for chunk in chunks)
    assert all(len(chunk) <= MAX_BATCH for chunk in chunks)
    assert [len(c) for c in split_batches("drivers", range(1000, 1000 + MAX_BATCH + 1))] == [MAX_BATCH, 1]
    assert batch_request("drivers", [1230, 1229]).key == "drivers?meeting_key=1229&meeting_key=1230"


def _settled_store(season: Season, received: datetime) -> dict[str, Event]:
    """A store holding one batch per endpoint and the lists, all received at ``received``."""
    keys = sorted({m.meeting_key for m in season.meetings})
    requests = [*year_requests(season.year), *(batch_request(e, keys) for e in RESULTS | {"drivers"})]
    return {r.key: _event(r.key, received) for r in requests}


def test_plan_revalidate_asks_settled_years_again_batched(world_dir: Path) -> None:
    """--revalidate re-asks a settled season in 2 lists + 3 batches; without it nothing is asked until
    the newest answer is older than REVALIDATE_DAYS, then the same 5 requests, saying why."""
    season = _real_season(world_dir, 2024)
    received = datetime(2025, 3, 1, tzinfo=UTC)
    latest = _settled_store(season, received)
    soon = received + timedelta(days=REVALIDATE_DAYS - 1)
    assert plan(latest, [season], FetchOptions(years=(2024,)), soon).all == []
    asked = plan(latest, [season], FetchOptions(years=(2024,), revalidate=True), soon)
    assert len(asked.all) == 5 and {p.reason for p in asked.all} == {"revalidate"}
    assert asked.revalidated == []
    later = received + timedelta(days=REVALIDATE_DAYS + 1)
    auto = plan(latest, [season], FetchOptions(years=(2024,)), later)
    assert [p.key for p in auto.all] == [p.key for p in asked.all]
    assert auto.revalidated == [f"2024 revalidated: its newest answer is {REVALIDATE_DAYS + 1} days old "
                                f"(REVALIDATE_DAYS={REVALIDATE_DAYS})"]
    never = FetchOptions(years=(2024,), revalidate_days=None)
    assert plan(latest, [season], never, later).all == []
