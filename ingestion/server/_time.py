"""The server's sense of time (pure): OpenF1's live-session block, and rows moved in time.

OpenF1 refuses anonymous requests from 30 minutes before a session starts until 30 minutes after it ends
(401 "Session in progress"). :func:`live_windows` reads those spans from the ``sessions`` rows served, so
``ingest serve --live-block`` answers the same way at the same moments of its own clock.

:func:`shift_dataset` moves every row in time (``date``, ``date_start``, ``date_end`` by ``delta``, and
``year`` by the whole years of ``delta``): real 2024 rows served so that a race weekend is *now*.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta

from ingestion.calendar import LIVE_MARGIN, live_window
from ingestion.instant import read_utc
from ingestion.server._query import Row
from ingestion.server._source import Dataset

__all__ = ["DATE_FIELDS", "LiveWindows", "live_windows", "shift_dataset", "shift_row"]

DATE_FIELDS = ("date", "date_start", "date_end")
_YEAR = timedelta(days=365.2425)


class LiveWindows:
    """Sorted, merged ``[start - margin, end + margin)`` spans of the sessions served."""

    def __init__(self, spans: list[tuple[datetime, datetime]]) -> None:
        merged: list[tuple[datetime, datetime]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        self.spans = merged
        self._starts = [s for s, _ in merged]

    def live_at(self, now: datetime) -> bool:
        i = bisect.bisect_right(self._starts, now) - 1
        return i >= 0 and now < self.spans[i][1]


def live_windows(dataset: Dataset, margin: timedelta = LIVE_MARGIN) -> LiveWindows:
    """The closed spans of every ``sessions`` row: the calendar's live windows
    (:func:`ingestion.calendar.live_window`)."""
    spans: list[tuple[datetime, datetime]] = []
    for row in dataset.rows("sessions") or []:
        start, end = read_utc(row.get("date_start")), read_utc(row.get("date_end"))
        window = live_window(start, end, row.get("is_cancelled") is True, margin)
        if window is not None:
            spans.append(window)
    return LiveWindows(spans)


def shift_row(row: Row, delta: timedelta, years: int) -> Row:
    """``row`` with its dates moved by ``delta`` (same ISO form) and its ``year`` by ``years``."""
    moved = dict(row)
    for name in DATE_FIELDS:
        when = read_utc(row.get(name))
        if when is not None:
            moved[name] = (when + delta).isoformat()
    year = row.get("year")
    if isinstance(year, int) and not isinstance(year, bool):
        moved["year"] = year + years
    return moved


def shift_dataset(dataset: Dataset, delta: timedelta) -> Dataset:
    """Every row moved by ``delta``; ``year`` fields by ``delta`` in whole years (rounded)."""
    years = round(delta / _YEAR)
    tables = dataset.tables.items()
    return Dataset({name: [shift_row(row, delta, years) for row in rows] for name, rows in tables})
