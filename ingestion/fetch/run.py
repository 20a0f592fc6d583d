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

from ingestion.config import Settings
from ingestion.fetch.plan import (
    EMPTY_ATTEMPTS,
    FetchOptions,
    Plan,
    PlannedRequest,
    Season,
    Stored,
    decode_meetings,
    decode_sessions,
    is_empty,
    meeting_keys_of,
    plan,
    plan_meetings,
    validate,
    year_requests,
    years_for,
)
from ingestion.fetch.record import record_of, write_record
from ingestion.fetch.summary import FailedRequest, FetchSummary, Progress, Stage, live_advice
from ingestion.instant import as_utc
from ingestion.openf1.limiter import Limiter, least_time
from ingestion.openf1.wire import ENDPOINTS
from ingestion.store import BlobCorrupt, BlobMismatch, BlobMissing, Event, Store, Writer, address_of

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


def load_seasons(store: Store, latest: Mapping[str, Event], years: Sequence[int]) -> list[Season]:
    """The meetings and sessions stored for ``years`` (from the latest ``meetings/sessions?year=Y``).

    A list whose blob is missing, corrupt or does not match its event counts as not stored (the plan asks
    it again: :func:`stored_state`)."""
    seasons: list[Season] = []
    for year in years:
        meetings_request, sessions_request = year_requests(year)
        meetings_body = _body(store, latest.get(meetings_request.key))
        sessions_body = _body(store, latest.get(sessions_request.key))
        meetings = decode_meetings(meetings_body) if meetings_body is not None else ()
        sessions = decode_sessions(sessions_body) if sessions_body is not None else ()
        seasons.append(Season(year, meetings, sessions))
    return seasons


def stored_state(store: Store, latest: Mapping[str, Event]) -> Stored:
    """Which latest answers cannot be read back (asked again), and how many runs in a row stored each
    empty answer (an empty answer that cannot be true is asked again for a bounded number of runs)."""
    planned = (event for event in latest.values() if event.endpoint in _PLANNED_ENDPOINTS)
    unreadable = frozenset(event.key for event in store.unanswered(planned))
    empty_runs: dict[str, int] = {}
    stopped: set[str] = set()
    for event in reversed(store.events()):
        key = event.key
        if key in stopped:
            continue
        if is_empty(event):
            empty_runs[key] = empty_runs.get(key, 0) + 1
        else:
            stopped.add(key)
    return Stored(unreadable=unreadable, empty_runs=empty_runs)


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
        self.summary.warnings = list(planned.kept_empty)
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

    def short_batch(self, item: PlannedRequest, answer: Answer) -> list[int]:
        """The meetings a batch's answer should hold rows for and does not."""
        if not item.expect or answer.outcome not in ("rows", "empty"):
            return []
        present: set[int] = set(meeting_keys_of(answer.body)) if answer.outcome == "rows" else set()
        return [key for key in item.expect if key not in present]

    def short(self, item: PlannedRequest, answer: Answer, missing: list[int]) -> None:
        """A batch answer without rows for meetings that must have some is not stored (it would cover them
        with nothing): its meetings are asked one by one. When it holds one meeting's rows or none (a server
        keeping only the last repeated key: OpenF1 before August 2025), every later batch is too."""
        s = self.summary
        s.requests += 1
        s.throttled += answer.throttled
        s.retries += answer.retries
        s.backoff_s += answer.backoff
        s.short_batches += 1
        present = set(meeting_keys_of(answer.body)) if answer.outcome == "rows" else set()
        shown = ", ".join(str(k) for k in missing[:5]) + (", ..." if len(missing) > 5 else "")
        what = f"{item.request.endpoint} for {len(item.meetings)} meetings came back without rows for " + (
            f"{len(missing)} of them ({shown})"
        )
        if len(present) <= 1 and len(item.expect) > 1 and not self.fallback:
            self.fallback = s.fallback = True
            s.notes.append(
                f"a batch of {what}: the server does not OR repeated keys (OpenF1 before August 2025); "
                "asked per meeting for the rest of this run (the short answer was not stored)"
            )
        elif not self.fallback:
            s.notes.append(f"a batch of {what}: asked its meetings one by one (the answer was not stored)")
        self.emit("answer", "batch answer short: asking per meeting")

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
            missing = self.short_batch(item, answer)
            if missing:
                self.short(item, answer, missing)
                singles = item.per_meeting()
                self.summary.planned += len(singles)
                queue.extendleft(reversed(singles))
                continue
            asked = 1
            while item.expect_rows and answer.outcome == "empty" and asked < EMPTY_ATTEMPTS:
                # "No results found." about a meeting whose ended sessions say it has rows: a server
                # hiccup as likely as the truth. Ask again (bounded) before storing it.
                self.summary.reasked_empty += 1
                note = f"empty answer that cannot be true: asking again ({asked + 1}/{EMPTY_ATTEMPTS})"
                self.emit("note", note)
                answer = await client.get(item.request)
                asked += 1
            if item.expect_rows and answer.outcome == "empty":
                self.summary.warnings.append(
                    f"{item.key} answered \"No results found.\" {asked} time(s) although meeting "
                    f"{item.meeting_key}'s ended sessions say it has rows: stored as empty, asked again by "
                    "the next fetch"
                )
            self.record(item, answer, writer)

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
