"""What the database holds per season, read by one query: the report (``make run``), ``db audit``'s season
summary and ``ingest bulk``'s final table all count with it.

    with connect(url) as conn:
        for season in season_counts(conn):
            print(season.year, season.rounds, season.sessions, season.results)

The query is written against the model's snake_case tables and reads the app's EF Core tables through
:func:`ingestion.db.naming.reader` (or the ``rewrite`` a caller already holds), so it counts the same on
both namings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import psycopg

from ingestion.calendar import TESTING_ROUND_NUMBER, SessionStatus
from ingestion.db.naming import reader

__all__ = ["SeasonCounts", "season_counts"]

Conn = psycopg.Connection[Any]


class SeasonCounts(msgspec.Struct, frozen=True, kw_only=True):
    """The rows one season of one series has in the racing tables."""

    series: str  # "Formula 1"
    year: int
    rounds: int
    grands_prix: int  # rounds numbered from 1
    testing: int  # rounds numbered 0 (pre-season testing)
    sessions: int
    completed_sessions: int
    entrants: int
    drivers: int  # distinct drivers entered
    results: int


_COMPLETED = int(SessionStatus.Completed)

#: One row per season, its columns in :class:`SeasonCounts`'s field order. Each table is counted once,
#: grouped by season (not a subquery per season and column: the whole history took 1.6 s that way).
QUERY = f"""
WITH per_round AS (
  SELECT r.season_id, count(*) AS n,
         count(*) FILTER (WHERE r.round_number > {TESTING_ROUND_NUMBER}) AS grands_prix,
         count(*) FILTER (WHERE r.round_number = {TESTING_ROUND_NUMBER}) AS testing
  FROM rounds r GROUP BY r.season_id
), per_session AS (
  SELECT r.season_id, count(*) AS n, count(*) FILTER (WHERE s.status = {_COMPLETED}) AS completed
  FROM sessions s JOIN rounds r ON r.id = s.round_id GROUP BY r.season_id
), per_entrant AS (
  SELECT r.season_id, count(*) AS n, count(DISTINCT e.driver_id) AS drivers
  FROM entrants e JOIN rounds r ON r.id = e.round_id GROUP BY r.season_id
), per_result AS (
  SELECT r.season_id, count(*) AS n
  FROM results x JOIN sessions s ON s.id = x.session_id JOIN rounds r ON r.id = s.round_id
  GROUP BY r.season_id
)
SELECT sr.name, se.year,
       coalesce(pr.n, 0), coalesce(pr.grands_prix, 0), coalesce(pr.testing, 0),
       coalesce(ps.n, 0), coalesce(ps.completed, 0),
       coalesce(pe.n, 0), coalesce(pe.drivers, 0),
       coalesce(px.n, 0)
FROM seasons se JOIN series sr ON sr.id = se.series_id
LEFT JOIN per_round pr ON pr.season_id = se.id
LEFT JOIN per_session ps ON ps.season_id = se.id
LEFT JOIN per_entrant pe ON pe.season_id = se.id
LEFT JOIN per_result px ON px.season_id = se.id
WHERE %(year)s::integer IS NULL OR se.year = %(year)s::integer
ORDER BY sr.name, se.year
"""
_FIELDS = SeasonCounts.__struct_fields__


def season_counts(
    conn: Conn, *, year: int | None = None, rewrite: Callable[[str], str] | None = None
) -> list[SeasonCounts]:
    """The counts of every season (of ``year`` only: its seasons of every series), by series and year.

    ``rewrite`` (default: :func:`ingestion.db.naming.reader` of ``conn``) makes the snake_case query read
    the database's own tables."""
    rewrite = rewrite or reader(conn)
    rows = conn.execute(rewrite(QUERY), {"year": year}).fetchall()
    return [msgspec.convert(dict(zip(_FIELDS, row, strict=True)), SeasonCounts) for row in rows]
