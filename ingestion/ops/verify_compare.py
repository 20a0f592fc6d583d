"""The comparison ``ingest verify`` makes (pure): the rows replay produces against the database's, by id.

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

A row is *extra* exactly when a replay would remove it (the scope declared on the table specs,
:class:`ingestion.replay.scope.Removable`, less the rows users' data depends on). With results off, the
``results`` table is not compared (replay neither writes nor deletes it then).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec

from ingestion.instant import as_utc
from ingestion.replay import TABLES, Racing
from ingestion.replay.rows import CircuitRow, DriverRow, EntrantRow, RoundRow, SeriesRow, SessionRow, TeamRow
from ingestion.replay.scope import Removable, written
from ingestion.replay.stored_rows import stored_row, stored_rows

__all__ = ["EXAMPLES", "ColumnDiff", "RowIssue", "Rows", "TableCheck", "compare"]

#: Examples shown per table and kind of difference.
EXAMPLES = 3
_ID = "id"

#: Per racing table, its rows as :func:`ingestion.replay.load.racing_snapshot` reads them (owned columns).
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
        self.session_keys: dict[object, object] = {}  # id -> OpenF1's session key (an f1db session: its id)
        self.entrants: dict[object, tuple[object, object]] = {}  # id -> (round_id, driver_id)
        named: tuple[tuple[str, type[msgspec.Struct]], ...] = (
            ("rounds", RoundRow),
            ("drivers", DriverRow),
            ("teams", TeamRow),
            ("circuits", CircuitRow),
            ("series", SeriesRow),
        )
        for table, row_type in named:
            for row in stored_rows(database, row_type):
                self.slugs[row.id] = str(row.slug)  # type: ignore[attr-defined]
            for r in racing.table(table):
                self.slugs[r.id] = str(r.slug)  # type: ignore[attr-defined]
        for session in stored_rows(database, SessionRow):
            self.session_keys[session.id] = session.open_f1_session_key or session.id
        for s in racing.sessions:
            self.session_keys[s.id] = s.open_f1_session_key or s.id
        for entrant in stored_rows(database, EntrantRow):
            self.entrants[entrant.id] = (entrant.round_id, entrant.driver_id)
        for e in racing.entrants:
            self.entrants[e.id] = (e.round_id, e.driver_id)

    def slug(self, key: object) -> str:
        return self.slugs.get(key, str(key))

    def label(self, table: str, row: msgspec.Struct) -> str:
        def get(column: str) -> object:
            return getattr(row, column)

        if table == "sessions":
            return f"session {get('open_f1_session_key') or get('id')}"
        if table == "seasons":
            return f"season {get('year')}"
        if table == "entrants":
            return f"{self.slug(get('round_id'))} {self.slug(get('driver_id'))}"
        if table == "results":
            _, driver_id = self.entrants.get(get("entrant_id"), (None, get("entrant_id")))
            key = self.session_keys.get(get("session_id"), get("session_id"))
            return f"session {key} {self.slug(driver_id)}{provenance(row)}"
        if table == "driver_aliases":
            return f"{self.slug(get('driver_id'))} alias {get('alias_slug')}"
        return str(getattr(row, "slug", get("id")))


def provenance(row: msgspec.Struct) -> str:
    """`` (f1db v2025.24.2)`` or `` (openf1 947cea16d7f2)`` (the snapshot's address, shortened): where a
    result's classification came from, for its label; empty when the row does not say."""
    source = getattr(row, "source", None)
    if source is None:
        return ""
    version = getattr(row, "source_version", None) or "?"
    return f" ({source} {version[:12] if source == 'openf1' else version})"


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
    produced = {spec.name: {getattr(r, _ID) for r in racing.table(spec.name)} for spec in TABLES}
    typed = {spec.name: [stored_row(spec, v) for v in database.get(spec.name, ())] for spec in TABLES}
    removable = Removable(produced, typed, {spec.name for spec in written(results=results)})
    checks: list[TableCheck] = []
    for spec in TABLES:
        held = database.get(spec.name, ())
        expected_rows = racing.table(spec.name)
        if spec.name == "results" and not results:
            checks.append(TableCheck(table=spec.name, compared=False, expected=0, database=len(held)))
            continue
        stored = {getattr(r, _ID): r for r in typed[spec.name]}
        expected = {getattr(r, _ID): r for r in expected_rows}
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
            if have == want:  # the same typed row (Structs compare in C; an instant is equal in any zone)
                continue
            columns = tuple(
                ColumnDiff(column=c, database=_show(getattr(have, c)), expected=_show(getattr(want, c)))
                for c in spec.columns[1:]
                if _norm(getattr(have, c)) != _norm(getattr(want, c))
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
            if key not in spared and removable(spec, have):
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
