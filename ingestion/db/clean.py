"""``clean-racing``: delete the racing data so the next replay rebuilds it, never users' data.

The old pipeline's ``TRUNCATE ... CASCADE`` wiped users' logs, reviews and lists through their foreign keys
to ``sessions``. This module never cascades into anything outside the racing set:

1. From the catalog (``pg_constraint``, no hard-coded list) it finds every foreign key held by a table
   outside the racing set that references a racing table, locks those tables against writes (``SHARE``
   mode, so no new reference can appear between the check and the delete) and counts their rows that
   point at racing rows. If any does, it refuses with :class:`UserDataReferencesRacing` and deletes nothing.
   Chains are reported too: a table that references such a user table (through any number of non-racing
   tables) is listed with the rows that point, hop by hop, at racing data. A chain can only hold rows when
   its first hop does, so the decision rests on the direct references; the chain says what else is at stake.
2. Otherwise it deletes every racing table with ``DELETE`` (never ``TRUNCATE``), children before parents in
   an order computed from the racing tables' own foreign keys, all in one transaction.

``ingestion.*`` bookkeeping (applied migrations, replay runs) is not racing data and is kept (the side tables
of an ``ef`` database go with their tables: OpenF1's circuit keys, ``ingestion.circuit_keys``, with the
circuits, the results' provenance, ``ingestion.result_provenance``, with the results), and never counts as
user data.
The racing set is :data:`ingestion.db.naming.RACING_TABLES`, named through the database's naming: on the
app's own database its PascalCase tables, the ingester's ``ingestion.driver_aliases``, and the app's own
``"SeriesAliases"`` and ``"DriverAliases"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import msgspec
import psycopg
from psycopg import sql

from ingestion.db.naming import OWN_SCHEMA, RACING_TABLES, Naming, require_tables, resolve
from ingestion.errors import DatabaseError, IngestionError

__all__ = [
    "CleanBlocked",
    "CleanReport",
    "ForeignKey",
    "Referrer",
    "TableCount",
    "UserDataReferencesRacing",
    "clean_racing",
    "counts_by_table",
    "delete_order",
    "foreign_keys",
]

#: The preferred delete order among tables the foreign keys leave unordered: the load order reversed.
_PARENTS_LAST: tuple[str, ...] = tuple(reversed(RACING_TABLES))

#: How many non-racing hops a reported chain may have (cycles are never followed).
MAX_CHAIN = 4
#: How long to wait for the locks on referencing tables before giving up.
LOCK_TIMEOUT = "10s"

Conn = psycopg.Connection[tuple[object, ...]]


class TableCount(msgspec.Struct, frozen=True):
    """Rows of one racing table: to delete (dry run) or deleted."""

    table: str
    rows: int


class Referrer(msgspec.Struct, frozen=True):
    """Rows of a table outside the racing set that point at racing data.

    ``via`` is empty for a direct reference (``table.columns -> references``); for a chain it names the
    non-racing tables in between, nearest to ``table`` first (``log_likes -> logs -> sessions``).
    """

    table: str
    columns: tuple[str, ...]
    references: str
    rows: int
    via: tuple[str, ...] = ()

    @property
    def direct(self) -> bool:
        return not self.via

    def describe(self) -> str:
        path = " -> ".join((f"{self.table}({', '.join(self.columns)})", *self.via, self.references))
        return f"{path}: {self.rows} row{'s' if self.rows != 1 else ''}"


class CleanReport(msgspec.Struct, frozen=True):
    """What clean-racing did (or, with ``dry_run``, would do).

    ``counts`` are per racing table, in delete order. ``blockers`` (dry run only: a real run raises) are
    the user rows that make a real run refuse.
    """

    dry_run: bool
    deleted: bool
    counts: tuple[TableCount, ...]
    blockers: tuple[Referrer, ...] = ()
    referencing_tables: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return sum(c.rows for c in self.counts)


class UserDataReferencesRacing(IngestionError):
    """Tables outside the racing set hold rows that point at racing data: nothing was deleted."""

    def __init__(self, referrers: Sequence[Referrer]) -> None:
        self.referrers = tuple(referrers)
        direct = [r for r in self.referrers if r.direct]
        self.tables = tuple(dict.fromkeys(r.table for r in direct))
        self.counts = {t: sum(r.rows for r in direct if r.table == t) for t in self.tables}
        shown = "; ".join(r.describe() for r in self.referrers)
        super().__init__(
            f"refusing to delete racing data: user data references it ({shown}); nothing was deleted. "
            "Deleting would cascade into (or be blocked by) those rows: move or delete them first"
        )


class CleanBlocked(DatabaseError):
    """The tables could not be locked in time (another session holds them): nothing was deleted."""


class ForeignKey(msgspec.Struct, frozen=True):
    """One foreign key of the catalog (``on_delete`` is ``pg_constraint.confdeltype``: c cascade, n set
    null, d set default, r restrict, a no action)."""

    child: str  # qualified name of the referencing table, as regclass text
    child_columns: tuple[str, ...]
    parent: str  # qualified name of the referenced table
    parent_columns: tuple[str, ...]
    child_schema: str
    child_name: str
    parent_schema: str
    parent_name: str
    on_delete: str = "a"



def delete_order(tables: Iterable[str], edges: Iterable[tuple[str, str]]) -> list[str]:
    """``tables`` ordered so every child (first of an edge ``(child, parent)``) comes before its parent.

    Ties keep the order of ``tables``. Self-references are ignored; a cycle raises ``ValueError``. Pure.
    """
    order = list(dict.fromkeys(tables))
    position = {t: i for i, t in enumerate(order)}
    children: dict[str, set[str]] = {t: set() for t in order}
    for child, parent in edges:
        if child != parent and child in position and parent in position:
            children[parent].add(child)
    done: list[str] = []
    placed: set[str] = set()
    while len(done) < len(order):
        ready = [t for t in order if t not in placed and children[t] <= placed]
        if not ready:
            raise ValueError(f"foreign keys form a cycle among {sorted(set(order) - placed)}")
        first = min(ready, key=position.__getitem__)
        done.append(first)
        placed.add(first)
    return done


def foreign_keys(conn: Conn) -> list[ForeignKey]:
    """Every foreign key of the database (partition clones excluded: the parent's covers them)."""
    rows = conn.execute(
        """
        SELECT c.conrelid::regclass::text, c.confrelid::regclass::text,
               cn.nspname, ct.relname, pn.nspname, pt.relname,
               ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o),
               ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, o)
                     JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o),
               c.confdeltype::text
        FROM pg_constraint c
        JOIN pg_class ct ON ct.oid = c.conrelid
        JOIN pg_namespace cn ON cn.oid = ct.relnamespace
        JOIN pg_class pt ON pt.oid = c.confrelid
        JOIN pg_namespace pn ON pn.oid = pt.relnamespace
        WHERE c.contype = 'f' AND c.conparentid = 0
        ORDER BY 1, 2, c.conname
        """
    ).fetchall()
    keys = []
    for child, parent, cs, cname, ps, pname, ccols, pcols, on_delete in rows:
        keys.append(
            ForeignKey(
                child=str(child),
                child_columns=_strs(ccols),
                parent=str(parent),
                parent_columns=_strs(pcols),
                child_schema=str(cs),
                child_name=str(cname),
                parent_schema=str(ps),
                parent_name=str(pname),
                on_delete=str(on_delete),
            )
        )
    return keys


def _strs(value: object) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"expected an array, got {type(value).__name__}")
    return tuple(str(v) for v in value)


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


class _Racing:
    """The racing set of one database, under its naming: SQL name -> model name."""

    def __init__(self, naming: Naming) -> None:
        self.naming = naming
        self.models = naming.racing_tables(_PARENTS_LAST)
        self.sql = {naming.qualified(t): t for t in self.models}

    def __call__(self, schema: str, name: str) -> bool:
        return (schema, name) in self.sql


def _chains(keys: Sequence[ForeignKey], _is_racing: _Racing) -> list[list[ForeignKey]]:
    """Paths of foreign keys from a non-racing table to a racing one, through non-racing tables only.

    Each path is listed referencing-table first: ``[log_likes->logs, logs->sessions]``. Tables of schema
    ``ingestion`` (the ingester's own) are never user data.
    """
    keys = [k for k in keys if k.child_schema != OWN_SCHEMA]
    into: dict[str, list[ForeignKey]] = {}
    for k in keys:
        if not _is_racing(k.child_schema, k.child_name):
            into.setdefault(k.parent, []).append(k)
    paths: list[list[ForeignKey]] = []
    frontier = [[k] for k in keys if _is_racing(k.parent_schema, k.parent_name)
                and not _is_racing(k.child_schema, k.child_name)]
    depth = 1
    while frontier:
        paths.extend(frontier)
        if depth >= MAX_CHAIN:
            break
        nxt = []
        for path in frontier:
            seen = {k.child for k in path}
            for k in into.get(path[0].child, []):
                if k.child not in seen and k.child != path[0].child:
                    nxt.append([k, *path])
        frontier, depth = nxt, depth + 1
    return paths


def _ident(qualified: ForeignKey, side: str) -> sql.Composable:
    if side == "child":
        return sql.Identifier(qualified.child_schema, qualified.child_name)
    return sql.Identifier(qualified.parent_schema, qualified.parent_name)


def _count_path(conn: Conn, path: Sequence[ForeignKey]) -> int:
    """Rows of ``path[0].child`` linked, hop by hop, to existing rows of the racing table at the end."""
    inner: sql.Composable | None = None
    for depth in range(len(path) - 1, -1, -1):
        key = path[depth]
        alias_child, alias_parent = sql.Identifier(f"t{depth}"), sql.Identifier(f"t{depth + 1}")
        join = sql.SQL(" AND ").join(
            sql.SQL("{}.{} = {}.{}").format(alias_parent, sql.Identifier(pc), alias_child, sql.Identifier(cc))
            for cc, pc in zip(key.child_columns, key.parent_columns, strict=True)
        )
        clause = sql.SQL("EXISTS (SELECT 1 FROM {} {} WHERE {}{})").format(
            _ident(key, "parent"),
            alias_parent,
            join,
            sql.SQL(" AND {}").format(inner) if inner is not None else sql.SQL(""),
        )
        inner = clause
    assert inner is not None
    query = sql.SQL("SELECT count(*) FROM {} t0 WHERE {}").format(_ident(path[0], "child"), inner)
    row = conn.execute(query).fetchone()
    return _int(row[0]) if row else 0


def _count(conn: Conn, naming: Naming, table: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(naming.rel(table))).fetchone()
    return _int(row[0]) if row else 0


def _plan(conn: Conn, naming: Naming) -> tuple[list[str], list[Referrer], list[str]]:
    """Delete order (model names), referrers with rows (direct ones first), and the referencing tables
    (locked)."""
    keys = foreign_keys(conn)
    _is_racing = _Racing(naming)
    racing_edges = [
        (_is_racing.sql[(k.child_schema, k.child_name)], _is_racing.sql[(k.parent_schema, k.parent_name)])
        for k in keys
        if _is_racing(k.child_schema, k.child_name) and _is_racing(k.parent_schema, k.parent_name)
    ]
    order = delete_order(_is_racing.models, racing_edges)
    paths = _chains(keys, _is_racing)
    referencing = sorted({k.child for path in paths for k in path})
    if referencing:
        conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
        tables = sorted({(k.child_schema, k.child_name) for path in paths for k in path})
        conn.execute(
            sql.SQL("LOCK TABLE {} IN SHARE MODE").format(
                sql.SQL(", ").join(sql.Identifier(s, n) for s, n in tables)
            )
        )
    referrers = []
    for path in paths:
        rows = _count_path(conn, path)
        if rows:
            referrers.append(
                Referrer(
                    table=path[0].child,
                    columns=path[0].child_columns,
                    references=path[-1].parent_name,
                    rows=rows,
                    via=tuple(k.parent for k in path[:-1]),
                )
            )
    referrers.sort(key=lambda r: (len(r.via), r.table, r.columns, r.references))
    return order, referrers, referencing


def clean_racing(conn: Conn, *, dry_run: bool, naming: Naming | None = None) -> CleanReport:
    """Delete every racing row in one transaction, or (``dry_run``) count what would be deleted.

    Raises :class:`UserDataReferencesRacing` (a real run) when rows outside the racing set point at racing
    data; a dry run returns them as ``blockers`` instead. Nothing is deleted unless everything is.
    ``naming`` (default: the database's) names the tables; on the app's database (``ef``) the racing set
    includes its ``"SeriesAliases"``, OpenF1's circuit keys (``ingestion.circuit_keys``) go with the
    circuits and the results' provenance (``ingestion.result_provenance``) with the results.
    """
    try:
        with conn.transaction():
            naming = naming or resolve(conn)
            require_tables(conn, naming, RACING_TABLES)
            order, referrers, referencing = _plan(conn, naming)
            blockers = tuple(referrers)
            if dry_run:
                counts = tuple(TableCount(t, _count(conn, naming, t)) for t in order)
                return CleanReport(
                    dry_run=True, deleted=False, counts=counts, blockers=blockers,
                    referencing_tables=tuple(referencing),
                )
            if blockers:
                raise UserDataReferencesRacing(blockers)
            deleted = []
            for table in order:
                cur = conn.execute(sql.SQL("DELETE FROM {}").format(naming.rel(table)))
                deleted.append(TableCount(table, max(cur.rowcount, 0)))
            for side in (s for t in order for s in naming.side_tables(t)):
                conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(OWN_SCHEMA, side.table)))
    except psycopg.errors.LockNotAvailable:
        raise CleanBlocked(
            f"could not lock the tables referencing racing data within {LOCK_TIMEOUT} "
            "(another session is writing to them); nothing was deleted: try again"
        ) from None
    return CleanReport(
        dry_run=False, deleted=True, counts=tuple(deleted), referencing_tables=tuple(referencing)
    )


def counts_by_table(report: CleanReport) -> Mapping[str, int]:
    """``{table: rows}`` of a report, in delete order."""
    return {c.table: c.rows for c in report.counts}
