"""``db audit``: the quality of the racing data, read-only.

Findings have a severity. A **problem** is an integrity fault the app would show wrongly (a row whose parent
is missing, two driver rows for one person, a result whose entrant belongs to another round, a round ending
before it starts, two rounds with one number in a season, a race long over with no results while results are
on): ``ingest db audit`` exits 1. A **warning** is worth a look but can be legitimate (a null where a value is
expected, a round whose sessions are not published yet, a reserve driver without a race result, an unusual
session pattern): exit 0.

Session types: a type outside 0..10 cannot be stored (CHECK constraint), so "unknown type" means a session
that does not fit its round's pattern (see :data:`SESSION_TYPE_NAMES` and ``docs/operations.md``):
a Grand Prix round (numbered 1..N; a testing round is numbered 0, :mod:`ingestion.calendar`) must have a
Race; a testing round has practice sessions only; no type appears twice in a round; a Sprint comes with a
Sprint Qualifying and vice versa; Warmup and the Moto classes (7..10) are never produced from OpenF1.

The checks, one SQL query each, are :mod:`ingestion.ops.audit_checks`; this module runs them in one snapshot
and holds what they find (findings, null shares, the season summary, table counts).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import msgspec
import psycopg
from psycopg import sql

from ingestion.config import Settings
from ingestion.db.connection import connect, database_url
from ingestion.db.naming import Naming, catalog_columns, require_tables, resolve, rewriter
from ingestion.ops.audit_checks import (
    RELATIONS,
    RESULTS_GRACE,
    SESSION_TYPE_NAMES,
    STATUS_GRACE,
    Severity,
    checks,
)
from ingestion.ops.check import check
from ingestion.ops.check.read import rounds_of
from ingestion.ops.counts import SeasonCounts, season_counts
from ingestion.replay.load import last_replay, racing_snapshot
from ingestion.tables import RACING_TABLES as TABLES

__all__ = [
    "EXPECTED_COLUMNS",
    "SESSION_TYPE_NAMES",
    "AuditReport",
    "Finding",
    "NullShare",
    "SeasonSummary",
    "Severity",
    "audit",
    "audit_database",
]

Conn = psycopg.Connection[tuple[object, ...]]
Rewrite = Callable[[str], str]

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

    def json(self) -> dict[str, Any]:
        """What ``ingest db audit --json`` prints: ok, how many problems and warnings, then the report."""
        return {
            "ok": self.ok,
            "problems": len(self.problems),
            "warnings": len(self.warnings),
            **msgspec.to_builtins(self),
        }

    @property
    def ok(self) -> bool:
        """No integrity problem (warnings allowed)."""
        return not self.problems


def _require_tables(conn: Conn, naming: Naming) -> None:
    require_tables(conn, naming, sorted({t for relation in RELATIONS for t in relation[::2]}))


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
        for spec in checks():
            if spec.needs_results and not results:
                continue
            labels = [str(label) for (label,) in conn.execute(rewrite(spec.query), params).fetchall()]
            if labels:
                findings.append(
                    Finding(
                        check=spec.check,
                        severity=spec.severity,
                        message=spec.message.replace("{n}", str(len(labels))),
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


def audit_database(settings: Settings, *, results: bool | None = None) -> AuditReport:
    """:func:`audit` of the configured database, its naming resolved with the ``DATABASE_SCHEMA`` setting
    (what ``ingest db audit`` runs)."""
    with connect(database_url(settings), autocommit=True) as conn:
        return audit(conn, results=results, naming=resolve(conn, settings.database_schema))
