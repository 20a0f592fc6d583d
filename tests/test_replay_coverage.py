"""Replay by coverage: for each (endpoint, meeting) the latest snapshot covering it, batch or per meeting.

Stores written before batches existed (the committed ``snapshots/``: one request per meeting) must replay to
exactly the database they gave when replay read "the latest snapshot of every request": for them coverage
selects the very same snapshots, in the same order, and keeps every row of each.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from committed import openf1_fixture
from test_replay_support import AS_OF, body_of, snapshots, world_answers, world_rows

from ingestion.db import connect
from ingestion.openf1.wire import ENDPOINTS
from ingestion.replay import normalize
from ingestion.replay.load import racing_snapshot
from ingestion.replay.run import run_replay, snapshots_of
from ingestion.store import Store, event_order
from ingestion.store.coverage import units_of
from tests.provenance_support import answer_blind

COMMITTED_AS_OF = datetime(2026, 12, 31, tzinfo=UTC)

Answer = tuple[str, int, bytes]


def test_replay_committed_store_reads_what_latest_per_request_read(db_factory: Any) -> None:
    """The committed store: coverage picks exactly the latest snapshot of every request (same events, same
    order), each covering one unit (so all its rows are kept); replayed twice, same rows and ids."""
    store = Store(openf1_fixture())
    before = sorted(
        (e for e in store.latest(COMMITTED_AS_OF).values() if e.endpoint in ENDPOINTS), key=event_order
    )
    chosen = [snap.event for snap in snapshots_of(store, COMMITTED_AS_OF, results=True)]
    assert chosen == before and len(chosen) == 148
    assert all(len(units_of(e.endpoint, e.query)) == 1 for e in chosen)
    tables = []
    for _ in range(2):
        url = db_factory()
        run_replay(url, store, COMMITTED_AS_OF, results=True)
        with connect(url) as conn:
            tables.append(racing_snapshot(conn))
    assert tables[0] == tables[1] and len(tables[0]["results"]) > 4000


def _batch(endpoint: str, rows: list[dict[str, Any]] | tuple[dict[str, Any], ...], keys: list[int]) -> Answer:
    """One batched answer: the rows of all ``keys``, as the server answers ``meeting_key=K1&...``."""
    query = "&".join(f"meeting_key={k}" for k in sorted(keys))
    wanted = set(keys)
    return (f"/v1/{endpoint}?{query}", *body_of([r for r in rows if r["meeting_key"] in wanted]))


def _per_meeting(answers: tuple[Answer, ...], endpoint: str) -> list[Answer]:
    return [a for a in answers if a[0].startswith(f"/v1/{endpoint}?meeting_key=")]


def _corrected(answer: Answer) -> tuple[Answer, list[dict[str, Any]]]:
    """The per-meeting session_result answer with its first scoring row's points changed and its last row
    gone (what a late correction looks like), and its new rows."""
    import json

    rows: list[dict[str, Any]] = json.loads(answer[2])
    scoring = next(i for i, r in enumerate(rows) if r.get("points"))
    rows[scoring] = {**rows[scoring], "points": float(rows[scoring]["points"]) + 1.0}
    rows = rows[:-1]
    return (answer[0], *body_of(rows)), rows


def test_replay_mixed_batch_and_per_meeting_snapshots_take_the_latest_in_both_orders() -> None:
    """A batch of the season's results and a per-meeting answer of one meeting with a correction: whichever
    is later wins for that meeting (rows changed AND rows gone), the batch keeps every other meeting."""
    answers = world_answers(2024)
    results = _per_meeting(answers, "session_result")
    keys = [int(path.rsplit("=", 1)[1]) for path, _, _ in results]
    batch = _batch("session_result", world_rows(2024, "session_result"), keys)
    target = next(a for a in results if a[2].count(b'"points"') > 5)
    corrected, _ = _corrected(target)
    rest = [a for a in answers if not a[0].startswith("/v1/session_result")]

    original = normalize(snapshots(answers), AS_OF, results=True).racing
    fixed_answers = [corrected if a is target else a for a in answers]
    fixed = normalize(snapshots(fixed_answers), AS_OF, results=True).racing
    assert fixed.results != original.results  # the correction is visible at all

    # batch first, then the corrected meeting alone: the correction wins for that meeting only
    later_meeting = normalize(snapshots([*rest, batch, corrected]), AS_OF, results=True).racing
    assert answer_blind(later_meeting) == answer_blind(fixed)  # provenance names the answer: not compared
    # the corrected meeting first, then the batch: the batch (the original rows) wins everywhere
    later_batch = normalize(snapshots([*rest, corrected, batch]), AS_OF, results=True).racing
    assert answer_blind(later_batch) == answer_blind(original)
    # per-meeting answers older than a batch: all replaced by it; a batch alone equals per meeting
    assert answer_blind(normalize(snapshots([*answers, batch]), AS_OF, results=True).racing) == answer_blind(
        original
    )
    assert answer_blind(normalize(snapshots([*rest, batch]), AS_OF, results=True).racing) == answer_blind(
        original
    )


def test_replay_batches_of_every_endpoint_equal_per_meeting_answers() -> None:
    """Both seasons with drivers, results and grids in one batch per year and endpoint replay to exactly
    the rows of the 3-per-meeting store (ids included) with the same warnings."""
    per_meeting: list[Answer] = []
    batched: list[Answer] = []
    for year in (2023, 2024):
        answers = world_answers(year)
        per_meeting.extend(answers)
        batched.extend(a for a in answers if "?year=" in a[0])
        for endpoint in ("drivers", "session_result", "starting_grid"):
            keys = [int(path.rsplit("=", 1)[1]) for path, _, _ in _per_meeting(answers, endpoint)]
            batched.append(_batch(endpoint, world_rows(year, endpoint), keys))
    assert len(batched) == 10
    from_batches = normalize(snapshots(batched), AS_OF, results=True)
    from_meetings = normalize(snapshots(per_meeting), AS_OF, results=True)
    # every row the same, ids included; only the provenance's answer (batch or meeting) differs
    assert answer_blind(from_batches.racing) == answer_blind(from_meetings.racing)
    # the same warnings (each names its own snapshot, so only their kinds compare)
    assert from_batches.warning_counts() == from_meetings.warning_counts()


def test_snapshots_ls_shows_what_each_request_covers(tmp_path: Any) -> None:
    """`snapshots ls`: a batch covers its 25 meetings and is the latest for all; the per-meeting answers it
    replaced are the latest for none, except the one answered again after it."""
    from datetime import timedelta

    from test_replay_support import FETCHED, put_answers

    from ingestion.store import commands

    store = Store(tmp_path / "store")
    answers = world_answers(2024)
    drivers = _per_meeting(answers, "drivers")
    put_answers(store, answers)
    keys = [int(path.rsplit("=", 1)[1]) for path, _, _ in drivers]
    put_answers(store, [_batch("drivers", world_rows(2024, "drivers"), keys)], FETCHED + timedelta(hours=1))
    put_answers(store, [drivers[3]], FETCHED + timedelta(hours=2))
    rows = {row.key: row for row in commands.ls(store, endpoint="drivers")}
    batch = next(row for key, row in rows.items() if "&" in key)
    assert batch.covers == f"meeting_key x25 ({min(keys)}..{max(keys)})" and batch.latest_for == 24
    alone = rows[f"drivers?meeting_key={keys[3]}"]
    assert (alone.covers, alone.latest_for) == (f"meeting_key {keys[3]}", 1)
    assert sum(1 for row in rows.values() if row.latest_for == 0) == 24
