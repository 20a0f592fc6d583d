"""The SQL steps of one load, on one database (named through its :class:`~ingestion.db.naming.Naming`):

- :func:`tables_empty` and :func:`copy_fresh`: when no racing table (nor side table) holds a row, a load has
  nothing to adopt, remove, move aside or compare: each table's rows are COPYed straight into it (binary,
  in id order, as the upserts would insert them), the same rows the staged path writes;
- :func:`copy_in`: binary COPY of a table's rows (already adopted, :mod:`ingestion.replay.adopt`) into a temp
  stage table (``ON COMMIT DROP``);
- :func:`plan_removals` and :func:`remove`: the stored rows the replay answers for and no longer produces
  (the scope declared on the table specs, :mod:`ingestion.replay.scope`), locked, then checked against
  users' data (never a row it depends on), then deleted children first;
- :func:`make_room`: the slugs the staged rows need, freed (a row replay does not produce is moved aside to
  ``<slug>-<first 8 hex of its id>``, never deleted);
- :func:`upsert`: the staged rows that differ from the stored ones, written (``INSERT ... ON CONFLICT (id)
  DO UPDATE ... WHERE ... IS DISTINCT FROM``), with the columns the database keeps in side tables.

Upserts conflict on the primary key only, never on a natural-key index the database may lack.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any

import msgspec
import psycopg
from psycopg import sql

from ingestion.db.clean import ForeignKey
from ingestion.db.naming import OWN_SCHEMA, RACING_TABLES, Naming, SideTable
from ingestion.db.userdata import protected
from ingestion.replay.findings import MEETING_MISSING, SESSION_MOVED
from ingestion.replay.rows import ReplayWarning, TableSpec
from ingestion.replay.scope import lock_statement, removal_statement

__all__ = [
    "Removals",
    "Target",
    "copy_fresh",
    "copy_in",
    "hold_stored",
    "make_room",
    "plan_removals",
    "remove",
    "staged_count",
    "tables_empty",
    "upsert",
]

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
    sides = [sql.Identifier(OWN_SCHEMA, side.table) for s in specs for side in naming.side_tables(s.name)]
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
        for side in naming.side_tables(spec.name):
            model = [column for column, _ in side.columns]
            kept: list[tuple[object, ...]] = []
            for v, r in zip(values, rows, strict=True):
                side_values = tuple(getattr(r, column) for column in model)
                if any(x is not None for x in side_values):  # a side row only for a row with a value
                    kept.append((v[0], *side_values))
            columns = [side.key, *(c.column for _, c in side.columns)]
            targets.append((sql.Identifier(OWN_SCHEMA, side.table), columns, kept))
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
    for side in db.naming.side_tables(spec.name):
        _upsert_side(conn, db, spec, side, changed)
    return inserted, total - inserted


def _upsert_side(conn: Conn, db: Target, spec: TableSpec, side: SideTable, changed: sql.Identifier) -> None:
    """Keep the side table's columns of the changed rows (schema ``ingestion``), one row per id: none for a
    row whose values there are all null."""
    table = sql.Identifier(OWN_SCHEMA, side.table)
    key = sql.Identifier(side.key)
    model = [sql.Identifier(column) for column, _ in side.columns]
    values = [sql.Identifier(c.column) for _, c in side.columns]
    # stale side rows: of rows that no longer exist, of changed rows with no value left, or holding a unique
    # value another changed row now takes
    stale: list[sql.Composable] = [
        sql.SQL("NOT EXISTS (SELECT 1 FROM {target} t WHERE t.{id} = k.{key})").format(
            target=db.rel(spec.name), id=db.col(spec.name, "id"), key=key
        ),
        sql.SQL("EXISTS (SELECT 1 FROM {changed} c WHERE c.id = k.{key} AND {all_null})").format(
            changed=changed, key=key,
            all_null=sql.SQL(" AND ").join(sql.SQL("c.{} IS NULL").format(m) for m in model),
        ),
    ]
    stale.extend(
        sql.SQL("EXISTS (SELECT 1 FROM {changed} c WHERE c.{col} = k.{value} AND c.id <> k.{key})").format(
            changed=changed, col=sql.Identifier(column), value=sql.Identifier(c.column), key=key
        )
        for column, c in side.columns
        if c.unique
    )
    conn.execute(
        sql.SQL("DELETE FROM {table} k WHERE {stale}").format(table=table, stale=sql.SQL(" OR ").join(stale))
    )
    conn.execute(
        sql.SQL(
            "INSERT INTO {table} ({key}, {values}) SELECT c.id, {model} FROM {changed} c "
            "WHERE {any_set} ORDER BY 1 "
            "ON CONFLICT ({key}) DO UPDATE SET {sets} WHERE ROW({old}) IS DISTINCT FROM ROW({new})"
        ).format(
            table=table,
            key=key,
            values=sql.SQL(", ").join(values),
            model=sql.SQL(", ").join(sql.SQL("c.{}").format(m) for m in model),
            changed=changed,
            any_set=sql.SQL(" OR ").join(sql.SQL("c.{} IS NOT NULL").format(m) for m in model),
            sets=sql.SQL(", ").join(sql.SQL("{v} = EXCLUDED.{v}").format(v=v) for v in values),
            old=sql.SQL(", ").join(sql.SQL("{}.{}").format(table, v) for v in values),
            new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(v) for v in values),
        )
    )


#: The temp table of the ids whose stored rows a load keeps as they are (:func:`hold_stored`).
HELD = sql.Identifier("replay_held")


def staged_count(conn: Conn, spec: TableSpec) -> int:
    """How many rows the stage table of ``spec`` holds (after :func:`hold_stored` took some out)."""
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(_stage(spec.name))).fetchone()
    return int(row[0]) if row else 0


def hold_stored(
    conn: Conn, db: Target, specs: Sequence[TableSpec], held: Collection[uuid.UUID]
) -> list[ReplayWarning]:
    """Keep the stored rows that upstream oddities would change (:mod:`ingestion.replay.findings`), after
    the stage tables are filled: ``held`` (sessions and results normalize held) and the sessions OpenF1 now
    files under another meeting than their stored one go to :data:`HELD` (their staged rows and their
    staged results out of the stage: neither updated nor removed); a season with a stored round the
    snapshots no longer list keeps its stored rounds as they are (no renumbering). The findings."""
    names = {spec.name for spec in specs}
    conn.execute(sql.SQL("CREATE TEMP TABLE {} (id uuid PRIMARY KEY) ON COMMIT DROP").format(HELD))
    if held:
        conn.execute(sql.SQL("INSERT INTO {} SELECT unnest(%s::uuid[])").format(HELD), (list(held),))
    findings: list[ReplayWarning] = []
    sessions, rounds = db.rel("sessions"), db.rel("rounds")
    sid, sround = db.col("sessions", "id"), db.col("sessions", "round_id")
    rid, key = db.col("rounds", "id"), db.col("rounds", "open_f1_meeting_key")
    moved = conn.execute(
        sql.SQL(
            "INSERT INTO {held} SELECT s.id FROM {stage} s JOIN {sessions} t ON t.{sid} = s.id "
            "WHERE t.{sround} <> s.round_id ON CONFLICT DO NOTHING RETURNING id"
        ).format(held=HELD, stage=_stage("sessions"), sessions=sessions, sid=sid, sround=sround)
    ).fetchall()
    if moved:
        rows = conn.execute(
            sql.SQL(
                "SELECT s.open_f1_session_key, o.{key}, n.{key} FROM {stage} s "
                "JOIN {sessions} t ON t.{sid} = s.id JOIN {rounds} o ON o.{rid} = t.{sround} "
                "LEFT JOIN {rounds} n ON n.{rid} = s.round_id WHERE s.id = ANY(%s) ORDER BY 1"
            ).format(key=key, stage=_stage("sessions"), sessions=sessions, sid=sid, rounds=rounds, rid=rid,
                     sround=sround),
            ([r[0] for r in moved],),
        ).fetchall()
        findings.extend(
            ReplayWarning(
                kind=SESSION_MOVED,
                message=f"session {k}: OpenF1 now files it under meeting {new} (stored under {old}): it "
                "stays on its stored round with its results",
            )
            for k, old, new in rows
        )
    drop = "DELETE FROM {} s WHERE s.id IN (SELECT id FROM {h})"
    conn.execute(sql.SQL(drop).format(_stage("sessions"), h=HELD))
    if "results" in names:
        also = " OR s.session_id IN (SELECT id FROM {h})"
        conn.execute(sql.SQL(drop + also).format(_stage("results"), h=HELD))
    missing = conn.execute(
        sql.SQL(
            "SELECT t.{key}, t.{name}, t.{season} FROM {rounds} t WHERE t.{key} IS NOT NULL "
            "AND t.{season} IN (SELECT id FROM {seasons}) "
            "AND NOT EXISTS (SELECT 1 FROM {stage} s WHERE s.id = t.{rid}) ORDER BY 1"
        ).format(
            key=key, name=db.col("rounds", "name"), season=db.col("rounds", "season_id"), rounds=rounds,
            seasons=_stage("seasons"), stage=_stage("rounds"), rid=rid,
        )
    ).fetchall()
    findings.extend(
        ReplayWarning(
            kind=MEETING_MISSING,
            message=f"meeting {k} ({name}) is stored but no longer in the snapshots: its season's rounds "
            "keep their stored numbers and nothing of the season is removed",
        )
        for k, name, _ in missing
    )
    if missing:
        conn.execute(
            sql.SQL(
                "DELETE FROM {stage} s WHERE s.season_id = ANY(%s) AND EXISTS (SELECT 1 FROM {rounds} t "
                "WHERE t.{rid} = s.id)"
            ).format(stage=_stage("rounds"), rounds=rounds, rid=rid),
            (sorted({m[2] for m in missing}),),
        )
    return findings


class Removals(msgspec.Struct, frozen=True, kw_only=True):
    """What a load is about to remove: the ids per table (children first), all locked ``FOR UPDATE``, and
    per settled season (one whose stored rounds all ended before ``as_of``) its rows among them, per table."""

    ids: dict[str, list[object]]
    settled: dict[int, dict[str, int]]


def plan_removals(conn: Conn, db: Target, specs: Sequence[TableSpec], as_of: date) -> Removals:
    """The stored rows of ``specs`` (the tables this replay writes) that it answers for and no longer
    produces (:mod:`ingestion.replay.scope`), never a row users' data depends on.

    Every row in scope is locked first (children first), then users' data is checked in later statements:
    an app transaction that added a reference to one of them has committed by then (it is seen, the row is
    kept); one that adds a reference later waits for this transaction (and fails cleanly if the row goes).
    """
    writes = {spec.name for spec in specs}
    scoped = [spec for spec in reversed(specs) if spec.removes is not None]
    for spec in scoped:
        conn.execute(lock_statement(spec, db.naming, writes, _stage, HELD))
    ids: dict[str, list[object]] = {}
    for spec in scoped:
        query = removal_statement(spec, db.naming, writes, _stage, db.protected(spec.name, "x"), HELD)
        ids[spec.name] = [row[0] for row in conn.execute(query).fetchall()]
    settled: dict[int, dict[str, int]] = {}
    for spec in scoped:
        if not ids[spec.name] or spec.removes is None or spec.removes.path[-1][1] != "rounds":
            continue
        for year, n in conn.execute(_settled_query(db, spec), (ids[spec.name], as_of)).fetchall():
            settled.setdefault(int(year), {})[spec.name] = int(n)
    return Removals(ids=ids, settled=dict(sorted(settled.items())))


def _settled_query(db: Target, spec: TableSpec) -> sql.Composed:
    """Per settled season, how many of ``spec``'s rows (ids ``%s``) it holds (``%s``: the as-of date)."""
    assert spec.removes is not None
    joins: list[sql.Composable] = []
    table, alias = spec.name, "x"
    for n, (column, parent) in enumerate(spec.removes.path):
        hop = f"h{n}"
        joins.append(
            sql.SQL("JOIN {} {} ON {}.{} = {}.{}").format(
                db.rel(parent), sql.Identifier(hop), sql.Identifier(hop), db.col(parent, "id"),
                sql.Identifier(alias), db.col(table, column),
            )
        )
        table, alias = parent, hop
    return sql.SQL(
        "SELECT se.{year}, count(*) FROM {rel} x {joins} JOIN {seasons} se ON se.{sid} = {last}.{season} "
        "WHERE x.{id} = ANY(%s) AND NOT EXISTS (SELECT 1 FROM {rounds} r WHERE r.{season} = se.{sid} "
        "AND r.{end} >= %s) GROUP BY 1 ORDER BY 1"
    ).format(
        year=db.col("seasons", "year"),
        rel=db.rel(spec.name),
        joins=sql.SQL(" ").join(joins),
        seasons=db.rel("seasons"),
        sid=db.col("seasons", "id"),
        last=sql.Identifier(alias),
        season=db.col("rounds", "season_id"),
        id=db.col(spec.name, "id"),
        rounds=db.rel("rounds"),
        end=db.col("rounds", "date_end"),
    )


def remove(conn: Conn, db: Target, removals: Removals) -> dict[str, int]:
    """Delete the rows :func:`plan_removals` found (locked since), children first; the count per table."""
    removed: dict[str, int] = {}
    for table, ids in removals.ids.items():
        query = sql.SQL("DELETE FROM {} x WHERE x.{} = ANY(%s)").format(db.rel(table), db.col(table, "id"))
        removed[table] = int(conn.execute(query, (ids,)).rowcount) if ids else 0
        for side in db.naming.side_tables(table) if ids else ():  # a removed row's side row goes with it
            conn.execute(
                sql.SQL("DELETE FROM {} k WHERE k.{} = ANY(%s)").format(
                    sql.Identifier(OWN_SCHEMA, side.table), sql.Identifier(side.key)
                ),
                (ids,),
            )
    return removed
