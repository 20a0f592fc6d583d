"""The SQL steps of one load, on one database (named through its :class:`~ingestion.db.naming.Naming`):

- :func:`tables_empty` and :func:`copy_fresh`: when no racing table (nor side table) holds a row, a load has
  nothing to adopt, remove, move aside or compare: each table's rows are COPYed straight into it (binary,
  in id order, as the upserts would insert them), the same rows the staged path writes;
- :func:`copy_in`: binary COPY of a table's rows (already adopted, :mod:`ingestion.replay.adopt`) into a temp
  stage table (``ON COMMIT DROP``);
- :func:`remove`: the stored rows the replay answers for and no longer produces, deleted children first
  (the scope declared on the table specs, :mod:`ingestion.replay.scope`), never a row users' data depends on;
- :func:`make_room`: the slugs the staged rows need, freed (a row replay does not produce is moved aside to
  ``<slug>-<first 8 hex of its id>``, never deleted);
- :func:`upsert`: the staged rows that differ from the stored ones, written (``INSERT ... ON CONFLICT (id)
  DO UPDATE ... WHERE ... IS DISTINCT FROM``), with the columns the database keeps in side tables.

Upserts conflict on the primary key only, never on a natural-key index the database may lack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import psycopg
from psycopg import sql

from ingestion.db.clean import ForeignKey
from ingestion.db.naming import OWN_SCHEMA, RACING_TABLES, Naming, SideColumn
from ingestion.db.userdata import protected
from ingestion.replay.rows import TableSpec
from ingestion.replay.scope import delete_statement

__all__ = ["Target", "copy_fresh", "copy_in", "make_room", "remove", "tables_empty", "upsert"]

Conn = psycopg.Connection[Any]


def _stage(name: str) -> sql.Identifier:
    return sql.Identifier(f"replay_stage_{name}")


def _cols(columns: Sequence[str], prefix: str | None = None) -> sql.Composable:
    if prefix is None:
        return sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    return sql.SQL(", ").join(
        sql.SQL("{}.{}").format(sql.Identifier(prefix), sql.Identifier(c)) for c in columns
    )


def _row_of(cols: Sequence[str], alias: str) -> sql.Composable:
    return sql.SQL("ROW({})").format(_cols(cols, alias))


class Target:
    """The SQL of one load on one database: its naming, and the rows its users' data depends on."""

    def __init__(self, naming: Naming, keys: Sequence[ForeignKey]) -> None:
        self.naming = naming
        self.keys = keys
        self.racing = naming.racing_tables(RACING_TABLES)

    def rel(self, table: str) -> sql.Identifier:
        return self.naming.rel(table)

    def col(self, table: str, column: str, alias: str | None = None) -> sql.Composable:
        if alias is None:
            return self.naming.col(table, column)
        return sql.SQL("{}.{}").format(sql.Identifier(alias), self.naming.col(table, column))

    def cols(self, table: str, columns: Sequence[str], alias: str | None = None) -> sql.Composable:
        return sql.SQL(", ").join(self.col(table, c, alias) for c in columns)

    def own(self, spec: TableSpec) -> list[str]:
        """The owned columns the database's table itself holds (not kept in a side table)."""
        return _own(self.naming, spec)

    def protected(self, table: str, alias: str) -> sql.Composable:
        return protected(self.keys, self.naming, self.racing, table, alias)


def _own(naming: Naming, spec: TableSpec) -> list[str]:
    return [c for c in spec.columns if naming.side(spec.name, c) is None]


def tables_empty(conn: Conn, naming: Naming, specs: Sequence[TableSpec]) -> bool:
    """Whether none of ``specs``' tables (pass every racing table) nor their side tables holds a row: one
    query."""
    sides = [sql.Identifier(OWN_SCHEMA, side.table) for s in specs for _, side in naming.side_columns(s.name)]
    tables = [naming.rel(s.name) for s in specs] + sides
    query = sql.SQL("SELECT {}").format(
        sql.SQL(" AND ").join(sql.SQL("NOT EXISTS (SELECT FROM {})").format(t) for t in tables)
    )
    row = conn.execute(query).fetchone()
    return bool(row and row[0])


def copy_fresh(
    conn: Conn, naming: Naming, specs: Sequence[TableSpec], tables: Mapping[str, Sequence[msgspec.Struct]]
) -> None:
    """COPY each table's rows straight into it (in id order, as :class:`~.rows.Racing` holds them), side
    columns into their side tables: only into empty tables (:func:`tables_empty`), where it writes what
    :func:`upsert` would. One catalog query for the column types, then one COPY per table."""
    targets: list[tuple[sql.Identifier, list[str], list[tuple[object, ...]]]] = []
    for spec in specs:
        rows = tables[spec.name]
        own = _own(naming, spec)
        if own == list(spec.columns):  # every owned column in the table itself: the rows as they are
            values = [msgspec.structs.astuple(r) for r in rows]
        else:
            values = [tuple(getattr(r, c) for c in own) for r in rows]
        targets.append((naming.rel(spec.name), [naming.column(spec.name, c) for c in own], values))
        for column, side in naming.side_columns(spec.name):
            pairs = [(v[0], getattr(r, column)) for v, r in zip(values, rows, strict=True)]
            kept: list[tuple[object, ...]] = [p for p in pairs if p[1] is not None]
            targets.append((sql.Identifier(OWN_SCHEMA, side.table), [side.key, side.column], kept))
    names = [t[0].as_string(conn) for t in targets]
    types: dict[tuple[int, str], int] = {
        (int(n), str(a)): int(o)
        for n, a, o in conn.execute(
            "SELECT r.n, a.attname, a.atttypid FROM unnest(%s::text[]) WITH ORDINALITY r(name, n) "
            "JOIN pg_attribute a ON a.attrelid = r.name::regclass WHERE a.attnum > 0 AND NOT a.attisdropped",
            (names,),
        ).fetchall()
    }
    with conn.cursor() as cur:
        for n, (table, columns, values) in enumerate(targets, start=1):
            if not values:
                continue
            query = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(table, _cols(columns))
            with cur.copy(query) as copy:
                copy.set_types([types[(n, c)] for c in columns])
                for value in values:
                    copy.write_row(value)


def copy_in(conn: Conn, db: Target, spec: TableSpec, rows: Sequence[msgspec.Struct]) -> None:
    stage = _stage(spec.name)
    conn.execute(
        sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS {} WITH NO DATA").format(
            stage, db.naming.select(spec.name, spec.columns)
        )
    )
    oids = [
        int(r[0])
        for r in conn.execute(
            "SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0 "
            "AND NOT a.attisdropped ORDER BY a.attnum",
            (f"pg_temp.replay_stage_{spec.name}",),
        ).fetchall()
    ]
    with conn.cursor() as cur:
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(stage, _cols(spec.columns))
        with cur.copy(copy_sql) as copy:
            copy.set_types(oids)
            for row in rows:
                copy.write_row(tuple(getattr(row, c) for c in spec.columns))
    conn.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (id)").format(stage))
    conn.execute(sql.SQL("ANALYZE {}").format(stage))


def make_room(conn: Conn, db: Target, spec: TableSpec) -> int:
    """Free the slugs the staged rows need: swaps among our own rows, and rows replay does not produce."""
    if "slug" not in spec.columns:
        return 0
    stage, target = _stage(spec.name), db.rel(spec.name)
    slug, id_ = db.col(spec.name, "slug"), db.col(spec.name, "id")
    # our own rows whose slug changes: park them on a unique temporary slug (they are updated just after)
    conn.execute(
        sql.SQL(
            "UPDATE {target} t SET {slug} = '~replay~' || t.{id}::text FROM {stage} s "
            "WHERE s.id = t.{id} AND s.slug <> t.{slug}"
        ).format(target=target, stage=stage, slug=slug, id=id_)
    )
    # rows replay does not produce holding a slug it needs: moved aside, never deleted
    cur = conn.execute(
        sql.SQL(
            "UPDATE {target} t SET {slug} = t.{slug} || '-' || left(t.{id}::text, 8) FROM {stage} s "
            "WHERE s.slug = t.{slug} AND s.id <> t.{id} "
            "AND NOT EXISTS (SELECT 1 FROM {stage} s2 WHERE s2.id = t.{id})"
        ).format(target=target, stage=stage, slug=slug, id=id_)
    )
    return cur.rowcount


def upsert(conn: Conn, db: Target, spec: TableSpec) -> tuple[int, int]:
    """Write the staged rows that differ from the stored ones; (inserted, updated) among them."""
    stage, target = _stage(spec.name), db.rel(spec.name)
    changed = sql.Identifier(f"replay_changed_{spec.name}")
    data = [c for c in spec.columns if c != "id"]
    conn.execute(
        sql.SQL(
            "CREATE TEMP TABLE {changed} ON COMMIT DROP AS SELECT {cols} FROM {stage} s WHERE NOT EXISTS ("
            "SELECT 1 FROM {source} t WHERE t.id = s.id AND {t_row} IS NOT DISTINCT FROM {s_row})"
        ).format(
            changed=changed,
            cols=_cols(spec.columns, "s"),
            stage=stage,
            source=sql.SQL("({})").format(db.naming.select(spec.name, spec.columns)),
            t_row=_row_of(data, "t"),
            s_row=_row_of(data, "s"),
        )
    )
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(changed)).fetchone()
    total = int(row[0]) if row else 0
    own = db.own(spec)
    own_data = [c for c in own if c != "id"]
    sets = sql.SQL(", ").join(
        sql.SQL("{c} = EXCLUDED.{c}").format(c=db.col(spec.name, c)) for c in own_data
    )
    query = sql.SQL(
        "WITH up AS (INSERT INTO {target} AS t ({cols}) SELECT {staged} FROM {changed} ORDER BY 1 "
        "ON CONFLICT ({id}) DO UPDATE SET {sets} WHERE {t_row} IS DISTINCT FROM {x_row} "
        "RETURNING (t.xmax = 0) AS inserted) "
        "SELECT count(*) FILTER (WHERE inserted) FROM up"
    ).format(
        target=target,
        cols=db.cols(spec.name, own),
        staged=_cols(own),
        changed=changed,
        id=db.col(spec.name, "id"),
        sets=sets,
        t_row=sql.SQL("ROW({})").format(db.cols(spec.name, own_data, "t")),
        x_row=sql.SQL("ROW({})").format(
            sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(db.col(spec.name, c)) for c in own_data)
        ),
    )
    row = conn.execute(query).fetchone()
    inserted = int(row[0]) if row else 0
    for column, side in db.naming.side_columns(spec.name):
        _upsert_side(conn, db, spec, column, side, changed)
    return inserted, total - inserted


def _upsert_side(
    conn: Conn, db: Target, spec: TableSpec, column: str, side: SideColumn, changed: sql.Identifier
) -> None:
    """Keep ``column`` of the changed rows in its side table (schema ``ingestion``), one row per id."""
    table = sql.Identifier(OWN_SCHEMA, side.table)
    key, value = sql.Identifier(side.key), sql.Identifier(side.column)
    # side rows of rows that no longer exist, or holding a value another row now takes: stale
    conn.execute(
        sql.SQL(
            "DELETE FROM {table} k WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE t.{id} = k.{key}) "
            "OR EXISTS (SELECT 1 FROM {changed} c WHERE c.{col} = k.{value} AND c.id <> k.{key})"
        ).format(
            table=table, target=db.rel(spec.name), id=db.col(spec.name, "id"), key=key, value=value,
            changed=changed, col=sql.Identifier(column),
        )
    )
    conn.execute(
        sql.SQL(
            "INSERT INTO {table} ({key}, {value}) SELECT c.id, c.{col} FROM {changed} c "
            "WHERE c.{col} IS NOT NULL ORDER BY 1 "
            "ON CONFLICT ({key}) DO UPDATE SET {value} = EXCLUDED.{value} "
            "WHERE {table}.{value} IS DISTINCT FROM EXCLUDED.{value}"
        ).format(table=table, key=key, value=value, col=sql.Identifier(column), changed=changed)
    )


def remove(conn: Conn, db: Target, specs: Sequence[TableSpec]) -> dict[str, int]:
    """Delete the stored rows of ``specs`` (the tables this replay writes) that it answers for and no longer
    produces, children first (:mod:`ingestion.replay.scope`); the count per table."""
    writes = {spec.name for spec in specs}
    removed: dict[str, int] = {}
    for spec in reversed(specs):
        if spec.removes is not None:
            query = delete_statement(spec, db.naming, writes, _stage, db.protected(spec.name, "x"))
            removed[spec.name] = int(conn.execute(query).rowcount)
    return removed
