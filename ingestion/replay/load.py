"""Loading replayed rows into PostgreSQL: one transaction, one advisory lock, write only what differs.

The steps, all inside one transaction holding the advisory lock ``LOCK_KEY`` (two replays never
interleave; a replay killed at any instant leaves the database untouched; a replay finding the lock taken
says so and waits up to ``lock_wait`` s, then :class:`ReplayLocked`):

1. binary COPY of every table's rows into temp stage tables (``ON COMMIT DROP``);
2. before that, natural keys already held by ANOTHER id (rows the app or an older pipeline wrote): the row
   ADOPTS the existing row's id (a session keeps its id forever, so do rounds, drivers, teams...), and the
   children's foreign keys follow (:mod:`ingestion.replay.adopt`, the rule verify applies too); a slug held
   by a row that replay does not produce is moved aside (``<slug>-<first 8 hex of its id>``) so the
   replayed row gets its canonical slug;
3. removals: results (only when ``results``) and entrants of the replayed rounds that the snapshots no
   longer contain, and stale driver aliases. With ``results`` off, nothing in ``results`` is written,
   changed or deleted, so entrants that still have results are kept. Sessions, rounds, drivers, teams,
   circuits, seasons and series are never deleted; no row is deleted whose deletion would cascade into
   (or be refused by) a table outside the racing set, found from the foreign-key catalog
   (:mod:`ingestion.db.userdata`);
4. per table, in foreign-key order: drop the staged rows identical to the stored ones (anti-join), then
   ``INSERT ... ON CONFLICT (id) DO UPDATE ... WHERE (cols) IS DISTINCT FROM (excluded cols)
   RETURNING (xmax = 0)`` to count inserts and updates; unchanged = staged - inserted - updated;
5. one row in ``ingestion.replay_runs`` (the only write when nothing changed).

Before step 1, a load whose rows and database are proven the same as when the last load ended (that load
left exactly its rows) stops after step 5: every step would find nothing to do (:mod:`.unchanged`).

Every table and column is named through the database's :class:`~ingestion.db.naming.Naming` (our
snake_case schema, or the app's EF Core one, where OpenF1's circuit key goes to ``ingestion.circuit_keys``).
Upserts conflict on the primary key only, never on a natural-key index the database may lack.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
import psycopg
from psycopg import sql

from ingestion.db.clean import ForeignKey, foreign_keys
from ingestion.db.connection import advisory_lock_holder, has_unique_index
from ingestion.db.naming import OWN_SCHEMA, Naming, SideColumn, resolve
from ingestion.db.userdata import protected
from ingestion.errors import IngestionError
from ingestion.replay import unchanged
from ingestion.replay.adopt import adopt, stored_keys
from ingestion.replay.rows import (
    DRIVER_KEY,
    TABLE_NAMES,
    TABLES,
    Replayed,
    TableSpec,
    one_entrant_per_driver,
)

__all__ = [
    "DEFAULT_LOCK_WAIT",
    "LOCK_KEY",
    "LastReplay",
    "LoadSummary",
    "ReplayLocked",
    "TableCounts",
    "last_replay",
    "load",
]

log = logging.getLogger("ingestion.replay")

#: The advisory lock every replay takes (``PFREPLAY`` in ASCII).
LOCK_KEY = 0x5046_5245_504C_4159
#: Seconds a replay waits for another one's lock by default (``--wait``).
DEFAULT_LOCK_WAIT = 10.0


class ReplayLocked(IngestionError):
    """Another session holds the replay lock (another replay, or a lock taken by hand) for longer than the
    wait: nothing was written."""

    def __init__(self, wait: float, holder: str) -> None:
        super().__init__(
            f"another replay holds the database's replay lock{holder}: waited {wait:g} s, nothing was "
            "written; wait for it to finish (--wait SECONDS) or stop it (SELECT pg_terminate_backend(pid))"
        )
        self.wait = wait

Conn = psycopg.Connection[Any]


class LastReplay(msgspec.Struct, frozen=True, kw_only=True):
    """The last committed replay, as ``ingestion.replay_runs`` records it."""

    id: int
    as_of: datetime
    results: bool
    proof: dict[str, str] | None = None  # the database it left, when it left exactly its rows (.unchanged)


def last_replay(conn: Conn) -> LastReplay | None:
    """The last replay recorded in ``ingestion.replay_runs`` (None: none yet, or no such table): the one
    reader that verify and audit use for their defaults."""
    exists = conn.execute("SELECT to_regclass('ingestion.replay_runs') IS NOT NULL").fetchone()
    if exists is None or not exists[0]:
        return None
    row = conn.execute(
        "SELECT id, as_of, results, summary -> %s FROM ingestion.replay_runs ORDER BY id DESC LIMIT 1",
        (unchanged.PROOF_KEY,),
    ).fetchone()
    if row is None:
        return None
    proof = row[3] if isinstance(row[3], dict) else None
    return LastReplay(id=int(row[0]), as_of=row[1], results=bool(row[2]), proof=proof)


class TableCounts(msgspec.Struct, frozen=True, kw_only=True):
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0

    @property
    def written(self) -> int:
        return self.inserted + self.updated + self.removed


class LoadSummary(msgspec.Struct, frozen=True, kw_only=True):
    """Per racing table: rows inserted, updated, unchanged, removed; and the replay_runs row's id."""

    tables: dict[str, TableCounts]
    run_id: int | None = None

    @property
    def written(self) -> int:
        return sum(c.written for c in self.tables.values())


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


class _Db:
    """The SQL of one load on one database: its naming, and the rows its users' data depends on."""

    def __init__(self, naming: Naming, keys: Sequence[ForeignKey]) -> None:
        self.naming = naming
        self.keys = keys
        self.racing = naming.racing_tables(TABLE_NAMES)

    def rel(self, table: str) -> sql.Identifier:
        return self.naming.rel(table)

    def col(self, table: str, column: str, alias: str | None = None) -> sql.Composable:
        if alias is None:
            return self.naming.col(table, column)
        return sql.SQL("{}.{}").format(sql.Identifier(alias), self.naming.col(table, column))

    def cols(self, table: str, columns: Sequence[str], alias: str | None = None) -> sql.Composable:
        return sql.SQL(", ").join(self.col(table, c, alias) for c in columns)

    def source(self, spec: TableSpec) -> sql.Composable:
        """The table with every owned column under its model name (side columns joined in)."""
        return self.naming.source(spec.name, spec.columns)

    def own(self, spec: TableSpec) -> list[str]:
        """The owned columns the database's table itself holds (not kept in a side table)."""
        return [c for c in spec.columns if self.naming.side(spec.name, c) is None]

    def protected(self, table: str, alias: str) -> sql.Composable:
        return protected(self.keys, self.naming, self.racing, table, alias)

    def keys_of(self, spec: TableSpec) -> tuple[tuple[str, ...], ...]:
        """The natural keys rows of ``spec`` are adopted by: the model's, then the database's own."""
        return self.naming.unique_keys(spec.name, spec.unique_keys)


def _copy_in(conn: Conn, db: _Db, spec: TableSpec, rows: Sequence[msgspec.Struct]) -> None:
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


def _make_room(conn: Conn, db: _Db, spec: TableSpec) -> int:
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


def _upsert(conn: Conn, db: _Db, spec: TableSpec) -> tuple[int, int]:
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
    conn: Conn, db: _Db, spec: TableSpec, column: str, side: SideColumn, changed: sql.Identifier
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


def _lock_holder(conn: Conn) -> str:
    """`` (held by pid N, psql, idle in transaction)``: who holds the replay lock, or ``""``."""
    holder = advisory_lock_holder(conn, LOCK_KEY)
    if holder is None:
        return ""
    details = ", ".join(part for part in (holder.application, holder.state) if part)
    return f" (held by pid {holder.pid}{', ' + details if details else ''})"


def _take_lock(conn: Conn, wait: float) -> None:
    """Take the replay lock for this transaction, waiting up to ``wait`` s (said once), else ReplayLocked."""
    try_lock = "SELECT pg_try_advisory_xact_lock(%s)"
    row = conn.execute(try_lock, (LOCK_KEY,)).fetchone()
    if row is not None and row[0]:
        return
    holder = _lock_holder(conn)
    if wait > 0:
        log.warning("waiting up to %g s for the replay lock%s", wait, holder)
    deadline = time.monotonic() + wait
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ReplayLocked(wait, holder or _lock_holder(conn))
        time.sleep(min(0.1, remaining))
        row = conn.execute(try_lock, (LOCK_KEY,)).fetchone()
        if row is not None and row[0]:
            return


def _delete(conn: Conn, query: sql.Composed) -> int:
    return int(conn.execute(query).rowcount)


def _removals(conn: Conn, db: _Db, results: bool) -> dict[str, int]:
    """Rows of the replayed rounds and drivers the snapshots no longer hold, deleted unless users' data
    depends on them (see :mod:`ingestion.db.userdata`); the count per table."""
    removed: dict[str, int] = {}
    c = db.col
    if results:
        removed["results"] = _delete(
            conn,
            sql.SQL(
                "DELETE FROM {results} r USING {sessions} se "
                "WHERE se.{se_id} = r.{session_id} AND se.{round_id} IN (SELECT id FROM {rounds}) "
                "AND NOT EXISTS (SELECT 1 FROM {staged} x WHERE x.id = r.{r_id}) AND NOT {protected}"
            ).format(
                results=db.rel("results"), sessions=db.rel("sessions"), se_id=c("sessions", "id"),
                session_id=c("results", "session_id"), round_id=c("sessions", "round_id"),
                rounds=_stage("rounds"), staged=_stage("results"), r_id=c("results", "id"),
                protected=db.protected("results", "r"),
            ),
        )
    keep_with_results = (
        sql.SQL("")
        if results
        else sql.SQL("AND NOT EXISTS (SELECT 1 FROM {results} r WHERE r.{entrant_id} = e.{id})").format(
            results=db.rel("results"), entrant_id=c("results", "entrant_id"), id=c("entrants", "id")
        )
    )
    removed["entrants"] = _delete(
        conn,
        sql.SQL(
            "DELETE FROM {entrants} e WHERE e.{round_id} IN (SELECT id FROM {rounds}) "
            "AND NOT EXISTS (SELECT 1 FROM {staged} x WHERE x.id = e.{id}) {keep} AND NOT {protected}"
        ).format(
            entrants=db.rel("entrants"), round_id=c("entrants", "round_id"), rounds=_stage("rounds"),
            staged=_stage("entrants"), id=c("entrants", "id"), keep=keep_with_results,
            protected=db.protected("entrants", "e"),
        ),
    )
    removed["driver_aliases"] = _delete(
        conn,
        sql.SQL(
            "DELETE FROM {aliases} a WHERE a.{driver_id} IN (SELECT id FROM {drivers}) "
            "AND a.{source} = 'openf1' AND NOT EXISTS (SELECT 1 FROM {staged} x WHERE x.id = a.{id}) "
            "AND NOT {protected}"
        ).format(
            aliases=db.rel("driver_aliases"), driver_id=c("driver_aliases", "driver_id"),
            drivers=_stage("drivers"), source=c("driver_aliases", "source"),
            staged=_stage("driver_aliases"), id=c("driver_aliases", "id"),
            protected=db.protected("driver_aliases", "a"),
        ),
    )
    return removed


def load(
    conn: Conn,
    replayed: Replayed,
    *,
    results: bool,
    as_of: datetime | None = None,
    started_at: datetime | None = None,
    extra: dict[str, object] | None = None,
    lock_wait: float = DEFAULT_LOCK_WAIT,
    naming: Naming | None = None,
) -> LoadSummary:
    """Make the database hold ``replayed``'s rows (see the module doc), in one transaction; count the writes.

    ``as_of``, ``started_at`` and ``extra`` (JSON-able, e.g. warnings and timings) go into the
    ``ingestion.replay_runs`` row; without them the database's clock stands in. ``naming`` (default: the
    database's, :func:`ingestion.db.naming.resolve`) names the tables.
    """
    racing = replayed.racing
    specs = [s for s in TABLES if results or s.name != "results"]
    counts: dict[str, dict[str, int]] = {
        s.name: {"inserted": 0, "updated": 0, "unchanged": 0, "removed": 0} for s in TABLES
    }
    with conn.transaction():
        _take_lock(conn, lock_wait)
        naming = naming or resolve(conn)
        if has_unique_index(conn, naming, "entrants", DRIVER_KEY):
            racing = one_entrant_per_driver(racing)
        last = last_replay(conn)
        recorded = last.proof if last is not None else None
        rows, proven = unchanged.proven(conn, naming, specs, racing, recorded, results=results)
        if proven:
            for spec in specs:
                counts[spec.name]["unchanged"] = len(racing.table(spec.name))
            return _record(conn, counts, results, as_of, started_at, extra, recorded)
        db = _Db(naming, foreign_keys(conn))
        racing, _ = adopt(racing, stored_keys(conn, db.naming), db.keys_of)
        for spec in specs:
            _copy_in(conn, db, spec, racing.table(spec.name))

        # removals, scoped to the replayed rounds and drivers; before the upserts so no stale row blocks
        for name, n in _removals(conn, db, results).items():
            counts[name]["removed"] = n

        for spec in specs:
            moved = _make_room(conn, db, spec)
            inserted, updated = _upsert(conn, db, spec)
            staged = len(racing.table(spec.name))
            c = counts[spec.name]
            c["inserted"], c["updated"] = inserted, updated + moved
            c["unchanged"] = staged - inserted - updated

        left = unchanged.left_exactly(conn, naming, specs, racing, rows)
        return _record(conn, counts, results, as_of, started_at, extra, left)


def _record(
    conn: Conn,
    counts: dict[str, dict[str, int]],
    results: bool,
    as_of: datetime | None,
    started_at: datetime | None,
    extra: dict[str, object] | None,
    proof: dict[str, str] | None,
) -> LoadSummary:
    """Step 5: the ``ingestion.replay_runs`` row (counts, ``extra``, the proof of what the load left)."""
    summary = LoadSummary(tables={name: TableCounts(**c) for name, c in counts.items()})
    document: dict[str, object] = {"results": results, "tables": msgspec.to_builtins(summary.tables)}
    document.update(extra or {})
    if proof is not None:
        document[unchanged.PROOF_KEY] = proof
    row = conn.execute(
        "INSERT INTO ingestion.replay_runs (started_at, finished_at, as_of, results, summary) "
        "VALUES (coalesce(%s, now()), clock_timestamp(), coalesce(%s, now()), %s, %s::jsonb) "
        "RETURNING id",
        (started_at, as_of, results, msgspec.json.encode(document).decode()),
    ).fetchone()
    return msgspec.structs.replace(summary, run_id=int(row[0]) if row else None)


def racing_snapshot(conn: Conn, naming: Naming | None = None) -> dict[str, list[tuple[object, ...]]]:
    """Every owned column of every racing table (model names and order), rows sorted by id: for comparing
    databases, whatever their naming."""
    naming = naming or resolve(conn)
    out: dict[str, list[tuple[object, ...]]] = {}
    for spec in TABLES:
        rows = conn.execute(
            sql.SQL("{} ORDER BY 1").format(naming.select(spec.name, spec.columns))
        ).fetchall()
        out[spec.name] = [tuple(r) for r in rows]
    return out
