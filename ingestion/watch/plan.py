"""The schedule as the store holds it (:func:`store_schedule`) and as ``ingest watch --dry-run`` prints it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from ingestion.fetch import load_seasons
from ingestion.fetch.plan import session_end
from ingestion.fetch.run import stored_state
from ingestion.instant import format_duration
from ingestion.store import Event, Store
from ingestion.watch.schedule import Schedule, WatchOptions, schedule

__all__ = ["iso", "last_ended_session", "render_schedule", "store_schedule", "waiting_for"]


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
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
