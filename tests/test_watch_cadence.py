"""f1db's cadence in ``ingest watch`` is a pure function of (stored calendar, last ask, rate-limit reset,
now): the steps of a race weekend (the real 2024 Abu Dhabi one), nothing before a session ends, one ask a
step, the rate limit's reset, the overdue rule the healthcheck applies, and the dry-run's lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingestion.fetch.plan import Season, decode_meetings, decode_sessions
from ingestion.watch.cadence import (
    AFTER_RACE,
    AFTER_SESSION,
    EVERY,
    f1db_overdue,
    f1db_race_sessions,
    f1db_schedule,
    f1db_steps,
    openf1_sessions,
)
from ingestion.watch.plan import render_f1db

WORLD = Path(__file__).resolve().parents[2] / "shared" / "openf1" / "world"
QUALIFYING_END = datetime(2024, 12, 7, 15, 0, tzinfo=UTC)  # 2024 Abu Dhabi qualifying: 14:00-15:00 UTC
RACE_END = datetime(2024, 12, 8, 15, 0, tzinfo=UTC)  # the race: 13:00-15:00 UTC
H = timedelta(hours=1)


@pytest.fixture(scope="module")
def season() -> Season:
    folder = WORLD / "2024"
    if not folder.is_dir():
        pytest.skip(f"{folder} is not there")
    return Season(
        2024,
        decode_meetings((folder / "meetings.json").read_bytes()),
        decode_sessions((folder / "sessions.json").read_bytes()),
    )


def _abu_dhabi(season: Season) -> list[tuple[datetime, str]]:
    return [(s.at, s.why) for s in f1db_steps(openf1_sessions([season])) if "Abu Dhabi" in s.why]


def test_f1db_steps_of_a_race_weekend_follow_qualifying_and_the_race(season: Season) -> None:
    """Abu Dhabi 2024 gives f1db +3/+6/+12/+24 h after qualifying, and after the race the same then daily
    for a week (+2 d ... +7 d); practice gives none; a sprint (Qatar) gets the four hour steps only."""
    steps = _abu_dhabi(season)
    assert [at for at, why in steps if "Qualifying" in why] == [QUALIFYING_END + d for d in AFTER_SESSION]
    race = [at for at, why in steps if why.startswith("2024 Abu Dhabi Grand Prix, Race")]
    assert race == [RACE_END + d for d in (*AFTER_SESSION, *AFTER_RACE)]
    assert race[-1] == RACE_END + timedelta(days=7) and len(steps) == 4 + 10
    assert not [why for _, why in steps if "Practice" in why]
    every = f1db_steps(openf1_sessions([season]))
    qatar = [s.why for s in every if s.why.startswith("2024 Qatar Grand Prix, Sprint +")]
    assert qatar == [f"2024 Qatar Grand Prix, Sprint +{h} h" for h in (3, 6, 12, 24)]  # no daily week


def test_f1db_schedule_asks_nothing_during_a_weekend_before_a_session_ends(season: Season) -> None:
    """Asked on Friday morning (the previous race's daily steps left out): through practice and until 3 h
    after qualifying nothing is due; the first race step comes 3 h after the race ends, not before."""
    asked = datetime(2024, 12, 6, 8, 0, tzinfo=UTC)
    steps = [s for s in f1db_steps(openf1_sessions([season])) if "Abu Dhabi" in s.why]
    for now in (asked + H, QUALIFYING_END, QUALIFYING_END + 3 * H - timedelta(seconds=1)):
        plan = f1db_schedule(steps, asked, now)
        assert plan.due is None and plan.next_wake == QUALIFYING_END + 3 * H
    after_quali = QUALIFYING_END + 24 * H  # asked at each qualifying step
    plan = f1db_schedule(steps, after_quali, RACE_END + 3 * H - timedelta(seconds=1))
    assert plan.due is None and plan.next_wake == RACE_END + 3 * H
    assert plan.upcoming[0].why == "2024 Abu Dhabi Grand Prix, Race +3 h"


def test_f1db_schedule_one_ask_answers_every_passed_step(season: Season) -> None:
    """Due once a step has passed that the last ask came before; asking then answers it (and any older
    one): the same instant plans nothing more, the next step makes it due again."""
    steps = f1db_steps(openf1_sessions([season]))
    asked = RACE_END  # qualifying's +24 h answered
    plan = f1db_schedule(steps, asked, RACE_END + 7 * H)  # +3 h and +6 h passed, not asked since
    assert plan.due is not None and plan.due.why.endswith("Race +6 h")
    assert plan.waiting is not None and plan.waiting.why.endswith("Race +3 h")
    again = f1db_schedule(steps, RACE_END + 7 * H, RACE_END + 7 * H)
    assert again.due is None and again.next_wake == RACE_END + 12 * H
    later = f1db_schedule(steps, RACE_END + 7 * H, RACE_END + 12 * H)
    assert later.due is not None and later.due.why.endswith("Race +12 h")


def test_f1db_schedule_never_asked_is_due_and_weekly_outside_race_weeks() -> None:
    """With no calendar: never asked is due at once; after an ask, the next one is a week later."""
    now = datetime(2025, 2, 1, tzinfo=UTC)
    first = f1db_schedule([], None, now)
    assert first.due is not None and first.due.why == "never asked"
    plan = f1db_schedule([], now, now + H)
    assert plan.due is None and plan.next_wake == now + EVERY
    assert f1db_schedule([], now, now + EVERY).due is not None


def test_f1db_schedule_a_rate_limit_holds_the_ask_until_its_reset(season: Season) -> None:
    """While GitHub's limit is used up nothing is due; the reset is the next step, saying what waits."""
    steps = f1db_steps(openf1_sessions([season]))
    now = RACE_END + 4 * H
    reset = now + timedelta(minutes=20)
    plan = f1db_schedule(steps, RACE_END, now, blocked_until=reset)
    assert plan.due is None and plan.next_wake == reset
    unblocked = f1db_schedule(steps, RACE_END, now)
    assert unblocked.due is not None
    assert plan.upcoming[0].why == f"GitHub's rate limit resets ({unblocked.due.why})"
    assert f1db_schedule(steps, RACE_END, reset, blocked_until=reset).due is not None


def test_f1db_overdue_names_the_step_waiting_longer_than_the_margin(season: Season) -> None:
    """A step unanswered for more than 2 h is overdue (the oldest one is named); within 2 h, or never asked,
    nothing is."""
    steps = f1db_steps(openf1_sessions([season]))
    asked = RACE_END
    assert f1db_overdue(f1db_schedule(steps, asked, RACE_END + 4 * H)) is None  # +3 h, 1 h late
    late = f1db_overdue(f1db_schedule(steps, asked, RACE_END + 13 * H))
    assert late is not None and late.at == RACE_END + 3 * H and late.why.endswith("Race +3 h")
    assert f1db_overdue(f1db_schedule(steps, None, RACE_END + 13 * H)) is None


def test_render_f1db_shows_the_last_ask_the_due_step_and_the_next_ones(season: Season) -> None:
    """The dry-run's f1db lines: the last ask, what is due now and why, then the next steps with times."""
    steps = [s for s in f1db_steps(openf1_sessions([season])) if "Abu Dhabi" in s.why]
    plan = f1db_schedule(steps, RACE_END, RACE_END + 4 * H)
    lines = render_f1db(plan, limit=2)
    assert lines[0].startswith("f1db (last asked 2024-12-08T15:00:00Z;")
    assert lines[1] == "  due now: its latest release (2024 Abu Dhabi Grand Prix, Race +3 h)"
    assert lines[2] == "  2024-12-08T21:00:00Z (in  2 h 00 min)  2024 Abu Dhabi Grand Prix, Race +6 h"
    assert lines[4] == "  ... and 8 more step(s)"


def test_watch_dry_run_shows_f1db_steps_only_when_f1db_is_a_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``ingest watch --dry-run`` with f1db among the sources prints f1db's part (never asked: due now); with
    OpenF1 alone it prints none. Nothing is asked either way."""
    from test_store_commands import cli

    store = str(tmp_path / "store")
    args = ("watch", "--dry-run", "--store", store, "--now", "2025-02-01T00:00:00Z")
    code, out, _ = cli(capsys, *args, "--source", "f1db")
    assert code == 0 and "f1db (never asked;" in out
    lines = out.splitlines()
    assert "  due now: its latest release (never asked)" in lines
    assert lines.index("  due now: its latest release (never asked)") < len(lines) - 1
    assert lines[-1].startswith("next wake-up: ")  # OpenF1's and f1db's, once, last
    code, out, _ = cli(capsys, *args, "--source", "openf1")
    assert code == 0 and "f1db" not in out


def test_f1db_race_sessions_reads_f1db_calendar_times_as_written() -> None:
    """f1db's own calendar (a 2025 Qatar ``race.yml``, a sprint weekend): race, sprint, qualifying and
    sprint qualifying at their UTC times as written (``16:00`` stays 16:00, never YAML's 960), each ending
    its typical length later; the race alone gets the daily week."""
    race_yml = (
        b"id: 1148\nround: 23\ndate: 2025-11-30\ntime: 16:00\ngrandPrixId: qatar\nlaps: 57\n"
        b"sprintQualifyingDate: 2025-11-28\nsprintQualifyingTime: 17:30\nsprintRaceDate: 2025-11-29\n"
        b"sprintRaceTime: 14:00\nqualifyingDate: 2025-11-29\nqualifyingTime: 18:00\n"
    )
    ended = f1db_race_sessions(2025, race_yml)
    named = "2025 qatar (f1db's calendar), "
    assert [(e.end, e.what.removeprefix(named), e.race) for e in ended] == [
        (datetime(2025, 11, 30, 18, 0, tzinfo=UTC), "Race", True),
        (datetime(2025, 11, 29, 15, 0, tzinfo=UTC), "Sprint", False),
        (datetime(2025, 11, 29, 19, 0, tzinfo=UTC), "Qualifying", False),
        (datetime(2025, 11, 28, 18, 30, tzinfo=UTC), "Sprint Qualifying", False),
    ]
    assert all(e.what.startswith(named) for e in ended)
    assert len(f1db_steps(ended)) == 4 * 4 + 6


def test_store_f1db_plan_uses_f1db_calendar_when_the_store_has_no_openf1_one(tmp_path: Path) -> None:
    """A store holding an f1db release and no OpenF1 calendar (SOURCES=f1db): the steps come from the
    release's ``race.yml`` of this year; the last ask is the release's arrival."""
    from test_f1db_fetch import small_archive

    from ingestion.f1db.record import record_release
    from ingestion.store import Store
    from ingestion.watch.plan import store_f1db_plan

    race = b"id: 1\nround: 1\ndate: 2026-03-08\ntime: 04:00\ngrandPrixId: australia\n"
    archive = small_archive(tmp_path, "2026.0.0", {"src/data/seasons/2026/races/01-australia/race.yml": race})
    store = Store(tmp_path / "store")
    received = datetime(2026, 3, 1, tzinfo=UTC)
    record_release(store, archive.read_bytes(), tag="v2026.0.0", url="x", received_at=received)
    plan = store_f1db_plan(store, None, datetime(2026, 3, 8, 9, 0, tzinfo=UTC))
    assert plan.asked == received
    assert plan.due is not None and plan.due.why == "2026 australia (f1db's calendar), Race +3 h"
    assert plan.upcoming[0].at == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
