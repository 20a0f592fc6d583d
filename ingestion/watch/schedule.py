"""What ``ingest watch`` asks, and when: a pure function of the stored calendar, the stored events, the
options and ``now``.

Inputs are what the store holds (the latest ``meetings/sessions?year=Y`` decoded as :class:`Season`, the
latest :class:`Event` of every request) and ``now``; the answer is a :class:`Schedule`: the requests due
now, the next steps to come, and when to wake next. Nothing here reads a clock, a file or the network.

The rules (docs/watch.md explains them with a race weekend):

* **Steps.** Every request has *steps*: instants after which it wants an answer received at or after the
  step. A request is due when one of its steps has passed (``step <= now``) and its latest answer was
  received before that step (or it has none). Asking it once answers every passed step, so each step costs
  at most one request.
* **Year lists** (``meetings`` and ``sessions`` of each watched year): a step at every session's
  scheduled end plus the publication delay (schedules move: delays, red flags, added or cancelled
  events), and a periodic one: the latest answer's time plus 24 h (6 h during a race weekend).
* **Per meeting** (``drivers``, and ``session_result``/``starting_grid`` unless results are off), once a
  session of the meeting has ended: a step at each session's end plus the publication delay; for
  ``session_result``, corrections steps after the meeting's last session (1 h, 6 h, 24 h, 3 d, 7 d by
  default); and for all, a last step just after the meeting settles (:data:`SETTLE` after its last
  session), the answer that makes it settled.
* **Settled** meetings (fetch's own rule, :func:`ingestion.fetch.plan.plan_meetings` plans nothing for
  them) are never due. A meeting already past settlement (a first start, a watcher that was down) is due
  exactly as ``fetch`` plans it, batching included.
* **Live windows** (free tier only: no credentials). OpenF1 closes anonymous access from
  ``live_margin`` before a session's start until ``live_margin`` after its scheduled end. Nothing is due
  while ``now`` is in such a window, and a step that falls inside one moves to the window's end. A live
  401 met anyway (``blocked_until``) closes everything until then. With credentials, windows are open.
* **Wake-up**: the earliest future step (or the end of the window or block ``now`` is in), at most
  ``max_sleep`` from ``now``, always strictly after ``now``.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

import msgspec

from ingestion.calendar import LIVE_MARGIN, live_window, session_span
from ingestion.fetch.plan import (
    FIRST_SEASON,
    MEETING_ENDPOINTS,
    RESULT_ENDPOINTS,
    SETTLE,
    FetchOptions,
    PlannedRequest,
    Reason,
    Season,
    Stored,
    meeting_ends,
    meeting_request,
    plan_meetings,
    season_settles_at,
    year_requests,
)
from ingestion.instant import as_utc
from ingestion.openf1.wire import Session
from ingestion.store.model import Event, Request

__all__ = [
    "CORRECTIONS",
    "LISTS_EVERY",
    "LISTS_EVERY_WEEKEND",
    "MAX_SLEEP",
    "PUBLICATION_DELAY",
    "ClosedWindows",
    "Due",
    "Schedule",
    "Step",
    "WatchOptions",
    "Window",
    "closed_now",
    "closed_windows",
    "due_step",
    "meeting_steps",
    "next_step",
    "next_wake",
    "schedule",
    "watched_years",
]

#: How long after a session's scheduled end its answers are asked (OpenF1 needs a while to publish).
PUBLICATION_DELAY = timedelta(minutes=15)
#: After a meeting's last session: when its results are asked again for corrections (penalties).
CORRECTIONS: tuple[timedelta, ...] = (
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(hours=24),
    timedelta(days=3),
    timedelta(days=7),
)
#: The year lists are asked at least this often...
LISTS_EVERY = timedelta(hours=24)
#: ... and this often during a race weekend (a day before its first session to a day after its last).
LISTS_EVERY_WEEKEND = timedelta(hours=6)
WEEKEND_MARGIN = timedelta(days=1)
#: The longest sleep between two passes (a changed calendar is seen within it).
MAX_SLEEP = timedelta(hours=1)
#: The last step of a meeting comes this long after it settles, so its answer is a settled one.
AFTER_SETTLE = timedelta(minutes=1)


class WatchOptions(msgspec.Struct, frozen=True, kw_only=True):
    """How the watcher schedules. ``paid``: credentials are set, live windows are not closed."""

    results: bool = True
    paid: bool = False
    publication_delay: timedelta = PUBLICATION_DELAY
    corrections: tuple[timedelta, ...] = CORRECTIONS
    lists_every: timedelta = LISTS_EVERY
    lists_every_weekend: timedelta = LISTS_EVERY_WEEKEND
    live_margin: timedelta = LIVE_MARGIN
    max_sleep: timedelta = MAX_SLEEP
    #: let replays remove rows of settled seasons beyond the circuit breaker's limit (``--allow-removals``)
    allow_removals: bool = False


class Step(msgspec.Struct, frozen=True):
    """An instant after which ``key`` wants a fresh answer, and why ("correction +6 h")."""

    at: datetime
    key: str
    why: str


class Due(msgspec.Struct, frozen=True, kw_only=True):
    """A request to ask now: the fetch's :class:`PlannedRequest` and the step it answers."""

    planned: PlannedRequest
    why: str
    step: datetime

    @property
    def key(self) -> str:
        return self.planned.key


class Window(msgspec.Struct, frozen=True):
    """A span during which anonymous requests are refused (``start`` included, ``end`` excluded)."""

    start: datetime
    end: datetime
    session: str


class Schedule(msgspec.Struct, frozen=True, kw_only=True):
    """What is due at ``now``, what comes next (``upcoming``: the next step of each request, by time) and
    when to wake. ``closed``: the live window (or block) ``now`` is in, if any."""

    now: datetime
    years: tuple[int, ...]
    due: tuple[Due, ...]
    upcoming: tuple[Step, ...]
    next_wake: datetime
    closed: Window | None = None

    @property
    def due_keys(self) -> list[str]:
        return [d.key for d in self.due]


# --- time -----------------------------------------------------------------------------------------------


def _span(session: Session) -> tuple[datetime, datetime] | None:
    """(start, end) of a session that is not cancelled (:func:`ingestion.calendar.session_span`)."""
    return None if session.is_cancelled else session_span(session.date_start, session.date_end)


def _session_name(names: Mapping[int, str], session: Session) -> str:
    where = names.get(session.meeting_key, f"meeting {session.meeting_key}")
    return f"{where}, {session.session_name or session.session_key}"


def _meeting_names(seasons: Iterable[Season]) -> dict[int, str]:
    return {
        m.meeting_key: f"{season.year} {m.meeting_name or m.meeting_key}"
        for season in seasons
        for m in season.meetings
    }


def closed_windows(seasons: Sequence[Season], margin: timedelta) -> list[Window]:
    """The free tier's closed spans, merged where they overlap, sorted."""
    names = _meeting_names(seasons)
    spans: list[Window] = []
    for season in seasons:
        for session in season.sessions:
            span = live_window(session.date_start, session.date_end, session.is_cancelled, margin)
            if span is not None:
                spans.append(Window(span[0], span[1], _session_name(names, session)))
    spans.sort(key=lambda w: (w.start, w.end))
    merged: list[Window] = []
    for window in spans:
        if merged and window.start <= merged[-1].end:
            last = merged[-1]
            if window.end > last.end:
                merged[-1] = Window(last.start, window.end, window.session)
        else:
            merged.append(window)
    return merged


class ClosedWindows:
    """The closed windows of a schedule (merged, sorted), asked where an instant falls."""

    def __init__(self, windows: list[Window]) -> None:
        self.windows = windows
        self.starts = [w.start for w in windows]

    def containing(self, at: datetime) -> Window | None:
        """The window ``at`` falls in (its start included, its end excluded), if any."""
        i = bisect.bisect_right(self.starts, at) - 1
        if i >= 0 and at < self.windows[i].end:
            return self.windows[i]
        return None

    def open_at(self, at: datetime) -> datetime:
        """``at``, or the end of the closed window it falls in (merged windows never touch)."""
        window = self.containing(at)
        return at if window is None else window.end


# --- what is watched -------------------------------------------------------------------------------------


def watched_years(seasons: Sequence[Season], now: datetime) -> list[int]:
    """The current year, and the previous one while its stored season is not settled (a December race's
    corrections arrive in January). ``seasons`` may hold any years; only the previous one is looked at."""
    now = as_utc(now)
    years = [now.year] if now.year >= FIRST_SEASON else []
    previous = next((s for s in seasons if s.year == now.year - 1), None)
    if previous is not None and previous.year >= FIRST_SEASON and now < season_settles_at(previous):
        years.insert(0, previous.year)
    return years


def _in_weekend(seasons: Sequence[Season], now: datetime) -> bool:
    spans: dict[int, tuple[datetime, datetime]] = {}
    for season in seasons:
        for session in season.sessions:
            span = _span(session)
            if span is None:
                continue
            first, last = spans.get(session.meeting_key, span)
            spans[session.meeting_key] = (min(first, span[0]), max(last, span[1]))
    return any(a - WEEKEND_MARGIN <= now <= b + WEEKEND_MARGIN for a, b in spans.values())


def _fmt(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400} d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min"


def meeting_steps(
    meeting_key: int,
    sessions: Sequence[Session],
    endpoint: str,
    options: WatchOptions,
    *,
    settles_at: datetime,
    names: Mapping[int, str] | None = None,
) -> list[Step]:
    """Every step of ``endpoint?meeting_key=M`` (before moving out of closed windows), by time.
    ``settles_at``: when fetch takes the meeting's answers as final (its last session's end + 14 days)."""
    names = names or {}
    key = meeting_request(endpoint, meeting_key).key
    steps: list[Step] = []
    last: datetime | None = None
    for session in sessions:
        span = _span(session)
        if span is None:
            continue
        last = span[1] if last is None else max(last, span[1])
        steps.append(
            Step(span[1] + options.publication_delay, key, f"{_session_name(names, session)} ended")
        )
    if last is None:
        return []
    if endpoint == "session_result":
        steps.extend(
            Step(last + delta, key, f"correction +{_fmt(delta)}")
            for delta in options.corrections
            if last + delta < settles_at
        )
    steps.append(Step(settles_at + AFTER_SETTLE, key, "settles"))
    steps.sort(key=lambda s: s.at)
    return steps


def _list_steps(
    season: Season, request: Request, event: Event | None, options: WatchOptions, weekend: bool
) -> list[Step]:
    names = _meeting_names([season])
    steps = [
        Step(span[1] + options.publication_delay, request.key, f"{_session_name(names, s)} ended")
        for s in season.sessions
        if (span := _span(s)) is not None
    ]
    if event is not None:
        every = options.lists_every_weekend if weekend else options.lists_every
        steps.append(Step(as_utc(event.received_at) + every, request.key, f"every {_fmt(every)}"))
    return steps


# --- the schedule: small pure steps -------------------------------------------------------------------------


def closed_now(windows: ClosedWindows, now: datetime, blocked_until: datetime | None = None) -> Window | None:
    """The closed window ``now`` is in, if any; a live 401 met (``blocked_until``) closes everything until
    then (the window is extended when it ends sooner)."""
    closed = windows.containing(now)
    if blocked_until is not None and now < as_utc(blocked_until):
        until = as_utc(blocked_until)
        if closed is None or closed.end < until:
            closed = Window(now, until, closed.session if closed else "a live session (401)")
    return closed


def due_step(
    steps: Iterable[Step], received: datetime | None, windows: ClosedWindows, now: datetime
) -> Step | None:
    """The step that makes a request due at ``now``: of its passed steps (each moved out of the closed
    windows, in order, up to the first still to come), the last one its latest answer (``received``; None:
    never asked) came before. None: not due."""
    passed: Step | None = None
    for step in steps:
        at = windows.open_at(step.at)
        if at > now:
            break
        if received is None or received < at:
            passed = Step(at, step.key, step.why)
    return passed


def next_step(steps: Iterable[Step], windows: ClosedWindows, now: datetime) -> Step | None:
    """A request's next step after ``now`` (moved out of the closed windows), if any."""
    for step in steps:
        at = windows.open_at(step.at)
        if at > now:
            return Step(at, step.key, step.why)
    return None


def next_wake(
    upcoming: Sequence[Step], closed: Window | None, now: datetime, max_sleep: timedelta
) -> datetime:
    """When to wake: the end of the closed window ``now`` is in, else the earliest step to come; never later
    than ``max_sleep`` from ``now``."""
    cap = now + max_sleep
    if closed is not None:  # nothing can be asked before it opens; what is due then is asked then
        return min(closed.end, cap)
    return min(upcoming[0].at, cap) if upcoming else cap


class _Tracked(NamedTuple):
    """A request with steps: what it would ask, its steps (in time order) and its latest answer."""

    planned: PlannedRequest
    steps: Sequence[Step]
    event: Event | None


def _list_requests(
    watched: Sequence[Season], latest: Mapping[str, Event], options: WatchOptions, now: datetime
) -> Iterator[Due | _Tracked]:
    """The year lists of the watched years: due at once when missing, else tracked by their steps."""
    weekend = _in_weekend(watched, now)
    for season in watched:
        for request in year_requests(season.year):
            event = latest.get(request.key)
            planned = PlannedRequest(
                request=request, reason="missing" if event is None else "stale", phase=1, year=season.year
            )
            if event is None:
                yield Due(planned=planned, why="missing", step=now)
                continue
            steps = sorted(_list_steps(season, request, event, options, weekend), key=lambda s: s.at)
            yield _Tracked(planned, steps, event)


def _meeting_requests(
    watched: Sequence[Season],
    latest: Mapping[str, Event],
    options: WatchOptions,
    now: datetime,
    years: tuple[int, ...],
    stored: Stored | None,
) -> Iterator[Due | _Tracked]:
    """Per meeting: what fetch would still ask (nothing for settled meetings). Batches of settled meetings,
    known gaps whose back-off is over and meetings past settlement are due at once, as fetch plans them;
    the others are tracked by steps."""
    fetch_plan = plan_meetings(
        latest, watched, FetchOptions(years=years, results=options.results), now, stored
    )
    unsettled: dict[int, list[PlannedRequest]] = {}
    for item in fetch_plan:
        if item.is_batch:  # settled meetings fetch asks in one request: due as fetch plans it
            yield Due(planned=item, why="settled since" if item.reason == "stale" else "missing", step=now)
        elif item.reason == "empty":  # a known gap whose back-off is over (fetch's rule): due, alone
            yield Due(planned=item, why="gap: its back-off is over", step=now)
        elif item.meeting_key is not None:
            unsettled.setdefault(item.meeting_key, []).append(item)
    ends = meeting_ends(watched)
    names = _meeting_names(watched)
    sessions_of: dict[int, list[Session]] = {}
    year_of: dict[int, int] = {}
    for season in watched:
        for session in season.sessions:
            sessions_of.setdefault(session.meeting_key, []).append(session)
            year_of.setdefault(session.meeting_key, season.year)
    for meeting_key in sorted(sessions_of, key=lambda k: (ends.get(k, now), k)):
        end = ends.get(meeting_key)
        if end is not None and now > end + SETTLE:
            # past settlement: exactly what fetch plans for it (batched as fetch batches)
            for item in unsettled.get(meeting_key, []):
                why = "settled since" if item.reason == "stale" else "missing"
                yield Due(planned=item, why=why, step=now)
            continue
        for endpoint in MEETING_ENDPOINTS:
            if not options.results and endpoint in RESULT_ENDPOINTS:
                continue
            request = meeting_request(endpoint, meeting_key)
            event = latest.get(request.key)
            reason: Reason = "missing" if event is None else "stale"
            planned = PlannedRequest(
                request=request, reason=reason, phase=2, year=year_of[meeting_key], meeting_key=meeting_key
            )
            steps = meeting_steps(
                meeting_key, sessions_of[meeting_key], endpoint, options,
                settles_at=(end or now) + SETTLE, names=names,
            )
            yield _Tracked(planned, steps, event)


def schedule(
    seasons: Sequence[Season],
    latest: Mapping[str, Event],
    options: WatchOptions,
    now: datetime,
    *,
    blocked_until: datetime | None = None,
    stored: Stored | None = None,
) -> Schedule:
    """What is due at ``now`` and when to wake next (see the module doc for the rules): the requests of
    :func:`_list_requests` and :func:`_meeting_requests` through :func:`due_step` and :func:`next_step`,
    nothing due while :func:`closed_now`, the wake-up by :func:`next_wake`.

    ``seasons``: the stored calendar (at least the watched years, see :func:`watched_years`; missing years
    are empty seasons). ``latest``: the latest event of every request. ``blocked_until``: a live 401 was met,
    ask nothing before then. ``stored``: what fetch knows beyond ``latest`` (the known gaps: a gap whose
    back-off is over is due, asked alone, as fetch plans it).
    """
    now = as_utc(now)
    years = tuple(watched_years(seasons, now))
    by_year = {s.year: s for s in seasons}
    watched = [by_year.get(y, Season(y)) for y in years]
    windows = ClosedWindows([] if options.paid else closed_windows(watched, options.live_margin))
    closed = closed_now(windows, now, blocked_until)
    due: list[Due] = []
    future: dict[str, Step] = {}
    lists = _list_requests(watched, latest, options, now)
    meetings = _meeting_requests(watched, latest, options, now, years, stored)
    for item in itertools.chain(lists, meetings):
        if isinstance(item, Due):
            due.append(item)
            continue
        received = as_utc(item.event.received_at) if item.event is not None else None
        passed = due_step(item.steps, received, windows, now)
        if passed is not None:
            due.append(Due(planned=item.planned, why=passed.why, step=passed.at))
        coming = next_step(item.steps, windows, now)
        if coming is not None and (coming.key not in future or coming.at < future[coming.key].at):
            future[coming.key] = coming
    upcoming = tuple(sorted(future.values(), key=lambda s: (s.at, s.key)))
    return Schedule(
        now=now,
        years=years,
        due=() if closed is not None else tuple(due),
        upcoming=upcoming,
        next_wake=next_wake(upcoming, closed, now, options.max_sleep),
        closed=closed,
    )
