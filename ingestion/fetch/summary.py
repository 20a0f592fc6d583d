"""What a fetch reports: progress while it runs, a summary when it ends, and their text forms (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

import msgspec

from ingestion.calendar import LIVE_MARGIN, is_live, live_window
from ingestion.fetch.plan import Gap, PlannedRequest, Season
from ingestion.instant import format_duration

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BLOCKED = 3


class FailedRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A request given up on: its URL, the last status (None after a network error), why."""

    key: str
    url: str
    status: int | None
    attempts: int
    reason: str


class Blocked(msgspec.Struct, frozen=True, kw_only=True):
    """The run stopped on OpenF1's live-session 401."""

    url: str
    detail: str
    retry_at: datetime | None  # when the blocking session ends + 30 min, if the store knows it
    session: str | None  # "2024 Bahrain Grand Prix, Race", if the store knows it
    advice: str


class FetchSummary(msgspec.Struct, kw_only=True):
    """Everything a fetch did. ``exit_code``: 0 all fetched, 1 some failed, 3 stopped by a live session."""

    run: str | None = None  # the store run id (None when nothing was stored)
    years: list[int] = msgspec.field(default_factory=list)
    dry_run: bool = False
    planned: int = 0  # requests planned (both phases)
    requests: int = 0  # planned requests asked (answered or failed)
    http_requests: int = 0  # HTTP requests sent, retries and token requests included
    token_requests: int = 0
    new_snapshots: int = 0  # answers whose body was not in the store yet
    unchanged: int = 0  # answers whose exact body was already stored
    empty: int = 0  # "No results found." answers (stored, status 404)
    failed: list[FailedRequest] = msgspec.field(default_factory=list)
    throttled: int = 0  # 429 answers
    retries: int = 0  # attempts after the first, 429s included
    waited_s: float = 0.0  # time waiting for the rate limit
    backoff_s: float = 0.0  # time sleeping between retries
    wall_s: float = 0.0
    least_s: float = 0.0  # least time the limits allow for http_requests requests
    ratio: float | None = None  # wall_s / least_s (None when least_s is 0)
    per_second: float = 0.0
    per_minute: float = 0.0
    not_asked: int = 0  # planned requests left unasked (live-session block)
    fallback: bool = False  # a batch came back like an old server's (no OR): the rest asked per meeting
    short_batches: int = 0  # batch answers without rows for meetings that must have some (not stored)
    blocked: Blocked | None = None
    plan: list[PlannedRequest] = msgspec.field(default_factory=list)  # dry runs only
    notes: list[str] = msgspec.field(default_factory=list)
    #: empty answers that cannot be true (the meeting's ended sessions say it has rows), stored as gaps
    warnings: list[str] = msgspec.field(default_factory=list)
    #: the known gaps of the years fetched, as the run planned them (render_gap: what, since, next ask)
    gaps: list[str] = msgspec.field(default_factory=list)
    reasked_empty: int = 0  # extra asks of empty answers that could not be true
    exit_code: int = EXIT_OK

    def finish(self) -> FetchSummary:
        """Set :attr:`exit_code` from the outcome and return self."""
        if self.blocked is not None:
            self.exit_code = EXIT_BLOCKED
        elif self.failed:
            self.exit_code = EXIT_FAILED
        else:
            self.exit_code = EXIT_OK
        return self


Stage = Literal["plan", "request", "note", "answer", "done"]


class Progress(msgspec.Struct, frozen=True, kw_only=True):
    """A progress report, sent to the ``progress`` callback as the fetch goes."""

    stage: Stage
    phase: int
    done: int  # planned requests asked so far
    planned: int  # planned so far (phase 2 is added once phase 1 is fetched)
    current: str = ""  # the request being asked
    message: str = ""  # a wait, a retry, a 429, an answer
    waited_s: float = 0.0
    retries: int = 0
    throttled: int = 0
    eta_s: float | None = None
    wait_s: float = 0.0  # a wait (rate limit, 429, backoff) starting now, for a live countdown


def live_advice(seasons: Sequence[Season], now: datetime, url: str, detail: str) -> Blocked:
    """What to tell after a live-session 401: the session in progress and when to retry, if stored (the
    calendar's live window: :func:`ingestion.calendar.live_window`)."""
    names: dict[int, str] = {}
    for season in seasons:
        for meeting in season.meetings:
            names[meeting.meeting_key] = f"{season.year} {meeting.meeting_name or meeting.meeting_key}"
    live: list[tuple[datetime, str]] = []
    for season in seasons:
        for session in season.sessions:
            window = live_window(session.date_start, session.date_end, session.is_cancelled)
            if window is not None and is_live(window, now):
                where = names.get(session.meeting_key, f"meeting {session.meeting_key}")
                live.append((window[1], f"{where}, {session.session_name or session.session_key}"))
    credentials = "set OPENF1_USERNAME and OPENF1_PASSWORD (paid tier) to fetch during sessions"
    if live:
        retry_at, name = max(live)
        advice = (
            f"OpenF1 blocks anonymous requests while {name} is live: retry after "
            f"{retry_at:%Y-%m-%d %H:%M} UTC, or {credentials}"
        )
        return Blocked(url=url, detail=detail, retry_at=retry_at, session=name, advice=advice)
    advice = (
        f"OpenF1 blocks anonymous requests from {_minutes(LIVE_MARGIN)} before a session until "
        f"{_minutes(LIVE_MARGIN)} after it: retry in {_minutes(LIVE_MARGIN)}, or {credentials}"
    )
    return Blocked(url=url, detail=detail, retry_at=None, session=None, advice=advice)


def render_gap(gap: Gap) -> str:
    """One known gap on one line: ``drivers of meeting 1250: no rows since 2026-12-06 16:00 UTC (1 run), next
    ask 2026-12-06 17:00 UTC (meeting 1250 has a session ended by then)``."""
    kept = "; replay keeps the earlier rows" if gap.kept else ""
    return (
        f"{gap.endpoint} of {gap.what}: no rows since {gap.since:%Y-%m-%d %H:%M} UTC ({gap.runs} run(s)), "
        f"next ask {gap.next_ask:%Y-%m-%d %H:%M} UTC ({gap.why}{kept})"
    )


def _minutes(delta: timedelta) -> str:
    return f"{int(delta.total_seconds() // 60)} minutes"


def render_plan(planned: Sequence[PlannedRequest]) -> list[str]:
    """One line per planned request: ``phase 2  stale    drivers?meeting_key=1229``; a batch shows its
    first and last key and how many meetings it covers."""
    return [f"phase {p.phase}  {p.reason:<8} {p.label}" for p in planned]


def render_summary(summary: FetchSummary) -> list[str]:
    """The summary as lines of text."""
    lines: list[str] = []
    years = ", ".join(str(y) for y in summary.years)
    if summary.dry_run:
        lines.append(f"dry run for {years}: {summary.planned} request(s) would be asked")
        lines.extend(render_plan(summary.plan))
        lines.extend(f"warning: {warning}" for warning in summary.warnings)
        lines.extend(f"gap: {gap}" for gap in summary.gaps)
        lines.extend(f"note: {note}" for note in summary.notes)
        return lines
    if summary.planned == 0 and summary.http_requests == 0:  # a settled store: one line, not five of zeros
        lines.append(
            f"fetch {years}: nothing to ask, every request is stored and settled"
            + (" (or a known gap, not due yet)" if summary.gaps else "")
        )
        lines.extend(f"  {line}" for line in render_problems(summary))
        lines.extend(f"  note: {note}" for note in summary.notes)
        return lines
    lines.append(
        f"fetch {years}: {summary.requests} of {summary.planned} planned request(s) asked"
        + (f" in run {summary.run}" if summary.run else "")
    )
    lines.append(
        f"  {summary.new_snapshots} new snapshot(s), {summary.unchanged} unchanged, {summary.empty} empty, "
        f"{len(summary.failed)} failed"
    )
    token = f" ({summary.token_requests} for a token)" if summary.token_requests else ""
    reasked = (
        f", {summary.reasked_empty} re-asked after an empty answer that cannot be true"
        if summary.reasked_empty
        else ""
    )
    lines.append(
        f"  {summary.http_requests} HTTP request(s){token}, {summary.throttled} answered 429, "
        f"{summary.retries} retries{reasked}"
    )
    lines.append(
        f"  waited {format_duration(summary.waited_s)} for the limit ({summary.per_second:g}/s, "
        f"{summary.per_minute:g}/min), {format_duration(summary.backoff_s)} backing off"
    )
    least = format_duration(summary.least_s)
    ratio = f", {summary.ratio:.2f}x the least time ({least})" if summary.ratio else ""
    lines.append(f"  wall time {format_duration(summary.wall_s)}{ratio}")
    lines.extend(f"  {line}" for line in render_problems(summary))
    lines.extend(f"  note: {note}" for note in summary.notes)
    return lines


def render_problems(summary: FetchSummary) -> list[str]:
    """The failed requests (with their URLs), empty answers that cannot be true, the known gaps, and a
    live-session stop with its advice, one line each."""
    lines = [f"warning: {warning}" for warning in summary.warnings]
    lines.extend(f"gap: {gap}" for gap in summary.gaps)
    for failure in summary.failed:
        status = failure.status if failure.status is not None else "no answer"
        lines.append(f"failed: {failure.url} ({status}, {failure.attempts} tries): {failure.reason}")
    if summary.blocked is not None:
        lines.append(f"stopped: {summary.blocked.detail} ({summary.not_asked} request(s) not asked)")
        lines.append(summary.blocked.advice)
    return lines


def render_progress(progress: Progress) -> str:
    """A one-line progress report."""
    eta = f", ETA {format_duration(progress.eta_s)}" if progress.eta_s is not None else ""
    parts = [f"[{progress.done}/{progress.planned}]"]
    if progress.current:
        parts.append(progress.current)
    if progress.message:
        parts.append(progress.message)
    parts.append(
        f"(waited {format_duration(progress.waited_s)}, {progress.retries} retries, "
        f"{progress.throttled} x 429{eta})"
    )
    return " ".join(parts)


__all__ = [
    "EXIT_BLOCKED",
    "EXIT_FAILED",
    "EXIT_OK",
    "Blocked",
    "FailedRequest",
    "FetchSummary",
    "Progress",
    "live_advice",
    "render_gap",
    "render_plan",
    "render_problems",
    "render_progress",
    "render_summary",
]
