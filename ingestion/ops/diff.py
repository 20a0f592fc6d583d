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
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

from ingestion.instant import as_utc, format_utc
from ingestion.replay import TABLES, Racing
from ingestion.replay.run import NoSnapshotStore, replay
from ingestion.store import Store

__all__ = [
    "ColumnChange",
    "RacingDiff",
    "RowChange",
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


class RacingDiff(msgspec.Struct, frozen=True, kw_only=True):
    """Per racing table (in load order, only tables with changes), and the two instants when known."""

    tables: tuple[TableDiff, ...] = ()
    before: datetime | None = None
    after: datetime | None = None
    results: bool = True

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
    """What changed in the replayed rows between the store's state at ``before`` and at ``after``.

    Raises :class:`NoSnapshotStore` when ``store`` has no folder (not "no changes" for a mistyped path).
    """
    if not store.root.is_dir():
        raise NoSnapshotStore(str(store.root))
    t1, t2 = as_utc(before), as_utc(after)
    change = diff_racing(replay(store, t1, results=results).racing, replay(store, t2, results=results).racing)
    return msgspec.structs.replace(change, before=t1, after=t2, results=results)


def _value(value: object) -> str:
    if isinstance(value, datetime):
        return format_utc(value)
    return repr(value) if isinstance(value, str) else str(value)


def _label(row: msgspec.Struct) -> str:
    for name in ("slug", "open_f1_session_key", "alias_slug", "year"):
        if getattr(row, name, None) is not None:  # a session only f1db knows has no OpenF1 key
            return f"{name} {getattr(row, name)} (id {_id(row)})"
    return f"id {_id(row)}"


def render_diff(change: RacingDiff, limit: int = 20) -> list[str]:
    """The diff as lines of text: per table the counts, then up to ``limit`` rows of each kind (pure)."""
    when = ""
    if change.before is not None and change.after is not None:
        when = f" from {_value(change.before)} to {_value(change.after)}"
    lines = [f"diff{when}{'' if change.results else ' (no results)'}"]
    if change.empty:
        lines.append("no changes")
        return lines
    for t in change.tables:
        lines.append(f"{t.table}: {len(t.added)} added, {len(t.removed)} removed, {len(t.changed)} changed")
        for kind, rows in (("+", t.added), ("-", t.removed)):
            lines.extend(f"  {kind} {_label(r)}" for r in rows[:limit])
            if len(rows) > limit:
                lines.append(f"  {kind} ... and {len(rows) - limit} more")
        for c in t.changed[:limit]:
            cols = ", ".join(f"{x.column} {_value(x.before)} -> {_value(x.after)}" for x in c.columns)
            lines.append(f"  ~ id {c.id}: {cols}")
        if len(t.changed) > limit:
            lines.append(f"  ~ ... and {len(t.changed) - limit} more")
    return lines
