"""The one typed view of stored racing rows (pure), never a ``{column: value}`` dict:

- a whole row read from the database (a tuple in its spec's column order, as
  :func:`ingestion.replay.load.racing_snapshot` returns it) as its spec's typed row Struct
  (:mod:`ingestion.replay.rows`), read by attribute: :func:`stored_row`, :func:`stored_rows` (verify, scope,
  check);
- a row as adoption matches it, its id and its values of each adoption key (:class:`KeyedRow`, per table
  :class:`StoredKeys`), from a whole row or from the id and key columns alone: :func:`keyed_rows`
  (:mod:`ingestion.replay.adopt`, for the load and for verify).

The only place a stored row's values are paired with its column names.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import repeat
from operator import itemgetter
from typing import TypeVar

import msgspec

from ingestion.replay.rows import TABLES, TableSpec

__all__ = ["Key", "KeyedRow", "StoredKeys", "keyed_rows", "stored_row", "stored_rows"]

R = TypeVar("R", bound=msgspec.Struct)

#: The values of one natural key's columns, in the key's column order.
Key = tuple[object, ...]


def stored_row(spec: TableSpec, values: Sequence[object]) -> msgspec.Struct:
    """``values`` (one stored row of ``spec``'s table, in its column order) as ``spec``'s row type. Not
    validated (a row the app wrote may hold a null where OpenF1's never does): readers treat the values that
    can differ as such."""
    return spec.row_type(**dict(zip(spec.columns, values, strict=True)))


def stored_rows(snapshot: Mapping[str, Sequence[Sequence[object]]], row_type: type[R]) -> list[R]:
    """The stored rows of the table whose rows are ``row_type`` (its spec's), as those typed rows."""
    spec = next(s for s in TABLES if s.row_type is row_type)
    return [stored_row(spec, values) for values in snapshot.get(spec.name, ())]  # type: ignore[misc]


class KeyedRow(msgspec.Struct, frozen=True, gc=False):
    """A stored row as adoption matches it: its id and, per adoption key of its table (in
    :attr:`StoredKeys.keys` order), that key's values, None when one of them is null (such a key never
    matches)."""

    id: uuid.UUID
    keys: tuple[Key | None, ...]


class StoredKeys(msgspec.Struct, frozen=True):
    """One table's stored rows as adoption reads them: its adoption keys (model column names, in the order
    they are tried) and every stored row's :class:`KeyedRow`."""

    keys: tuple[tuple[str, ...], ...]
    rows: tuple[KeyedRow, ...] = ()


def keyed_rows(
    columns: Sequence[str], keys: Sequence[tuple[str, ...]], rows: Sequence[Sequence[object]]
) -> StoredKeys:
    """``rows`` (stored rows, each in ``columns`` order: a whole row, or the id and key columns alone) as
    adoption matches them by ``keys``. ``columns`` holds ``id`` and every key column (else ValueError)."""
    ids = map(itemgetter(columns.index("id")), rows)
    per_key = [[None if None in k else k for k in map(_getter(columns, key), rows)] for key in keys]
    per_row: Iterable[tuple[Key | None, ...]] = zip(*per_key, strict=True) if per_key else repeat(())
    return StoredKeys(tuple(keys), tuple(map(KeyedRow, ids, per_row)))


def _getter(columns: Sequence[str], key: tuple[str, ...]) -> Callable[[Sequence[object]], Key]:
    """A row's values of ``key`` (a tuple, whatever its length)."""
    at = tuple(columns.index(c) for c in key)
    if len(at) == 1:
        (i,) = at
        return lambda values: (values[i],)
    return itemgetter(*at)

