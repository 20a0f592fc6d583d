"""The known gaps of a store: the units (a meeting's endpoint, a year's list) whose latest answer holds no
rows although that cannot be true (:func:`ingestion.openf1.credibility.cannot_be_true`), each with since
when, how many runs got that answer and when fetch asks it next. What ``verify``, ``check`` and
``healthcheck`` show; fetch plans them with the same rule (:func:`ingestion.fetch.plan.plan`)."""

from __future__ import annotations

import re
from datetime import datetime

from ingestion.fetch.options import REVALIDATE_DAYS, FetchOptions
from ingestion.fetch.plan import Gap, plan
from ingestion.fetch.run import load_seasons, stored_state
from ingestion.fetch.summary import render_gap
from ingestion.instant import as_utc
from ingestion.store import Store

__all__ = ["Gap", "known_gaps", "render_gap"]

_YEAR_LIST = re.compile(r"(?:meetings|sessions)\?year=(\d{4})")


def known_gaps(store: Store, now: datetime, *, revalidate_days: int | None = REVALIDATE_DAYS) -> list[Gap]:
    """Every known gap of the years ``store`` holds year lists for, as of ``now`` (results included),
    ordered by endpoint and meeting or year. An empty store, or one with no gap: ``[]``."""
    if not store.root.is_dir():
        return []
    latest = store.latest()
    years = sorted({int(m.group(1)) for key in latest if (m := _YEAR_LIST.fullmatch(key))})
    if not years:
        return []
    options = FetchOptions(years=tuple(years), revalidate_days=revalidate_days)
    seasons = load_seasons(store, latest, years)
    # read-only: no blob is checked for planning (nor its cache written); the gaps are all that is wanted
    gaps = plan(latest, seasons, options, as_utc(now), stored_state(store, latest, check_blobs=False)).gaps
    return sorted(gaps, key=lambda g: (g.endpoint, g.field, int(g.value)))
