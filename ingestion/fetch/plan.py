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

An answer holding no rows for a unit settles it only when it can be true
(:func:`ingestion.openf1.credibility.cannot_be_true`, the one rule: a meeting with an ended session has
drivers, one with an ended qualifying or race has results, one with an ended race has a starting grid; a
year list with sessions or meetings known has rows; nothing that had rows loses them all). One that cannot
be true is a *gap*: never settled, asked again alone (reason ``empty``) on a back-off across runs
(:data:`GAP_BACKOFF`, then every ``revalidate_days``; :attr:`Plan.gaps`). A request whose stored blob is
missing, corrupt or does not match its event is *unreadable* and asked again.

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
from ingestion.openf1.credibility import Evidence, cannot_be_true
from ingestion.openf1.wire import MEETING_ENDPOINTS, RESULT_ENDPOINTS, Session
from ingestion.store.check import says_no_rows
from ingestion.store.coverage import Unit, covering
from ingestion.store.model import Event, Request

#: Times one run asks a request whose empty answer cannot be true before it stores the empty answer (a
#: batch that left a meeting out counts as the first time: that meeting is then asked alone, twice).
EMPTY_ATTEMPTS = 3
#: A gap (an answer that cannot be true) is asked again this long after the 1st, 2nd, 3rd run that stored
#: it; after that, every ``revalidate_days`` (:data:`REVALIDATE_DAYS` when revalidation is off).
GAP_BACKOFF: tuple[timedelta, ...] = (timedelta(hours=1), timedelta(hours=6), timedelta(hours=24))


class Rowless(msgspec.Struct, frozen=True):
    """A unit whose latest answers hold no rows for it: those answers (``streak``, newest first) and
    whether an answer before them had rows for it (computed by the run: a batch's body says which meetings
    it holds)."""

    streak: tuple[Event, ...]
    had_rows: bool = False


class Stored(msgspec.Struct, frozen=True, kw_only=True):
    """What the plan needs to know about the store beyond the latest events (computed by the run)."""

    #: request keys whose latest blob is missing, corrupt or does not match its event
    unreadable: frozenset[str] = frozenset()
    #: the units whose latest answer holds no rows for them (only those)
    rowless: Mapping[Unit, Rowless] = msgspec.field(default_factory=dict)


class Gap(msgspec.Struct, frozen=True, kw_only=True):
    """A unit whose latest answer cannot be true (no rows where there must be some): what, since when,
    how many runs got that answer, and when it is asked next."""

    endpoint: str
    field: str  # "meeting_key" or "year"
    value: str  # the meeting key or the year
    key: str  # the request asking it alone: drivers?meeting_key=1250
    why: str  # why the answer cannot be true
    since: datetime  # the first answer of the streak
    last: datetime  # the latest
    runs: int  # runs that stored such an answer, in a row
    next_ask: datetime
    kept: bool  # an earlier answer had rows: replay keeps them

    @property
    def what(self) -> str:
        return f"meeting {self.value}" if self.field == "meeting_key" else f"year {self.value}"


class Plan(msgspec.Struct, frozen=True):
    lists: list[PlannedRequest]  # phase 1
    meetings: list[PlannedRequest]  # phase 2, from what is stored now
    #: the known gaps of the years planned (answers that cannot be true), asked on their back-off
    gaps: list[Gap] = msgspec.field(default_factory=list)
    revalidated: list[str] = msgspec.field(default_factory=list)  # "2024 revalidated: ... 45 days old"

    @property
    def all(self) -> list[PlannedRequest]:
        return self.lists + self.meetings


def next_ask(rowless: Rowless, options: FetchOptions) -> datetime:
    """When a gap is asked again: :data:`GAP_BACKOFF` after its latest answer by the number of runs that
    stored it (1 h, 6 h, 24 h), then every ``revalidate_days`` days."""
    runs = len({event.run for event in rowless.streak})
    cadence = timedelta(days=options.revalidate_days or REVALIDATE_DAYS)
    step = GAP_BACKOFF[runs - 1] if runs <= len(GAP_BACKOFF) else cadence
    return as_utc(rowless.streak[0].received_at) + step


def _gap(unit: Unit, stored: Stored, evidence: Evidence, options: FetchOptions, now: datetime) -> Gap | None:
    """``unit`` as a gap when its latest answer holds no rows for it and that cannot be true, else None."""
    rowless = stored.rowless.get(unit)
    if rowless is None or not rowless.streak:
        return None
    why = cannot_be_true(unit, msgspec.structs.replace(evidence, had_rows=rowless.had_rows), now)
    if why is None:
        return None
    return Gap(
        endpoint=unit.endpoint,
        field=unit.field,
        value=unit.value,
        key=unit.key,
        why=why,
        since=as_utc(rowless.streak[-1].received_at),
        last=as_utc(rowless.streak[0].received_at),
        runs=len({event.run for event in rowless.streak}),
        next_ask=next_ask(rowless, options),
        kept=rowless.had_rows,
    )


def _expect(unit: Unit, event: Event | None, stored: Stored, evidence: Evidence, now: datetime) -> str:
    """Why an answer without rows for ``unit`` would not be true now ("" when it could be): the run asks
    such an answer again (bounded) before storing it. An answer with rows stored for it counts."""
    rowless = stored.rowless.get(unit)
    had = rowless.had_rows if rowless is not None else event is not None and not says_no_rows(event)
    return cannot_be_true(unit, msgspec.structs.replace(evidence, had_rows=had), now) or ""


def _reason(
    event: Event | None,
    settles_at: datetime | None,
    options: FetchOptions,
    now: datetime,
    stored: Stored,
    *,
    gap: Gap | None = None,
    revalidate: bool = False,
) -> Reason | None:
    if options.refresh:
        return "refresh"
    if event is None:
        return "missing"
    if event.key in stored.unreadable:
        return "unreadable"
    if gap is not None:  # never settled: asked again when its back-off says so
        return "empty" if now >= gap.next_ask else None
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
    return _list_items(covering(latest.values()), seasons, options, now, stored or Stored())[0]


def _list_evidence(request: Request, season: Season) -> Evidence:
    """What says a year list has rows: the year's sessions (for meetings), its meetings (for sessions)."""
    if request.endpoint == "meetings":
        return Evidence(sessions=season.sessions)
    return Evidence(meetings=season.meetings)


def _list_items(
    covered: Mapping[Unit, Event],
    seasons: Sequence[Season],
    options: FetchOptions,
    now: datetime,
    stored: Stored,
) -> tuple[list[PlannedRequest], list[Gap]]:
    now = as_utc(now)
    by_year = {season.year: season for season in seasons}
    again = revalidating(covered, seasons, options, now)
    planned: list[PlannedRequest] = []
    gaps: list[Gap] = []
    for year in years_for(options, now):
        season = by_year.get(year, Season(year))
        settles_at = season_settles_at(season)
        for request in year_requests(year):
            unit = _list_unit(request, year)
            event = covered.get(unit)
            evidence = _list_evidence(request, season)
            gap = _gap(unit, stored, evidence, options, now)
            if gap is not None:
                gaps.append(gap)
            reason = _reason(event, settles_at, options, now, stored, gap=gap, revalidate=year in again)
            if reason is not None:
                why = _expect(unit, event, stored, evidence, now)
                planned.append(
                    PlannedRequest(
                        request=request, reason=reason, phase=1, year=year, expect_rows=bool(why), why=why
                    )
                )
    return planned, gaps


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
) -> tuple[list[PlannedRequest], list[Gap]]:
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
    batched: dict[tuple[int, str], dict[int, tuple[Reason, str]]] = {}
    gaps: list[Gap] = []
    for year, meeting_key in selected_meetings(in_scope, options, now):
        end = ends.get(meeting_key)
        settles_at = None if end is None else end + SETTLE
        settled_by_time = settles_at is not None and now > settles_at
        for endpoint in endpoints:
            unit = _meeting_unit(endpoint, meeting_key)
            evidence = Evidence(sessions=tuple(sessions.get(meeting_key, ())))
            event = covered.get(unit)
            gap = _gap(unit, stored, evidence, options, now)
            if gap is not None:
                gaps.append(gap)
            reason = _reason(event, settles_at, options, now, stored, gap=gap, revalidate=year in again)
            if reason is None:
                continue
            why = _expect(unit, event, stored, evidence, now)
            # a gap is asked alone (a batch would be answered without it again, for every meeting of it)
            if options.batch and settled_by_time and reason != "empty":
                batched.setdefault((year, endpoint), {})[meeting_key] = (reason, why)
                continue
            singles.append(
                PlannedRequest(
                    request=meeting_request(endpoint, meeting_key),
                    reason=reason,
                    phase=2,
                    year=year,
                    meeting_key=meeting_key,
                    expect_rows=bool(why),
                    why=why,
                    attempts=1 if reason == "empty" else EMPTY_ATTEMPTS,
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
                            expect_rows=bool(members[key][1]),
                            why=members[key][1],
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
    return batches + singles, gaps


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
    lists, list_gaps = _list_items(covered, seasons, options, now, stored)
    meetings, meeting_gaps = _meeting_items(covered, seasons, options, now, stored)
    again = revalidating(covered, seasons, options, now)
    return Plan(
        lists,
        meetings,
        list_gaps + meeting_gaps,
        [why for why in again.values() if why != "--revalidate"],
    )


__all__ = [
    "EMPTY_ATTEMPTS",
    "FIRST_SEASON",
    "GAP_BACKOFF",
    "MAX_BATCH",
    "MAX_PATH",
    "MEETING_ENDPOINTS",
    "RESULT_ENDPOINTS",
    "REVALIDATE_DAYS",
    "SETTLE",
    "SETTLE_DAYS",
    "FetchOptions",
    "FetchUsageError",
    "Gap",
    "Plan",
    "PlannedRequest",
    "Reason",
    "Rowless",
    "Season",
    "Stored",
    "batch_request",
    "decode_meetings",
    "decode_sessions",
    "expects_rows",
    "is_settled",
    "meeting_ends",
    "meeting_keys_of",
    "meeting_request",
    "next_ask",
    "plan",
    "plan_lists",
    "plan_meetings",
    "revalidating",
    "says_no_rows",
    "season_settles_at",
    "selected_meetings",
    "session_end",
    "split_batches",
    "validate",
    "year_requests",
    "years_for",
]
