"""The one OpenF1 body contract (``ingestion.openf1.body``): fetch, ``snapshots import``, the fetch planner
and replay agree on every body (rows / empty / invalid), and the planner sees the sessions replay sees."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_replay_support import AS_OF, snapshots, world_rows

from ingestion.fetch.plan import FetchOptions, Season, decode_meetings, decode_sessions, plan
from ingestion.openf1.body import body_kind, classify
from ingestion.openf1.wire import Session
from ingestion.replay import decode_rows, normalize
from ingestion.replay.decoded import decode_snapshots
from ingestion.store import Store
from ingestion.store.commands import import_file
from ingestion.store.errors import ImportRejected

T0 = datetime(2025, 1, 1, tzinfo=UTC)
SNAPSHOT_WARNINGS = {"snapshot_error", "snapshot_undecodable"}

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
REAL_SESSION = world_rows(2024, "sessions")[0]
BODIES = st.one_of(
    st.binary(max_size=60),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.lists(st.sampled_from([REAL_SESSION, 1, "x", None, {}]), max_size=4).map(
        lambda v: json.dumps(v).encode()
    ),
    st.sampled_from(
        [
            b"[1,2]",
            b"[]",
            b'{"detail":"No results found."}',
            b'{"detail":"Not Found"}',
            b"<html>502 Bad Gateway</html>",
            json.dumps([REAL_SESSION]).encode(),
            json.dumps([REAL_SESSION])[:40].encode(),
        ]
    ),
)


def test_body_kind_of_the_divergent_bodies() -> None:
    """``[1,2]`` is invalid everywhere (import used to take it as a 200); the detail is empty; ``[]`` rows."""
    assert body_kind(b"[1,2]")[0] == "invalid"
    assert body_kind(b"[]") == ("rows", "")
    assert body_kind(b'{"detail":"No results found."}') == ("empty", "")
    assert body_kind(json.dumps([REAL_SESSION]).encode()) == ("rows", "")


@settings(max_examples=120, deadline=None)
@given(body=BODIES)
def test_body_import_fetch_and_replay_agree(body: bytes) -> None:
    """For any body: fetch's verdict, the import's decision (and stored status) and replay's reading agree."""
    kind, _ = body_kind(body)
    verdict = classify(200, body).kind
    assert verdict == {"rows": "rows", "empty": "empty", "invalid": "retry"}[kind]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "answer.json"
        path.write_bytes(body)
        try:
            event = import_file(Store(Path(folder) / "store"), path, "/v1/sessions?year=2024", T0)
        except ImportRejected:
            imported: str = "invalid"
        else:
            imported = {200: "rows", 404: "empty"}[event.status]
    assert imported == kind
    status = 404 if kind == "empty" else 200
    rows, warnings = decode_rows(Session, body, status=status)
    assert bool({w.kind for w in warnings} & SNAPSHOT_WARNINGS) == (kind == "invalid")
    if kind == "empty":
        assert (rows, warnings) == ([], [])
    if kind == "invalid":
        assert rows == [] and len(warnings) == 1
    assert decode_sessions(body) == tuple(rows)


def _sessions_with_float_keys(indexes: set[int]) -> list[dict[str, Any]]:
    rows = [dict(r) for r in world_rows(2024, "sessions")]
    for i in indexes:
        row = rows[i % len(rows)]
        row["session_key"] = float(str(row["session_key"]))  # e.g. 9472.0
        row["meeting_key"] = float(str(row["meeting_key"]))
    return rows


def test_planner_plans_a_meeting_whose_session_key_is_a_float() -> None:
    """The reproduced divergence: ``session_key: 9472.0`` was dropped by the planner, kept by replay."""
    sessions = _sessions_with_float_keys(set(range(200)))
    body = json.dumps(sessions).encode()
    assert len(decode_sessions(body)) == len(sessions) == 123


@settings(max_examples=25, deadline=None)
@given(indexes=st.sets(st.integers(0, 500), max_size=40))
def test_planner_and_replay_see_the_same_sessions(indexes: set[int]) -> None:
    """Real 2024 lists, some keys sent as floats: the planner's sessions are replay's, and every round replay
    builds has its per-meeting requests planned."""
    meetings_body = json.dumps(list(world_rows(2024, "meetings"))).encode()
    sessions_body = json.dumps(_sessions_with_float_keys(indexes)).encode()
    answers = [("/v1/meetings?year=2024", 200, meetings_body), ("/v1/sessions?year=2024", 200, sessions_body)]
    decoded, _ = decode_snapshots(snapshots(answers), results=False)
    planned_sessions = decode_sessions(sessions_body)
    assert {s.session_key for s in planned_sessions} == set(decoded.sessions)
    season = Season(2024, decode_meetings(meetings_body), planned_sessions)
    planned = plan({}, [season], FetchOptions(years=(2024,)), datetime(2025, 6, 1, tzinfo=UTC))
    planned_meetings = {k for p in planned.meetings for k in (p.meetings or (p.meeting_key,))}
    rounds = normalize(snapshots(answers), AS_OF, results=False).racing.rounds
    assert {r.open_f1_meeting_key for r in rounds} <= planned_meetings
    assert len(rounds) == 25
