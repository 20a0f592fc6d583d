"""Decoding snapshot bodies into OpenF1 wire Structs: pure (bytes in), tolerant, never raising.

- OpenF1's empty answer (404, or any status, with ``{"detail": "No results found."}``; or ``[]``) is no rows.
- The whole array is decoded at once with the typed Struct (fast path); when that fails, the array is read
  as ``list[msgspec.Raw]`` and each row decoded on its own: a row that cannot be decoded is skipped with a
  warning naming the snapshot (request key, blob address) and the row's index.
- A body that is not a JSON array at all (an HTML error page, another ``detail``) gives no rows and one
  warning: replay goes on with the other snapshots.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from ingestion.openf1.wire import NO_RESULTS, ROW_TYPES, Detail
from ingestion.replay.rows import Warning

T = TypeVar("T", bound=msgspec.Struct)

#: Warning kinds raised here.
ROW_UNDECODABLE = "row_undecodable"
SNAPSHOT_UNDECODABLE = "snapshot_undecodable"
SNAPSHOT_ERROR = "snapshot_error"

_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])
_DETAIL = msgspec.json.Decoder(Detail)
_DECODERS: dict[type[msgspec.Struct], tuple[Any, Any]] = {}


def _decoders(row_type: type[T]) -> tuple[msgspec.json.Decoder[list[T]], msgspec.json.Decoder[T]]:
    """The (whole array, one row) decoders of ``row_type``, made once. Lenient: ``1.0`` is accepted as 1."""
    cached = _DECODERS.get(row_type)
    if cached is None:
        cached = (
            msgspec.json.Decoder(list[row_type], strict=False),  # type: ignore[valid-type]
            msgspec.json.Decoder(row_type, strict=False),
        )
        _DECODERS[row_type] = cached
    return cached


def is_no_results(body: bytes) -> bool:
    """Whether ``body`` is OpenF1's ``{"detail": "No results found."}``."""
    try:
        detail = _DETAIL.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return False
    return detail.detail == NO_RESULTS


def decode_rows(
    row_type: type[T],
    body: bytes,
    *,
    status: int = 200,
    request: str | None = None,
    address: str | None = None,
) -> tuple[list[T], list[Warning]]:
    """The rows of one snapshot body, and a warning for each row (or body) that could not be used."""
    many, one = _decoders(row_type)
    try:
        return list(many.decode(body)), []
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass
    if is_no_results(body):
        return [], []
    try:
        raws = _RAW_LIST.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        kind = SNAPSHOT_ERROR if status >= 400 else SNAPSHOT_UNDECODABLE
        preview = body[:80].decode("utf-8", "replace").replace("\n", " ")
        message = f"HTTP {status} body is not a JSON array of rows: {preview!r}"
        return [], [Warning(kind=kind, message=message, request=request, address=address)]
    rows: list[T] = []
    warnings: list[Warning] = []
    for index, raw in enumerate(raws):
        try:
            rows.append(one.decode(raw))
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            warnings.append(
                Warning(
                    kind=ROW_UNDECODABLE,
                    message=f"{row_type.__name__} row {index} skipped: {error}",
                    request=request,
                    address=address,
                    row=index,
                )
            )
    return rows, warnings


def decode_endpoint(
    endpoint: str, body: bytes, *, status: int = 200, request: str | None = None, address: str | None = None
) -> tuple[list[msgspec.Struct], list[Warning]]:
    """Decode a body of ``endpoint`` with its wire Struct (:data:`ROW_TYPES`); other endpoints: nothing."""
    row_type = ROW_TYPES.get(endpoint)
    if row_type is None:
        return [], []
    rows, warnings = decode_rows(row_type, body, status=status, request=request, address=address)
    return list(rows), warnings
