"""The one typed view of stored racing rows: a row read from the database (a tuple in its spec's column
order, as :func:`ingestion.replay.load.racing_snapshot` returns it) as its spec's typed row Struct
(:mod:`ingestion.replay.rows`), read by attribute, never as a ``{column: value}`` dict (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

import msgspec

from ingestion.replay.rows import TABLES, TableSpec

__all__ = ["stored_row", "stored_rows"]

R = TypeVar("R", bound=msgspec.Struct)


def stored_row(spec: TableSpec, values: Sequence[object]) -> msgspec.Struct:
    """``values`` (one stored row of ``spec``'s table, in its column order) as ``spec``'s row type. Not
    validated (a row the app wrote may hold a null where OpenF1's never does): readers treat the values that
    can differ as such."""
    return spec.row_type(**dict(zip(spec.columns, values, strict=True)))


def stored_rows(snapshot: Mapping[str, Sequence[Sequence[object]]], row_type: type[R]) -> list[R]:
    """The stored rows of the table whose rows are ``row_type`` (its spec's), as those typed rows."""
    spec = next(s for s in TABLES if s.row_type is row_type)
    return [stored_row(spec, values) for values in snapshot.get(spec.name, ())]  # type: ignore[misc]
