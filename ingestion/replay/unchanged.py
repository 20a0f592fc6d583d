"""A replay that would write nothing, proven without staging a row.

Loading stages every row (temporary tables, keys, statistics) and compares it with the stored one: most of
an unchanged replay's time. The load is a function of the rows replayed and of the database, so it can be
skipped when both are proven the same as when the last load ended:

- the rows: :func:`input_digest`, a sha256 of every row replay produced (all fields, every table loaded,
  through each row's blake2b in the load's :data:`~.delta.Index`) and of ``results``;
- the database: :func:`database_state`, one query giving per racing table (side tables included) its row
  count and the exact sum of each row's 64-bit hash of its owned columns (under their model names); a
  delta load shifts the last state by the rows it rewrote instead (:meth:`DatabaseState.shifted`).

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
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import psycopg
from psycopg import sql

from ingestion.db.naming import OWN_SCHEMA, Naming
from ingestion.replay.delta import Index
from ingestion.replay.rows import Racing, TableSpec

__all__ = [
    "PROOF_KEY",
    "TABLES_KEY",
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
#: The member of a proof holding its database state per table (:meth:`DatabaseState.encode`): the start a
#: delta load's state is shifted from.
TABLES_KEY = "tables"
#: The member holding :func:`versions` of the racing tables when the run recorded its proof: a witness of
#: this database only (two databases holding the same rows differ), so it is kept beside the proof.
VERSIONS_KEY = "unchanged_versions"

Conn = psycopg.Connection[Any]


class DatabaseState(msgspec.Struct, frozen=True):
    """What the racing tables hold: per table (side tables too, under ``ingestion.<name>``) its rows and the
    sum of their 64-bit hashes (:data:`ROW_HASH`), and one digest of all of it."""

    digest: str
    counts: dict[str, int]
    sums: dict[str, int] = {}

    @classmethod
    def of(cls, tables: Sequence[tuple[str, int, int]]) -> DatabaseState:
        """The state of ``tables``: (name, rows, hash sum) each, in the order the specs name them."""
        h = hashlib.sha256(_FORM)
        for name, count, total in tables:
            h.update(f"{name}\t{count}\t{total}\n".encode())
        return cls(h.hexdigest(), {n: c for n, c, _ in tables}, {n: t for n, _, t in tables})

    def shifted(
        self, before: Mapping[str, tuple[int, int]], after: Mapping[str, tuple[int, int]]
    ) -> DatabaseState:
        """This state once some rows were rewritten: ``before`` and ``after`` hold, per table, the rows and
        hash sum of those rows (by id) before and after the write. Exact, since a sum of row hashes is
        order-free: what a :func:`database_state` query would give, without reading the other rows."""
        tables = []
        for name, count in self.counts.items():
            old, new = before.get(name, (0, 0)), after.get(name, (0, 0))
            tables.append((name, count - old[0] + new[0], self.sums[name] - old[1] + new[1]))
        return DatabaseState.of(tables)

    def encode(self) -> str:
        """The per-table part, as a proof keeps it (:func:`left_exactly`)."""
        return "".join(f"{n}\t{c}\t{self.sums[n]}\n" for n, c in self.counts.items())

    @classmethod
    def decode(cls, text: object) -> DatabaseState | None:
        """The state a proof kept (:meth:`encode`); None when it kept none or another form."""
        if not isinstance(text, str):
            return None
        try:
            tables = [(n, int(c), int(t)) for n, c, t in (line.split("\t") for line in text.splitlines())]
        except ValueError:
            return None
        return cls.of(tables)


#: The form of the database digest (bumped when the query hashes rows differently).
_FORM = b"row-hash-sum-1"
#: A row's hash: 64 bits of PostgreSQL's extended text hash of the row's text (every owned column, under
#: its model name). The stable hash hash partitioning relies on; summed per table, exactly, in numeric.
ROW_HASH = "hashtextextended({row}::text, 0)"


def input_digest(indexed: Index, specs: Sequence[TableSpec], *, results: bool) -> str:
    """The sha256 of the rows a load of ``specs`` writes, from their :data:`~.delta.Index` (each row's id and
    the blake2b of every field of it, in order): the load indexes its rows once, for this and for
    :mod:`.delta`."""
    h = hashlib.sha256(b"results" if results else b"no-results")
    for spec in specs:
        h.update(spec.name.encode())
        h.update(len(indexed[spec.name]).to_bytes(8, "big"))
        h.update(b"".join(indexed[spec.name]))
    return h.hexdigest()


def _state_parts(
    naming: Naming, specs: Sequence[TableSpec], ids: Mapping[str, Sequence[uuid.UUID]] | None
) -> list[tuple[str, sql.Composable]]:
    """Per table (side tables after theirs) its name and the query of its rows and hash sum; with ``ids``,
    only the tables of ``ids`` (spec name -> ids) and only the rows of those ids."""
    parts: list[tuple[str, sql.Composable]] = []
    for spec in specs:
        if ids is not None and spec.name not in ids:
            continue
        where: sql.Composable = sql.SQL("")
        if ids is not None:
            where = sql.SQL(" WHERE x.id = ANY({})").format(sql.Literal(list(ids[spec.name])))
        hashed = sql.SQL(ROW_HASH).format(row=sql.Identifier("x"))
        parts.append((spec.name, sql.SQL(
            "SELECT count(*), coalesce(sum({hashed}), 0) FROM ({select}) x{where}"
        ).format(hashed=hashed, select=naming.select(spec.name, spec.columns), where=where)))
        for side in naming.side_tables(spec.name):
            where = sql.SQL("")
            if ids is not None:
                where = sql.SQL(" WHERE k.{} = ANY({})").format(
                    sql.Identifier(side.key), sql.Literal(list(ids[spec.name]))
                )
            hashed = sql.SQL(ROW_HASH).format(row=sql.Identifier("k"))
            parts.append((f"{OWN_SCHEMA}.{side.table}", sql.SQL(
                "SELECT count(*), coalesce(sum({hashed}), 0) FROM {table} k{where}"
            ).format(hashed=hashed, table=sql.Identifier(OWN_SCHEMA, side.table), where=where)))
    return parts


def _tables(conn: Conn, parts: list[tuple[str, sql.Composable]]) -> list[tuple[str, int, int]]:
    """One query for all ``parts``: (name, rows, hash sum) each, in their order."""
    if not parts:
        return []
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {}::int AS i, * FROM ({}) p").format(sql.Literal(i), q)
        for i, (_, q) in enumerate(parts)
    )
    found = {int(i): (int(count), int(total)) for i, count, total in conn.execute(query).fetchall()}
    return [(name, *found[i]) for i, (name, _) in enumerate(parts)]


def database_state(conn: Conn, naming: Naming, specs: Sequence[TableSpec]) -> DatabaseState:
    """One query: per table the rows and the sum of their hashes (:data:`ROW_HASH`), side tables too; then
    one digest."""
    return DatabaseState.of(_tables(conn, _state_parts(naming, specs, None)))


def rows_state(
    conn: Conn, naming: Naming, specs: Sequence[TableSpec], ids: Mapping[str, Sequence[uuid.UUID]]
) -> dict[str, tuple[int, int]]:
    """Per table of ``ids`` (spec name -> row ids; their side tables too): how many of those rows it holds
    and the sum of their hashes (for :meth:`DatabaseState.shifted`). One query."""
    return {name: (count, total) for name, count, total in _tables(conn, _state_parts(naming, specs, ids))}


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
    indexed: Index,
    recorded: Mapping[str, object] | None,
    *,
    results: bool,
    recorded_versions: str | None = None,
) -> tuple[str, bool]:
    """The digest of the rows to load (``indexed``, their :data:`~.delta.Index`), and whether ``recorded``
    (the last run's proof) shows that loading them would write nothing: the racing tables hold the same row
    versions as when it was recorded (``recorded_versions``, :func:`versions`), else their rows hash to the
    recorded digest. Neither is read when the rows differ anyway."""
    rows = input_digest(indexed, specs, results=results)
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
    conn: Conn,
    naming: Naming,
    specs: Sequence[TableSpec],
    racing: Racing,
    rows: str,
    state: DatabaseState | None = None,
) -> dict[str, str] | None:
    """The proof a load records when the database ends holding exactly the rows it loaded (every table's
    count is the rows it loaded), else None. ``state``: the database's state when the load knows it
    (a delta load: :meth:`DatabaseState.shifted`), else one :func:`database_state` query."""
    state = state or database_state(conn, naming, specs)
    if any(state.counts.get(spec.name) != len(racing.table(spec.name)) for spec in specs):
        return None
    return {"rows": rows, "database": state.digest, TABLES_KEY: state.encode()}


def kept_state(proof: Mapping[str, object] | None) -> DatabaseState | None:
    """The database state a proof kept (:func:`left_exactly`), when it kept one of this form whose digest
    is the proof's."""
    state = DatabaseState.decode((proof or {}).get(TABLES_KEY))
    if state is None or proof is None or proof.get("database") != state.digest:
        return None
    return state
