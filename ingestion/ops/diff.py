"""``ingest diff``: what changed in the racing rows between the state of the snapshots at two instants.

    from ingestion.ops.diff import diff

    changes = diff(Store(settings.snapshot_dir), t1, t2, results=True)
    for table in changes.tables: ...

The store is a history: ``replay(store, T, results)`` is the racing data as the snapshots stood at ``T``
(latest answer of each request received by ``T``; sessions ended by ``T`` Completed; results of those).
:func:`diff_racing` compares two such states (pure) by id: rows added, removed, and changed with the
changed columns (e.g. a result corrected by a penalty: ``position 3 -> 4``). :func:`apply_diff` replays a
diff onto its ``before`` state and gives its ``after`` state back (pure, used to test the diff).
Nothing here touches the database.

Each side also names the rows of the diff it has (:class:`RowNote`): what the row is (``2024-canadian-grand-
prix Race car 55 Carlos Sainz``) and the source it came from: ``openf1``, or ``f1db vTAG`` for a row f1db's
release made or corrected (its classification, issue 24's precedence, or a session start it moved), so a
new release's corrections read ``[f1db v2024.24.2 -> f1db v2025.24.2]``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

from ingestion.calendar import SessionType
from ingestion.instant import as_utc, format_utc
from ingestion.replay import TABLES, Racing
from ingestion.replay.f1db import F1dbPart
from ingestion.replay.run import NoSnapshotStore, ReplayParts, replay_with_parts
from ingestion.store import Store

__all__ = [
    "ColumnChange",
    "RacingDiff",
    "RowChange",
    "RowNote",
    "TableDiff",
    "apply_diff",
    "diff",
    "diff_racing",
    "invert",
    "render_diff",
]


class ColumnChange(msgspec.Struct, frozen=True, kw_only=True):
    column: str
    before: Any
    after: Any


class RowChange(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    columns: tuple[ColumnChange, ...]


class TableDiff(msgspec.Struct, frozen=True, kw_only=True):
    """One table's changes; every tuple sorted by id."""

    table: str
    added: tuple[msgspec.Struct, ...] = ()
    removed: tuple[msgspec.Struct, ...] = ()
    changed: tuple[RowChange, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


class RowNote(msgspec.Struct, frozen=True, kw_only=True):
    """What a row of a diff is, and the source it came from on one side (``openf1``, ``f1db vTAG``)."""

    label: str
    source: str


class RacingDiff(msgspec.Struct, frozen=True, kw_only=True):
    """Per racing table (in load order, only tables with changes), and the two instants when known; per
    side, a note on every row of the diff that side has (empty for a diff of two bare states)."""

    tables: tuple[TableDiff, ...] = ()
    before: datetime | None = None
    after: datetime | None = None
    results: bool = True
    notes_before: dict[uuid.UUID, RowNote] = {}
    notes_after: dict[uuid.UUID, RowNote] = {}

    @property
    def empty(self) -> bool:
        return all(t.empty for t in self.tables)

    def table(self, name: str) -> TableDiff:
        for t in self.tables:
            if t.table == name:
                return t
        return TableDiff(table=name)


_ID = "id"


def _id(row: msgspec.Struct) -> uuid.UUID:
    value: uuid.UUID = getattr(row, _ID)
    return value


def _by_id(rows: tuple[msgspec.Struct, ...]) -> dict[uuid.UUID, msgspec.Struct]:
    return {_id(r): r for r in rows}


def diff_racing(before: Racing, after: Racing) -> RacingDiff:
    """Rows added, removed and changed (with the changed columns) from ``before`` to ``after`` (pure)."""
    tables: list[TableDiff] = []
    for spec in TABLES:
        old, new = _by_id(before.table(spec.name)), _by_id(after.table(spec.name))
        added = tuple(new[k] for k in sorted(new.keys() - old.keys()))
        removed = tuple(old[k] for k in sorted(old.keys() - new.keys()))
        changed: list[RowChange] = []
        for key in sorted(old.keys() & new.keys()):
            a, b = old[key], new[key]
            columns = tuple(
                ColumnChange(column=c, before=getattr(a, c), after=getattr(b, c))
                for c in spec.columns[1:]
                if getattr(a, c) != getattr(b, c)
            )
            if columns:
                changed.append(RowChange(id=key, columns=columns))
        table = TableDiff(table=spec.name, added=added, removed=removed, changed=tuple(changed))
        if not table.empty:
            tables.append(table)
    return RacingDiff(tables=tuple(tables))


def invert(change: RacingDiff) -> RacingDiff:
    """The diff from ``after`` back to ``before`` (pure)."""
    return RacingDiff(
        tables=tuple(
            TableDiff(
                table=t.table,
                added=t.removed,
                removed=t.added,
                changed=tuple(
                    RowChange(
                        id=c.id,
                        columns=tuple(
                            ColumnChange(column=x.column, before=x.after, after=x.before) for x in c.columns
                        ),
                    )
                    for c in t.changed
                ),
            )
            for t in change.tables
        ),
        before=change.after,
        after=change.before,
        results=change.results,
        notes_before=change.notes_after,
        notes_after=change.notes_before,
    )


def apply_diff(before: Racing, change: RacingDiff) -> Racing:
    """``before`` with ``change`` applied: ``apply_diff(a, diff_racing(a, b)) == b`` (pure)."""
    values: dict[str, tuple[msgspec.Struct, ...]] = {}
    for spec in TABLES:
        t = change.table(spec.name)
        rows = _by_id(before.table(spec.name))
        for row in t.removed:
            rows.pop(_id(row), None)
        for c in t.changed:
            rows[c.id] = msgspec.structs.replace(rows[c.id], **{x.column: x.after for x in c.columns})
        for row in t.added:
            rows[_id(row)] = row
        values[spec.name] = tuple(rows[k] for k in sorted(rows))
    return Racing(**values)  # type: ignore[arg-type]


def diff(store: Store, before: datetime, after: datetime, *, results: bool) -> RacingDiff:
    """What changed in the replayed rows between the store's state at ``before`` and at ``after``, each
    row named with its source on each side.

    Raises :class:`NoSnapshotStore` when ``store`` has no folder (not "no changes" for a mistyped path).
    """
    if not store.root.is_dir():
        raise NoSnapshotStore(str(store.root))
    t1, t2 = as_utc(before), as_utc(after)
    old = replay_with_parts(store, t1, results=results)
    new = replay_with_parts(store, t2, results=results)
    change = diff_racing(old.merged.racing, new.merged.racing)
    ids = {_id(r) for t in change.tables for r in (*t.added, *t.removed)} | {
        c.id for t in change.tables for c in t.changed
    }
    return msgspec.structs.replace(
        change, before=t1, after=t2, results=results,
        notes_before=row_notes(old, ids), notes_after=row_notes(new, ids),
    )


def _sources(part: F1dbPart | None, tag: str | None) -> dict[uuid.UUID, str]:
    """The rows f1db's ``part`` made, corrected or moved, -> ``f1db TAG``."""
    if part is None:
        return {}
    made = (
        part.seasons, part.circuits, part.rounds, part.sessions, part.drivers, part.teams, part.entrants,
        part.results, part.aliases, part.corrections,
    )
    ids = {_id(r) for rows in made for r in rows} | set(part.moved)
    facts = set(part.driver_facts) | set(part.team_facts) | set(part.circuit_facts)
    out = dict.fromkeys(facts, f"openf1, facts f1db {tag}")  # OpenF1's row with f1db's facts
    out.update(dict.fromkeys(ids, f"f1db {tag}"))
    return out


def row_notes(parts: ReplayParts, ids: set[uuid.UUID]) -> dict[uuid.UUID, RowNote]:
    """A note (what the row is, its source) on every row of ``ids`` that the replay ``parts`` has (pure)."""
    racing = parts.merged.racing
    f1db = _sources(parts.f1db, parts.tag)
    rounds = {r.id: r.slug for r in racing.rounds}
    sessions = {s.id: f"{rounds.get(s.round_id, '?')} {_kind(s.type)}" for s in racing.sessions}
    drivers = {d.id: f"{d.first_name} {d.last_name}" for d in racing.drivers}
    entrants = {e.id: (rounds.get(e.round_id, "?"), drivers.get(e.driver_id, "?")) for e in racing.entrants}
    labels: dict[uuid.UUID, str] = {}
    for spec in TABLES:
        if spec.name not in ("results", "sessions", "entrants"):
            labels.update((_id(r), _name(r)) for r in racing.table(spec.name) if _id(r) in ids)
    labels.update((k, v) for k, v in sessions.items() if k in ids)
    labels.update((e, " ".join(entrants[e])) for e in entrants if e in ids)
    for r in racing.results:
        if r.id in ids:
            who = entrants.get(r.entrant_id, ("?", "?"))[1]
            labels[r.id] = f"{sessions.get(r.session_id, '?')} car {r.car_number} {who}"
    return {key: RowNote(label=label, source=f1db.get(key, "openf1")) for key, label in labels.items()}


def _kind(kind: int) -> str:
    return SessionType(kind).name if kind in set(SessionType) else f"type {kind}"


def _value(value: object) -> str:
    if isinstance(value, datetime):
        return format_utc(value)
    return repr(value) if isinstance(value, str) else str(value)


def _name(row: msgspec.Struct) -> str:
    for name in ("slug", "open_f1_session_key", "alias_slug", "year"):
        if getattr(row, name, None) is not None:  # a session only f1db knows has no OpenF1 key
            return f"{name} {getattr(row, name)}"
    return ""


def _label(row: msgspec.Struct) -> str:
    name = _name(row)
    return f"{name} (id {_id(row)})" if name else f"id {_id(row)}"


def _shown(change: RacingDiff, row: msgspec.Struct, side: str) -> str:
    """An added (``after``) or removed (``before``) row: its note's label, id and source, or its label."""
    note = (change.notes_after if side == "after" else change.notes_before).get(_id(row))
    if note is None:
        return _label(row)
    return f"{note.label} (id {_id(row)}) [{note.source}]"


def _both(change: RacingDiff, key: uuid.UUID) -> str:
    """A changed row's `` label [source -> source]`` (nothing without notes)."""
    a, b = change.notes_before.get(key), change.notes_after.get(key)
    return f" {b.label} [{a.source} -> {b.source}]" if a and b else ""


def render_diff(change: RacingDiff, limit: int = 20) -> list[str]:
    """The diff as lines of text: per table the counts, then up to ``limit`` rows of each kind, each named
    with its source when the diff has notes (pure)."""
    when = ""
    if change.before is not None and change.after is not None:
        when = f" from {_value(change.before)} to {_value(change.after)}"
    lines = [f"diff{when}{'' if change.results else ' (no results)'}"]
    if change.empty:
        lines.append("no changes")
        return lines
    for t in change.tables:
        lines.append(f"{t.table}: {len(t.added)} added, {len(t.removed)} removed, {len(t.changed)} changed")
        for kind, rows, side in (("+", t.added, "after"), ("-", t.removed, "before")):
            lines.extend(f"  {kind} {_shown(change, r, side)}" for r in rows[:limit])
            if len(rows) > limit:
                lines.append(f"  {kind} ... and {len(rows) - limit} more")
        for c in t.changed[:limit]:
            cols = ", ".join(f"{x.column} {_value(x.before)} -> {_value(x.after)}" for x in c.columns)
            lines.append(f"  ~ id {c.id}{_both(change, c.id)}: {cols}")
        if len(t.changed) > limit:
            lines.append(f"  ~ ... and {len(t.changed) - limit} more")
    return lines
