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
from datetime import datetime, timedelta

import msgspec

from ingestion.fetch.options import (
    FIRST_SEASON,
    REVALIDATE_DAYS,
    FetchOptions,
    FetchUsageError,
    validate,
    years_for,
)
from ingestion.fetch.requests import (
    MAX_BATCH,
    MAX_PATH,
    PlannedRequest,
    Reason,
    batch_request,
    meeting_request,
    split_batches,
    year_requests,
)
from ingestion.fetch.season import (
    SETTLE,
    SETTLE_DAYS,
    Season,
    decode_meetings,
    decode_sessions,
    expects_rows,
    is_settled,
    meeting_ends,
    meeting_keys_of,
    season_settles_at,
    selected_meetings,
    session_end,
)
from ingestion.instant import as_utc
from ingestion.openf1.wire import MEETING_ENDPOINTS, RESULT_ENDPOINTS, Session
from ingestion.store.check import is_empty
from ingestion.store.coverage import Unit, covering
from ingestion.store.model import Event, Request

#: Times one run asks a request whose empty answer cannot be true before it stores the empty answer.
EMPTY_ATTEMPTS = 3
#: Runs in a row that must store such an empty answer before it is taken as settled (then the plan warns).
EMPTY_RUNS = 3



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
    "SETTLE",
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
