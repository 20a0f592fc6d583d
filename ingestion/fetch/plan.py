"""What to ask OpenF1 for: a pure function of the store's contents, the options and ``now``.

A fetch runs in two phases:

1. the year lists, ``meetings?year=Y`` and ``sessions?year=Y`` for each year asked for;
2. per endpoint (``drivers`` and, unless results are off, ``session_result`` and ``starting_grid``), the
   meetings of those years that have at least one session ended before ``now``:

   - meetings *settled* by time (their last session ended more than :data:`SETTLE_DAYS` days ago) are asked
     in one **batch** per year and endpoint, their keys OR'd (``drivers?meeting_key=1229&meeting_key=1230``;
     OpenF1 ORs a repeated key), split past :data:`MAX_PATH` characters;
   - the others (a race weekend, the days of penalties after it) one request each, ``drivers?meeting_key=M``:
     their answers still change, and a small answer per meeting is what a weekend needs.

Phase 2 is planned from the meetings and sessions *stored* (so the run plans it again once phase 1 has
been fetched). A cold settled season is 2 + 3 requests (2 + 1 with ``--no-results``); one request per
meeting it is ``2 + 3 x meetings`` (77 for 2024), which ``batch=False`` still plans (``--per-meeting``, and
the run's fallback for a server that does not OR repeated keys).

What is stored is read by *coverage* (:mod:`ingestion.store.coverage`): for each (endpoint, meeting) and
(list, year), the latest answer covering it, per meeting or batch. Settled answers are not asked again
(unless ``refresh`` or revalidated). OpenF1 corrects results for days after a race (penalties), so an
answer about a meeting is settled when it was received more than
:data:`SETTLE_DAYS` days after the meeting's last session ended, and ``now`` is past that point too.
A year list is settled when it was received after the year was over *and* more than
:data:`SETTLE_DAYS` days after the year's last session ended (a schedule keeps changing during its
season: added, moved and cancelled events). Anything else stored is *stale* and asked again.

An empty answer ("No results found.") is settled only when it can be true: a meeting with an ended
session has drivers, one with an ended qualifying or race (sprints included) has results, one with an
ended race has a starting grid (:func:`expects_rows`). Such an empty answer is *empty* (asked again) until
:data:`EMPTY_RUNS` runs in a row have stored it. A request whose stored blob is missing, corrupt or does not
match its event is *unreadable* and asked again.

**Revalidation.** OpenF1 corrects results long after a race (a disqualification a year later). With
``revalidate``, every settled answer of the years asked for is asked again (batched: 2 year lists + at most
3 batches a season); without it, a settled year whose newest answer is older than ``revalidate_days`` is
revalidated the same way by itself (:attr:`Plan.revalidated` says which years, and why).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar

import msgspec

from ingestion.errors import UsageError
from ingestion.instant import as_utc
from ingestion.openf1.body import decode_rows
from ingestion.openf1.client import RetryPolicy
from ingestion.openf1.limiter import DEFAULT_MARGIN
from ingestion.openf1.wire import MEETING_ENDPOINTS, RESULT_ENDPOINTS, Meeting, Session
from ingestion.store.check import is_empty
from ingestion.store.coverage import Unit, covering
from ingestion.store.model import Event, Request

#: OpenF1's first season.
FIRST_SEASON = 2023
#: Days after a meeting (or a season) ends before its answers are final.
SETTLE_DAYS = 14
SETTLE = timedelta(days=SETTLE_DAYS)
#: A session without ``date_end`` is taken to last this long.
SESSION_LENGTH = timedelta(hours=2)
#: The per-meeting endpoints, in the order asked.
#: Times one run asks a request whose empty answer cannot be true before it stores the empty answer.
EMPTY_ATTEMPTS = 3
#: Runs in a row that must store such an empty answer before it is taken as settled (then the plan warns).
EMPTY_RUNS = 3
#: Session types whose end means a meeting must have results (a sprint is a "Race", sprint shootout a
#: "Qualifying"); a race's end means it must have a starting grid.
RESULT_SESSION_TYPES = frozenset({"Qualifying", "Race"})

#: Default of the ``REVALIDATE_DAYS`` setting: a settled year whose newest answer is older is asked again.
REVALIDATE_DAYS = 30
#: The longest path and query of a batch (``/drivers?meeting_key=...``), leaving room for the base URL
#: under the 2,000 characters URLs are safe to.
MAX_PATH = 1800
#: The most meetings in one batch (a season has about 25; servers bound the number of filters).
MAX_BATCH = 40

Reason = Literal["missing", "stale", "refresh", "empty", "unreadable", "revalidate"]
T = TypeVar("T", bound=msgspec.Struct)


class FetchUsageError(UsageError):
    """Options that contradict each other or cannot be fetched (exit 2)."""


class FetchOptions(msgspec.Struct, frozen=True, kw_only=True):
    """What to fetch. With neither ``years``, ``recent_days`` nor ``all_years``: the current year."""

    years: tuple[int, ...] = ()
    recent_days: int | None = None
    all_years: bool = False
    results: bool = True
    refresh: bool = False
    revalidate: bool = False  # ask settled answers of these years again (batched)
    #: a settled year whose newest answer is older than this many days is revalidated; None: never
    revalidate_days: int | None = REVALIDATE_DAYS
    batch: bool = True  # settled meetings in one request per year and endpoint (False: per meeting)
    dry_run: bool = False
    retry: RetryPolicy = msgspec.field(default_factory=RetryPolicy)
    margin: float = DEFAULT_MARGIN  # seconds added to each rate-limit window
    lock_wait: float | None = None  # seconds to wait for another writer's store lock (None: the store's 10)


class PlannedRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A request to ask, and why: ``missing`` (not stored), ``stale`` (stored, not settled), ``refresh``,
    ``empty`` (stored empty though the meeting's ended sessions say it has rows), ``unreadable`` (its blob is
    missing or corrupt), ``revalidate`` (settled, asked again for late corrections). ``expect_rows``: an
    empty answer cannot be true (the run asks again, bounded).

    A batch names its meetings in ``meetings`` (``meeting_key`` is None) and in ``expect`` those whose
    ended sessions say the answer must hold rows for them (the run checks, to notice a server that does
    not OR repeated keys).
    """

    request: Request
    reason: Reason
    phase: int  # 1: year lists, 2: meetings
    year: int
    meeting_key: int | None = None
    expect_rows: bool = False
    meetings: tuple[int, ...] = ()  # a batch's meeting keys, sorted
    expect: tuple[int, ...] = ()  # a batch's meetings that must have rows in its answer

    @property
    def key(self) -> str:
        return self.request.key

    @property
    def is_batch(self) -> bool:
        return bool(self.meetings)

    @property
    def label(self) -> str:
        """The key, shortened for a batch: ``drivers?meeting_key=1229&...&meeting_key=1253 (25 meetings)``."""
        if not self.is_batch or len(self.meetings) == 1:
            return self.key
        first, last = self.meetings[0], self.meetings[-1]
        return (
            f"{self.request.endpoint}?meeting_key={first}&...&meeting_key={last} "
            f"({len(self.meetings)} meetings)"
        )

    def units(self) -> list[Unit]:
        """The (endpoint, meeting) pairs this request covers."""
        keys = self.meetings or ((self.meeting_key,) if self.meeting_key is not None else ())
        return [Unit(self.request.endpoint, "meeting_key", str(k)) for k in keys]

    def per_meeting(self) -> list[PlannedRequest]:
        """A batch as one request per meeting (the fallback); a single request as itself."""
        if not self.is_batch:
            return [self]
        return [
            PlannedRequest(
                request=meeting_request(self.request.endpoint, key),
                reason=self.reason,
                phase=self.phase,
                year=self.year,
                meeting_key=key,
                expect_rows=key in self.expect,
            )
            for key in self.meetings
        ]


class Season(msgspec.Struct, frozen=True):
    """A year's meetings and sessions as stored (decoded from ``meetings?year=Y`` and ``sessions?year=Y``)."""

    year: int
    meetings: tuple[Meeting, ...] = ()
    sessions: tuple[Session, ...] = ()


class Stored(msgspec.Struct, frozen=True, kw_only=True):
    """What the plan needs to know about the store beyond the latest events (computed by the run)."""

    #: request keys whose latest blob is missing, corrupt or does not match its event
    unreadable: frozenset[str] = frozenset()
    #: request key -> how many of its latest events in a row are empty answers (only keys with one)
    empty_runs: Mapping[str, int] = msgspec.field(default_factory=dict)


class Plan(msgspec.Struct, frozen=True):
    lists: list[PlannedRequest]  # phase 1
    meetings: list[PlannedRequest]  # phase 2, from what is stored now
    #: empty answers kept although they cannot be true (stored empty by EMPTY_RUNS runs in a row)
    kept_empty: list[str] = msgspec.field(default_factory=list)
    revalidated: list[str] = msgspec.field(default_factory=list)  # "2024 revalidated: ... 45 days old"

    @property
    def all(self) -> list[PlannedRequest]:
        return self.lists + self.meetings


# --- decoding what is stored (pure, tolerant) -------------------------------------------------------


def _rows(body: bytes, row_type: type[T]) -> tuple[T, ...]:
    """The rows of a stored answer, read as replay reads them (:func:`ingestion.openf1.body.decode_rows`:
    lenient, ``9472.0`` is 9472); no rows for "No results found." or a body that is not rows."""
    return tuple(decode_rows(row_type, body).rows)


class _MeetingKey(msgspec.Struct):
    meeting_key: int | None = None


def meeting_keys_of(body: bytes) -> tuple[int, ...]:
    """The ``meeting_key`` of every row of an answer (rows without one, or undecodable, are skipped)."""
    return tuple(row.meeting_key for row in _rows(body, _MeetingKey) if row.meeting_key is not None)


def decode_meetings(body: bytes) -> tuple[Meeting, ...]:
    """The meetings in a stored ``meetings`` answer; rows that do not decode are skipped."""
    return _rows(body, Meeting)


def decode_sessions(body: bytes) -> tuple[Session, ...]:
    """The sessions in a stored ``sessions`` answer; rows that do not decode are skipped."""
    return _rows(body, Session)


# --- requests ---------------------------------------------------------------------------------------


def year_requests(year: int) -> tuple[Request, Request]:
    return Request.make("meetings", [("year", str(year))]), Request.make("sessions", [("year", str(year))])


def meeting_request(endpoint: str, meeting_key: int) -> Request:
    return Request.make(endpoint, [("meeting_key", str(meeting_key))])


def batch_request(endpoint: str, meeting_keys: Iterable[int]) -> Request:
    """One request for several meetings, keys OR'd (``Request.make`` sorts them: a deterministic URL)."""
    return Request.make(endpoint, [("meeting_key", str(k)) for k in sorted(set(meeting_keys))])


def split_batches(endpoint: str, meeting_keys: Sequence[int], max_path: int = MAX_PATH) -> list[list[int]]:
    """``meeting_keys`` (sorted) in consecutive chunks whose request path stays within ``max_path``, of at
    most :data:`MAX_BATCH` meetings."""
    chunks: list[list[int]] = []
    current: list[int] = []
    for key in sorted(set(meeting_keys)):
        too_long = len(batch_request(endpoint, [*current, key]).path) > max_path
        if current and (too_long or len(current) >= MAX_BATCH):
            chunks.append(current)
            current = []
        current.append(key)
    if current:
        chunks.append(current)
    return chunks


# --- time ---------------------------------------------------------------------------------------------


def session_end(session: Session) -> datetime | None:
    """When a session ended: ``date_end``, else ``date_start`` + :data:`SESSION_LENGTH`, else unknown."""
    if session.date_end is not None:
        return as_utc(session.date_end)
    if session.date_start is not None:
        return as_utc(session.date_start) + SESSION_LENGTH
    return None


def meeting_ends(seasons: Iterable[Season]) -> dict[int, datetime]:
    """Meeting key -> when its last known session ended (meetings without dated sessions are absent)."""
    ends: dict[int, datetime] = {}
    for season in seasons:
        for session in season.sessions:
            end = session_end(session)
            if end is not None and (session.meeting_key not in ends or end > ends[session.meeting_key]):
                ends[session.meeting_key] = end
    return ends


def year_start(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=UTC)


def season_settles_at(season: Season) -> datetime:
    """When a year's lists become final: the year is over and its last session ended 14 days before."""
    last = year_start(season.year + 1) - SETTLE
    for session in season.sessions:
        end = session_end(session)
        if end is not None and end > last:
            last = end
    for meeting in season.meetings:
        for when in (meeting.date_end, meeting.date_start):
            if when is not None and as_utc(when) > last:
                last = as_utc(when)
    return max(year_start(season.year + 1), last + SETTLE)


def expects_rows(endpoint: str, sessions: Iterable[Session], now: datetime) -> bool:
    """Whether a meeting whose ``sessions`` these are must have rows of ``endpoint`` by ``now``.

    Drivers once any session has ended; ``session_result`` once a qualifying or a race (sprints included)
    has; ``starting_grid`` once a race has. Cancelled sessions do not count. Pure.
    """
    now = as_utc(now)
    for session in sessions:
        end = session_end(session)
        if session.is_cancelled or end is None or end >= now:
            continue
        if endpoint == "drivers":
            return True
        if endpoint == "session_result" and session.session_type in RESULT_SESSION_TYPES:
            return True
        if endpoint == "starting_grid" and session.session_type == "Race":
            return True
    return False


def is_settled(event: Event | None, settles_at: datetime | None, now: datetime) -> bool:
    """A stored answer is settled when it was received after ``settles_at``, and ``now`` is past it too."""
    if event is None or settles_at is None:
        return False
    return min(as_utc(now), as_utc(event.received_at)) > settles_at


# --- options --------------------------------------------------------------------------------------------


#: The longest ``--recent`` window: a century of days (999999999 days overflowed the calendar).
MAX_RECENT_DAYS = 36_500


def validate(options: FetchOptions, now: datetime) -> None:
    """Raise :class:`FetchUsageError` for contradicting or impossible options."""
    chosen = [
        name
        for name, on in (
            ("--year", bool(options.years)),
            ("--recent", options.recent_days is not None),
            ("--all", options.all_years),
        )
        if on
    ]
    if len(chosen) > 1:
        raise FetchUsageError(f"{' and '.join(chosen)} cannot be used together: choose one")
    if options.recent_days is not None and not 1 <= options.recent_days <= MAX_RECENT_DAYS:
        raise FetchUsageError(
            f"--recent takes a number of days from 1 to {MAX_RECENT_DAYS}, got {options.recent_days} "
            "(for whole seasons use --year or --all)"
        )
    for year in options.years:
        if year < FIRST_SEASON:
            raise FetchUsageError(f"--year {year}: OpenF1 has data from {FIRST_SEASON} on")
        if year > now.year + 1:
            raise FetchUsageError(f"--year {year}: that season is not scheduled yet (now is {now.year})")


def years_for(options: FetchOptions, now: datetime) -> list[int]:
    """The years whose lists the fetch needs, oldest first."""
    now = as_utc(now)
    if options.years:
        return sorted(set(options.years))
    if options.all_years:
        return list(range(FIRST_SEASON, now.year + 1))
    if options.recent_days is not None:
        start = now - timedelta(days=options.recent_days)
        return list(range(max(FIRST_SEASON, start.year), now.year + 1))
    return [now.year]


def _meeting_order(seasons: Sequence[Season]) -> list[tuple[int, int]]:
    """(year, meeting key) of every meeting known, in the order of their first session (then key)."""
    first: dict[int, tuple[datetime, int]] = {}
    far = datetime.max.replace(tzinfo=UTC)
    for season in seasons:
        for meeting in season.meetings:
            start = as_utc(meeting.date_start) if meeting.date_start else far
            if meeting.meeting_key not in first or start < first[meeting.meeting_key][0]:
                first[meeting.meeting_key] = (start, season.year)
        for session in season.sessions:
            start = as_utc(session.date_start) if session.date_start else far
            if session.meeting_key not in first or start < first[session.meeting_key][0]:
                first[session.meeting_key] = (start, season.year)
    ordered = sorted(first.items(), key=lambda item: (item[1][0], item[0]))
    return [(year, key) for key, (_, year) in ordered]


def selected_meetings(
    seasons: Sequence[Season], options: FetchOptions, now: datetime
) -> list[tuple[int, int]]:
    """(year, meeting key) of the meetings phase 2 asks about, in date order.

    A meeting qualifies once one of its sessions has ended before ``now`` (results are post-session).
    With ``recent_days``, only meetings with a session in the last N days (started by ``now`` and ended
    after ``now - N days``), whatever the year.
    """
    now = as_utc(now)
    ended: set[int] = set()
    recent: set[int] = set()
    window_start = now - timedelta(days=options.recent_days or 0)
    for season in seasons:
        for session in season.sessions:
            end = session_end(session)
            if end is None:
                continue
            if end < now:
                ended.add(session.meeting_key)
            start = as_utc(session.date_start) if session.date_start else end
            if start <= now and end >= window_start:
                recent.add(session.meeting_key)
    chosen = ended if options.recent_days is None else ended & recent
    return [(year, key) for year, key in _meeting_order(seasons) if key in chosen]


def _reason(
    event: Event | None,
    settles_at: datetime | None,
    options: FetchOptions,
    now: datetime,
    stored: Stored,
    *,
    expect_rows: bool = False,
    revalidate: bool = False,
) -> Reason | None:
    if options.refresh:
        return "refresh"
    if event is None:
        return "missing"
    if event.key in stored.unreadable:
        return "unreadable"
    if expect_rows and is_empty(event) and stored.empty_runs.get(event.key, 1) < EMPTY_RUNS:
        return "empty"
    if not is_settled(event, settles_at, now):
        return "stale"
    return "revalidate" if revalidate else None


def _list_unit(request: Request, year: int) -> Unit:
    return Unit(request.endpoint, "year", str(year))


def _meeting_unit(endpoint: str, meeting_key: int) -> Unit:
    return Unit(endpoint, "meeting_key", str(meeting_key))


def _endpoints(options: FetchOptions) -> tuple[str, ...]:
    return tuple(e for e in MEETING_ENDPOINTS if options.results or e not in RESULT_ENDPOINTS)


def revalidating(
    covered: Mapping[Unit, Event], seasons: Sequence[Season], options: FetchOptions, now: datetime
) -> dict[int, str]:
    """The years whose settled answers are asked again, each with why.

    With ``revalidate``: every year asked for. Otherwise a year whose lists are settled (the season is over)
    and whose newest stored answer is older than ``revalidate_days`` days.
    """
    now = as_utc(now)
    if options.refresh:
        return {}
    by_year = {season.year: season for season in seasons}
    out: dict[int, str] = {}
    for year in years_for(options, now):
        if options.revalidate:
            out[year] = "--revalidate"
            continue
        if options.revalidate_days is None:
            continue
        season = by_year.get(year, Season(year))
        settles_at = season_settles_at(season)
        lists = [covered.get(_list_unit(r, year)) for r in year_requests(year)]
        if not all(is_settled(event, settles_at, now) for event in lists):
            continue
        keys = {m.meeting_key for m in season.meetings} | {s.meeting_key for s in season.sessions}
        units = [_meeting_unit(e, k) for e in _endpoints(options) for k in keys]
        received = [e.received_at for e in (*lists, *(covered.get(u) for u in units)) if e is not None]
        age = now - max(received)
        if age > timedelta(days=options.revalidate_days):
            out[year] = (
                f"{year} revalidated: its newest answer is {age.days} days old "
                f"(REVALIDATE_DAYS={options.revalidate_days})"
            )
    return out


def plan_lists(
    latest: Mapping[str, Event],
    seasons: Sequence[Season],
    options: FetchOptions,
    now: datetime,
    stored: Stored | None = None,
) -> list[PlannedRequest]:
    """Phase 1: the year lists not settled in the store (or unreadable there, or revalidated)."""
    return _plan_lists(covering(latest.values()), seasons, options, now, stored or Stored())


def _plan_lists(
    covered: Mapping[Unit, Event],
    seasons: Sequence[Season],
    options: FetchOptions,
    now: datetime,
    stored: Stored,
) -> list[PlannedRequest]:
    by_year = {season.year: season for season in seasons}
    again = revalidating(covered, seasons, options, now)
    planned: list[PlannedRequest] = []
    for year in years_for(options, now):
        settles_at = season_settles_at(by_year.get(year, Season(year)))
        for request in year_requests(year):
            event = covered.get(_list_unit(request, year))
            reason = _reason(event, settles_at, options, now, stored, revalidate=year in again)
            if reason is not None:
                planned.append(PlannedRequest(request=request, reason=reason, phase=1, year=year))
    return planned


def _strongest(reasons: Iterable[Reason]) -> Reason:
    found = set(reasons)
    for reason in ("missing", "unreadable", "empty", "stale", "refresh", "revalidate"):
        if reason in found:
            return reason
    raise ValueError("no reasons")


def _meeting_items(
    covered: Mapping[Unit, Event],
    seasons: Sequence[Season],
    options: FetchOptions,
    now: datetime,
    stored: Stored,
) -> tuple[list[PlannedRequest], list[str]]:
    now = as_utc(now)
    years = set(years_for(options, now))
    in_scope = [season for season in seasons if season.year in years]
    again = revalidating(covered, seasons, options, now)
    ends = meeting_ends(in_scope)
    sessions: dict[int, list[Session]] = {}
    for season in in_scope:
        for session in season.sessions:
            sessions.setdefault(session.meeting_key, []).append(session)
    endpoints = _endpoints(options)
    singles: list[PlannedRequest] = []
    batched: dict[tuple[int, str], dict[int, tuple[Reason, bool]]] = {}
    kept: list[str] = []
    for year, meeting_key in selected_meetings(in_scope, options, now):
        end = ends.get(meeting_key)
        settles_at = None if end is None else end + SETTLE
        settled_by_time = settles_at is not None and now > settles_at
        for endpoint in endpoints:
            expect = expects_rows(endpoint, sessions.get(meeting_key, ()), now)
            event = covered.get(_meeting_unit(endpoint, meeting_key))
            reason = _reason(
                event, settles_at, options, now, stored, expect_rows=expect, revalidate=year in again
            )
            if reason is None and expect and event is not None and is_empty(event):
                kept.append(
                    f"{event.key} is stored empty although meeting {meeting_key}'s ended sessions say it "
                    f"has rows; {stored.empty_runs.get(event.key, 1)} run(s) in a row got that answer, "
                    "so it is kept (--refresh asks it again)"
                )
            if reason is None:
                continue
            if options.batch and settled_by_time:
                batched.setdefault((year, endpoint), {})[meeting_key] = (reason, expect)
                continue
            singles.append(
                PlannedRequest(
                    request=meeting_request(endpoint, meeting_key),
                    reason=reason,
                    phase=2,
                    year=year,
                    meeting_key=meeting_key,
                    expect_rows=expect,
                )
            )
    batches: list[PlannedRequest] = []
    for year in sorted(years):
        for endpoint in endpoints:
            members = batched.get((year, endpoint))
            if not members:
                continue
            for chunk in split_batches(endpoint, sorted(members)):
                if len(chunk) == 1:  # a batch of one is the per-meeting request
                    (key,) = chunk
                    batches.append(
                        PlannedRequest(
                            request=meeting_request(endpoint, key),
                            reason=members[key][0],
                            phase=2,
                            year=year,
                            meeting_key=key,
                            expect_rows=members[key][1],
                        )
                    )
                    continue
                batches.append(
                    PlannedRequest(
                        request=batch_request(endpoint, chunk),
                        reason=_strongest(members[k][0] for k in chunk),
                        phase=2,
                        year=year,
                        meetings=tuple(chunk),
                        expect=tuple(k for k in chunk if members[k][1]),
                    )
                )
    return batches + singles, kept


def plan_meetings(
    latest: Mapping[str, Event],
    seasons: Sequence[Season],
    options: FetchOptions,
    now: datetime,
    stored: Stored | None = None,
) -> list[PlannedRequest]:
    """Phase 2: per endpoint, a batch per year of the settled meetings to ask, then one request per other
    meeting, for the selected meetings whose answers are not settled in the store (or revalidated)."""
    return _meeting_items(covering(latest.values()), seasons, options, now, stored or Stored())[0]


def plan(
    latest: Mapping[str, Event],
    seasons: Sequence[Season],
    options: FetchOptions,
    now: datetime,
    stored: Stored | None = None,
) -> Plan:
    """Both phases as the store stands (phase 2 is planned again after phase 1 is fetched).

    ``latest`` is the store's latest event per request key (:meth:`Store.latest`); what each answer covers
    is read from it (:func:`ingestion.store.coverage.covering`). A pure function: i14's watch reuses it.
    """
    stored = stored or Stored()
    covered = covering(latest.values())
    meetings, kept = _meeting_items(covered, seasons, options, now, stored)
    again = revalidating(covered, seasons, options, now)
    return Plan(
        _plan_lists(covered, seasons, options, now, stored),
        meetings,
        kept,
        [why for why in again.values() if why != "--revalidate"],
    )


__all__ = [
    "EMPTY_ATTEMPTS",
    "EMPTY_RUNS",
    "FIRST_SEASON",
    "MAX_BATCH",
    "MAX_PATH",
    "MEETING_ENDPOINTS",
    "RESULT_ENDPOINTS",
    "REVALIDATE_DAYS",
    "SETTLE_DAYS",
    "FetchOptions",
    "FetchUsageError",
    "Plan",
    "PlannedRequest",
    "Reason",
    "Season",
    "Stored",
    "batch_request",
    "decode_meetings",
    "decode_sessions",
    "expects_rows",
    "is_empty",
    "is_settled",
    "meeting_ends",
    "meeting_keys_of",
    "meeting_request",
    "plan",
    "plan_lists",
    "plan_meetings",
    "revalidating",
    "season_settles_at",
    "selected_meetings",
    "session_end",
    "split_batches",
    "validate",
    "year_requests",
    "years_for",
]
