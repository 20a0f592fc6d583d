"""The checks of ``db audit``: one read-only SQL query each, returning one text label per row it finds.

The queries are written against the model's snake_case tables; :func:`ingestion.ops.audit.audit` runs them
through :func:`ingestion.db.naming.rewriter`, so they read the app's EF Core tables as well. Their
parameters: ``now``, ``results_due`` (``now`` - :data:`RESULTS_GRACE`) and ``status_due`` (``now`` -
:data:`STATUS_GRACE`). See ``docs/operations.md`` for what each check means.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import msgspec

from ingestion import calendar
from ingestion.calendar import TESTING_ROUND_NUMBER, SessionStatus, SessionType
from ingestion.tables import FOREIGN_KEYS

__all__ = [
    "RELATIONS",
    "RESULTS_GRACE",
    "SESSION_TYPE_NAMES",
    "STATUS_GRACE",
    "AuditQuery",
    "Severity",
    "checks",
]

Severity = Literal["problem", "warning"]

#: The stored session types by number, named as :class:`~ingestion.replay.rows.SessionType` names them.
SESSION_TYPE_NAMES: dict[int, str] = {int(kind): kind.name for kind in SessionType}
RACE, SPRINT = int(SessionType.Race), int(SessionType.Sprint)
SPRINT_QUALIFYING = int(SessionType.SprintQualifying)
COMPLETED = int(SessionStatus.Completed)
PRACTICE_TYPES = tuple(sorted(int(kind) for kind in calendar.PRACTICE))
#: Scheduled, InProgress and Delayed: a session in one of these has not ended.
NOT_ENDED = tuple(int(s) for s in (SessionStatus.Scheduled, SessionStatus.InProgress, SessionStatus.Delayed))

#: Foreign keys among racing tables: (child, column, parent), :data:`ingestion.tables.FOREIGN_KEYS` (replay's
#: table specs read them too). The constraints make orphans impossible; the audit checks anyway, for
#: databases whose constraints were dropped or added NOT VALID.
RELATIONS = FOREIGN_KEYS

#: How long after a race's start its results may still be missing before that is a problem.
RESULTS_GRACE = timedelta(days=1)
#: How long after its start a session may still be Scheduled/InProgress/Delayed before that is a warning.
STATUS_GRACE = timedelta(days=1)


class AuditQuery(msgspec.Struct, frozen=True):
    """One check of ``db audit``: its name, severity, message and the SQL query that finds its rows (a
    definition; what a check found is a :class:`~ingestion.ops.audit.Finding`)."""

    check: str
    severity: Severity
    message: str  # "{n}" is replaced by the count
    query: str  # returns one text label per finding row, ordered
    needs_results: bool = False


ROUND_LABEL = "se.year || ' R' || r.round_number || ' ' || r.name"
SESSION_LABEL = (
    "se.year || ' ' || r.name || ' ' || "
    "(CASE s.type " + " ".join(f"WHEN {k} THEN '{v}'" for k, v in SESSION_TYPE_NAMES.items()) + " END)"
    " || coalesce(' (session_key ' || s.open_f1_session_key || ')', '')"
)
ROUND_FROM = "rounds r JOIN seasons se ON se.id = r.season_id"
SESSION_FROM = "sessions s JOIN rounds r ON r.id = s.round_id JOIN seasons se ON se.id = r.season_id"
#: A testing round, as the database says it (:data:`ingestion.calendar.TESTING_ROUND_NUMBER`).
TESTING = f"r.round_number = {TESTING_ROUND_NUMBER}"
COMPLETED_RACES = f"s.type IN {tuple(sorted(int(k) for k in calendar.RACES))} AND s.status = {COMPLETED}"
HAS_RESULTS = "EXISTS (SELECT 1 FROM results x WHERE x.session_id = s.id)"


def _sessions(where: str, label: str = SESSION_LABEL) -> str:
    """The labels of the sessions ``where`` holds, in start order."""
    return f"SELECT {label} FROM {SESSION_FROM} WHERE {where} ORDER BY s.start_time_utc"


def _rounds(where: str, order: str = "se.year, r.round_number") -> str:
    """The labels of the rounds ``where`` holds, by season and number."""
    return f"SELECT {ROUND_LABEL} FROM {ROUND_FROM} WHERE {where} ORDER BY {order}"


def _integrity() -> list[AuditQuery]:
    """Problems: faults the app would show wrongly."""
    return [
        AuditQuery(
            "duplicate_driver_name", "problem", "{n} driver rows share a first and last name with another",
            """SELECT d.first_name || ' ' || d.last_name || ' (' || d.slug || ')' FROM drivers d
               WHERE (lower(d.first_name), lower(d.last_name)) IN (
                   SELECT lower(first_name), lower(last_name) FROM drivers GROUP BY 1, 2 HAVING count(*) > 1)
               ORDER BY lower(d.last_name), lower(d.first_name), d.slug""",
        ),
        AuditQuery(
            "result_round_mismatch", "problem",
            "{n} results belong to a session of one round and an entrant of another",
            f"""SELECT {SESSION_LABEL} || ': entrant ' || res.entrant_id FROM results res
                JOIN entrants e ON e.id = res.entrant_id JOIN {SESSION_FROM} ON s.id = res.session_id
                WHERE e.round_id <> s.round_id ORDER BY 1""",
        ),
        AuditQuery(
            "round_dates_reversed", "problem", "{n} rounds end before they start",
            f"SELECT {ROUND_LABEL} || ': ' || r.date_start || ' .. ' || r.date_end FROM {ROUND_FROM} "
            "WHERE r.date_end < r.date_start ORDER BY 1",
        ),
        AuditQuery(
            "duplicate_round_number", "problem",
            "{n} rounds share their number with another round of the season",
            _rounds(
                "(r.season_id, r.round_number) IN ("
                "SELECT season_id, round_number FROM rounds GROUP BY 1, 2 HAVING count(*) > 1)",
                order="se.year, r.round_number, r.name",
            ),
        ),
        AuditQuery(
            "completed_race_without_results", "problem",
            "{n} races completed over a day ago have no results",
            _sessions(f"{COMPLETED_RACES} AND s.start_time_utc < %(results_due)s AND NOT {HAS_RESULTS}"),
            needs_results=True,
        ),
    ]


def _worth_a_look() -> list[AuditQuery]:
    """Warnings: worth a look, but can be legitimate."""
    return [
        AuditQuery(
            "completed_race_results_pending", "warning",
            "{n} races completed within the last day have no results yet",
            _sessions(f"{COMPLETED_RACES} AND s.start_time_utc >= %(results_due)s AND NOT {HAS_RESULTS}"),
            needs_results=True,
        ),
        AuditQuery(
            "entrant_without_result", "warning",
            "{n} regular entrants have no result in a completed race that has results",
            f"""SELECT {SESSION_LABEL} || ': ' || d.first_name || ' ' || d.last_name FROM {SESSION_FROM}
                JOIN entrants e ON e.round_id = s.round_id AND e.role = 0
                JOIN drivers d ON d.id = e.driver_id
                WHERE {COMPLETED_RACES} AND {HAS_RESULTS}
                  AND NOT EXISTS (SELECT 1 FROM results x WHERE x.session_id = s.id AND x.entrant_id = e.id)
                ORDER BY s.start_time_utc, d.last_name""",
            needs_results=True,
        ),
        AuditQuery(
            "result_without_provenance", "warning",
            "{n} results do not say where their classification came from (written before migration 0003 "
            "or by hand: the next replay of their round sets it)",
            f"""SELECT {SESSION_LABEL} || ': ' || d.first_name || ' ' || d.last_name FROM results x
                JOIN {SESSION_FROM} ON s.id = x.session_id
                JOIN entrants e ON e.id = x.entrant_id JOIN drivers d ON d.id = e.driver_id
                WHERE x.source IS NULL
                ORDER BY s.start_time_utc, d.last_name""",
            needs_results=True,
        ),
        AuditQuery(
            "round_without_sessions", "warning", "{n} rounds have no sessions",
            _rounds("NOT EXISTS (SELECT 1 FROM sessions s WHERE s.round_id = r.id)"),
        ),
        AuditQuery(
            "round_without_entrants", "warning", "{n} rounds with a completed session have no entrants",
            _rounds(
                f"EXISTS (SELECT 1 FROM sessions s WHERE s.round_id = r.id AND s.status = {COMPLETED}) "
                f"AND NOT EXISTS (SELECT 1 FROM entrants e WHERE e.round_id = r.id) AND NOT {TESTING}"
            ),
        ),
        AuditQuery(
            "round_without_race", "warning", "{n} Grand Prix rounds (not testing) have sessions but no Race",
            _rounds(
                f"NOT {TESTING} AND EXISTS (SELECT 1 FROM sessions s WHERE s.round_id = r.id) "
                f"AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.round_id = r.id AND s.type = {RACE})"
            ),
        ),
        AuditQuery(
            "testing_session_not_practice", "warning",
            "{n} sessions of testing rounds are not practice sessions",
            _sessions(f"{TESTING} AND s.type NOT IN {PRACTICE_TYPES}"),
        ),
        AuditQuery(
            "duplicate_session_type", "warning", "{n} sessions repeat a type already present in their round",
            _sessions(
                "(s.round_id, s.type) IN ("
                "SELECT round_id, type FROM sessions GROUP BY 1, 2 HAVING count(*) > 1)"
            ),
        ),
        AuditQuery(
            "sprint_without_pair", "warning",
            "{n} Sprint or Sprint Qualifying sessions lack the other in their round",
            _sessions(
                f"s.type IN ({SPRINT}, {SPRINT_QUALIFYING}) AND NOT EXISTS ("
                "SELECT 1 FROM sessions o WHERE o.round_id = s.round_id "
                f"AND o.type = CASE s.type WHEN {SPRINT} THEN {SPRINT_QUALIFYING} ELSE {SPRINT} END)"
            ),
        ),
        AuditQuery(
            "session_type_not_f1", "warning",
            "{n} sessions have a type OpenF1 never produces (Warmup, Moto classes)",
            _sessions(f"s.type >= {int(SessionType.Warmup)}"),
        ),
        AuditQuery(
            "session_outside_round_dates", "warning",
            "{n} sessions start outside their round's dates (± 1 day)",
            _sessions(
                "(s.start_time_utc AT TIME ZONE 'UTC')::date NOT BETWEEN r.date_start - 1 AND r.date_end + 1",
                label=f"{SESSION_LABEL} || ': ' || s.start_time_utc",
            ),
        ),
        AuditQuery(
            "session_status_stale", "warning",
            "{n} sessions that started over a day ago are still Scheduled, InProgress or Delayed",
            _sessions(f"s.status IN {NOT_ENDED} AND s.start_time_utc < %(status_due)s"),
        ),
        AuditQuery(
            "session_completed_in_future", "warning", "{n} sessions are Completed but start in the future",
            _sessions(f"s.status = {COMPLETED} AND s.start_time_utc > %(now)s"),
        ),
        AuditQuery(
            "driver_number_shared_in_season", "warning",
            "{n} drivers share their driver number with another driver entered in the same season",
            """SELECT se.year || ': #' || d.driver_number || ' ' || d.first_name || ' ' || d.last_name
                      || ' (' || d.slug || ')'
                FROM entrants e JOIN drivers d ON d.id = e.driver_id
                JOIN rounds r ON r.id = e.round_id JOIN seasons se ON se.id = r.season_id
                WHERE (r.season_id, d.driver_number) IN (
                    SELECT r2.season_id, d2.driver_number
                    FROM entrants e2 JOIN drivers d2 ON d2.id = e2.driver_id
                    JOIN rounds r2 ON r2.id = e2.round_id
                    WHERE d2.driver_number IS NOT NULL
                    GROUP BY 1, 2 HAVING count(DISTINCT d2.id) > 1)
                GROUP BY se.year, d.driver_number, d.slug, d.first_name, d.last_name
                ORDER BY se.year, d.driver_number, d.slug""",
        ),
        AuditQuery(
            "team_color_invalid", "warning",
            "{n} teams have a primary_color that is not 6 hex digits without '#'",
            "SELECT t.name || ': ' || t.primary_color FROM teams t "
            "WHERE t.primary_color IS NOT NULL AND t.primary_color !~ '^[0-9A-Fa-f]{6}$' ORDER BY t.name",
        ),
        AuditQuery(
            "unused_driver", "warning", "{n} drivers are in no round",
            "SELECT d.first_name || ' ' || d.last_name FROM drivers d "
            "WHERE NOT EXISTS (SELECT 1 FROM entrants e WHERE e.driver_id = d.id) ORDER BY d.last_name",
        ),
        AuditQuery(
            "unused_team", "warning", "{n} teams are in no round",
            "SELECT t.name FROM teams t WHERE NOT EXISTS (SELECT 1 FROM entrants e WHERE e.team_id = t.id) "
            "ORDER BY t.name",
        ),
    ]


def _orphans() -> list[AuditQuery]:
    """Problems: a row whose parent row is missing, for each of :data:`RELATIONS`."""
    return [
        AuditQuery(
            f"orphan_{child}_{column}", "problem",
            f"{{n}} {child} rows point at a missing {parent} row ({child}.{column})",
            f"SELECT c.id::text FROM {child} c WHERE NOT EXISTS "
            f"(SELECT 1 FROM {parent} p WHERE p.id = c.{column}) ORDER BY 1",
        )
        for child, column, parent in RELATIONS
    ]


def checks() -> list[AuditQuery]:
    """Every check, in the order they run: orphans, integrity problems, then warnings."""
    return [*_orphans(), *_integrity(), *_worth_a_look()]
