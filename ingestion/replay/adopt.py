"""Adoption: a replayed row whose natural key a stored row holds under another id takes that stored id.

Ids are deterministic (uuid5 over natural keys), but rows the app or an older pipeline wrote hold other ids
for the same OpenF1 keys or slugs, and users' data points at those ids. So, per table in load (foreign key)
order, with the children's foreign keys following the ids their parents adopted:

- a replayed row whose id the database does not hold, and whose former id (``formerly``: the id f1db
  alone gives an entity OpenF1 has too, :attr:`ingestion.replay.rows.Replayed.formerly`) a stored row
  holds, takes that id (a round, session, driver, team or circuit replayed from f1db before OpenF1 had it
  keeps its id);
- else, a replayed row whose id the database does not hold, and whose natural key (a key of the table spec,
  then the database's own, e.g. the app's entrants (round, driver)) a stored row holds, takes that row's id;
- never an id another replayed row has, nor by a key two replayed rows share (the id could go to one only);
- a key held by two stored rows (a non-unique column) gives the smallest id; keys with a null never match.

The one rule both the load (which stages already adopted rows) and ``ingest verify`` (which compares what
the load keeps) apply. Pure: the stored rows come in as data, typed (:class:`StoredKeys`:
:func:`ingestion.replay.load.stored_keys` reads them for the load, :func:`snapshot_keys` takes them from
the rows verify read).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import msgspec

from ingestion.replay.rows import TABLES, Racing, TableSpec
from ingestion.replay.stored_rows import Key, StoredKeys, keyed_rows

if TYPE_CHECKING:  # only its type: the naming comes in (importing db.naming loads the database driver)
    from ingestion.db.naming import Naming

__all__ = ["Stored", "adopt", "adoption_columns", "adoption_keys", "snapshot_keys"]

#: Per table, its stored rows as adoption reads them (at least every table with a stored row).
Stored = Mapping[str, StoredKeys]


def adoption_keys(naming: Naming, spec: TableSpec) -> tuple[tuple[str, ...], ...]:
    """The natural keys ``spec``'s rows are adopted by, in order: the spec's, then the database's own."""
    return naming.unique_keys(spec.name, spec.unique_keys)


def adoption_columns(keys: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    """The columns adoption reads of a stored row matched by ``keys``: the id, then each key column once."""
    return tuple(dict.fromkeys(("id", *(c for key in keys for c in key))))


def snapshot_keys(snapshot: Mapping[str, Sequence[Sequence[object]]], naming: Naming) -> Stored:
    """The stored rows of a whole racing snapshot (:func:`ingestion.replay.load.racing_snapshot`: each row
    in its spec's column order) as adoption reads them: what ``ingest verify`` adopts from."""
    return {
        spec.name: keyed_rows(spec.columns, adoption_keys(naming, spec), snapshot.get(spec.name, ()))
        for spec in TABLES
    }


def _key(row: msgspec.Struct, columns: Sequence[str]) -> Key | None:
    values = tuple(getattr(row, c) for c in columns)
    return None if None in values else values


def _adopted_ids(
    rows: Sequence[msgspec.Struct], stored: StoredKeys, formerly: Mapping[uuid.UUID, uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """Replayed id -> stored id for ``rows`` (one table, foreign keys already followed)."""
    held = {r.id for r in stored.rows}
    current = {_id(row) for row in rows}
    ids: dict[uuid.UUID, uuid.UUID] = {}
    if current <= held:  # only a row whose id is not stored adopts one
        return ids
    for row in rows:
        rid = _id(row)
        old = formerly.get(rid)
        if rid not in held and old is not None and old in held and old not in current:
            ids[rid] = old
            current.discard(rid)
            current.add(old)
    for n, key in enumerate(stored.keys):
        mine = [_key(row, key) for row in rows]
        shared = Counter(k for k in mine if k is not None)
        owners: dict[Key, uuid.UUID] = {}
        for r in stored.rows:
            k = r.keys[n]
            if k is not None and r.id not in current and (k not in owners or r.id < owners[k]):
                owners[k] = r.id
        for row, k in zip(rows, mine, strict=True):
            rid = ids.get(_id(row), _id(row))  # its id as adopted by an earlier key
            if rid in held or k is None or shared[k] > 1 or k not in owners:
                continue
            new = owners.pop(k)  # a stored row is adopted once
            ids[rid] = new
            current.discard(rid)
            current.add(new)
    return ids


_Followed = Sequence[tuple[str, Mapping[uuid.UUID, uuid.UUID]]]


def _followed(row: msgspec.Struct, parents: _Followed) -> msgspec.Struct:
    """``row`` with each foreign key ``column`` following its parent's adopted ids."""
    changed = {c: ids[v] for c, ids in parents if (v := getattr(row, c)) in ids}
    return msgspec.structs.replace(row, **changed) if changed else row


def adopt(
    racing: Racing, stored: Stored, formerly: Mapping[uuid.UUID, uuid.UUID] | None = None
) -> tuple[Racing, dict[str, dict[uuid.UUID, uuid.UUID]]]:
    """``racing`` with the stored ids adopted (see the module doc), and per table replayed id -> adopted id.
    ``formerly``: a replayed id -> the id f1db alone gives the same entity (tried first).

    ``racing`` itself when nothing is adopted; every table stays sorted by id. Pure.
    """
    adopted: dict[str, dict[uuid.UUID, uuid.UUID]] = {}
    tables: dict[str, tuple[msgspec.Struct, ...]] = {}
    for spec in TABLES:
        table = stored.get(spec.name)
        parents = [(c, adopted[p]) for c, p in spec.parents if adopted.get(p)]
        if not parents and (table is None or not table.rows):
            continue
        rows = racing.table(spec.name)
        if parents:
            rows = tuple(_followed(row, parents) for row in rows)
        own = _adopted_ids(rows, table, formerly or {}) if table is not None and table.rows else {}
        if own:
            adopted[spec.name] = own
            rows = tuple(msgspec.structs.replace(r, id=own[i]) if (i := _id(r)) in own else r for r in rows)
        if own or parents:
            tables[spec.name] = tuple(sorted(rows, key=_id))
    if not tables:
        return racing, adopted
    return msgspec.structs.replace(racing, **tables), adopted


def _id(row: msgspec.Struct) -> uuid.UUID:
    value: uuid.UUID = row.id  # type: ignore[attr-defined]
    return value
