"""Adoption: a replayed row whose natural key a stored row holds under another id takes that stored id.

Ids are deterministic (uuid5 over natural keys), but rows the app or an older pipeline wrote hold other ids
for the same OpenF1 keys or slugs, and users' data points at those ids. So, per table in load (foreign key)
order, with the children's foreign keys following the ids their parents adopted:

- a replayed row whose id the database does not hold, and whose natural key (a key of the table spec, then
  the database's own, e.g. the app's entrants (round, driver)) a stored row holds, takes that row's id;
- never an id another replayed row has, nor by a key two replayed rows share (the id could go to one only);
- a key held by two stored rows (a non-unique column) gives the smallest id; keys with a null never match.

The one rule both the load (which stages already adopted rows) and ``ingest verify`` (which compares what
the load keeps) apply. Pure: the stored rows come in as data
(:func:`ingestion.replay.load.stored_keys` reads them).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from ingestion.replay.rows import TABLES, Racing, TableSpec

if TYPE_CHECKING:  # only its type: the naming comes in (importing db.naming loads the database driver)
    from ingestion.db.naming import Naming

__all__ = ["Stored", "adopt", "adoption_keys"]

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
