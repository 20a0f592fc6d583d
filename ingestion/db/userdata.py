"""Rows of racing tables that users' data depends on, found from the foreign-key catalog (no fixed list).

In the app's database a deleted session takes users' diary entries, reviews, list items... with it (ON
DELETE CASCADE), and a deleted circuit its grandstands. :func:`protected` builds, for one racing table, the
SQL condition "deleting this row would cascade into (or be refused by, or null a column of) a row of a
table outside the racing set": a direct reference from such a table, or a racing child that the delete
would cascade to and that is itself protected, at any depth. Replay adds ``AND NOT <condition>`` to every
delete it makes. Tables of schema ``ingestion`` (the ingester's own) are not user data.

Pure: the foreign keys come in as data (:func:`ingestion.db.clean.foreign_keys` reads them); the tables
replay deletes from are its table specs' (:data:`ingestion.replay.rows.REMOVABLE_TABLES`), and verify reads
the rows it spares (:func:`ingestion.ops.verify.spared`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from psycopg import sql

from ingestion.db.clean import ForeignKey
from ingestion.db.naming import OWN_SCHEMA, Naming

__all__ = ["MAX_DEPTH", "protected"]

#: How many racing tables deep a cascade is followed.
MAX_DEPTH = 6


def protected(
    keys: Sequence[ForeignKey],
    naming: Naming,
    racing: Collection[str],
    table: str,
    alias: str,
) -> sql.Composable:
    """A condition true for a row ``alias`` of model table ``table`` that users' rows depend on.

    ``racing`` are the model names of the racing tables (:meth:`Naming.racing_tables`). Always a valid
    condition (``false`` when no user table can be reached).
    """
    sql_racing = {naming.qualified(t): t for t in racing}
    clause = _clause(keys, sql_racing, naming.qualified(table), alias, 0, (table,))
    return clause if clause is not None else sql.SQL("false")


def _clause(
    keys: Sequence[ForeignKey],
    sql_racing: dict[tuple[str, str], str],
    parent: tuple[str, str],
    alias: str,
    depth: int,
    seen: tuple[str, ...],
) -> sql.Composable | None:
    parts: list[sql.Composable] = []
    for n, k in enumerate(keys):
        if (k.parent_schema, k.parent_name) != parent or k.child_schema == OWN_SCHEMA:
            continue
        child_alias = f"{alias}_{depth}_{n}"
        child = sql.Identifier(child_alias)
        parent_alias = sql.Identifier(alias)
        join = sql.SQL(" AND ").join(
            sql.SQL("{}.{} = {}.{}").format(child, sql.Identifier(cc), parent_alias, sql.Identifier(pc))
            for cc, pc in zip(k.child_columns, k.parent_columns, strict=True)
        )
        child_table = (k.child_schema, k.child_name)
        racing_child = child_table in sql_racing
        if not racing_child:
            parts.append(
                sql.SQL("EXISTS (SELECT 1 FROM {} {} WHERE {})").format(
                    sql.Identifier(k.child_schema, k.child_name), child, join
                )
            )
            continue
        # a racing child: only a cascade carries the delete further (restrict/set null among racing rows
        # are the racing data's own business), and only while it leads to user rows
        model = sql_racing[child_table]
        if k.on_delete != "c" or depth + 1 >= MAX_DEPTH or model in seen:
            continue
        inner = _clause(keys, sql_racing, child_table, child_alias, depth + 1, (*seen, model))
        if inner is not None:
            parts.append(
                sql.SQL("EXISTS (SELECT 1 FROM {} {} WHERE {} AND ({}))").format(
                    sql.Identifier(k.child_schema, k.child_name), child, join, inner
                )
            )
    if not parts:
        return None
    return sql.SQL("({})").format(sql.SQL(" OR ").join(parts))
