"""Adoption: a replayed row whose natural key a stored row holds under another id takes that stored id.

Ids are deterministic (uuid5 over natural keys), but rows the app or an older pipeline wrote hold other ids
for the same OpenF1 keys or slugs, and users' data points at those ids. So, per table in load (foreign key)
order, with the children's foreign keys following the ids their parents adopted:

- a replayed row whose id the database does not hold, and whose natural key (a key of the table spec, then
  the database's own, e.g. the app's entrants (round, driver)) a stored row holds, takes that row's id;
- never an id another replayed row has, nor by a key two replayed rows share (the id could go to one only);
- a key held by two stored rows (a non-unique column) gives the smallest id; keys with a null never match.

The one rule both the load (which stages already adopted rows) and ``ingest verify`` (which compares what
the load keeps) apply. Pure: the stored rows come in as data (:func:`stored_keys` reads them).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import psycopg
from psycopg import sql

from ingestion.db.naming import Naming
from ingestion.replay.rows import TABLES, Racing, TableSpec

__all__ = ["Stored", "adopt", "adoption_keys", "all_held", "stored_keys"]

#: Per table, the stored rows as ``{model column: value}`` (at least the id and the key columns).
Stored = Mapping[str, Sequence[Mapping[str, object]]]


def adoption_keys(naming: Naming, spec: TableSpec) -> tuple[tuple[str, ...], ...]:
    """The natural keys ``spec``'s rows are adopted by, in order: the spec's, then the database's own."""
    return naming.unique_keys(spec.name, spec.unique_keys)


def _key(row: Mapping[str, object], columns: Sequence[str]) -> tuple[object, ...] | None:
    values = tuple(row[c] for c in columns)
    return None if any(v is None for v in values) else values


def _adopted_ids(
    rows: Sequence[dict[str, object]], stored: Sequence[Mapping[str, object]], keys: Sequence[tuple[str, ...]]
) -> dict[object, object]:
    """Replayed id -> stored id for ``rows`` (one table, foreign keys already followed)."""
    held = {r["id"] for r in stored}
    current = {row["id"] for row in rows}
    ids: dict[object, object] = {}
    for key in keys:
        shared: dict[tuple[object, ...], int] = {}
        for row in rows:
            k = _key(row, key)
            if k is not None:
                shared[k] = shared.get(k, 0) + 1
        owners: dict[tuple[object, ...], Any] = {}
        for r in stored:
            k = _key(r, key)
            if k is not None and r["id"] not in current and (k not in owners or r["id"] < owners[k]):
                owners[k] = r["id"]
        for row in rows:
            k = _key(row, key)
            if row["id"] in held or k is None or shared[k] > 1 or k not in owners:
                continue
            new = owners.pop(k)  # a stored row is adopted once
            ids[row["id"]] = new
            current.discard(row["id"])
            current.add(new)
            row["id"] = new
    return ids


def adopt(racing: Racing, stored: Stored, naming: Naming) -> tuple[Racing, dict[str, dict[object, object]]]:
    """``racing`` with the stored ids adopted (see the module doc), and per table replayed id -> adopted id.

    ``racing`` itself when nothing is adopted; every table stays sorted by id. Pure.
    """
    adopted: dict[str, dict[object, object]] = {}
    tables: dict[str, tuple[msgspec.Struct, ...]] = {}
    for spec in TABLES:
        rows = racing.table(spec.name)
        parents = [(c, adopted[p]) for c, p in spec.parents if adopted.get(p)]
        if not parents and not stored.get(spec.name):
            continue
        values = [msgspec.structs.asdict(r) for r in rows]
        for column, ids in parents:
            for v in values:
                v[column] = ids.get(v[column], v[column])
        own = _adopted_ids(values, stored.get(spec.name, ()), adoption_keys(naming, spec))
        if own:
            adopted[spec.name] = own
        if own or parents:
            tables[spec.name] = tuple(sorted((spec.row_type(**v) for v in values), key=_id))
    if not tables:
        return racing, adopted
    return msgspec.structs.replace(racing, **tables), adopted


def _id(row: msgspec.Struct) -> uuid.UUID:
    value: uuid.UUID = row.id  # type: ignore[attr-defined]
    return value


def stored_keys(conn: psycopg.Connection[Any], naming: Naming) -> dict[str, list[dict[str, object]]]:
    """The id and key columns of every stored racing row (model names), read in ``conn``'s transaction."""
    out: dict[str, list[dict[str, object]]] = {}
    for spec in TABLES:
        columns = tuple(dict.fromkeys(("id", *(c for key in adoption_keys(naming, spec) for c in key))))
        rows = conn.execute(sql.SQL("{}").format(naming.select(spec.name, columns))).fetchall()
        out[spec.name] = [dict(zip(columns, r, strict=True)) for r in rows]
    return out


def all_held(conn: psycopg.Connection[Any], naming: Naming, racing: Racing) -> bool:
    """Whether the database holds the id of every replayed row (ids only, one query per table): then no row
    adopts an id (:func:`adopt` takes ids only for rows whose own id is not stored) and the whole adoption,
    which reads every stored row's keys, can be skipped (a release that changed 31 files: 6 s less)."""
    for spec in TABLES:
        rows = racing.table(spec.name)
        if not rows:
            continue
        query = sql.SQL("SELECT {} FROM {}").format(naming.col(spec.name, "id"), naming.rel(spec.name))
        held = {r[0] for r in conn.execute(query).fetchall()}
        if any(getattr(r, "id") not in held for r in rows):  # noqa: B009
            return False
    return True
