"""Decoding snapshot bodies into OpenF1 wire Structs for replay: pure (bytes in), tolerant, never raising.

The body contract is :mod:`ingestion.openf1.body` (the same one fetch, import and the planner use); this
module turns what it reports into replay's warnings:

- OpenF1's empty answer (``{"detail": "No results found."}``, any status; or ``[]``) is no rows.
- A row that cannot be decoded is skipped with a warning naming the snapshot (request key, blob address)
  and the row's index.
- A body that is not a JSON array of rows (an HTML error page, another ``detail``, ``[1, 2]``) gives no rows
  and one warning: replay goes on with the other snapshots.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from ingestion.openf1 import body as contract
from ingestion.openf1.wire import ROW_TYPES
from ingestion.replay.rows import ReplayWarning

T = TypeVar("T", bound=msgspec.Struct)

#: Warning kinds raised here.
ROW_UNDECODABLE = "row_undecodable"
SNAPSHOT_UNDECODABLE = "snapshot_undecodable"
SNAPSHOT_ERROR = "snapshot_error"


def decode_rows(
    row_type: type[T],
    body: bytes,
    *,
    status: int = 200,
    request: str | None = None,
    address: str | None = None,
) -> tuple[list[T], list[ReplayWarning]]:
    """The rows of one snapshot body, and a warning for each row (or body) that could not be used."""
    read = contract.decode_rows(row_type, body)
    if read.kind == "invalid":
        kind = SNAPSHOT_ERROR if status >= 400 else SNAPSHOT_UNDECODABLE
        message = f"HTTP {status} body is {read.reason}"
        return [], [ReplayWarning(kind=kind, message=message, request=request, address=address)]
    warnings = [
        ReplayWarning(
            kind=ROW_UNDECODABLE,
            message=f"{row_type.__name__} row {index} skipped: {error}",
            request=request,
            address=address,
            row=index,
        )
        for index, error in read.skipped
    ]
    return read.rows, warnings


def decode_endpoint(
    endpoint: str, body: bytes, *, status: int = 200, request: str | None = None, address: str | None = None
) -> tuple[list[msgspec.Struct], list[ReplayWarning]]:
    """Decode a body of ``endpoint`` with its wire Struct (:data:`ROW_TYPES`); other endpoints: nothing."""
    row_type = ROW_TYPES.get(endpoint)
    if row_type is None:
        return [], []
    rows, warnings = decode_rows(row_type, body, status=status, request=request, address=address)
    return list(rows), warnings
