"""The one contract for OpenF1 answer bodies, PURE: what a body is, what an answer means, and its rows.

Every part of the project reads bodies through this module, so fetch, ``ingest snapshots import``, the
fetch planner and replay agree on every body:

- :func:`body_kind`: ``rows`` (a JSON array whose elements are all objects; ``[]`` is zero rows),
  ``empty`` (OpenF1's ``{"detail": "No results found."}``) or ``invalid`` (anything else: an HTML page, a
  truncated array, ``[1, 2]``, another ``detail``, a body nested deeper than :data:`MAX_DEPTH`), with a
  one-line reason when invalid.
- :func:`classify`: an HTTP answer (status and body) as a :class:`Verdict` for the fetch (rows, empty,
  retry, throttled, blocked, unauthorized, failed).
- :func:`decode_rows`: the rows of a body as wire Structs, leniently (``9472.0`` is accepted as ``9472``,
  unknown fields ignored); a row that does not fit its Struct is skipped and reported (its index and
  why), never fatal. Only a ``rows`` body has rows.
"""

from __future__ import annotations

import re
from typing import Any, Generic, Literal, NamedTuple, TypeVar

import msgspec

from ingestion.openf1.wire import NO_RESULTS, Detail

__all__ = [
    "MAX_DEPTH",
    "NO_RESULTS",
    "RETRYABLE_STATUS",
    "SESSION_IN_PROGRESS",
    "BodyKind",
    "Kind",
    "RowsRead",
    "Verdict",
    "body_kind",
    "classify",
    "decode_rows",
    "detail_of",
    "snippet",
    "too_deep",
]

T = TypeVar("T", bound=msgspec.Struct)

BodyKind = Literal["rows", "empty", "invalid"]
Kind = Literal["rows", "empty", "throttled", "retry", "blocked", "unauthorized", "failed"]

RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
SESSION_IN_PROGRESS = "session in progress"

_OBJECTS = msgspec.json.Decoder(list[dict[str, Any]])
_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])
_DETAIL = msgspec.json.Decoder(Detail)
_DECODERS: dict[type[msgspec.Struct], tuple[Any, Any]] = {}

#: The deepest nesting of arrays and objects a body may have. OpenF1's rows are 2 to 4 deep (an array of
#: objects, some holding arrays); a body nested 1,000 deep made every JSON decoder raise RecursionError.
MAX_DEPTH = 32
_INNERMOST = re.compile(rb"\[\]|\{\}")
_NOT_MARKS = bytes(b for b in range(256) if b not in b'[]{}"')


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether ``body``'s arrays and objects nest deeper than ``limit`` (brackets inside strings do not
    count). Pure, and in C speed for real bodies: strings are cut out, the brackets kept, and innermost
    pairs removed one level per pass; a body still nested after ``limit`` passes is too deep. (Unbalanced
    brackets stop early: the decoder reports those.)"""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    # Outside strings only, with bytes-level operations (no Python loop over the body): escaped backslashes
    # and quotes go first; only quotes and brackets are kept; two quotes in a row are dropped (that keeps
    # every bracket's parity, inside or outside a string); then every other piece between quotes is a
    # string's content.
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    marks = unescaped.translate(None, _NOT_MARKS).replace(b'""', b"")
    skeleton = b"".join(marks.split(b'"')[::2])
    for _ in range(limit):
        if not skeleton:
            return False
        shorter = _INNERMOST.sub(b"", skeleton)
        if len(shorter) == len(skeleton):
            return False
        skeleton = shorter
    return bool(skeleton) and _INNERMOST.search(skeleton) is not None


_TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"


class Verdict(msgspec.Struct, frozen=True):
    """What an HTTP answer means for the fetch."""

    kind: Kind
    reason: str = ""


class RowsRead(NamedTuple, Generic[T]):
    """A body read as rows: its kind, the rows that fit the Struct, and ``(index, why)`` of those that did
    not (``reason`` says why an ``invalid`` body is not an answer)."""

    kind: BodyKind
    rows: list[T]
    skipped: list[tuple[int, str]]
    reason: str = ""


def snippet(body: bytes, limit: int = 80) -> str:
    """The start of ``body`` on one line, for messages."""
    text = body[:limit].decode("utf-8", "replace").replace("\n", " ").strip()
    return text + ("..." if len(body) > limit else "")


def detail_of(body: bytes) -> str | None:
    """The ``detail`` string of an OpenF1 ``{"detail": ...}`` body, else None."""
    if too_deep(body):
        return None
    try:
        detail = _DETAIL.decode(body).detail
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return detail if isinstance(detail, str) else None


def body_kind(body: bytes) -> tuple[BodyKind, str]:
    """What ``body`` is, whatever the status: ``rows``, ``empty`` or ``invalid`` (with a one-line reason)."""
    if too_deep(body):
        return "invalid", f"{_TOO_DEEP}: {snippet(body)!r}"
    try:
        _OBJECTS.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass
    else:
        return "rows", ""
    if detail_of(body) == NO_RESULTS:
        return "empty", ""
    try:
        msgspec.json.decode(body)
    except msgspec.DecodeError as error:
        return "invalid", f"not JSON ({error}): {snippet(body)!r}"
    expected = f"a JSON array of rows (objects) or {{\"detail\":\"{NO_RESULTS}\"}}"
    return "invalid", f"not an OpenF1 answer: expected {expected}, got {snippet(body)!r}"


def classify(status: int, body: bytes) -> Verdict:
    """Read one HTTP answer (pure): a 200 with rows is ``rows``; the no-results detail with 200 or 404 is
    ``empty``; a 200 with an invalid body, 5xx: ``retry``; 429 ``throttled``; 401 "Session in progress"
    ``blocked``, another 401 ``unauthorized``; any other status ``failed``."""
    if status == 200:
        kind, reason = body_kind(body)
        if kind == "invalid":
            return Verdict("retry", f"200 with a body that is {reason}")
        return Verdict(kind)
    if status == 404 and detail_of(body) == NO_RESULTS:
        return Verdict("empty")
    if status == 429:
        return Verdict("throttled", "429 Too Many Requests")
    if status == 401:
        detail = detail_of(body) or ""
        if SESSION_IN_PROGRESS in detail.lower():
            return Verdict("blocked", detail)
        return Verdict("unauthorized", f"401 {detail or snippet(body)}".strip())
    if status in RETRYABLE_STATUS or 500 <= status < 600:
        return Verdict("retry", f"HTTP {status}")
    return Verdict("failed", f"HTTP {status} {detail_of(body) or snippet(body)}".strip())


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


def decode_rows(row_type: type[T], body: bytes) -> RowsRead[T]:
    """The rows of ``body`` as ``row_type`` (lenient). The whole array is decoded at once (fast path);
    when that fails, each row on its own, skipping (and reporting) those that do not fit."""
    many, one = _decoders(row_type)
    if too_deep(body):
        return RowsRead("invalid", [], [], f"{_TOO_DEEP}: {snippet(body)!r}")
    try:
        return RowsRead("rows", list(many.decode(body)), [])
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass
    kind, reason = body_kind(body)
    if kind != "rows":
        return RowsRead(kind, [], [], reason)
    rows: list[T] = []
    skipped: list[tuple[int, str]] = []
    for index, raw in enumerate(_RAW_LIST.decode(body)):
        try:
            rows.append(one.decode(raw))
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            skipped.append((index, str(error)))
    return RowsRead("rows", rows, skipped)
