"""Does a blob answer its event? Pure: an event and a body in, a one-line reason (or None) out.

The blob's hash proves the body is the one stored under that address; it does not prove the event points at
the right address. So a reader checks the body against the event too: its size, and that its rows belong to
what the request asked for (every equality filter of the query, ``meeting_key=1229`` or ``year=2024``, with
repeated keys OR'd, holds for every row that has the field). Filters with an operator (``date_start>=``) and
fields a row does not have are not checked.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

import msgspec

from ingestion.store.model import Event

__all__ = ["body_mismatch", "rows_mismatch", "says_no_rows"]

_MAX_SHOWN = 3
_EMPTY_ARRAY = hashlib.sha256(b"[]").hexdigest()


def says_no_rows(event: Event) -> bool:
    """Whether a stored answer says "no rows" (OpenF1's 404 "No results found.", or an empty array)."""
    return event.status == 404 or event.address == _EMPTY_ARRAY


def _filters(event: Event) -> dict[str, set[str]]:
    wanted: dict[str, set[str]] = {}
    for key, value in event.request.params():
        if not key or any(op in key for op in "<>!=") or not key.replace("_", "").isalnum():
            continue
        wanted.setdefault(key, set()).add(value)
    return wanted


@lru_cache(maxsize=64)
def _row_type(keys: tuple[str, ...]) -> Any:
    return msgspec.defstruct("Filtered", [(key, Any, msgspec.UNSET) for key in keys])


def _text(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


def rows_mismatch(event: Event, body: bytes) -> str | None:
    """Why the rows of ``body`` do not answer ``event``'s request, or None (a body that is not an array of
    objects is not judged here: replay's decoder warns about it)."""
    wanted = _filters(event)
    if not wanted:
        return None
    row_type = _row_type(tuple(sorted(wanted)))
    try:
        rows: list[Any] = msgspec.json.decode(body, type=list[row_type])  # type: ignore[valid-type]
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    for index, row in enumerate(rows):
        for key, values in wanted.items():
            value = getattr(row, key)
            if value is msgspec.UNSET or value is None:
                continue
            text = _text(value)
            if text is not None and text not in values:
                asked = " or ".join(f"{key}={v}" for v in sorted(values)[:_MAX_SHOWN])
                return f"row {index} has {key}={text}, the request asked for {asked}"
    return None


def body_mismatch(event: Event, body: bytes) -> str | None:
    """Why ``body`` is not the answer ``event`` records (size, rows), or None when it is."""
    if len(body) != event.size:
        return f"the event says {event.size} bytes, the blob has {len(body)}"
    return rows_mismatch(event, body)
