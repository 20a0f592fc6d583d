"""OpenF1's filter language as a pure function (no sockets): parsing, typing, OR, intervals, whole days."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingestion.config import PROJECT_ROOT
from ingestion.server import FieldFilter, Predicate, Query, Row, parse_pairs, parse_query, select

WORLD_2024 = PROJECT_ROOT.parent / "shared" / "openf1" / "world" / "2024"


def _load(name: str) -> list[Row]:
    rows: list[Row] = json.loads((WORLD_2024 / f"{name}.json").read_text(encoding="utf-8"))
    return rows


SESSIONS = _load("sessions")
RESULTS = _load("session_result")
MEETINGS = _load("meetings")

OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("position<=3", (("position", (Predicate("<=", "3"),)),)),
        ("position%3C%3D3", (("position", (Predicate("<=", "3"),)),)),
        ("position%3C=3", (("position", (Predicate("<=", "3"),)),)),
        ("position<3", (("position", (Predicate("<", "3"),)),)),
        ("position>3", (("position", (Predicate(">", "3"),)),)),
        ("Position=1&position=1", (("position", (Predicate("=", "1"),)),)),
        (
            "date_start=2024-03-02",
            (("date_start", (Predicate(">=", "2024-03-02"), Predicate("<", "2024-03-03"))),),
        ),
        ("date_start<=2024-12-31", (("date_start", (Predicate("<", "2025-01-01"),)),)),
        ("date_start>2024-02-28", (("date_start", (Predicate(">=", "2024-02-29"),)),)),
        ("date_start<2024-03-02", (("date_start", (Predicate("<", "2024-03-02"),)),)),
        ("date_start>=2024-03-02", (("date_start", (Predicate(">=", "2024-03-02"),)),)),
        ("date=2024-03-02T15:00:00+00:00", (("date", (Predicate("=", "2024-03-02T15:00:00+00:00"),)),)),
        ("a=1&b=x", (("a", (Predicate("=", "1"),)), ("b", (Predicate("=", "x"),)))),
        ("", ()),
    ],
)
def test_server_query_parses_like_openf1(
    query: str, expected: tuple[tuple[str, tuple[Predicate, ...]], ...]
) -> None:
    """Operators inside keys, encoded or not, a date widened to its day, field names lower-cased."""
    assert parse_query(query) == Query(tuple(FieldFilter(f, p) for f, p in expected))


FIELDS = st.sampled_from(["position", "date_start", "meeting_key", "gmt_offset", "session_name"])
VALUES = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="<>=&#%+"), min_size=1, max_size=12)


@given(field=FIELDS, op=st.sampled_from(list(OPS)), value=VALUES)
def test_server_query_encoding_does_not_matter(field: str, op: str, value: str) -> None:
    """`field OP v` typed raw, fully percent-encoded, or as the (key, value) pair a URL parser makes of it,
    is the same filter."""
    raw = f"{field}{op}{quote(value, safe='')}"
    encoded = quote(f"{field}{op}{value}", safe="")
    if op in ("<=", ">="):
        pair = (field + op[0], value)
    elif op == "=":
        pair = (field, value)
    else:
        pair = (f"{field}{op}{value}", "")
    assert parse_query(raw) == parse_query(encoded) == parse_pairs([pair])


@settings(max_examples=60)
@given(threshold=st.integers(-1, 22) | st.floats(-1, 22, allow_nan=False), op=st.sampled_from(list(OPS)))
def test_server_query_numbers_compare_numerically(threshold: float, op: str) -> None:
    """`position OP t` selects exactly the results whose position is a number satisfying it (never null)."""
    selected = select(RESULTS, parse_query(f"position{op}{threshold}"))
    expected = [
        r for r in RESULTS if isinstance(r.get("position"), int) and OPS[op](r["position"], threshold)
    ]
    assert selected == expected


@settings(max_examples=60)
@given(day=st.dates(date(2024, 2, 15), date(2024, 12, 15)), op=st.sampled_from(list(OPS)))
def test_server_query_date_without_time_is_whole_day(day: date, op: str) -> None:
    """`date_start OP D` compares the session's UTC day with D: `=` is that day, `<=` includes it."""
    selected = select(SESSIONS, parse_query(f"date_start{op}{day.isoformat()}"))
    expected = [s for s in SESSIONS if OPS[op](datetime.fromisoformat(str(s["date_start"])).date(), day)]
    assert selected == expected


@settings(max_examples=40)
@given(start=st.datetimes(datetime(2024, 2, 1), datetime(2024, 12, 31)), hours=st.integers(0, 24 * 20))
def test_server_query_instant_interval(start: datetime, hours: int) -> None:
    """`date_start>=A&date_start<=B` with times is the closed interval [A, B] (UTC when no zone is given)."""
    end = start + timedelta(hours=hours)
    query = f"date_start>={start.isoformat()}&date_start<={end.isoformat()}"
    a, b = start.replace(tzinfo=UTC), end.replace(tzinfo=UTC)
    expected = [s for s in SESSIONS if a <= datetime.fromisoformat(str(s["date_start"])) <= b]
    assert select(SESSIONS, parse_query(query)) == expected


MEETING_KEYS = [int(str(m["meeting_key"])) for m in MEETINGS]


@given(keys=st.lists(st.sampled_from([*MEETING_KEYS, 1, 99999]), max_size=6))
def test_server_query_repeated_key_is_union(keys: list[int]) -> None:
    """`meeting_key=a&meeting_key=b...` selects the union of each alone, in the source order."""
    if not keys:
        return
    query = "&".join(f"meeting_key={k}" for k in keys)
    assert select(MEETINGS, parse_query(query)) == [m for m in MEETINGS if m["meeting_key"] in keys]


def test_server_query_unpaired_bounds_are_or() -> None:
    """`position>=19&position<=1` cannot pair into an interval: it is `>= 19 OR <= 1`, as on OpenF1."""
    rows: list[Row] = [{"position": p} for p in range(1, 21)]
    assert [r["position"] for r in select(rows, parse_query("position>=19&position<=1"))] == [1, 19, 20]


def test_server_query_two_intervals_are_or() -> None:
    """Two bounded intervals on one field are joined with OR."""
    rows: list[Row] = [{"position": p} for p in range(1, 21)]
    query = parse_query("position>=4&position<=7&position>=10&position<=12")
    assert [r["position"] for r in select(rows, query)] == [4, 5, 6, 7, 10, 11, 12]


def test_server_query_equality_or_interval() -> None:
    """Equalities and intervals on one field are joined with OR."""
    rows: list[Row] = [{"position": p} for p in range(1, 21)]
    query = parse_query("position=1&position>=18&position<=19")
    assert [r["position"] for r in select(rows, query)] == [1, 18, 19]


@pytest.mark.parametrize(
    ("row", "query", "matches"),
    [
        ({"a": None}, "a=null", False),  # null never matches
        ({}, "a=1", False),  # a missing field never matches
        ({"a": [1, 2]}, "a=1", False),  # arrays (qualifying durations) never match
        ({"a": True}, "a=true", True),
        ({"a": True}, "a=1", False),
        ({"a": 1}, "a=true", False),
        ({"a": 1}, "a=1.0", True),
        ({"a": 1.5}, "a>1", True),
        ({"a": "+1 LAP"}, "a=%2B1 LAP", True),
        ({"a": "+1 LAP"}, "a=%2B1+LAP", True),
        ({"gmt_offset": "-04:00:00"}, "gmt_offset=-04:00:00", True),
        ({"team_colour": "3671C6"}, "team_colour=3671c6", False),
        ({"date": "2024-03-02T15:00:00.123000+00:00"}, "date>2024-03-02T15:00:00", True),
        ({"date": "2024-03-02T15:00:00+00:00"}, "date=2024-03-02T16:00:00+01:00", True),
        ({"date": "2024-03-02T23:59:59+00:00"}, "date<=2024-03-02", True),
        ({"date": "2024-03-03T00:00:00+00:00"}, "date<=2024-03-02", False),
        ({"date": "2024-03-02T00:00:00+00:00"}, "date<2024-03-02", False),
        ({"date": "2024-03-02T00:00:00+00:00"}, "date=2024-03-02", True),
        ({"date": "2024-03-02T00:00:00+00:00"}, "date=not-a-date", False),
        ({"a": 1}, "flag", False),
    ],
)
def test_server_query_typed_like_the_row(row: Row, query: str, matches: bool) -> None:
    """Each value is read as the row's value is typed; what cannot be read that way does not match."""
    assert select([row], parse_query(query)) == ([row] if matches else [])


def test_server_query_no_filters_selects_all() -> None:
    """An empty query selects every row, in order."""
    assert select(SESSIONS, parse_query("")) == SESSIONS
