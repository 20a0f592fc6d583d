"""A replay that would write nothing, proven without staging a row.

Loading stages every row (temporary tables, keys, statistics) and compares it with the stored one: most of
an unchanged replay's time. The load is a function of the rows replayed and of the database, so it can be
skipped when both are proven the same as when the last load ended:

- the rows: :func:`input_digest`, a sha256 of every row replay produced (all fields, every table loaded)
  and of ``results``;
- the database: :func:`database_state`, one query hashing every racing table's owned columns (under their
  model names, side tables included, rows by id) and counting its rows.

A load that ends with the database holding *exactly* the rows it replayed (every table's count equals the
rows it loaded: no row it keeps for users' data, none of an older pipeline, none of a season it does not
replay) records both digests in its ``ingestion.replay_runs`` row (:data:`PROOF_KEY`). The next load with
the same rows finds the same database digest only if nothing changed the racing rows since; then staging,
adopting, removing and upserting would each find nothing to do, and it records its run and stops. Any
change behind replay's back (an edited, added or deleted row), other rows, other ``results``, or a digest
PostgreSQL renders differently (another ``TimeZone``) makes the digests differ, and the full load runs and
repairs the database as always. Both digests are taken inside the load's transaction, under its lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import psycopg
from psycopg import sql

from ingestion.db.naming import OWN_SCHEMA, Naming
from ingestion.replay.rows import Racing, TableSpec

__all__ = [
    "PROOF_KEY",
    "VERSIONS_KEY",
    "DatabaseState",
    "as_recorded",
    "database_state",
    "input_digest",
    "left_exactly",
    "proven",
    "versions",
]

#: The member of a replay run's summary holding the proof: ``{"rows": ..., "database": ...}``.
PROOF_KEY = "unchanged_proof"
#: The member holding :func:`versions` of the racing tables when the run recorded its proof: a witness of
#: this database only (two databases holding the same rows differ), so it is kept beside the proof.
VERSIONS_KEY = "unchanged_versions"

Conn = psycopg.Connection[Any]


class DatabaseState(msgspec.Struct, frozen=True):
    """A digest of the racing tables' owned columns and the rows per table."""

    digest: str
    counts: dict[str, int]


def input_digest(racing: Racing, specs: Sequence[TableSpec], *, results: bool) -> str:
    """The sha256 of the rows a load of ``specs`` writes (every field of every row, in order)."""
    h = hashlib.sha256(b"results" if results else b"no-results")
    for spec in specs:
        h.update(spec.name.encode())
        h.update(msgspec.msgpack.encode(racing.table(spec.name)))
    return h.hexdigest()


def database_state(conn: Conn, naming: Naming, specs: Sequence[TableSpec]) -> DatabaseState:
    """One query: per table the rows and an md5 of their text (by id), side tables too; then one digest."""
    parts: list[sql.Composable] = []
    for spec in specs:
        parts.append(
            sql.SQL(
                "SELECT {name}::text, count(*), md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x.id), '')) "
                "FROM ({select}) x"
            ).format(name=sql.Literal(spec.name), select=naming.select(spec.name, spec.columns))
        )
        for side in naming.side_tables(spec.name):
            parts.append(
                sql.SQL(
                    "SELECT {name}::text, count(*), "
                    "md5(coalesce(string_agg(k::text, E'\\n' ORDER BY k.{key}), '')) FROM {table} k"
                ).format(
                    name=sql.Literal(f"{OWN_SCHEMA}.{side.table}"),
                    key=sql.Identifier(side.key),
                    table=sql.Identifier(OWN_SCHEMA, side.table),
                )
            )
    rows = conn.execute(sql.SQL(" UNION ALL ").join(parts)).fetchall()
    h = hashlib.sha256()
    for name, count, md5 in rows:
        h.update(f"{name}\t{count}\t{md5}\n".encode())
    return DatabaseState(h.hexdigest(), {str(name): int(count) for name, count, _ in rows})


def versions(conn: Conn, naming: Naming, specs: Sequence[TableSpec]) -> str:
    """Which row versions the racing tables hold (side tables too), without reading their columns: per table
    the rows and the count, sum, min and max of the ids of the transactions that wrote them (``xmin``).

    Any write to a table since (an edit, even to the same value, an insert) adds a row version written by a
    later transaction and a delete lowers the count, so the witness differs; it is taken inside the load's
    transaction, under its lock. Another database holding the same rows differs too (then :func:`proven`
    hashes the rows, as before)."""
    parts: list[sql.Composable] = []
    tables: list[tuple[str, sql.Composable]] = []
    for spec in specs:
        tables.append((spec.name, naming.rel(spec.name)))
        for side in naming.side_tables(spec.name):
            tables.append((f"{OWN_SCHEMA}.{side.table}", sql.Identifier(OWN_SCHEMA, side.table)))
    for name, rel in tables:
        parts.append(
            sql.SQL(
                "SELECT {name}::text, count(*), sum(v), min(v), max(v) "
                "FROM (SELECT xmin::text::bigint AS v FROM {rel}) x"
            ).format(name=sql.Literal(name), rel=rel)
        )
    rows = conn.execute(sql.SQL(" UNION ALL ").join(parts)).fetchall()
    h = hashlib.sha256()
    for row in rows:
        h.update("\t".join(str(v) for v in row).encode() + b"\n")
    return h.hexdigest()


def proven(
    conn: Conn,
    naming: Naming,
    specs: Sequence[TableSpec],
    racing: Racing,
    recorded: Mapping[str, object] | None,
    *,
    results: bool,
    recorded_versions: str | None = None,
) -> tuple[str, bool]:
    """The digest of the rows to load, and whether ``recorded`` (the last run's proof) shows that loading
    them would write nothing: the racing tables hold the same row versions as when it was recorded
    (``recorded_versions``, :func:`versions`), else their rows hash to the recorded digest. Neither is
    read when the rows differ anyway."""
    rows = input_digest(racing, specs, results=results)
    if recorded is None or recorded.get("rows") != rows:
        return rows, False
    return rows, as_recorded(conn, naming, specs, recorded, recorded_versions) is not None


def as_recorded(
    conn: Conn,
    naming: Naming,
    specs: Sequence[TableSpec],
    recorded: Mapping[str, object],
    recorded_versions: str | None,
) -> str | None:
    """Whether the racing tables hold what the load that recorded ``recorded`` (its proof) left: the same
    row versions (``recorded_versions``), else rows that hash to its database digest. Their versions now
    (the witness the next proof keeps) when they do, else None."""
    now = versions(conn, naming, specs)
    if recorded_versions is not None and recorded_versions == now:
        return now
    if recorded.get("database") == database_state(conn, naming, specs).digest:
        return now
    return None


def left_exactly(
    conn: Conn, naming: Naming, specs: Sequence[TableSpec], racing: Racing, rows: str
) -> dict[str, str] | None:
    """The proof a load records when the database ends holding exactly the rows it loaded (every table's
    count is the rows it loaded), else None."""
    state = database_state(conn, naming, specs)
    if any(state.counts.get(spec.name) != len(racing.table(spec.name)) for spec in specs):
        return None
    return {"rows": rows, "database": state.digest}
