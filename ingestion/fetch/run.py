"""The fetch run (the imperative shell): plan, ask OpenF1, store every valid answer, report.

It writes only through the snapshot store (``Store(settings.snapshot_dir).writer()`` and ``put``), holding
the store's lock for the whole run. Killing it and running it again continues where it stopped: every
stored answer is either settled (never asked again) or asked again by design.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import msgspec

from ingestion.config import Settings
from ingestion.fetch.plan import (
    EMPTY_ATTEMPTS,
    FetchOptions,
    Plan,
    PlannedRequest,
    Rowless,
    Season,
    Stored,
    decode_meetings,
    decode_sessions,
    meeting_keys_of,
    plan,
    plan_meetings,
    says_no_rows,
    validate,
    year_requests,
    years_for,
)
from ingestion.fetch.record import record_of, write_record
from ingestion.fetch.summary import FailedRequest, FetchSummary, Progress, Stage, live_advice, render_gap
from ingestion.instant import as_utc
from ingestion.openf1.credibility import standing, units_with_rows
from ingestion.openf1.limiter import Limiter, least_time
from ingestion.openf1.wire import ENDPOINTS
from ingestion.store import (
    BlobCorrupt,
    BlobMismatch,
    BlobMissing,
    Event,
    Store,
    Writer,
    address_of,
    event_order,
)
from ingestion.store.coverage import Unit, units_of

if TYPE_CHECKING:
    from ingestion.openf1.client import Answer, Note, OpenF1Client

ProgressCallback = Callable[[Progress], None]

#: The endpoints the plan asks: only their stored blobs are checked before planning.
_PLANNED_ENDPOINTS = frozenset(ENDPOINTS)


def _body(store: Store, event: Event | None) -> bytes | None:
    """The stored body of ``event``, or None when there is none or it cannot be trusted (asked again)."""
    if event is None:
        return None
    try:
        return store.read_event(event)
    except (BlobMissing, BlobCorrupt, BlobMismatch):
        return None


def _listed(store: Store, event: Event | None) -> Event | None:
    """The answer a year list is read from: its latest, or when that one has no rows, the latest one with
    rows before it (a list that had rows never loses them all: that answer cannot be true,
    :func:`ingestion.openf1.credibility.cannot_be_true`)."""
    if event is None or not says_no_rows(event):
        return event
    earlier = [
        e for e in store.history(event.key) if event_order(e) < event_order(event) and not says_no_rows(e)
    ]
    return earlier[-1] if earlier else event


def load_seasons(store: Store, latest: Mapping[str, Event], years: Sequence[int]) -> list[Season]:
    """The meetings and sessions stored for ``years`` (from the latest ``meetings/sessions?year=Y`` with rows:
    an empty one after rows cannot be true).

    A list whose blob is missing, corrupt or does not match its event counts as not stored (the plan asks
    it again: :func:`stored_state`)."""
    seasons: list[Season] = []
    for year in years:
        meetings_request, sessions_request = year_requests(year)
        meetings_body = _body(store, _listed(store, latest.get(meetings_request.key)))
        sessions_body = _body(store, _listed(store, latest.get(sessions_request.key)))
        meetings = decode_meetings(meetings_body) if meetings_body is not None else ()
        sessions = decode_sessions(sessions_body) if sessions_body is not None else ()
        seasons.append(Season(year, meetings, sessions))
    return seasons


def stored_state(store: Store, latest: Mapping[str, Event], *, check_blobs: bool = True) -> Stored:
    """Which latest answers cannot be read back (asked again; not looked for without ``check_blobs``), and
    the units whose latest answers hold no rows for them (with those answers, and whether an earlier one
    had rows): the plan judges whether that can be true. A batch's body says which meetings it holds (read
    once per blob)."""
    planned = [event for event in latest.values() if event.endpoint in _PLANNED_ENDPOINTS]
    unreadable = frozenset(event.key for event in store.unanswered(planned)) if check_blobs else frozenset()
    present: dict[tuple[str, str], frozenset[Unit]] = {}

    def rows(event: Event) -> frozenset[Unit]:
        units = units_of(event.endpoint, event.query)
        if len(units) == 1 or says_no_rows(event):
            return frozenset() if says_no_rows(event) else frozenset(units)
        known = (event.address, event.query)  # a batch: its body says which meetings it holds
        if known not in present:
            try:
                present[known] = units_with_rows(event, store.read_event(event))
            except (BlobMissing, BlobCorrupt, BlobMismatch):
                present[known] = frozenset(units)  # unreadable: asked again as such
        return present[known]

    history: dict[Unit, list[Event]] = {}
    for event in store.events():
        if event.endpoint in _PLANNED_ENDPOINTS:
            for unit in units_of(event.endpoint, event.query):
                history.setdefault(unit, []).append(event)
    rowless: dict[Unit, Rowless] = {}
    for unit, events in history.items():
        stand = standing(unit, reversed(events), rows)
        if stand.streak:
            rowless[unit] = Rowless(stand.streak, had_rows=stand.good is not None)
    return Stored(unreadable=unreadable, rowless=rowless)


def _now_utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return as_utc(now)


class _Run:
    def __init__(
        self,
        settings: Settings,
        options: FetchOptions,
        now: datetime,
        progress: ProgressCallback | None,
        *,
        requests: Sequence[PlannedRequest] | None = None,
        wall: Callable[[], datetime] | None = None,
    ) -> None:
        self.requests = None if requests is None else list(requests)  # asked as given, not planned
        self.wall = wall or (lambda: datetime.now(UTC))
        self.settings = settings
        self.options = options
        self.now = now
        self.progress = progress
        self.store = Store(settings.snapshot_dir)
        self.years = years_for(options, now)
        self.summary = FetchSummary(
            years=self.years,
            dry_run=options.dry_run,
            per_second=settings.rate_per_second,
            per_minute=settings.rate_per_minute,
        )
        if not options.years and options.recent_days is None and not options.all_years:
            self.summary.notes.append(
                f"no --year given: the current season, {now.year} (in UTC); --year chooses another"
            )
        self.limiter = Limiter(settings.rate_per_second, settings.rate_per_minute, margin=options.margin)
        self.phase = 1
        self.fallback = False  # a batch came back short like an old server's: per meeting for the rest
        self.current = ""
        self.seasons: list[Season] = []
        self.earlier: list[float] = []  # ages of the answers an earlier run stored in the last minute

    # --- progress -------------------------------------------------------------------------------------

    def emit(self, stage: Stage, message: str = "", wait_s: float = 0.0) -> None:
        if self.progress is None:
            return
        s = self.summary
        remaining = s.planned - s.requests - s.not_asked
        self.progress(
            Progress(
                stage=stage,
                phase=self.phase,
                done=s.requests,
                planned=s.planned,
                current=self.current,
                message=message,
                waited_s=self.limiter.waited,
                retries=s.retries,
                throttled=s.throttled,
                eta_s=self.limiter.eta(remaining) if remaining > 0 and stage != "done" else None,
                wait_s=wait_s,
            )
        )

    def on_note(self, note: Note) -> None:
        if note.kind == "wait":
            message = f"waiting {note.seconds:.2f} s for the rate limit"
        elif note.kind == "throttled":
            message = f"429: waiting {note.seconds:.2f} s"
        elif note.kind == "retry":
            message = f"{note.reason}: retrying in {note.seconds:.2f} s"
        else:
            message = note.reason
        self.emit("note", message, note.seconds if note.kind in ("wait", "throttled", "retry") else 0.0)

    # --- the run --------------------------------------------------------------------------------------

    def reload(self) -> tuple[dict[str, Event], Stored]:
        latest = self.store.latest()
        self.seasons = load_seasons(self.store, latest, self.years)
        return latest, stored_state(self.store, latest)

    def plan(self) -> Plan:
        if self.requests is not None:  # asked as given (ingest watch's schedule)
            lists = [r for r in self.requests if r.phase == 1]
            return Plan(lists, [r for r in self.requests if r.phase != 1])
        latest, stored = self.reload()
        planned = plan(latest, self.seasons, self.options, self.now, stored)
        self.summary.gaps = [render_gap(gap) for gap in planned.gaps]
        return planned

    def record(self, item: PlannedRequest, answer: Answer, writer: Writer) -> None:
        s = self.summary
        s.throttled += answer.throttled
        s.retries += answer.retries
        s.backoff_s += answer.backoff
        if answer.outcome == "blocked":
            # the live session may belong to another year than the ones fetched: look at this year's too
            seasons = load_seasons(self.store, self.store.latest(), sorted({*self.years, self.now.year}))
            s.blocked = live_advice(seasons, self.now, answer.url, answer.reason)
            s.not_asked += 1
            self.emit("answer", f"blocked: {answer.reason}")
            return
        s.requests += 1
        if answer.outcome == "failed":
            s.failed.append(
                FailedRequest(
                    key=item.key,
                    url=answer.url,
                    status=answer.status,
                    attempts=answer.attempts,
                    reason=answer.reason,
                )
            )
            self.emit("answer", f"failed: {answer.reason}")
            return
        assert answer.received_at is not None
        seen = self.store.has(address_of(answer.body))
        writer.put(
            item.request,
            answer.body,
            url=answer.url,
            status=answer.stored_status,
            received_at=answer.received_at,
            content_type=answer.content_type,
            attempts=answer.attempts,
            elapsed_ms=answer.elapsed_ms,
        )
        if s.run is None:
            s.run = writer.run
        if answer.outcome == "empty":
            s.empty += 1
            what = "no results"
        elif seen:
            s.unchanged += 1
            what = "unchanged"
        else:
            s.new_snapshots += 1
            what = "new"
        self.emit("answer", f"{answer.stored_status} {what} ({len(answer.body)} bytes)")

    def short_batch(self, item: PlannedRequest, answer: Answer) -> tuple[list[int], set[int]]:
        """The meetings a batch's answer should hold rows for and does not, and those it holds rows for."""
        if not item.expect or answer.outcome not in ("rows", "empty"):
            return [], set()
        present: set[int] = set(meeting_keys_of(answer.body)) if answer.outcome == "rows" else set()
        return [key for key in item.expect if key not in present], present

    def no_or(self, item: PlannedRequest, answer: Answer, missing: list[int]) -> None:
        """A batch answered with rows for its last key's meeting alone, as a server that keeps only the last
        value of a repeated key does (OpenF1 before August 2025): not stored (it would cover the others
        with nothing); its meetings, and every later batch of the run, are asked one request per meeting."""
        s = self.summary
        s.requests += 1
        s.throttled += answer.throttled
        s.retries += answer.retries
        s.backoff_s += answer.backoff
        s.short_batches += 1
        self.fallback = s.fallback = True
        s.notes.append(
            f"a batch of {item.request.endpoint} for {len(item.meetings)} meetings came back with rows for "
            f"its last meeting ({item.meetings[-1]}) alone: the server does not OR repeated keys (OpenF1 "
            "before August 2025); asked per meeting for the rest of this run (the short answer was not "
            "stored)"
        )
        self.emit("answer", "batch answer holds the last meeting alone: asking per meeting")

    def gaps_alone(self, item: PlannedRequest, missing: list[int], present: set[int]) -> list[PlannedRequest]:
        """The meetings a stored batch answer left out, each asked alone (the batch was their first ask):
        a meeting missing from an OR'd answer is that meeting's gap, not the server's inability to OR."""
        s = self.summary
        s.short_batches += 1
        shown = ", ".join(str(k) for k in missing[:5]) + (", ..." if len(missing) > 5 else "")
        what = (
            f"a batch of {item.request.endpoint} for {len(item.meetings)} meetings came back without rows "
            "for "
        )
        if not present:
            s.notes.append(
                f"{what}any of them, {EMPTY_ATTEMPTS} time(s): stored; each meeting is a gap, asked again "
                "alone on its back-off (1 h, 6 h, 24 h, then every REVALIDATE_DAYS)"
            )
            return []
        s.notes.append(
            f"{what}{len(missing)} of them ({shown}): stored for the {len(present)} it holds; those asked "
            f"alone (up to {EMPTY_ATTEMPTS - 1} more time(s) each)"
        )
        return [
            msgspec.structs.replace(single, attempts=EMPTY_ATTEMPTS - 1)
            for single in item.per_meeting()
            if single.meeting_key in missing
        ]

    async def ask(self, items: Sequence[PlannedRequest], client: OpenF1Client, writer: Writer) -> None:
        queue = deque(items)
        while queue:
            item = queue.popleft()
            if self.summary.blocked is not None:
                self.summary.not_asked += 1
                continue
            if item.is_batch and self.fallback:
                singles = item.per_meeting()
                self.summary.planned += len(singles) - 1
                queue.extendleft(reversed(singles))
                continue
            self.current = item.label
            self.emit("request")
            answer = await client.get(item.request)
            asked = 1
            while True:
                missing, present = self.short_batch(item, answer)
                if missing and present and present <= {item.meetings[-1]} and len(item.expect) > 1:
                    break  # the answer of a server that does not OR
                empty = bool(missing and not present) if item.is_batch else answer.outcome == "empty"
                if not (item.expect_rows or item.expect) or not empty or asked >= item.attempts:
                    break
                # "No results found." where there must be rows: a server hiccup as likely as the truth
                # (or a gap). Ask again (bounded) before storing it.
                self.summary.reasked_empty += 1
                again = f"empty answer that cannot be true: asking again ({asked + 1}/{item.attempts})"
                self.emit("note", again)
                answer = await client.get(item.request)
                asked += 1
            if missing and present and present <= {item.meetings[-1]} and len(item.expect) > 1:
                self.no_or(item, answer, missing)
                singles = item.per_meeting()
                self.summary.planned += len(singles)
                queue.extendleft(reversed(singles))
                continue
            if item.expect_rows and answer.outcome == "empty":
                alone = " alone" if item.attempts < EMPTY_ATTEMPTS else ""
                self.summary.warnings.append(
                    f"{item.key} answered \"No results found.\" {asked} time(s){alone} although that cannot "
                    f"be true ({item.why}): stored as a gap (replay keeps any earlier rows), asked again "
                    "after a back-off"
                )
            self.record(item, answer, writer)
            if missing:
                singles = self.gaps_alone(item, missing, present)
                self.summary.planned += len(singles)
                queue.extendleft(reversed(singles))

    def seed_limiter(self) -> None:
        """Count the answers stored in the last minute (an earlier fetch or sync): the server still does."""
        wall = self.wall()
        for event in reversed(self.store.events()):
            age = (wall - event.received_at).total_seconds()
            if age > self.limiter.horizon:
                break
            if age >= 0:
                self.earlier.append(age)
        self.limiter.seed(self.earlier)
        if self.earlier:
            # A run stopped mid-request (Ctrl-C, kill) had one request the server counted but the store
            # never saw: count it as just sent, so a resumed run gets no 429 (the client asks one at a time).
            self.limiter.seed([0.0])
            self.summary.notes.append(
                f"{len(self.earlier)} answer(s) an earlier run stored in the last "
                f"{self.limiter.horizon:.0f} s still counted against the limit, "
                "plus one it may have had in flight"
            )

    async def ask_all(self, first: Plan, writer: Writer) -> None:
        """Phase 1 (the year lists), then phase 2 planned again from what phase 1 stored."""
        s = self.summary
        # here, not at the top: a run asking nothing (settled, dry run) never pays httpx's ~50 ms import
        from ingestion.openf1.client import OpenF1Client

        if first.lists:
            self.emit("plan", f"phase 1: {len(first.lists)} year list request(s)")
        client = OpenF1Client(
            self.settings.openf1_base_url,
            self.limiter,
            self.options.retry,
            credentials=self.settings.credentials,
            on_note=self.on_note,
            wall=self.wall,
        )
        try:
            await self.ask(first.lists, client, writer)
            self.phase = 2
            second = first.meetings
            if first.lists and self.requests is None:
                latest, stored = self.reload()
                second = plan_meetings(latest, self.seasons, self.options, self.now, stored)
            s.planned += len(second)
            self.current = ""
            batches = sum(1 for item in second if item.is_batch)
            self.emit(
                "plan",
                f"phase 2: {len(second)} meeting request(s), {batches} of them batched"
                if batches
                else f"phase 2: {len(second)} per-meeting request(s)",
            )
            await self.ask(second, client, writer)
        finally:
            await client.aclose()
            s.http_requests = client.stats.http_requests
            s.token_requests = client.stats.token_requests

    async def run(self) -> FetchSummary:
        started = time.monotonic()
        s = self.summary
        first = self.plan()
        s.notes.extend(first.revalidated)
        if self.options.dry_run:
            s.plan = first.all
            s.planned = len(s.plan)
            if first.lists:
                s.notes.append(
                    "phase 2 (per meeting) is planned from the meetings and sessions already stored; "
                    f"the {len(first.lists)} year list request(s) above may add meetings once fetched"
                )
            s.wall_s = time.monotonic() - started
            return s.finish()
        with contextlib.ExitStack() as stack:
            writer: Writer | None = None
            if first.lists or first.meetings:
                writer = stack.enter_context(self.store.writer(timeout=self.options.lock_wait))
                # Plan again under the lock: another fetch may have stored answers while this one waited.
                first = self.plan()
                self.seed_limiter()
            s.planned = len(first.lists)
            if writer is not None:
                await self.ask_all(first, writer)
        if writer is not None and self.requests is None:
            self.plan()  # the gaps as the run leaves them
        latest = self.store.latest()
        for year in self.years:
            listed = latest.get(f"meetings?year={year}")
            if listed is not None and listed.status == 404:
                s.notes.append(f"OpenF1 has no meetings for {year} yet (it answered \"No results found.\")")
        s.waited_s = self.limiter.waited
        s.wall_s = time.monotonic() - started
        s.least_s = least_time(
            s.http_requests, self.settings.rate_per_second, self.settings.rate_per_minute, self.earlier
        )
        s.ratio = s.wall_s / s.least_s if s.least_s > 0 else None
        self.current = ""
        self.emit("done")
        return s.finish()


def fetch(
    settings: Settings,
    options: FetchOptions | None = None,
    now: datetime | None = None,
    progress: ProgressCallback | None = None,
) -> FetchSummary:
    """Fetch what ``options`` asks for into ``settings.snapshot_dir`` and say what happened.

    ``now`` (default: the current time) decides the current year, which meetings have sessions already
    ended, and what is settled. Raises :class:`~ingestion.fetch.plan.FetchUsageError` for bad options,
    :class:`~ingestion.openf1.token.TokenError` when ``POST /token`` refuses the credentials, and the
    store's errors (``StoreLocked`` when another fetch holds the store). Failed requests, and a stop on a
    live-session block, are in the summary (``exit_code`` 1 and 3), not raised.
    """
    options = options or FetchOptions()
    when = _now_utc(now)
    validate(options, when)
    summary = asyncio.run(_Run(settings, options, when, progress).run())
    if summary.run is not None:  # `ingest runs` shows what was asked and how it ended
        write_record(settings.snapshot_dir, record_of(summary, options, datetime.now(UTC)))
    return summary


def fetch_requests(
    settings: Settings,
    requests: Sequence[PlannedRequest],
    *,
    now: datetime | None = None,
    options: FetchOptions | None = None,
    progress: ProgressCallback | None = None,
    wall: Callable[[], datetime] | None = None,
) -> FetchSummary:
    """Ask exactly ``requests`` (planned elsewhere: ``ingest watch``'s schedule) with fetch's client, limits
    and store, and say what happened. ``wall`` stamps the answers' ``received_at`` (default: the real time;
    tests of the watcher drive it). ``options`` gives the retry policy and margin; its plan fields are
    ignored. Same errors and summary as :func:`fetch`."""
    options = options or FetchOptions()
    when = _now_utc(now)
    summary = asyncio.run(_Run(settings, options, when, progress, requests=requests, wall=wall).run())
    if summary.run is not None:  # `ingest runs` shows what was asked and how it ended
        ended = wall() if wall else datetime.now(UTC)
        write_record(settings.snapshot_dir, record_of(summary, options, ended))
    return summary
