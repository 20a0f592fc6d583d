"""``ingest verify``: prove that the racing tables hold exactly what the snapshot store implies.

    from ingestion.ops.verify import verify

    report = verify(database_url(settings), Store(settings.snapshot_dir))
    print(report.exit_code)

It recomputes the rows with the replay's own functions (:func:`ingestion.replay.run.replay`, same ``as_of``,
same results option as the last replay unless told otherwise), reads every owned column of every racing
table (:func:`ingestion.replay.load.racing_snapshot`) in a READ ONLY transaction, and compares them by id,
column by column (:func:`compare`, pure), once the expected rows have adopted the ids of the stored rows
holding their natural keys, as the load does (:mod:`ingestion.replay.adopt`: rows the app or an older
pipeline wrote keep their ids). It never writes.

Per table, rows are missing, different, extra (a row a replay would remove) or kept (a row replay keeps
by design, which fails the verification only with ``strict``): :mod:`ingestion.ops.verify_compare`.
With results off, the ``results`` table is not compared (replay neither writes nor deletes it then).
Exit code: 0 the database matches, 1 a difference (missing, different, extra; kept too when strict).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
import psycopg
from psycopg import sql

from ingestion.db import connect, require_schema
from ingestion.db.clean import foreign_keys
from ingestion.db.connection import has_unique_index
from ingestion.db.naming import Naming, resolve
from ingestion.db.userdata import protected
from ingestion.errors import UsageError
from ingestion.fetch import known_gaps, render_gap
from ingestion.instant import as_utc, format_utc
from ingestion.ops.verify_compare import EXAMPLES, ColumnDiff, RowIssue, TableCheck, compare
from ingestion.ops.verify_facts import (
    LatestSession,
    database_facts,
    empty_driver_meetings,
    rounds_without_drivers,
)
from ingestion.replay.adopt import adopt, snapshot_keys
from ingestion.replay.load import last_replay, racing_snapshot
from ingestion.replay.release import ReleaseInput
from ingestion.replay.rows import DRIVER_KEY, REMOVABLE_TABLES, one_entrant_per_driver
from ingestion.replay.run import NoSnapshotStore, replay
from ingestion.store import Store

__all__ = [
    "EXAMPLES",
    "ColumnDiff",
    "EmptySnapshotStore",
    "LatestSession",
    "RowIssue",
    "TableCheck",
    "VerifyReport",
    "compare",
    "database_facts",
    "empty_driver_meetings",
    "render_verify",
    "rounds_without_drivers",
    "verify",
]


class VerifyReport(msgspec.Struct, frozen=True, kw_only=True):
    as_of: datetime
    results: bool
    source: str  # where as_of/results came from: "replay run 12", "--as-of", "now"
    snapshots: int
    strict: bool
    tables: tuple[TableCheck, ...]
    counts: dict[str, int]  # rows per racing table in the database
    rounds_per_season: dict[int, int]
    sessions_per_type: dict[str, int]
    latest_completed: LatestSession | None
    ok: bool
    exit_code: int
    #: rounds with a completed session but no entrants (a false "No results found." stored for drivers)
    without_drivers: tuple[str, ...] = ()
    #: the store's known gaps (answers that cannot be true; replay keeps earlier rows): one line each
    gaps: tuple[str, ...] = ()


class EmptySnapshotStore(UsageError):
    """The store holds no snapshot at the instant verified: every row would show as kept and the run would
    say "OK" about nothing (exit 2, as a store that does not exist)."""

    def __init__(self, root: str, as_of: datetime) -> None:
        super().__init__(
            f"nothing to verify against: the store at {root} has no snapshot received at or before "
            f"{format_utc(as_of)}: check --store/SNAPSHOT_DIR or --as-of"
        )


# --- the shell ------------------------------------------------------------------------------------------


def verify(
    url: str,
    store: Store,
    as_of: datetime | None = None,
    *,
    results: bool | None = None,
    strict: bool = False,
    examples: int = EXAMPLES,
    schema: str = "auto",
    f1db: ReleaseInput | bool | None = True,
) -> VerifyReport:
    """Compare the database at ``url`` with what ``store`` implies (see the module doc); read-only.

    ``as_of`` and ``results`` default to those of the last replay recorded in ``ingestion.replay_runs``
    (else now, with results). Raises :class:`NoSnapshotStore` when ``store`` has no folder (a mistyped
    ``--store`` or ``SNAPSHOT_DIR`` would otherwise "verify" every row as kept), and the database's one-line
    errors (unreachable, not migrated). ``schema``: the ``DATABASE_SCHEMA`` setting. ``f1db``: the release
    replayed with the snapshots (True: the store's current one, as replay reads it).
    """
    if not store.root.is_dir():
        raise NoSnapshotStore(str(store.root))
    with connect(url) as conn:
        conn.read_only = True
        with conn.transaction():
            naming = require_schema(conn, resolve(conn, schema))
            last = last_replay(conn)
            database = racing_snapshot(conn, naming)
            one_per_driver = has_unique_index(conn, naming, "entrants", DRIVER_KEY)
            keep = spared(conn, naming)
    sources: list[str] = []
    if as_of is None:
        if last is not None:
            instant = as_utc(last.as_of)
            sources.append(f"as_of of replay run {last.id}")
        else:
            instant = datetime.now(UTC)
            sources.append("as_of now (no replay recorded)")
    else:
        instant = as_utc(as_of)
        sources.append("--as-of")
    if results is None:
        if last is not None:
            results = last.results
            sources.append(f"results {'on' if results else 'off'} as in replay run {last.id}")
        else:
            results = True
    has_release = store.f1db_release(instant) is not None if f1db is True else bool(f1db)
    if not store.latest(instant) and not has_release:
        raise EmptySnapshotStore(str(store.root), instant)
    replayed = replay(store, instant, results=results, f1db=f1db)
    racing = one_entrant_per_driver(replayed.racing) if one_per_driver else replayed.racing
    racing, _ = adopt(racing, snapshot_keys(database, naming), replayed.formerly)
    snapshots = len(store.latest(instant))
    checks = compare(racing, database, results=results, examples=examples, spared=keep)
    counts, per_season, per_type, latest = database_facts(database)
    known = known_gaps(store, instant)
    # a round whose drivers are a known gap is shown as that gap (fetch asks it on its back-off), not failed
    gapped = {int(g.value) for g in known if g.endpoint == "drivers" and g.field == "meeting_key"}
    empty = empty_driver_meetings(store.latest(instant).values()) - gapped
    without_drivers = rounds_without_drivers(database, empty)
    ok = not without_drivers and all(c.differences == 0 and (not strict or c.kept == 0) for c in checks)
    gaps = tuple(render_gap(gap) for gap in known)
    return VerifyReport(
        as_of=instant,
        results=results,
        source="; ".join(sources),
        snapshots=snapshots,
        strict=strict,
        tables=checks,
        counts=counts,
        rounds_per_season=per_season,
        sessions_per_type=per_type,
        latest_completed=latest,
        ok=ok,
        exit_code=0 if ok else 1,
        without_drivers=without_drivers,
        gaps=gaps,
    )


def _issue_lines(kind: str, issues: Sequence[RowIssue], total: int) -> list[str]:
    lines = []
    for issue in issues:
        line = f"    {kind}: {issue.label} (id {issue.id})"
        if issue.columns:
            line += ": " + ", ".join(f"{c.column} {c.database!r} in the database, {c.expected!r} expected"
                                    for c in issue.columns)
        lines.append(line)
    if total > len(issues):
        lines.append(f"    ... and {total - len(issues)} more {kind}")
    return lines


def render_verify(report: VerifyReport) -> list[str]:
    """The report as lines of text (pure)."""
    lines = [
        f"verify as of {format_utc(report.as_of)}{'' if report.results else ' (no results)'} "
        f"({report.source}); {report.snapshots} request(s) in the store",
        f"  {'table':<16}{'expected':>9}{'database':>9}{'missing':>9}{'extra':>7}{'different':>11}"
        f"{'kept':>6}",
    ]
    for c in report.tables:
        if not c.compared:
            lines.append(f"  {c.table:<16}{'-':>9}{c.database:>9}  not compared (results off)")
            continue
        mark = "" if c.differences == 0 else "  <-"
        lines.append(
            f"  {c.table:<16}{c.expected:>9}{c.database:>9}{c.missing:>9}{c.extra:>7}{c.different:>11}"
            f"{c.kept:>6}{mark}"
        )
        lines.extend(_issue_lines("missing", c.missing_examples, c.missing))
        lines.extend(_issue_lines("extra", c.extra_examples, c.extra))
        lines.extend(_issue_lines("different", c.different_examples, c.different))
        lines.extend(_issue_lines("kept", c.kept_examples, c.kept))
    lines.append("rows: " + ", ".join(f"{t} {n}" for t, n in report.counts.items()))
    seasons = ", ".join(f"{y} {n}" for y, n in report.rounds_per_season.items()) or "none"
    lines.append(f"rounds per season: {seasons}")
    types = ", ".join(f"{t} {n}" for t, n in report.sessions_per_type.items()) or "none"
    lines.append(f"sessions per type: {types}")
    if report.latest_completed is not None:
        s = report.latest_completed
        lines.append(
            f"latest completed session: {s.round}, {s.type} ({s.start_time_utc:%Y-%m-%d %H:%M} UTC, "
            f"{'session ' + str(s.open_f1_session_key) if s.open_f1_session_key is not None else 'f1db'})"
        )
    else:
        lines.append("latest completed session: none")
    if report.without_drivers:
        lines.append(
            f"INCOMPLETE: {len(report.without_drivers)} round(s) with a completed session have no drivers "
            f"(a false empty answer stored?): {', '.join(report.without_drivers)}; `ingest fetch` asks "
            "them again"
        )
    if report.gaps:
        lines.append(
            f"gaps: {len(report.gaps)} answer(s) that cannot be true (the database keeps any earlier rows; "
            "`ingest fetch` asks each again on its back-off):"
        )
        lines.extend(f"  gap: {gap}" for gap in report.gaps)
    if report.ok:
        kept = sum(c.kept for c in report.tables)
        lines.append("OK: the database matches the snapshots" + (f" ({kept} kept row(s))" if kept else ""))
    elif not any(c.differences or (report.strict and c.kept) for c in report.tables):
        pass  # only incomplete rounds (said above)
    else:
        total = sum(c.differences for c in report.tables)
        if report.strict:
            total += sum(c.kept for c in report.tables)
        lines.append(f"DIFFERENT: {total} row(s) do not match the snapshots; `ingest replay` rewrites them")
    return lines


def spared(conn: psycopg.Connection[Any], naming: Naming) -> frozenset[object]:
    """Ids of the rows of the removable tables (:data:`~ingestion.replay.rows.REMOVABLE_TABLES`) that replay
    would never delete because users' data depends on them (replay's own condition,
    :func:`ingestion.db.userdata.protected`), read in ``conn``'s transaction: what verify counts as kept."""
    keys = foreign_keys(conn)
    racing = naming.racing_tables()
    ids: set[object] = set()
    for table in REMOVABLE_TABLES:
        query = sql.SQL("SELECT t.{} FROM {} t WHERE {}").format(
            naming.col(table, "id"), naming.rel(table), protected(keys, naming, racing, table, "t")
        )
        ids.update(row[0] for row in conn.execute(query).fetchall())
    return frozenset(ids)
