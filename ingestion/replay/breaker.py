"""The circuit breaker on removals: a replay that would remove more than :data:`REMOVAL_LIMIT` rows of a
settled season (one whose rounds all ended before the replay's ``as_of``) stops before writing, unless told
``--allow-removals``. Pure.

A settled season's rows only go when OpenF1 withdraws them, which is rare and small (a corrected entry
list); many at once is almost always a fault upstream or in the store (a false empty answer, a damaged log
line), so the replay refuses and names what it would remove. Defence in depth: every cause, known or not.
"""

from __future__ import annotations

from collections.abc import Mapping

from ingestion.errors import IngestionError

__all__ = ["REMOVAL_LIMIT", "RemovalsRefused", "describe", "over_limit"]

#: Rows of one settled season (all tables together) a replay removes without ``--allow-removals``.
REMOVAL_LIMIT = 10


def over_limit(
    settled: Mapping[int, Mapping[str, int]], limit: int = REMOVAL_LIMIT
) -> dict[int, dict[str, int]]:
    """The settled seasons whose removals exceed ``limit`` rows (all tables together)."""
    return {year: dict(tables) for year, tables in settled.items() if sum(tables.values()) > limit}


def describe(settled: Mapping[int, Mapping[str, int]]) -> str:
    """``2025: 458 entrants, 2143 results``, seasons joined by ``; ``."""
    return "; ".join(
        f"{year}: " + ", ".join(f"{n} {table}" for table, n in sorted(tables.items()))
        for year, tables in sorted(settled.items())
    )


class RemovalsRefused(IngestionError):
    """The replay would remove more than :data:`REMOVAL_LIMIT` rows of a settled season: nothing was
    written (exit 1)."""

    def __init__(self, settled: Mapping[int, Mapping[str, int]], limit: int = REMOVAL_LIMIT) -> None:
        super().__init__(
            f"replay would remove rows of settled season(s), more than {limit} each ({describe(settled)}): "
            "nothing was written; check the store and the answers (ingest snapshots fsck, ingest verify), "
            "or pass --allow-removals if they are really gone upstream"
        )
        self.settled = {year: dict(tables) for year, tables in settled.items()}
