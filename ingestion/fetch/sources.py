"""Which sources a command asks (``SOURCES``, ``--source``), what each is asked, and how one source's failure
stays its own: fetch, sync, bulk and watch call these.

OpenF1 starts in 2023: a season before it asks OpenF1 nothing. f1db holds every season in one release, so
whatever seasons are named it is asked once (its latest release). A source that cannot be reached costs
its own part only: :func:`fetch_f1db_part` turns f1db's failure into a :class:`SourceFailure` (one line,
exit 1) instead of raising, so the other source's data still lands.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec

from ingestion.config import Settings, parse_sources
from ingestion.errors import IngestionError, UsageError
from ingestion.fetch.f1db import F1dbFetch, fetch_f1db
from ingestion.fetch.options import FIRST_SEASON

__all__ = [
    "CREDIT",
    "F1DB_FIRST_SEASON",
    "SourceFailure",
    "chosen_sources",
    "fetch_f1db_part",
    "openf1_years",
    "part_exit_code",
]

#: The credit every command that uses f1db gives (its licence asks for it).
CREDIT = "Data from f1db (CC BY 4.0)"
#: f1db's first season: the first World Championship.
F1DB_FIRST_SEASON = 1950


class SourceFailure(msgspec.Struct, frozen=True, kw_only=True):
    """A source that could not be asked: its name and one line saying why."""

    source: str
    message: str
    exit_code: int = 1
    rate_limited: bool = False  # GitHub's limit is used up: ask again at ``retry_at`` (its reset) or later
    retry_at: datetime | None = None

    def render(self) -> str:
        return f"error: {self.message}"


def chosen_sources(settings: Settings, source: str | None) -> tuple[str, ...]:
    """``--source openf1|f1db|all`` when given, else the ``SOURCES`` setting."""
    return parse_sources(source, "--source") if source else settings.sources


def openf1_years(years: Sequence[int], sources: Sequence[str]) -> tuple[tuple[int, ...], str | None]:
    """The named seasons OpenF1 is asked for, and a note when some are left to f1db: seasons before
    ``FIRST_SEASON`` ask OpenF1 nothing when f1db is a source (OpenF1 alone: the fetch refuses them)."""
    if "f1db" not in sources or not years:
        return tuple(years), None
    kept = tuple(year for year in years if year >= FIRST_SEASON)
    left = sorted(set(years) - set(kept))
    if not left:
        return kept, None
    shown = ", ".join(str(y) for y in left[:5]) + (", ..." if len(left) > 5 else "")
    return kept, f"OpenF1 starts in {FIRST_SEASON}: asked nothing for {shown} (f1db holds those seasons)"


def fetch_f1db_part(
    settings: Settings,
    *,
    tag: str | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    lock_wait: float | None = None,
    received_at: datetime | None = None,
) -> F1dbFetch | SourceFailure:
    """f1db's part of a command: its release fetched (:func:`fetch_f1db`), or why it could not be (a rate
    limit, an unreachable server, a bad archive, a locked store) as a :class:`SourceFailure`. Bad usage
    (a malformed ``--release``) still raises."""
    try:
        return fetch_f1db(
            settings, tag=tag, now=now, dry_run=dry_run, lock_wait=lock_wait, received_at=received_at
        )
    except UsageError:
        raise
    except IngestionError as error:
        from ingestion.f1db.github import RateLimited  # httpx only when f1db is asked

        message = str(error) if str(error).startswith("f1db") else f"f1db: {error}"
        limited = isinstance(error, RateLimited)
        return SourceFailure(
            source="f1db", message=message, exit_code=max(1, error.exit_code), rate_limited=limited,
            retry_at=error.reset if isinstance(error, RateLimited) else None,
        )


def part_exit_code(part: F1dbFetch | SourceFailure | None) -> int:
    """The exit code a source's part adds to its command (0 when it was not asked)."""
    return part.exit_code if part is not None else 0
