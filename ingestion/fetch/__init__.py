"""The fetch stage: plan what OpenF1 requests a season needs, ask them paced and retried, store the answers.

    from ingestion.fetch import FetchOptions, fetch

    summary = fetch(load_settings(), FetchOptions(years=(2024,), results=False))
    print(summary.new_snapshots, summary.exit_code)

The plan is pure (:mod:`ingestion.fetch.plan`); the run is the shell (:mod:`ingestion.fetch.run`); the
summary and progress records and their text forms are in :mod:`ingestion.fetch.summary`.
See docs/fetch.md.
"""

from __future__ import annotations

from ingestion.fetch.gaps import known_gaps
from ingestion.fetch.plan import (
    FIRST_SEASON,
    SETTLE_DAYS,
    FetchOptions,
    FetchUsageError,
    Gap,
    Plan,
    PlannedRequest,
    Season,
    plan,
    plan_lists,
    plan_meetings,
    validate,
    years_for,
)
from ingestion.fetch.run import ProgressCallback, fetch, fetch_requests, load_seasons
from ingestion.fetch.summary import (
    Blocked,
    FailedRequest,
    FetchSummary,
    Progress,
    render_gap,
    render_plan,
    render_progress,
    render_summary,
)
from ingestion.openf1.limiter import least_time
from ingestion.openf1.retry import RetryPolicy
from ingestion.openf1.token import TokenError

__all__ = [
    "FIRST_SEASON",
    "SETTLE_DAYS",
    "Blocked",
    "FailedRequest",
    "FetchOptions",
    "FetchSummary",
    "FetchUsageError",
    "Gap",
    "Plan",
    "PlannedRequest",
    "Progress",
    "ProgressCallback",
    "RetryPolicy",
    "Season",
    "TokenError",
    "fetch",
    "fetch_requests",
    "known_gaps",
    "least_time",
    "load_seasons",
    "plan",
    "plan_lists",
    "plan_meetings",
    "render_gap",
    "render_plan",
    "render_progress",
    "render_summary",
    "validate",
    "years_for",
]
