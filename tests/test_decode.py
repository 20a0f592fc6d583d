"""decode and normalize on garbage: tolerant decoding, warnings naming the snapshot and row, never a crash."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_replay_support import AS_OF, snapshots, world_answers

from ingestion.openf1.wire import ROW_TYPES, Driver, SessionResult
from ingestion.replay import decode_rows, normalize


def test_decode_no_results_body_gives_no_rows() -> None:
    """OpenF1's 404 {"detail": "No results found."} (or 200 with it, or []) is no rows and no warning."""
    for status, body in (
        (404, b'{"detail":"No results found."}'),
        (200, b'{"detail":"No results found."}'),
        (200, b"[]"),
    ):
        assert decode_rows(Driver, body, status=status) == ([], [])


def test_decode_bad_row_is_skipped_with_a_warning_naming_it() -> None:
    """A row that cannot be decoded is skipped; the warning names the request, blob and row index."""
    body = (
        b'[{"session_key":1,"meeting_key":2,"driver_number":3},{"session_key":"x"},'
        b'{"session_key":1,"meeting_key":2,"driver_number":4,"unknown_new_field":[1]}]'
    )
    rows, warnings = decode_rows(Driver, body, request="drivers?meeting_key=2", address="ab" * 32)
    assert [r.driver_number for r in rows] == [3, 4]
    [warning] = warnings
    assert (warning.kind, warning.request, warning.address, warning.row) == (
        "row_undecodable",
        "drivers?meeting_key=2",
        "ab" * 32,
        1,
    )


def test_decode_timings_in_every_shape() -> None:
    """duration and gap_to_leader as number, string or 3-element list; points absent; int as 1.0."""
    body = (
        b'[{"session_key":1.0,"meeting_key":2,"driver_number":3,"duration":[90.1,null,89.5],'
        b'"gap_to_leader":"+1 LAP"},{"session_key":1,"meeting_key":2,"driver_number":4,"duration":5400.5,'
        b'"gap_to_leader":0,"points":25}]'
    )
    rows, warnings = decode_rows(SessionResult, body)
    assert not warnings
    assert rows[0].duration == [90.1, None, 89.5] and rows[0].points is None and rows[1].points == 25


def test_decode_html_error_page_is_one_warning() -> None:
    """A body that is not a JSON array (a 500 HTML page) gives no rows and one warning."""
    rows, warnings = decode_rows(Driver, b"<html>502 Bad Gateway</html>", status=502, request="drivers")
    assert rows == [] and [w.kind for w in warnings] == ["snapshot_error"]


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
DATES = st.datetimes(timezones=st.sampled_from([UTC, None])).map(lambda d: d.isoformat())


@st.composite
def _openf1_row(draw: st.DrawFn, endpoint: str) -> dict[str, Any]:
    fields = list(ROW_TYPES[endpoint].__struct_fields__)
    row: dict[str, Any] = {}
    for field in draw(st.lists(st.sampled_from(fields), unique=True)):
        if field.startswith("date"):
            row[field] = draw(DATES | JSON)
        elif field.endswith("_key") or field in ("driver_number", "position", "year"):
            row[field] = draw(st.integers(-5, 3) | st.sampled_from([1229, 9472, 2**40]) | JSON)
        elif field == "session_name":
            row[field] = draw(
                st.sampled_from(["Race", "Sprint", "Qualifying", "Day 2", "Practice 1", "?"]) | JSON
            )
        else:
            row[field] = draw(JSON)
    return row


@st.composite
def _garbage(draw: st.DrawFn) -> list[tuple[str, int, bytes]]:
    answers = []
    for endpoint in draw(st.lists(st.sampled_from(sorted(ROW_TYPES)), min_size=1, max_size=6)):
        if draw(st.booleans()):
            body = json.dumps(draw(st.lists(_openf1_row(endpoint), max_size=6))).encode()
        else:
            body = draw(st.binary(max_size=40) | JSON.map(lambda v: json.dumps(v).encode()))
        answers.append(
            (f"/v1/{endpoint}?meeting_key={draw(st.integers(1, 3))}", draw(st.sampled_from([200, 404])), body)
        )
    return answers


@settings(max_examples=300, deadline=None)
@given(answers=_garbage(), as_of=st.datetimes(timezones=st.just(UTC)), results=st.booleans())
def test_normalize_never_crashes_on_garbage(
    answers: list[tuple[str, int, bytes]], as_of: datetime, results: bool
) -> None:
    """Arbitrary OpenF1-shaped rows (missing fields, nulls, wrong types, huge ints) never crash normalize."""
    replayed = normalize(snapshots(answers), as_of, results=results)
    for row in replayed.racing.sessions:
        assert row.start_time_utc.tzinfo is not None
    assert all(w.kind and w.message for w in replayed.warnings)


@settings(max_examples=30, deadline=None)
@given(answers=_garbage())
def test_normalize_garbage_beside_real_data_changes_nothing_real(
    answers: list[tuple[str, int, bytes]],
) -> None:
    """Garbage snapshots of other requests next to the real 2024 ones never crash and keep the 25 rounds."""
    answers = [a for a in answers if not a[0].startswith(("/v1/meetings", "/v1/sessions"))]
    replayed = normalize(snapshots(list(world_answers(2024)) + answers), AS_OF, results=True)
    assert len(replayed.racing.rounds) == 25
