"""OpenF1's filter language, as a pure function from a query string and rows to the matching rows.

No I/O here. The rules follow OpenF1's own query parser:

- every ``key=value`` pair is rebuilt as the text ``key=value`` (or just ``key`` when the value is empty)
  and split at the first operator found, trying ``>=``, ``<=``, ``=``, ``>``, ``<`` in that order; so
  ``position<=3`` (which a URL parser reads as key ``position<``, value ``3``), ``position%3C%3D3`` and
  ``position<3`` (key ``position<3``, empty value) all come out right;
- a date without a time widens to the whole day: ``=D`` is ``>=D and <D+1``, ``<=D`` is ``<D+1``,
  ``>D`` is ``>=D+1``; ``>=D`` and ``<D`` stay;
- the predicates on one field are joined with OR, except that a lower bound and an upper bound pair up
  into an interval (``date>=A&date<=B`` is ``A <= date <= B``), as OpenF1 pairs them;
- predicates on different fields are joined with AND;
- a row without the field, or with ``null`` there, never matches;
- a value is compared the way the row's value is typed: numbers numerically, booleans as ``true/false``,
  date-times as instants (UTC when no offset is given), other strings as strings. A value that cannot be
  read as the row's type does not match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Literal
from urllib.parse import parse_qsl

import msgspec

from ingestion.instant import read_utc

#: A row as OpenF1 serves it: a flat JSON object, keys in the order they came.
Row = dict[str, object]

Op = Literal[">=", "<=", "=", ">", "<"]
#: OpenF1 tries the operators in this order: ``>=`` and ``<=`` before ``=``, ``>`` and ``<``.
_OPERATORS: tuple[Op, ...] = (">=", "<=", "=", ">", "<")
_LOWER: frozenset[str] = frozenset({">", ">="})
_UPPER: frozenset[str] = frozenset({"<", "<="})

_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_LIKE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?"
)
_SPACE_OFFSET = re.compile(r" (\d{2}:\d{2})$")
_INTEGER = re.compile(r"[+-]?\d+")


class Predicate(msgspec.Struct, frozen=True):
    """One comparison, its value still text (it is typed against each row's value)."""

    op: Op
    value: str


class FieldFilter(msgspec.Struct, frozen=True):
    """All predicates on one field (lower-cased, as OpenF1 does)."""

    field: str
    predicates: tuple[Predicate, ...]


class Query(msgspec.Struct, frozen=True):
    """A parsed query string: one filter per field, all of which a row must pass."""

    filters: tuple[FieldFilter, ...] = ()


def _split(text: str) -> tuple[str, Op, str] | None:
    for op in _OPERATORS:
        field, found, value = text.partition(op)
        if found:
            return field, op, value
    return None


def _widen(op: Op, day: date) -> list[tuple[Op, str]]:
    """OpenF1's whole-day rule for a date without a time."""
    this, following = day.isoformat(), (day + timedelta(days=1)).isoformat()
    if op == ">":
        return [(">=", following)]
    if op == "<":
        return [("<", this)]
    out: list[tuple[Op, str]] = []
    if op in ("=", ">="):
        out.append((">=", this))
    if op in ("=", "<="):
        out.append(("<", following))
    return out


def _as_date(value: str) -> date | None:
    if not _DATE_ONLY.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def parse_pairs(pairs: Iterable[tuple[str, str]]) -> Query:
    """A :class:`Query` from decoded (key, value) pairs, as a URL parser gives them.

    A pair with no operator at all (a bare ``?flag``, or ``?position=``) is read as ``flag`` equal to the
    empty string: it matches nothing on OpenF1's rows (no field holds an empty string).
    """
    by_field: dict[str, list[Predicate]] = {}
    for key, value in pairs:
        text = f"{key}={value}" if value else key
        if "date" in text:
            # A "+" left unencoded in "+00:00" arrives as a space: put it back, as OpenF1 does.
            text = _SPACE_OFFSET.sub(r"+\1", text)
        field, op, raw = _split(text) or (text, "=", "")
        field = field.strip().lower()
        day = _as_date(raw)
        widened = _widen(op, day) if day is not None else [(op, raw)]
        predicates = by_field.setdefault(field, [])
        for wop, wvalue in widened:
            predicate = Predicate(wop, wvalue)
            if predicate not in predicates:
                predicates.append(predicate)
    return Query(tuple(FieldFilter(f, tuple(p)) for f, p in by_field.items()))


def last_of_each(query_string: str) -> list[tuple[str, str]]:
    """The pairs of a query string with each repeated key reduced to its last value: how OpenF1 read
    ``meeting_key=1229&meeting_key=1230`` before August 2025 (1230 only), for ``ingest serve --no-or``."""
    kept: dict[str, str] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        kept.pop(key, None)
        kept[key] = value
    return list(kept.items())


def parse_query(query_string: str) -> Query:
    """A :class:`Query` from the raw query string of a URL (``a=1&b%3E=2``; ``+`` reads as a space)."""
    return parse_pairs(parse_qsl(query_string, keep_blank_values=True))


# --- typing values like the row's value ---------------------------------------------------------------

Kind = Literal["bool", "number", "datetime", "string"]
Scalar = bool | int | float | datetime | str


@lru_cache(maxsize=65536)
def query_instant(text: str) -> datetime | None:
    """``2024-03-02``, ``2024-03-02T14:00:00``, ``...+00:00``, ``...Z`` as an aware datetime (UTC default).

    Only the grammar is the server's own: OpenF1 takes a value (or a row's string) for a date-time only in
    this shape (:data:`_DATE_LIKE`), while Python's ISO-8601 reader takes more (``20240302``,
    ``2024-W09-6``), which OpenF1 compares as strings. What text of that shape means, the
    zone rule included, is the project's one parse (:func:`ingestion.instant.read_utc`)."""
    return read_utc(text) if _DATE_LIKE.fullmatch(text) else None


def _row_scalar(value: object) -> tuple[Kind, Scalar] | None:
    if isinstance(value, bool):
        return "bool", value
    if isinstance(value, int | float):
        return "number", value
    if isinstance(value, str):
        instant = query_instant(value)
        if instant is not None:
            return "datetime", instant
        return "string", value
    return None  # null, arrays, objects never match


def _typed(kind: Kind, text: str) -> Scalar | None:
    if kind == "string":
        return text
    if kind == "number":
        candidate = text.strip()
        if _INTEGER.fullmatch(candidate):
            return int(candidate)
        try:
            number = float(candidate)
        except ValueError:
            return None
        return number if number == number else None  # NaN never compares
    if kind == "bool":
        lowered = text.strip().lower()
        return True if lowered == "true" else False if lowered == "false" else None
    return query_instant(text.strip())


class _Typed(msgspec.Struct, frozen=True):
    op: Op
    value: Scalar


class _Compiled(msgspec.Struct, frozen=True):
    equals: tuple[Scalar, ...]
    intervals: tuple[tuple[_Typed, _Typed], ...]
    unbounded: tuple[_Typed, ...]


def _less(a: Scalar, b: Scalar) -> bool:
    return a < b  # type: ignore[operator]  # both values come from one kind


def _pair(lowers: list[_Typed], uppers: list[_Typed]) -> tuple[list[tuple[_Typed, _Typed]], list[_Typed]]:
    """OpenF1's greedy pairing: each lower bound, smallest first, takes the smallest upper bound above it."""
    lowers = sorted(lowers, key=lambda t: t.value)
    uppers = sorted(uppers, key=lambda t: t.value)
    pairs: list[tuple[_Typed, _Typed]] = []
    while lowers and uppers:
        low = lowers[0]
        chosen = None
        for i, up in enumerate(uppers):
            if _less(low.value, up.value) or (
                low.value == up.value and low.op == ">=" and up.op == "<="
            ):
                chosen = i
                break
        if chosen is None:
            break
        lowers.pop(0)
        pairs.append((low, uppers.pop(chosen)))
    return pairs, lowers + uppers


def _satisfies(value: Scalar, bound: _Typed) -> bool:
    v, b = value, bound.value
    if bound.op == ">=":
        return not _less(v, b)
    if bound.op == "<=":
        return not _less(b, v)
    if bound.op == ">":
        return _less(b, v)
    if bound.op == "<":
        return _less(v, b)
    return v == b


class FieldMatcher:
    """The predicates of one field, typed lazily for each kind of row value met (cached per kind)."""

    def __init__(self, field_filter: FieldFilter) -> None:
        self.field = field_filter.field
        self._predicates = field_filter.predicates
        self._compiled: dict[Kind, _Compiled] = {}

    def _compile(self, kind: Kind) -> _Compiled:
        equals: list[Scalar] = []
        lowers: list[_Typed] = []
        uppers: list[_Typed] = []
        for predicate in self._predicates:
            typed = _typed(kind, predicate.value)
            if typed is None:
                continue  # cannot be read as this kind: never matches such a row
            if predicate.op == "=":
                equals.append(typed)
            elif predicate.op in _LOWER:
                lowers.append(_Typed(predicate.op, typed))
            else:
                uppers.append(_Typed(predicate.op, typed))
        intervals, unbounded = _pair(lowers, uppers)
        return _Compiled(tuple(equals), tuple(intervals), tuple(unbounded))

    def matches(self, row: Row) -> bool:
        if self.field not in row:
            return False
        scalar = _row_scalar(row[self.field])
        if scalar is None:
            return False
        kind, value = scalar
        compiled = self._compiled.get(kind)
        if compiled is None:
            compiled = self._compiled[kind] = self._compile(kind)
        if any(value == e for e in compiled.equals):
            return True
        if any(_satisfies(value, low) and _satisfies(value, up) for low, up in compiled.intervals):
            return True
        return any(_satisfies(value, bound) for bound in compiled.unbounded)


def select(rows: Sequence[Row], query: Query) -> list[Row]:
    """The rows passing every filter of ``query``, in their original order."""
    matchers = [FieldMatcher(f) for f in query.filters]
    if not matchers:
        return list(rows)
    return [row for row in rows if all(m.matches(row) for m in matchers)]
