"""The requests a fetch asks (:class:`PlannedRequest`: what, why, for which meetings) and how they are
written: the year lists, one meeting, or a batch of meetings with their keys OR'd
(``drivers?meeting_key=1229&meeting_key=1230``), split so no URL gets too long. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import msgspec

from ingestion.store.coverage import Unit
from ingestion.store.model import Request

__all__ = [
    "MAX_BATCH",
    "MAX_PATH",
    "PlannedRequest",
    "Reason",
    "batch_request",
    "meeting_request",
    "split_batches",
    "year_requests",
]

#: The longest path and query of a batch (``/drivers?meeting_key=...``), leaving room for the base URL
#: under the 2,000 characters URLs are safe to.
MAX_PATH = 1800
#: The most meetings in one batch (a season has about 25; servers bound the number of filters).
MAX_BATCH = 40

Reason = Literal["missing", "stale", "refresh", "empty", "unreadable", "revalidate"]


class PlannedRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A request to ask, and why: ``missing`` (not stored), ``stale`` (stored, not settled), ``refresh``,
    ``empty`` (stored empty though the meeting's ended sessions say it has rows), ``unreadable`` (its blob is
    missing or corrupt), ``revalidate`` (settled, asked again for late corrections). ``expect_rows``: an
    empty answer cannot be true (``why``: :func:`ingestion.openf1.credibility.cannot_be_true`), so the run
    asks again, up to ``attempts`` times in all (a known gap asked on its back-off: once).

    A batch names its meetings in ``meetings`` (``meeting_key`` is None) and in ``expect`` those whose
    ended sessions say the answer must hold rows for them (the run checks, to notice a server that does
    not OR repeated keys).
    """

    request: Request
    reason: Reason
    phase: int  # 1: year lists, 2: meetings
    year: int
    meeting_key: int | None = None
    expect_rows: bool = False
    why: str = ""  # why an empty answer would not be true (when expect_rows)
    attempts: int = 3  # asks of an empty answer that cannot be true, before it is stored
    meetings: tuple[int, ...] = ()  # a batch's meeting keys, sorted
    expect: tuple[int, ...] = ()  # a batch's meetings that must have rows in its answer

    @property
    def key(self) -> str:
        return self.request.key

    @property
    def is_batch(self) -> bool:
        return bool(self.meetings)

    @property
    def label(self) -> str:
        """The key, shortened for a batch: ``drivers?meeting_key=1229&...&meeting_key=1253 (25 meetings)``."""
        if not self.is_batch or len(self.meetings) == 1:
            return self.key
        first, last = self.meetings[0], self.meetings[-1]
        return (
            f"{self.request.endpoint}?meeting_key={first}&...&meeting_key={last} "
            f"({len(self.meetings)} meetings)"
        )

    def units(self) -> list[Unit]:
        """The (endpoint, meeting) pairs this request covers."""
        keys = self.meetings or ((self.meeting_key,) if self.meeting_key is not None else ())
        return [Unit(self.request.endpoint, "meeting_key", str(k)) for k in keys]

    def per_meeting(self) -> list[PlannedRequest]:
        """A batch as one request per meeting (the fallback); a single request as itself."""
        if not self.is_batch:
            return [self]
        return [
            PlannedRequest(
                request=meeting_request(self.request.endpoint, key),
                reason=self.reason,
                phase=self.phase,
                year=self.year,
                meeting_key=key,
                expect_rows=key in self.expect,
                why=f"the batch's meeting {key} must have rows" if key in self.expect else "",
            )
            for key in self.meetings
        ]


def year_requests(year: int) -> tuple[Request, Request]:
    return Request.make("meetings", [("year", str(year))]), Request.make("sessions", [("year", str(year))])


def meeting_request(endpoint: str, meeting_key: int) -> Request:
    return Request.make(endpoint, [("meeting_key", str(meeting_key))])


def batch_request(endpoint: str, meeting_keys: Iterable[int]) -> Request:
    """One request for several meetings, keys OR'd (``Request.make`` sorts them: a deterministic URL)."""
    return Request.make(endpoint, [("meeting_key", str(k)) for k in sorted(set(meeting_keys))])


def split_batches(endpoint: str, meeting_keys: Sequence[int], max_path: int = MAX_PATH) -> list[list[int]]:
    """``meeting_keys`` (sorted) in consecutive chunks whose request path stays within ``max_path``, of at
    most :data:`MAX_BATCH` meetings."""
    chunks: list[list[int]] = []
    current: list[int] = []
    for key in sorted(set(meeting_keys)):
        too_long = len(batch_request(endpoint, [*current, key]).path) > max_path
        if current and (too_long or len(current) >= MAX_BATCH):
            chunks.append(current)
            current = []
        current.append(key)
    if current:
        chunks.append(current)
    return chunks
