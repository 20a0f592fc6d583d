"""``db audit``: the quality of the racing data, read-only.

Findings have a severity. A **problem** is an integrity fault the app would show wrongly (a row whose parent
is missing, two driver rows for one person, a result whose entrant belongs to another round, a round ending
before it starts, two rounds with one number in a season, a race long over with no results while results are
on): ``ingest db audit`` exits 1. A **warning** is worth a look but can be legitimate (a null where a value is
expected, a round whose sessions are not published yet, a reserve driver without a race result, an unusual
session pattern): exit 0.

Session types: a type outside 0..10 cannot be stored (CHECK constraint), so "unknown type" means a session
that does not fit its round's pattern (see :data:`SESSION_TYPES` and ``docs/operations.md``):
a Grand Prix round (a name without "test") must have a Race; a testing round has practice sessions only;
no type appears twice in a round; a Sprint comes with a Sprint Qualifying and vice versa; Warmup and the
Moto classes (7..10) are never produced from OpenF1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Literal

import msgspec
import psycopg
from psycopg import sql

from ingestion.db.naming import Naming, catalog_columns, resolve, rewriter
from ingestion.errors import NotMigrated
from ingestion.ops.check import check, rounds_of
from ingestion.ops.counts import SeasonCounts, season_counts
from ingestion.replay import racing_snapshot
from ingestion.replay.load import last_replay
from ingestion.replay.rows import SessionStatus, SessionType

__all__ = [
    "EXPECTED_COLUMNS",
    "SESSION_TYPES",
    "AuditReport",
    "Finding",
    "NullShare",
    "SeasonSummary",
    "Severity",
    "audit",
]

Conn = psycopg.Connection[tuple[object, ...]]
Rewrite = Callable[[str], str]
Severity = Literal["problem", "warning"]

#: The stored session types by number, named as :class:`~ingestion.replay.rows.SessionType` names them.
SESSION_TYPES: dict[int, str] = {int(kind): kind.name for kind in SessionType}
RACE, SPRINT = int(SessionType.Race), int(SessionType.Sprint)
SPRINT_QUALIFYING = int(SessionType.SprintQualifying)
COMPLETED = int(SessionStatus.Completed)
PRACTICE = tuple(int(kind) for kind in (SessionType.FP1, SessionType.FP2, SessionType.FP3))

#: Columns that may be null in the schema but that OpenF1 gives us, so a null there is worth a look.
EXPECTED_COLUMNS: dict[str, tuple[str, ...]] = {
    "circuits": ("country_code", "open_f1_circuit_key"),
    "rounds": ("open_f1_meeting_key",),
    "sessions": ("open_f1_session_key",),
    "drivers": ("abbreviation", "headshot_url", "driver_number", "open_f1_driver_number"),
    "teams": ("primary_color",),
}

#: Columns OpenF1 never fills: a null there is expected, so it is one note, never a warning.
NOT_FROM_OPENF1: tuple[tuple[str, str], ...] = (("drivers", "nationality"),)

#: Foreign keys among racing tables: (child, column, parent). The constraints make orphans impossible;
#: the audit checks anyway, for databases whose constraints were dropped or added NOT VALID.
RELATIONS: tuple[tuple[str, str, str], ...] = (
    ("seasons", "series_id", "series"),
    ("rounds", "season_id", "seasons"),
    ("rounds", "circuit_id", "circuits"),
    ("sessions", "round_id", "rounds"),
    ("entrants", "round_id", "rounds"),
    ("entrants", "driver_id", "drivers"),
    ("entrants", "team_id", "teams"),
    ("results", "session_id", "sessions"),
    ("results", "entrant_id", "entrants"),
    ("driver_aliases", "driver_id", "drivers"),
    ("team_aliases", "team_id", "teams"),
    ("circuit_aliases", "circuit_id", "circuits"),
)

#: How long after a race's start its results may still be missing before that is a problem.
RESULTS_GRACE = timedelta(days=1)
#: How long after its start a session may still be Scheduled/InProgress/Delayed before that is a warning.
STATUS_GRACE = timedelta(days=1)
EXAMPLES = 5


class Finding(msgspec.Struct, frozen=True):
    """One thing the audit found: ``count`` rows, the first few named in ``examples``."""

    check: str
    severity: Severity
    message: str
    count: int
    examples: tuple[str, ...] = ()


class NullShare(msgspec.Struct, frozen=True):
    """Nulls in a column where a value is expected."""

    table: str
    column: str
    rows: int
    nulls: int

    @property
    def share(self) -> float:
        return self.nulls / self.rows if self.rows else 0.0


#: A season's summary in the audit: what the database holds for it (the one per-season count query).
SeasonSummary = SeasonCounts


class AuditReport(msgspec.Struct, frozen=True):
    """``results_source`` says why results were (not) checked: asked, or as the last replay ran."""

    results_checked: bool
    findings: tuple[Finding, ...]
    nulls: tuple[NullShare, ...]
    seasons: tuple[SeasonSummary, ...]
    tables: dict[str, int]
    results_source: str = ""
    #: ``ingest check``'s findings per kind (OpenF1 against the sporting regulations), when results are
    #: checked; None otherwise. What OpenF1 says wrongly is not an integrity problem of the database.
    regulations: dict[str, int] | None = None
    #: Things worth knowing that are not findings (columns OpenF1 never fills), said once each.
    notes: tuple[str, ...] = ()

    @property
    def problems(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "problem")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    @property
    def ok(self) -> bool:
        """No integrity problem (warnings allowed)."""
        return not self.problems


# --- the checks: each returns the labels of the rows it found -----------------------------------------

ROUND_LABEL = "se.year || ' R' || r.round_number || ' ' || r.name"
SESSION_LABEL = (
    "se.year || ' ' || r.name || ' ' || "
    "(CASE s.type " + " ".join(f"WHEN {k} THEN '{v}'" for k, v in SESSION_TYPES.items()) + " END)"
    " || coalesce(' (session_key ' || s.open_f1_session_key || ')', '')"
)
ROUND_FROM = "rounds r JOIN seasons se ON se.id = r.season_id"
SESSION_FROM = "sessions s JOIN rounds r ON r.id = s.round_id JOIN seasons se ON se.id = r.season_id"
TESTING = "r.name ILIKE '%%test%%'"


class _Check(msgspec.Struct, frozen=True):
    check: str
    severity: Severity
    message: str  # "{n}" is replaced by the count
    query: str  # returns one text label per finding row, ordered
    needs_results: bool = False


def _checks() -> list[_Check]:
    return [
        _Check(
            "duplicate_driver_name", "problem", "{n} driver rows share a first and last name with another",
            """SELECT d.first_name || ' ' || d.last_name || ' (' || d.slug || ')' FROM drivers d
               WHERE (lower(d.first_name), lower(d.last_name)) IN (
                   SELECT lower(first_name), lower(last_name) FROM drivers GROUP BY 1, 2 HAVING count(*) > 1)
               ORDER BY lower(d.last_name), lower(d.first_name), d.slug""",
        ),
        _Check(
            "result_round_mismatch", "problem",
            "{n} results belong to a session of one round and an entrant of another",
            f"""SELECT {SESSION_LABEL} || ': entrant ' || res.entrant_id FROM results res
                JOIN entrants e ON e.id = res.entrant_id JOIN {SESSION_FROM} ON s.id = res.session_id
                WHERE e.round_id <> s.round_id ORDER BY 1""",
        ),
        _Check(
            "round_dates_reversed", "problem", "{n} rounds end before they start",
            f"SELECT {ROUND_LABEL} || ': ' || r.date_start || ' .. ' || r.date_end FROM {ROUND_FROM} "
            "WHERE r.date_end < r.date_start ORDER BY 1",
        ),
        _Check(
            "duplicate_round_number", "problem",
            "{n} rounds share their number with another round of the season",
            f"""SELECT {ROUND_LABEL} FROM {ROUND_FROM}
                WHERE (r.season_id, r.round_number) IN (
                    SELECT season_id, round_number FROM rounds GROUP BY 1, 2 HAVING count(*) > 1)
                ORDER BY se.year, r.round_number, r.name""",
        ),
        _Check(
            "completed_race_without_results", "problem",
            "{n} races completed over a day ago have no results",
            f"""SELECT {SESSION_LABEL} FROM {SESSION_FROM}
                WHERE s.type IN ({RACE}, {SPRINT}) AND s.status = {COMPLETED}
                  AND s.start_time_utc < %(results_due)s
                  AND NOT EXISTS (SELECT 1 FROM results x WHERE x.session_id = s.id)
                ORDER BY s.start_time_utc""",
            needs_results=True,
        ),
        _Check(
            "completed_race_results_pending", "warning",
            "{n} races completed within the last day have no results yet",
            f"""SELECT {SESSION_LABEL} FROM {SESSION_FROM}
                WHERE s.type IN ({RACE}, {SPRINT}) AND s.status = {COMPLETED}
                  AND s.start_time_utc >= %(results_due)s
                  AND NOT EXISTS (SELECT 1 FROM results x WHERE x.session_id = s.id)
                ORDER BY s.start_time_utc""",
            needs_results=True,
        ),
        _Check(
            "entrant_without_result", "warning",
            "{n} regular entrants have no result in a completed race that has results",
            f"""SELECT {SESSION_LABEL} || ': ' || d.first_name || ' ' || d.last_name FROM {SESSION_FROM}
                JOIN entrants e ON e.round_id = s.round_id AND e.role = 0
                JOIN drivers d ON d.id = e.driver_id
                WHERE s.type IN ({RACE}, {SPRINT}) AND s.status = {COMPLETED}
                  AND EXISTS (SELECT 1 FROM results x WHERE x.session_id = s.id)
                  AND NOT EXISTS (SELECT 1 FROM results x WHERE x.session_id = s.id AND x.entrant_id = e.id)
                ORDER BY s.start_time_utc, d.last_name""",
            needs_results=True,
        ),
        _Check(
            "round_without_sessions", "warning", "{n} rounds have no sessions",
            f"""SELECT {ROUND_LABEL} FROM {ROUND_FROM}
                WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.round_id = r.id)
                ORDER BY se.year, r.round_number""",
        ),
        _Check(
            "round_without_entrants", "warning", "{n} rounds with a completed session have no entrants",
            f"""SELECT {ROUND_LABEL} FROM {ROUND_FROM}
                WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.round_id = r.id AND s.status = {COMPLETED})
                  AND NOT EXISTS (SELECT 1 FROM entrants e WHERE e.round_id = r.id) AND NOT {TESTING}
                ORDER BY se.year, r.round_number""",
        ),
        _Check(
            "round_without_race", "warning", "{n} Grand Prix rounds (not testing) have sessions but no Race",
            f"""SELECT {ROUND_LABEL} FROM {ROUND_FROM}
                WHERE NOT {TESTING} AND EXISTS (SELECT 1 FROM sessions s WHERE s.round_id = r.id)
                  AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.round_id = r.id AND s.type = {RACE})
                ORDER BY se.year, r.round_number""",
        ),
        _Check(
            "testing_session_not_practice", "warning",
            "{n} sessions of testing rounds are not practice sessions",
            f"""SELECT {SESSION_LABEL} FROM {SESSION_FROM}
                WHERE {TESTING} AND s.type NOT IN {PRACTICE} ORDER BY s.start_time_utc""",
        ),
        _Check(
            "duplicate_session_type", "warning", "{n} sessions repeat a type already present in their round",
            f"""SELECT {SESSION_LABEL} FROM {SESSION_FROM}
                WHERE (s.round_id, s.type) IN (
                    SELECT round_id, type FROM sessions GROUP BY 1, 2 HAVING count(*) > 1)
                ORDER BY s.start_time_utc""",
        ),
        _Check(
            "sprint_without_pair", "warning",
            "{n} Sprint or Sprint Qualifying sessions lack the other in their round",
            f"""SELECT {SESSION_LABEL} FROM {SESSION_FROM}
                WHERE s.type IN ({SPRINT}, {SPRINT_QUALIFYING}) AND NOT EXISTS (
                    SELECT 1 FROM sessions o WHERE o.round_id = s.round_id
                      AND o.type = CASE s.type WHEN {SPRINT} THEN {SPRINT_QUALIFYING} ELSE {SPRINT} END)
                ORDER BY s.start_time_utc""",
        ),
        _Check(
            "session_type_not_f1", "warning",
            "{n} sessions have a type OpenF1 never produces (Warmup, Moto classes)",
            f"SELECT {SESSION_LABEL} FROM {SESSION_FROM} WHERE s.type >= 7 ORDER BY s.start_time_utc",
        ),
        _Check(
            "session_outside_round_dates", "warning",
            "{n} sessions start outside their round's dates (± 1 day)",
            f"""SELECT {SESSION_LABEL} || ': ' || s.start_time_utc FROM {SESSION_FROM}
                WHERE (s.start_time_utc AT TIME ZONE 'UTC')::date
                      NOT BETWEEN r.date_start - 1 AND r.date_end + 1
                ORDER BY s.start_time_utc""",
        ),
        _Check(
            "session_status_stale", "warning",
            "{n} sessions that started over a day ago are still Scheduled, InProgress or Delayed",
            f"""SELECT {SESSION_LABEL} FROM {SESSION_FROM}
                WHERE s.status IN (0, 1, 4) AND s.start_time_utc < %(status_due)s
                ORDER BY s.start_time_utc""",
        ),
        _Check(
            "session_completed_in_future", "warning", "{n} sessions are Completed but start in the future",
            f"""SELECT {SESSION_LABEL} FROM {SESSION_FROM}
                WHERE s.status = {COMPLETED} AND s.start_time_utc > %(now)s ORDER BY s.start_time_utc""",
        ),
        _Check(
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
        _Check(
            "team_color_invalid", "warning",
            "{n} teams have a primary_color that is not 6 hex digits without '#'",
            "SELECT t.name || ': ' || t.primary_color FROM teams t "
            "WHERE t.primary_color IS NOT NULL AND t.primary_color !~ '^[0-9A-Fa-f]{6}$' ORDER BY t.name",
        ),
        _Check(
            "unused_driver", "warning", "{n} drivers are in no round",
            "SELECT d.first_name || ' ' || d.last_name FROM drivers d "
            "WHERE NOT EXISTS (SELECT 1 FROM entrants e WHERE e.driver_id = d.id) ORDER BY d.last_name",
        ),
        _Check(
            "unused_team", "warning", "{n} teams are in no round",
            "SELECT t.name FROM teams t WHERE NOT EXISTS (SELECT 1 FROM entrants e WHERE e.team_id = t.id) "
            "ORDER BY t.name",
        ),
    ]


def _orphan_checks() -> list[_Check]:
    checks = []
    for child, column, parent in RELATIONS:
        checks.append(
            _Check(
                f"orphan_{child}_{column}", "problem",
                f"{{n}} {child} rows point at a missing {parent} row ({child}.{column})",
                f"SELECT c.id::text FROM {child} c WHERE NOT EXISTS "
                f"(SELECT 1 FROM {parent} p WHERE p.id = c.{column}) ORDER BY 1",
            )
        )
    return checks


TABLES: tuple[str, ...] = (
    "series", "seasons", "circuits", "rounds", "sessions", "drivers", "teams", "entrants", "results",
    "driver_aliases", "team_aliases", "circuit_aliases",
)


def _require_tables(conn: Conn, naming: Naming) -> None:
    tables = {naming.table(child) for child, _, _ in RELATIONS} | {
        naming.table(parent) for _, _, parent in RELATIONS
    }
    present = {
        str(name)
        for (name,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename = ANY(%s)",
            (naming.schema, sorted(tables)),
        ).fetchall()
    }
    missing = sorted(tables - present)
    if missing:
        raise NotMigrated(
            f"the database lacks the racing tables {', '.join(missing)}: run `ingest db migrate`"
        )


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def _null_shares(conn: Conn, rewrite: Rewrite) -> list[NullShare]:
    shares: list[NullShare] = []
    for table, columns in EXPECTED_COLUMNS.items():
        nulls = ", ".join(f'count(*) FILTER (WHERE "{c}" IS NULL)' for c in columns)
        row = conn.execute(rewrite(f"SELECT count(*), {nulls} FROM {table}")).fetchone()
        assert row is not None
        total = _int(row[0])
        shares.extend(NullShare(table, c, total, _int(n)) for c, n in zip(columns, row[1:], strict=True))
    return shares


def _not_from_openf1(conn: Conn, rewrite: Rewrite) -> list[str]:
    notes = []
    for table, column in NOT_FROM_OPENF1:
        row = conn.execute(
            rewrite(f'SELECT count(*), count(*) FILTER (WHERE "{column}" IS NULL) FROM {table}')
        ).fetchone()
        total, nulls = (_int(row[0]), _int(row[1])) if row else (0, 0)
        if nulls:
            notes.append(
                f"{table}.{column} is null for {nulls} of {total} rows: OpenF1 provides no {column} "
                "(fill it from another source if the app shows it)"
            )
    return notes


def _null_findings(shares: Sequence[NullShare]) -> list[Finding]:
    return [
        Finding(
            check="expected_value_null",
            severity="warning",
            message=f"{s.table}.{s.column}: {s.nulls} of {s.rows} rows ({s.share:.1%}) are null",
            count=s.nulls,
        )
        for s in shares
        if s.nulls
    ]


def _table_counts(conn: Conn, naming: Naming) -> dict[str, int]:
    tables = TABLES
    query = sql.SQL("SELECT {}").format(
        sql.SQL(", ").join(sql.SQL("(SELECT count(*) FROM {})").format(naming.rel(t)) for t in tables)
    )
    row = conn.execute(query).fetchone()
    assert row is not None
    return {t: _int(v) for t, v in zip(tables, row, strict=True)}


def _last_replay_results(conn: Conn) -> bool | None:
    """The results option of the last replay (None: no replay)."""
    last = last_replay(conn)
    return None if last is None else last.results


def _regulations(conn: Conn, naming: Naming) -> dict[str, int]:
    """``ingest check`` over every season, in the audit's snapshot: findings per kind."""
    return check(rounds_of(racing_snapshot(conn, naming), None)).counts()


def audit(
    conn: Conn, *, results: bool | None = None, now: datetime | None = None, naming: Naming | None = None
) -> AuditReport:
    """Audit the racing tables (read-only). ``results=False`` skips the checks that need results.

    ``results`` None: as the last replay recorded in ``ingestion.replay_runs`` ran (a database synced with
    ``--no-results`` has no results by design), with results when no replay is recorded. ``now`` (default:
    the database's clock) decides which races are overdue for results and which session statuses are stale.
    ``naming`` (default: the database's) names the tables: the checks are written against the model's
    snake_case names and read the app's EF Core tables through :func:`ingestion.db.naming.rewriter`.
    """
    outermost = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with conn.transaction():
        if outermost:  # one consistent snapshot for every check
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        naming = naming or resolve(conn)
        _require_tables(conn, naming)
        rewrite = rewriter(naming, catalog_columns(conn, naming, TABLES), lambda q: q.as_string(conn))
        if results is None:
            last = _last_replay_results(conn)
            results = True if last is None else last
            source = "as the last replay" if last is not None else "no replay recorded"
        else:
            source = "asked"
        if now is None:
            row = conn.execute("SELECT now()").fetchone()
            assert row is not None and isinstance(row[0], datetime)
            now = row[0]
        params = {"now": now, "results_due": now - RESULTS_GRACE, "status_due": now - STATUS_GRACE}
        findings: list[Finding] = []
        for check in [*_orphan_checks(), *_checks()]:
            if check.needs_results and not results:
                continue
            labels = [str(label) for (label,) in conn.execute(rewrite(check.query), params).fetchall()]
            if labels:
                findings.append(
                    Finding(
                        check=check.check,
                        severity=check.severity,
                        message=check.message.replace("{n}", str(len(labels))),
                        count=len(labels),
                        examples=tuple(labels[:EXAMPLES]),
                    )
                )
        shares = _null_shares(conn, rewrite)
        findings.extend(_null_findings(shares))
        notes = _not_from_openf1(conn, rewrite)
        seasons = season_counts(conn, rewrite=rewrite)
        tables = _table_counts(conn, naming)
        regulations = _regulations(conn, naming) if results else None
    findings.sort(key=lambda f: (f.severity != "problem", f.check, f.message))
    return AuditReport(
        results_checked=results,
        results_source=source,
        findings=tuple(findings),
        nulls=tuple(shares),
        seasons=tuple(seasons),
        tables=tables,
        regulations=regulations,
        notes=tuple(notes),
    )
