"""A short report a fan would recognise, read from the racing tables (never spoilers unless asked).

``make run`` prints it after replaying the committed snapshots: rounds per season, the champion of the
latest season by summed points, and how many sessions, drivers and results the database holds.
"""

from __future__ import annotations

import msgspec
import psycopg

from ingestion.db.naming import reader
from ingestion.ops.counts import SeasonCounts, season_counts


class SeasonLine(SeasonCounts, frozen=True, kw_only=True):
    """A season's counts, and its champion by summed points."""

    champion: str | None  # "Max Verstappen (VER)", None without results
    champion_points: float | None


class Report(msgspec.Struct, frozen=True):
    seasons: list[SeasonLine]
    rounds: int
    sessions: int
    drivers: int
    teams: int
    entrants: int
    results: int


def build_report(conn: psycopg.Connection[tuple[object, ...]]) -> Report:
    """Read the report from the database (read-only), whatever its naming (snake or the app's EF Core)."""
    rewrite = reader(conn)
    counts = conn.execute(
        rewrite("""SELECT (SELECT count(*) FROM rounds), (SELECT count(*) FROM sessions),
                  (SELECT count(*) FROM drivers), (SELECT count(*) FROM teams),
                  (SELECT count(*) FROM entrants), (SELECT count(*) FROM results)""")
    ).fetchone()
    assert counts is not None
    seasons = []
    for season in season_counts(conn, rewrite=rewrite):
        top = conn.execute(
            rewrite("""SELECT d.first_name || ' ' || d.last_name
                      || coalesce(' (' || d.abbreviation || ')', ''), sum(re.points)
               FROM results re JOIN entrants e ON e.id = re.entrant_id JOIN drivers d ON d.id = e.driver_id
               JOIN rounds r ON r.id = e.round_id JOIN seasons s ON s.id = r.season_id
               WHERE s.year = %s AND re.points IS NOT NULL
               GROUP BY d.id, d.first_name, d.last_name, d.abbreviation
               ORDER BY sum(re.points) DESC, d.last_name LIMIT 1"""),
            (season.year,),
        ).fetchone()
        seasons.append(
            SeasonLine(
                **msgspec.structs.asdict(season),
                champion=str(top[0]) if top else None,
                champion_points=float(top[1]) if top else None,  # type: ignore[arg-type]
            )
        )
    rounds, sessions_n, drivers, teams, entrants, results_n = (int(c) for c in counts)  # type: ignore[call-overload]
    return Report(seasons, rounds, sessions_n, drivers, teams, entrants, results_n)


def format_report(report: Report) -> list[str]:
    """The report as printable lines: a table, one line per season, under 80 columns even for every season
    since 1950 (the champion column only when results were written: it is a spoiler)."""
    champions = any(s.champion is not None for s in report.seasons)
    header = "  season  grands prix  testing  sessions"
    if champions:
        header += "  champion by summed points (spoiler!)"
    lines = ["Seasons in the database:", header]
    for s in report.seasons:
        line = f"  {s.year:>6}  {s.grands_prix:>11}  {s.testing:>7}  {s.sessions:>8}"
        if s.champion is not None and s.champion_points is not None:
            line += f"  {s.champion}, {s.champion_points:g} points"
        lines.append(line)
    lines.append(f"Totals: {report.rounds} rounds, {report.sessions} sessions, {report.drivers} drivers,")
    lines.append(f"        {report.teams} teams, {report.entrants} entrants, {report.results} results")
    return lines
