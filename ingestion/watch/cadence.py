"""When ``ingest watch`` asks f1db for a new release: a pure function of the stored calendar, the last ask,
a rate-limit block and ``now`` (no clock, no file, no network here).

f1db publishes the FIA's classification hours after a session (2.7-15.1 h after a 2025 race's start,
median 6.1 h) and keeps correcting it for days, so after each race, sprint and qualifying (OpenF1's
``session_type`` Race or Qualifying, not cancelled; or f1db's own calendar for a year without OpenF1's)
that has ended there are *steps*:
:data:`AFTER_SESSION` after its end (+3 h, +6 h, +12 h, +24 h) and, after the Grand Prix itself (not a
sprint), :data:`AFTER_RACE` (then daily for a week). Outside race weeks there is one step
:data:`EVERY` after the last ask. f1db is due when a step has passed that the last ask came before
(never asked: due at once); asking once answers every passed step, so each step costs at most one ask
(one conditional request, a 304 when nothing changed). While GitHub's limit is used up
(``blocked_until``: its ``x-ratelimit-reset``) nothing is due, and the reset is the next step. The steps
are the same whoever keeps time: a watcher looping, or ``ingest watch --once`` from cron (the last ask
is kept in ``watch.json``, see :mod:`ingestion.watch.state`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import msgspec

from ingestion.calendar import SESSION_LENGTH
from ingestion.fetch.plan import Season
from ingestion.instant import as_utc, read_utc
from ingestion.openf1.credibility import session_end
from ingestion.watch.schedule import MAX_SLEEP, Step

__all__ = [
    "AFTER_RACE",
    "AFTER_SESSION",
    "EVERY",
    "F1DB_KEY",
    "OVERDUE_MARGIN",
    "Ended",
    "F1dbPlan",
    "f1db_overdue",
    "f1db_race_sessions",
    "f1db_schedule",
    "f1db_steps",
    "openf1_sessions",
]

#: The key f1db's steps carry (what is asked: its latest release).
F1DB_KEY = "f1db releases/latest"
#: After a race, sprint or qualifying ends: when f1db is asked for its classification.
AFTER_SESSION: tuple[timedelta, ...] = tuple(timedelta(hours=h) for h in (3, 6, 12, 24))
#: After the Grand Prix (not a sprint): then daily for a week, for the corrections.
AFTER_RACE: tuple[timedelta, ...] = tuple(timedelta(days=d) for d in range(2, 8))
#: Outside race weeks: f1db is asked at least this often (corrections land for weeks).
EVERY = timedelta(days=7)
#: ``ingest healthcheck`` fails when a step has waited longer than this for an ask (a watcher wakes at
#: least hourly: twice its longest sleep).
OVERDUE_MARGIN = 2 * MAX_SLEEP
_ASKED_AFTER = ("Race", "Qualifying")


class F1dbPlan(msgspec.Struct, frozen=True, kw_only=True):
    """f1db at ``now``: the step an ask would answer (``due``, None when nothing is), the steps to come (by
    time; the rate limit's reset first when ``blocked_until`` is ahead), the last ask, and the oldest step
    that passed since it (``waiting``: what has waited longest for an ask, blocked or not)."""

    now: datetime
    asked: datetime | None
    due: Step | None
    upcoming: tuple[Step, ...]
    waiting: Step | None = None
    blocked_until: datetime | None = None

    @property
    def next_wake(self) -> datetime | None:
        """When f1db wants the watcher awake next (its first step to come), None when it wants nothing."""
        return self.upcoming[0].at if self.upcoming else None


def _fmt(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"+{hours // 24} d" if hours % 24 == 0 and hours >= 48 else f"+{hours} h"


class Ended(msgspec.Struct, frozen=True):
    """A session f1db is asked after: when it ends, what it is ("2024 Abu Dhabi Grand Prix, Race"), and
    whether it is the Grand Prix itself (its daily week follows)."""

    end: datetime
    what: str
    race: bool


def openf1_sessions(seasons: Iterable[Season]) -> list[Ended]:
    """The races, sprints and qualifyings of OpenF1's stored calendar (not cancelled, with an end)."""
    ended: list[Ended] = []
    for season in seasons:
        names = {m.meeting_key: m.meeting_name or str(m.meeting_key) for m in season.meetings}
        for session in season.sessions:
            end = session_end(session)
            if end is None or session.is_cancelled or session.session_type not in _ASKED_AFTER:
                continue
            where = names.get(session.meeting_key, f"meeting {session.meeting_key}")
            race = session.session_type == "Race" and session.session_name != "Sprint"
            name = session.session_name or session.session_type
            ended.append(Ended(end, f"{season.year} {where}, {name}", race))
    return ended


#: f1db's ``race.yml`` keys of the sessions asked after: (date key, time key, name, length, the race).
_F1DB_SESSIONS = (
    ("date", "time", "Race", SESSION_LENGTH, True),  # the calendar's length of a session without an end
    ("sprintRaceDate", "sprintRaceTime", "Sprint", timedelta(hours=1), False),
    ("qualifyingDate", "qualifyingTime", "Qualifying", timedelta(hours=1), False),
    ("sprintQualifyingDate", "sprintQualifyingTime", "Sprint Qualifying", timedelta(hours=1), False),
)


def f1db_race_sessions(year: int, race_yml: bytes) -> list[Ended]:
    """The sessions of one f1db ``race.yml`` (its top-level ``key: value`` lines, read as text: YAML 1.1
    would read ``13:00`` as 780), each ending its typical length after its UTC start; a session without
    a time is taken to start at noon. Lines that are not dates are ignored."""
    fields: dict[str, str] = {}
    for line in race_yml.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition(":")
        if sep and key and not key.startswith((" ", "#")):
            fields[key] = value.strip().strip("'\"")
    where = fields.get("grandPrixId", "?")
    ended: list[Ended] = []
    for date_key, time_key, name, length, race in _F1DB_SESSIONS:
        day = fields.get(date_key)
        start = None if day is None else read_utc(f"{day}T{fields.get(time_key, '12:00')}+00:00")
        if start is None:
            continue
        ended.append(Ended(start + length, f"{year} {where} (f1db's calendar), {name}", race))
    return ended


def f1db_steps(
    ended: Iterable[Ended],
    after_session: Sequence[timedelta] = AFTER_SESSION,
    after_race: Sequence[timedelta] = AFTER_RACE,
) -> list[Step]:
    """Every step of the sessions f1db is asked after (:func:`openf1_sessions`, :func:`f1db_race_sessions`),
    by time; each says what it is for ("2024 Abu Dhabi Grand Prix, Race +6 h")."""
    steps = [
        Step(e.end + delta, F1DB_KEY, f"{e.what} {_fmt(delta)}")
        for e in ended
        for delta in (*after_session, *(after_race if e.race else ()))
    ]
    steps.sort(key=lambda s: (s.at, s.why))
    return steps


def f1db_schedule(
    steps: Sequence[Step],
    asked: datetime | None,
    now: datetime,
    *,
    blocked_until: datetime | None = None,
    every: timedelta = EVERY,
) -> F1dbPlan:
    """f1db at ``now`` given its ``steps`` (:func:`f1db_steps`), the last ask (``asked``, any answer: a
    release, a 304) and a rate limit's reset (``blocked_until``)."""
    now = as_utc(now)
    asked = as_utc(asked) if asked is not None else None
    periodic = [Step(asked + every, F1DB_KEY, f"every {every.days} d")] if asked is not None else []
    ordered = sorted([*steps, *periodic], key=lambda s: (s.at, s.why))
    passed = [s for s in ordered if s.at <= now and (asked is None or s.at > asked)]
    due: Step | None = passed[-1] if passed else None
    if asked is None:
        due = Step(now, F1DB_KEY, "never asked")
    upcoming = [s for s in ordered if s.at > now]
    blocked = as_utc(blocked_until) if blocked_until is not None and as_utc(blocked_until) > now else None
    if blocked is not None:
        upcoming = [s for s in upcoming if s.at > blocked]
        if due is not None:  # what is due waits for the reset
            upcoming.insert(0, Step(blocked, F1DB_KEY, f"GitHub's rate limit resets ({due.why})"))
        due = None
    return F1dbPlan(
        now=now, asked=asked, due=due, upcoming=tuple(upcoming), waiting=passed[0] if passed else None,
        blocked_until=blocked,
    )


def f1db_overdue(plan: F1dbPlan, margin: timedelta = OVERDUE_MARGIN) -> Step | None:
    """The step that has waited for an ask more than ``margin`` (``ingest healthcheck`` fails on it); None
    when f1db is asked as the cadence wants, or was never asked (nothing to vouch for)."""
    waiting = plan.waiting
    if plan.asked is None or waiting is None or waiting.at > plan.now - margin:
        return None
    return waiting
