"""The schedule as the store holds it (:func:`store_schedule`) and as ``ingest watch --dry-run`` prints it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from ingestion.fetch import load_seasons
from ingestion.fetch.plan import session_end
from ingestion.fetch.run import stored_state
from ingestion.instant import format_duration, format_utc
from ingestion.store import Event, Store
from ingestion.watch.cadence import (
    Ended,
    F1dbPlan,
    f1db_race_sessions,
    f1db_schedule,
    f1db_steps,
    openf1_sessions,
)
from ingestion.watch.schedule import Schedule, WatchOptions, schedule
from ingestion.watch.state import WatchState

__all__ = [
    "f1db_calendar",
    "f1db_last_asked",
    "iso",
    "last_ended_session",
    "render_f1db",
    "render_schedule",
    "render_watch",
    "store_f1db_plan",
    "store_schedule",
    "waiting_for",
    "wake_for",
]


def store_schedule(
    store: Store, options: WatchOptions, now: datetime, blocked_until: datetime | None = None
) -> tuple[Schedule, dict[str, Event]]:
    """The schedule of the store at ``now`` (the calendar of this year and the previous one)."""
    latest = store.latest()
    years = [y for y in (now.year - 1, now.year)]
    seasons = load_seasons(store, latest, years)
    stored = stored_state(store, latest, check_blobs=False)  # the gaps; fetch checks blobs itself
    return schedule(seasons, latest, options, now, blocked_until=blocked_until, stored=stored), latest


def iso(value: datetime) -> str:
    return format_utc(value)


def waiting_for(plan: Schedule) -> str:
    """What the next wake-up of ``plan`` is for, in a few words (the live line of ``ingest watch``)."""
    if plan.closed is not None and plan.next_wake >= plan.closed.end:
        return f"the end of {plan.closed.session}'s live window"
    if plan.upcoming and plan.upcoming[0].at <= plan.next_wake:
        step = plan.upcoming[0]
        return f"{step.key} ({step.why})"
    return "--max-sleep (nothing due sooner)"


def _until(later: datetime, now: datetime) -> str:
    return format_duration(max((later - now).total_seconds(), 0.0))


def render_schedule(plan: Schedule, *, limit: int = 15) -> list[str]:
    """The schedule as lines of text for ``ingest watch --dry-run`` (pure)."""
    years = ", ".join(str(y) for y in plan.years) or "none"
    lines = [f"watch schedule at {iso(plan.now)} (seasons {years})"]
    if plan.closed is not None:
        lines.append(
            f"closed until {iso(plan.closed.end)}: {plan.closed.session} is live "
            "(OpenF1 refuses anonymous requests; set OPENF1_USERNAME/OPENF1_PASSWORD to ask anyway)"
        )
    if plan.due:
        lines.append(f"due now: {len(plan.due)} request(s)")
        lines.extend(f"  {d.key:<36} {d.why}" for d in plan.due)
        if any(d.planned.phase == 1 and d.planned.reason == "missing" for d in plan.due):
            lines.append("  (the meetings of a season are scheduled once its year lists are stored)")
    else:
        lines.append("due now: nothing")
    if plan.upcoming:
        lines.append(f"next: {len(plan.upcoming)} request(s) have a step to come; the first {limit}:")
        lines.extend(
            f"  {iso(s.at)} (in {_until(s.at, plan.now):>11})  {s.key:<36} {s.why}"
            for s in plan.upcoming[:limit]
        )
    lines.append(f"next wake-up: {iso(plan.next_wake)} (in {_until(plan.next_wake, plan.now)})")
    return lines


def last_ended_session(store: Store, latest: Mapping[str, Event], now: datetime) -> datetime | None:
    ends = [
        end
        for season in load_seasons(store, latest, [now.year - 1, now.year])
        for s in season.sessions
        if (end := session_end(s)) is not None and end <= now
    ]
    return max(ends) if ends else None


def f1db_last_asked(store: Store, state: WatchState | None) -> datetime | None:
    """The last time f1db was asked: the watcher's record of its last ask (``watch.json``: every answer,
    304s included), or the newest release the store received (``ingest fetch --source f1db`` counts)."""
    received = [r.received_at for r in store.releases("f1db", strict=False)]
    asked = [*received, *([state.f1db_asked] if state is not None and state.f1db_asked else [])]
    return max(asked) if asked else None


def f1db_calendar(store: Store, years: Sequence[int], now: datetime) -> list[Ended]:
    """The sessions of ``years`` in f1db's own calendar: the ``race.yml`` files of the release replay
    reads at ``now`` (none without a release)."""
    release = store.f1db_release(now)
    if release is None:
        return []
    prefixes = {year: f"src/data/seasons/{year}/races/" for year in years}
    return [
        session
        for year, prefix in prefixes.items()
        for path, address in sorted(release.files.items())
        if path.startswith(prefix) and path.endswith("/race.yml")
        for session in f1db_race_sessions(year, store.read(address))
    ]


def store_f1db_plan(store: Store, state: WatchState | None, now: datetime) -> F1dbPlan:
    """f1db's cadence at ``now`` as the store holds it: the steps of the stored calendar (this year and the
    previous one: OpenF1's, else f1db's own from its release), the last ask and the rate limit's reset from
    ``state``."""
    seasons = load_seasons(store, store.latest(), [now.year - 1, now.year])
    ended = openf1_sessions(seasons)
    without = [s.year for s in seasons if not s.sessions]  # no OpenF1 calendar: f1db's own, if stored
    if without:
        ended.extend(f1db_calendar(store, without, now))
    return f1db_schedule(
        f1db_steps(ended), f1db_last_asked(store, state), now,
        blocked_until=state.f1db_blocked_until if state is not None else None,
    )


def render_f1db(plan: F1dbPlan, *, limit: int = 8) -> list[str]:
    """f1db's part of ``ingest watch --dry-run`` (pure): the last ask, what is due, the next steps."""
    asked = f"last asked {iso(plan.asked)}" if plan.asked is not None else "never asked"
    lines = [f"f1db ({asked}; one conditional request a step, GitHub allows 60 an hour without a token):"]
    if plan.due is not None:
        lines.append(f"  due now: its latest release ({plan.due.why})")
    else:
        lines.append("  due now: nothing")
    lines.extend(
        f"  {iso(s.at)} (in {_until(s.at, plan.now):>11})  {s.why}" for s in plan.upcoming[:limit]
    )
    if len(plan.upcoming) > limit:
        lines.append(f"  ... and {len(plan.upcoming) - limit} more step(s)")
    return lines


def wake_for(plan: Schedule, f1db: F1dbPlan | None) -> tuple[datetime, str]:
    """When the watcher wakes next and what for: OpenF1's schedule, or f1db's next step when sooner."""
    if f1db is not None and f1db.next_wake is not None and f1db.next_wake < plan.next_wake:
        return f1db.next_wake, f"f1db ({f1db.upcoming[0].why})"
    return plan.next_wake, waiting_for(plan)


def render_watch(plan: Schedule, f1db: F1dbPlan | None) -> list[str]:
    """``ingest watch --dry-run``'s lines (pure): OpenF1's schedule, f1db's part when it is a source, and
    the wake-up of both."""
    lines = render_schedule(plan)
    if f1db is None:
        return lines
    wake, _ = wake_for(plan, f1db)
    return [*lines[:-1], *render_f1db(f1db), f"next wake-up: {iso(wake)} (in {_until(wake, plan.now)})"]
