"""The rows a replay removes, from the one declaration on the table specs (:class:`.rows.Scope`).

A stored row of a table whose spec has a scope (``removes``) is REMOVED by a replay when all hold:

- it reaches, through the scope's path, a row the replay produced (an entrant of a replayed round, a result
  of a session of a replayed round, an alias of a replayed driver), and its ``where`` columns match
  (aliases: ``source = 'openf1'``, never one added by hand);
- the replay does not produce it (by id, after adoption);
- no row of a racing table this replay does not write points at it (with results off, an entrant that still
  has results is kept: results are neither written nor deleted then);
- users' data does not depend on it (found from the foreign-key catalog, :mod:`ingestion.db.userdata`).

:func:`lock_statement` and :func:`removal_statement` are that rule as the load's SQL (over the stage
tables, before the upserts): the rows in scope are locked first, then users' data is checked;
:class:`Removable` is the same rule over rows in memory, for ``ingest verify`` (what it calls *extra*: a
row a replay would remove; any other row the snapshots do not imply is *kept*). Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import msgspec
from psycopg import sql

from ingestion.db.naming import Naming
from ingestion.replay.rows import TABLES, TableSpec

__all__ = ["Removable", "lock_statement", "removal_statement", "written"]

_ID = "id"  # every racing row's id column (read by name: the typed rows are of several Struct types)


def written(*, results: bool) -> tuple[TableSpec, ...]:
    """The tables a replay writes (and removes rows of): all of them, ``results`` only with results on."""
    return tuple(spec for spec in TABLES if results or spec.name != "results")


def _referrers(spec: TableSpec, writes: Collection[str]) -> list[tuple[str, str]]:
    """(table, column) of the racing tables this replay does not write whose rows point at ``spec``'s."""
    return [
        (other.name, column)
        for other in TABLES
        if other.name not in writes
        for column, parent in other.parents
        if parent == spec.name
    ]


# --- the load's SQL -----------------------------------------------------------------------------------------


def _reach(
    naming: Naming,
    table: str,
    alias: str,
    path: tuple[tuple[str, str], ...],
    stage: Callable[[str], sql.Composable],
) -> sql.Composable:
    column, parent = path[0]
    here = sql.SQL("{}.{}").format(sql.Identifier(alias), naming.col(table, column))
    if len(path) == 1:
        return sql.SQL("{} IN (SELECT id FROM {})").format(here, stage(parent))
    hop = f"{alias}_h"
    return sql.SQL("{} IN (SELECT {}.{} FROM {} {} WHERE {})").format(
        here,
        sql.Identifier(hop),
        naming.col(parent, "id"),
        naming.rel(parent),
        sql.Identifier(hop),
        _reach(naming, parent, hop, path[1:], stage),
    )


def _held(spec: TableSpec, naming: Naming, held: sql.Composable) -> list[sql.Composable]:
    """A row is kept when it, a row it points at, or a row of a racing table pointing at it is held
    (``held``: a table of ids, :mod:`ingestion.replay.findings`)."""
    ids = sql.SQL("(SELECT id FROM {})").format(held)
    columns = ["id", *(column for column, _ in spec.parents)]
    conditions: list[sql.Composable] = [
        sql.SQL("x.{} NOT IN {}").format(naming.col(spec.name, column), ids) for column in columns
    ]
    for other in TABLES:
        for column, parent in other.parents:
            if parent != spec.name:
                continue
            theirs = ["id", *(c for c, _ in other.parents)]
            conditions.append(
                sql.SQL("NOT EXISTS (SELECT 1 FROM {} r WHERE r.{} = x.{} AND ({}))").format(
                    naming.rel(other.name),
                    naming.col(other.name, column),
                    naming.col(spec.name, "id"),
                    sql.SQL(" OR ").join(
                        sql.SQL("r.{} IN {}").format(naming.col(other.name, c), ids) for c in theirs
                    ),
                )
            )
    return conditions


def _conditions(
    spec: TableSpec,
    naming: Naming,
    writes: Collection[str],
    stage: Callable[[str], sql.Composable],
    held: sql.Composable | None = None,
) -> list[sql.Composable]:
    """The scope's conditions on a stored row ``x`` of ``spec`` (all but users' data)."""
    assert spec.removes is not None
    x = sql.Identifier("x")
    conditions = [_reach(naming, spec.name, "x", spec.removes.path, stage)]
    conditions.extend(
        sql.SQL("{}.{} = {}").format(x, naming.col(spec.name, column), sql.Literal(value))
        for column, value in spec.removes.where
    )
    conditions.append(
        sql.SQL("NOT EXISTS (SELECT 1 FROM {} s WHERE s.id = x.{})").format(
            stage(spec.name), naming.col(spec.name, "id")
        )
    )
    conditions.extend(
        sql.SQL("NOT EXISTS (SELECT 1 FROM {} r WHERE r.{} = x.{})").format(
            naming.rel(table), naming.col(table, column), naming.col(spec.name, "id")
        )
        for table, column in _referrers(spec, writes)
    )
    if held is not None:
        conditions.extend(_held(spec, naming, held))
    return conditions


def lock_statement(
    spec: TableSpec,
    naming: Naming,
    writes: Collection[str],
    stage: Callable[[str], sql.Composable],
    held: sql.Composable | None = None,
) -> sql.Composed:
    """``SELECT ... FOR UPDATE`` of ``spec``'s stored rows this replay may remove, users' data not looked at
    yet: once locked, no other transaction can add a row that references one of them (its foreign-key
    check takes ``FOR KEY SHARE``, which waits for this transaction), and a row added before is committed
    by then, so the statement that checks users' data next sees every row that depends on them."""
    return sql.SQL("SELECT x.{} FROM {} x WHERE {} ORDER BY 1 FOR UPDATE OF x").format(
        naming.col(spec.name, "id"),
        naming.rel(spec.name),
        sql.SQL(" AND ").join(_conditions(spec, naming, writes, stage, held)),
    )


def removal_statement(
    spec: TableSpec,
    naming: Naming,
    writes: Collection[str],
    stage: Callable[[str], sql.Composable],
    protected: sql.Composable,
    held: sql.Composable | None = None,
) -> sql.Composed:
    """The ids of ``spec``'s stored rows this replay removes (alias ``x``; ``spec.removes`` not None).

    ``writes``: the tables this replay writes; ``stage(table)``: the stage table of the replayed rows;
    ``protected``: the condition (on ``x``) that users' data depends on the row; ``held``: a table of the
    ids whose rows are kept as stored (:func:`_held`). Run it after
    :func:`lock_statement` (in READ COMMITTED, a later statement sees what committed while it waited)."""
    conditions = [*_conditions(spec, naming, writes, stage, held), sql.SQL("NOT {}").format(protected)]
    return sql.SQL("SELECT x.{} FROM {} x WHERE {} ORDER BY 1").format(
        naming.col(spec.name, "id"), naming.rel(spec.name), sql.SQL(" AND ").join(conditions)
    )


# --- the same rule in memory, for verify ------------------------------------------------------------------


class Removable:
    """Whether a replay that produced ``produced`` (ids per table, after adoption) and writes ``writes``
    would remove a stored row (``stored``: per table, the stored rows as the spec's typed rows,
    :func:`ingestion.replay.stored_rows.stored_row`).

    Users' data is not looked at here: verify passes the ids it spares (:func:`ingestion.db.userdata.spared`).
    """

    def __init__(
        self,
        produced: Mapping[str, Collection[object]],
        stored: Mapping[str, Collection[msgspec.Struct]],
        writes: Collection[str],
    ) -> None:
        self.produced = produced
        self.stored = stored
        self.writes = writes
        self._by_id: dict[str, dict[object, msgspec.Struct]] = {}
        self._referenced: dict[tuple[str, str], set[object]] = {}

    def _row(self, table: str, key: object) -> msgspec.Struct | None:
        if table not in self._by_id:
            self._by_id[table] = {getattr(r, _ID): r for r in self.stored.get(table, ())}
        return self._by_id[table].get(key)

    def _points_at(self, table: str, column: str, key: object) -> bool:
        if (table, column) not in self._referenced:
            self._referenced[(table, column)] = {getattr(r, column) for r in self.stored.get(table, ())}
        return key in self._referenced[(table, column)]

    def __call__(self, spec: TableSpec, row: msgspec.Struct) -> bool:
        scope = spec.removes
        key = getattr(row, _ID)
        if scope is None or spec.name not in self.writes or key in self.produced.get(spec.name, ()):
            return False
        if any(getattr(row, column) != value for column, value in scope.where):
            return False
        current: msgspec.Struct | None = row
        value: object = None
        for column, parent in scope.path:  # follow the stored rows to the last hop's table
            if current is None:
                return False
            value = getattr(current, column)
            current = self._row(parent, value)
        table = scope.path[-1][1]
        if value not in self.produced.get(table, ()):
            return False
        return not any(self._points_at(t, c, key) for t, c in _referrers(spec, self.writes))
