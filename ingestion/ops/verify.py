"""``ingest verify``: prove that the racing tables hold exactly what the snapshot store implies.

    from ingestion.ops.verify import verify

    report = verify(database_url(settings), Store(settings.snapshot_dir))
    print(report.exit_code)

It recomputes the rows with the replay's own functions (:func:`ingestion.replay.replay`, same ``as_of``,
same results option as the last replay unless told otherwise), reads every owned column of every racing
table (:func:`ingestion.replay.racing_snapshot`) in a READ ONLY transaction, and compares them by id,
column by column (:func:`compare`, pure), once the expected rows have adopted the ids of the stored rows
holding their natural keys, as the load does (:mod:`ingestion.replay.adopt`: rows the app or an older
pipeline wrote keep their ids). It never writes.

Per table, rows are:

- **missing**: replay produces the id, the table does not hold it;
- **different**: both hold the id, some owned columns differ (each listed: database value, expected value);
- **extra**: the table holds a row replay would DELETE: an entrant of a replayed round that the snapshots
  no longer contain (with results off, only if no result points at it), a result of a replayed round
  (results on), an ``openf1`` alias of a replayed driver;
- **kept**: the table holds a row the snapshots do not imply, which replay keeps by design (users' data
  depends on it, found from the foreign-key catalog as replay does; or see below) and so cannot
  be a replay defect: series, seasons, circuits, rounds, sessions, drivers and teams are never deleted
  (users' data points at sessions and rounds; a session OpenF1 dropped stays), nor are the entrants and
  results of rounds the snapshots do not have, nor aliases added by hand. Kept rows are listed and
  counted; they fail the verification only with ``strict``.

With results off, the ``results`` table is not compared (replay neither writes nor deletes it then).
Exit code: 0 the database matches, 1 a difference (missing, different, extra; kept too when strict).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from ingestion.db import connect, require_schema
from ingestion.db.connection import has_unique_index
from ingestion.db.userdata import spared
from ingestion.instant import as_utc
from ingestion.replay import (
    TABLES,
    NoSnapshotStore,
    Racing,
    SessionStatus,
    SessionType,
    TableSpec,
    racing_snapshot,
    replay,
)
from ingestion.replay.adopt import adopt
from ingestion.replay.load import last_replay
from ingestion.replay.rows import DRIVER_KEY, TABLE_NAMES, one_entrant_per_driver
from ingestion.store import Event, Store
from ingestion.store.check import is_empty

__all__ = [
    "EXAMPLES",
    "ColumnDiff",
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

#: Examples shown per table and kind of difference.
EXAMPLES = 3
_ID = "id"

Rows = Mapping[str, Sequence[tuple[object, ...]]]


class ColumnDiff(msgspec.Struct, frozen=True, kw_only=True):
    column: str
    database: Any
    expected: Any


class RowIssue(msgspec.Struct, frozen=True, kw_only=True):
    """A row that differs: its id, a readable name (``session 9472 max-verstappen``), differing columns."""

    id: str
    label: str
    columns: tuple[ColumnDiff, ...] = ()


class TableCheck(msgspec.Struct, frozen=True, kw_only=True):
    table: str
    compared: bool  # False: results with results off
    expected: int  # rows replay produces
    database: int  # rows the table holds
    missing: int = 0
    extra: int = 0
    different: int = 0
    kept: int = 0
    missing_examples: tuple[RowIssue, ...] = ()
    extra_examples: tuple[RowIssue, ...] = ()
    different_examples: tuple[RowIssue, ...] = ()
    kept_examples: tuple[RowIssue, ...] = ()

    @property
    def differences(self) -> int:
        return self.missing + self.extra + self.different


class LatestSession(msgspec.Struct, frozen=True, kw_only=True):
    round: str
    type: str
    start_time_utc: datetime
    open_f1_session_key: int


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


# --- the comparison (pure) ------------------------------------------------------------------------------


def _norm(value: object) -> object:
    if isinstance(value, datetime):
        return as_utc(value)
    return value


def _show(value: object) -> object:
    """A JSON- and print-friendly value."""
    if isinstance(value, uuid.UUID | datetime):
        return str(value)
    return value


class _Names:
    """Readable names of rows, from the expected rows and the database's."""

    def __init__(self, racing: Racing, database: Rows) -> None:
        self.slugs: dict[object, str] = {}
        self.session_keys: dict[object, int] = {}
        self.entrants: dict[object, tuple[object, object]] = {}  # id -> (round_id, driver_id)
        for table in ("rounds", "drivers", "teams", "circuits", "series"):
            columns = _spec(table).columns
            for values in database.get(table, ()):
                row = dict(zip(columns, values, strict=True))
                self.slugs[row["id"]] = str(row["slug"])
            for r in racing.table(table):
                self.slugs[r.id] = str(r.slug)  # type: ignore[attr-defined]
        for values in database.get("sessions", ()):
            row = dict(zip(_spec("sessions").columns, values, strict=True))
            self.session_keys[row["id"]] = int(row["open_f1_session_key"])  # type: ignore[call-overload]
        for s in racing.sessions:
            self.session_keys[s.id] = s.open_f1_session_key
        for values in database.get("entrants", ()):
            row = dict(zip(_spec("entrants").columns, values, strict=True))
            self.entrants[row["id"]] = (row["round_id"], row["driver_id"])
        for e in racing.entrants:
            self.entrants[e.id] = (e.round_id, e.driver_id)

    def slug(self, key: object) -> str:
        return self.slugs.get(key, str(key))

    def label(self, table: str, row: Mapping[str, object]) -> str:
        if table == "sessions":
            return f"session {row['open_f1_session_key']}"
        if table == "seasons":
            return f"season {row['year']}"
        if table == "entrants":
            return f"{self.slug(row['round_id'])} {self.slug(row['driver_id'])}"
        if table == "results":
            _, driver_id = self.entrants.get(row["entrant_id"], (None, row["entrant_id"]))
            key = self.session_keys.get(row["session_id"], row["session_id"])
            return f"session {key} {self.slug(driver_id)}"
        if table == "driver_aliases":
            return f"{self.slug(row['driver_id'])} alias {row['alias_slug']}"
        return str(row.get("slug", row["id"]))


def _spec(name: str) -> TableSpec:
    return next(spec for spec in TABLES if spec.name == name)


def _deletable(
    table: str, row: Mapping[str, object], racing: Racing, database: Rows, results: bool,
    spared: frozenset[object] = frozenset(),
) -> bool:
    """Whether replay would delete this database row that the snapshots do not imply (else it keeps it).

    ``spared``: ids of rows users' data depends on, which replay never deletes."""
    if row["id"] in spared:
        return False
    rounds = {r.id for r in racing.rounds}
    if table == "entrants":
        if row["round_id"] not in rounds:
            return False
        if not results:
            entrant_col = _spec("results").columns.index("entrant_id")
            return all(values[entrant_col] != row["id"] for values in database.get("results", ()))
        return True
    if table == "results":
        columns = _spec("sessions").columns
        round_of = {values[0]: values[columns.index("round_id")] for values in database.get("sessions", ())}
        return results and round_of.get(row["session_id"]) in rounds
    if table == "driver_aliases":
        return row["driver_id"] in {d.id for d in racing.drivers} and row["source"] == "openf1"
    return False


def compare(
    racing: Racing,
    database: Rows,
    *,
    results: bool,
    examples: int = EXAMPLES,
    spared: frozenset[object] = frozenset(),
) -> tuple[TableCheck, ...]:
    """Compare the rows replay produces with the database's (``racing_snapshot`` form), table by table.

    ``spared``: ids of rows replay keeps because users' data depends on them (kept, not extra)."""
    names = _Names(racing, database)
    checks: list[TableCheck] = []
    for spec in TABLES:
        held = database.get(spec.name, ())
        expected_rows = racing.table(spec.name)
        if spec.name == "results" and not results:
            checks.append(TableCheck(table=spec.name, compared=False, expected=0, database=len(held)))
            continue
        stored = {values[0]: dict(zip(spec.columns, values, strict=True)) for values in held}
        expected = {getattr(r, _ID): {c: getattr(r, c) for c in spec.columns} for r in expected_rows}
        missing: list[RowIssue] = []
        different: list[RowIssue] = []
        extra: list[RowIssue] = []
        kept: list[RowIssue] = []
        n_missing = n_different = n_extra = n_kept = 0
        for key, want in expected.items():
            have = stored.get(key)
            if have is None:
                n_missing += 1
                if len(missing) < examples:
                    missing.append(RowIssue(id=str(key), label=names.label(spec.name, want)))
                continue
            columns = tuple(
                ColumnDiff(column=c, database=_show(have[c]), expected=_show(want[c]))
                for c in spec.columns[1:]
                if _norm(have[c]) != _norm(want[c])
            )
            if columns:
                n_different += 1
                if len(different) < examples:
                    label = names.label(spec.name, want)
                    different.append(RowIssue(id=str(key), label=label, columns=columns))
        for key, have in stored.items():
            if key in expected:
                continue
            issue = RowIssue(id=str(key), label=names.label(spec.name, have))
            if _deletable(spec.name, have, racing, database, results, spared):
                n_extra += 1
                if len(extra) < examples:
                    extra.append(issue)
            else:
                n_kept += 1
                if len(kept) < examples:
                    kept.append(issue)
        checks.append(
            TableCheck(
                table=spec.name,
                compared=True,
                expected=len(expected),
                database=len(held),
                missing=n_missing,
                extra=n_extra,
                different=n_different,
                kept=n_kept,
                missing_examples=tuple(missing),
                extra_examples=tuple(extra),
                different_examples=tuple(different),
                kept_examples=tuple(kept),
            )
        )
    return tuple(checks)


def database_facts(
    database: Rows,
) -> tuple[dict[str, int], dict[int, int], dict[str, int], LatestSession | None]:
    """Counts per table, rounds per season, sessions per type, the latest completed session (pure)."""
    counts = {spec.name: len(database.get(spec.name, ())) for spec in TABLES}
    year_col = _spec("seasons").columns.index("year")
    year_of = {values[0]: int(str(values[year_col])) for values in database.get("seasons", ())}
    round_cols = _spec("rounds").columns
    rounds_per_season: dict[int, int] = {}
    round_names: dict[object, str] = {}
    for values in database.get("rounds", ()):
        row = dict(zip(round_cols, values, strict=True))
        year = year_of.get(row["season_id"], 0)
        rounds_per_season[year] = rounds_per_season.get(year, 0) + 1
        round_names[row["id"]] = f"{year} {row['name']}"
    session_cols = _spec("sessions").columns
    per_type: dict[str, int] = {}
    latest: tuple[datetime, int, dict[str, object]] | None = None
    for values in database.get("sessions", ()):
        row = dict(zip(session_cols, values, strict=True))
        kind = _type_name(row["type"])
        per_type[kind] = per_type.get(kind, 0) + 1
        start = _norm(row["start_time_utc"])
        if row["status"] == SessionStatus.Completed and isinstance(start, datetime):
            candidate = (start, int(row["open_f1_session_key"]), row)  # type: ignore[call-overload]
            if latest is None or candidate[:2] > latest[:2]:
                latest = candidate
    last = None
    if latest is not None:
        start, key, row = latest
        last = LatestSession(
            round=round_names.get(row["round_id"], str(row["round_id"])),
            type=_type_name(row["type"]),
            start_time_utc=start,
            open_f1_session_key=key,
        )
    ordered_types = {t.name: per_type[t.name] for t in SessionType if t.name in per_type}
    ordered_types.update({k: v for k, v in per_type.items() if k not in ordered_types})
    return counts, dict(sorted(rounds_per_season.items())), ordered_types, last


def empty_driver_meetings(events: Iterable[Event]) -> set[int]:
    """Meeting keys whose latest stored ``drivers`` answer (among ``events``) is empty (pure)."""
    keys: set[int] = set()
    for event in events:
        if event.endpoint != "drivers" or not is_empty(event):
            continue
        for name, value in event.request.params():
            if name == "meeting_key" and value.isdigit():
                keys.add(int(value))
    return keys


def rounds_without_drivers(database: Rows, empty_meetings: set[int]) -> tuple[str, ...]:
    """``2024 Bahrain Grand Prix`` for every round with a completed session and no entrant whose drivers
    answer was stored empty (``empty_meetings``) (pure).

    OpenF1 publishes a meeting's drivers during its first session, so such an answer was a false "No results
    found.": the database matches the snapshots and is still incomplete. (A round whose drivers were never
    asked, out of a ``--recent`` fetch's window, is not one.)"""
    year_col = _spec("seasons").columns.index("year")
    year_of = {values[0]: str(values[year_col]) for values in database.get("seasons", ())}
    round_cols = _spec("rounds").columns
    names = {}
    for values in database.get("rounds", ()):
        row = dict(zip(round_cols, values, strict=True))
        if row["open_f1_meeting_key"] in empty_meetings:
            names[row["id"]] = f"{year_of.get(row['season_id'], '?')} {row['name']}"
    session_cols = _spec("sessions").columns
    completed = set()
    for values in database.get("sessions", ()):
        row = dict(zip(session_cols, values, strict=True))
        if row["status"] == SessionStatus.Completed:
            completed.add(row["round_id"])
    entrant_round = _spec("entrants").columns.index("round_id")
    entered = {values[entrant_round] for values in database.get("entrants", ())}
    return tuple(sorted(names[r] for r in completed - entered if r in names))


def _type_name(value: object) -> str:
    try:
        return SessionType(int(value)).name  # type: ignore[call-overload]
    except (ValueError, TypeError):
        return f"type {value}"


# --- the shell ------------------------------------------------------------------------------------------


def verify(
    url: str,
    store: Store,
    as_of: datetime | None = None,
    *,
    results: bool | None = None,
    strict: bool = False,
    examples: int = EXAMPLES,
) -> VerifyReport:
    """Compare the database at ``url`` with what ``store`` implies (see the module doc); read-only.

    ``as_of`` and ``results`` default to those of the last replay recorded in ``ingestion.replay_runs``
    (else now, with results). Raises :class:`NoSnapshotStore` when ``store`` has no folder (a mistyped
    ``--store`` or ``SNAPSHOT_DIR`` would otherwise "verify" every row as kept), and the database's one-line
    errors (unreachable, not migrated).
    """
    if not store.root.is_dir():
        raise NoSnapshotStore(str(store.root))
    with connect(url) as conn:
        conn.read_only = True
        with conn.transaction():
            naming = require_schema(conn)
            last = last_replay(conn)
            database = racing_snapshot(conn, naming)
            one_per_driver = has_unique_index(conn, naming, "entrants", DRIVER_KEY)
            keep = spared(conn, naming, naming.racing_tables(TABLE_NAMES))
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
    replayed = replay(store, instant, results=results)
    racing = one_entrant_per_driver(replayed.racing) if one_per_driver else replayed.racing
    stored = {s.name: [dict(zip(s.columns, v, strict=True)) for v in database[s.name]] for s in TABLES}
    racing, _ = adopt(racing, stored, lambda spec: naming.unique_keys(spec.name, spec.unique_keys))
    snapshots = len(store.latest(instant))
    checks = compare(racing, database, results=results, examples=examples, spared=keep)
    counts, per_season, per_type, latest = database_facts(database)
    without_drivers = rounds_without_drivers(database, empty_driver_meetings(store.latest(instant).values()))
    ok = not without_drivers and all(c.differences == 0 and (not strict or c.kept == 0) for c in checks)
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
        f"verify as of {report.as_of:%Y-%m-%dT%H:%M:%SZ}{'' if report.results else ' (no results)'} "
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
            f"session {s.open_f1_session_key})"
        )
    else:
        lines.append("latest completed session: none")
    if report.without_drivers:
        lines.append(
            f"INCOMPLETE: {len(report.without_drivers)} round(s) with a completed session have no drivers "
            f"(a false empty answer stored?): {', '.join(report.without_drivers)}; `ingest fetch` asks "
            "them again"
        )
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
