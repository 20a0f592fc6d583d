"""Replay by coverage: for each (endpoint, meeting) the latest snapshot covering it, batch or per meeting.

The committed store (written one request per meeting, before batches existed) must replay to exactly the
database it gave before coverage replaced "latest per request": the digests below were taken from that
code (commit 65b6cde) on this store, as of COMMITTED_AS_OF.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from test_replay_support import AS_OF, body_of, snapshots, world_answers, world_rows

from ingestion.config import PROJECT_ROOT
from ingestion.db import connect
from ingestion.replay import normalize, racing_snapshot, run_replay
from ingestion.store import Store

COMMITTED_AS_OF = datetime(2026, 12, 31, tzinfo=UTC)
#: table -> (rows, sha256 of repr(rows sorted by id)) of the committed store replayed before coverage.
BEFORE_COVERAGE = {
    "series": (1, "2130ad5835461d071e581d0324c5c8fcb5e77477d7f037f437cb68516afb1ef6"),
    "seasons": (2, "0b7ab87ba283c98a24da352d538f2e5f7df22616621277c99376b7e691ddd0c8"),
    "circuits": (24, "b1ef753b26a1e91752b5018cbc6d005e3bac2296b9d94e6302faf8fee3d19073"),
    "rounds": (48, "e9b46133e10e982b54cd92c4a94c3f60f6f304c295a9d31aa5261245d7bb8b23"),
    "sessions": (236, "5d842ddb3a73d6167f2cd8e6e26164ad540357189ecd3706246b93700adee0ee"),
    "drivers": (38, "2c2ebbb41d573d942f76739742fd523e3a6baa95c4c035ad4b4b6c53ff20d407"),
    "teams": (12, "3aa7131a8b6b9a29f5b0be65f8b01bd9181b84ae2c28a2ada57a37a0046718c7"),
    "entrants": (1001, "2c3560b101abd851fe69eb98c3ed02254f43b2762afffdbd49fb52b880aef3a3"),
    "results": (4612, "54e36eb75f84d3a0e8d87be944fe785e6ca9573b25a360ab7ff7832148a5a7f5"),
    "driver_aliases": (5, "1a36bba0fe753994daf9d3ec427371409f8aee60e1ce8118ad6f133f401f89e1"),
}

Answer = tuple[str, int, bytes]


def test_replay_committed_store_gives_the_database_it_gave_before_coverage(db_url: str) -> None:
    """Same rows, same ids, every table: the digests of the pre-coverage replay of `snapshots/`."""
    run_replay(db_url, Store(PROJECT_ROOT / "snapshots"), COMMITTED_AS_OF, True)
    with connect(db_url) as conn:
        tables = racing_snapshot(conn)
    got = {name: (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
           for name, rows in tables.items()}
    assert {name: got[name] for name in BEFORE_COVERAGE} == BEFORE_COVERAGE


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

    original = normalize(snapshots(answers), AS_OF, True).racing
    fixed_answers = [corrected if a is target else a for a in answers]
    fixed = normalize(snapshots(fixed_answers), AS_OF, True).racing
    assert fixed.results != original.results  # the correction is visible at all

    # batch first, then the corrected meeting alone: the correction wins for that meeting only
    later_meeting = normalize(snapshots([*rest, batch, corrected]), AS_OF, True).racing
    assert later_meeting == fixed
    # the corrected meeting first, then the batch: the batch (the original rows) wins everywhere
    later_batch = normalize(snapshots([*rest, corrected, batch]), AS_OF, True).racing
    assert later_batch == original
    # per-meeting answers older than a batch: all replaced by it; a batch alone equals per meeting
    assert normalize(snapshots([*answers, batch]), AS_OF, True).racing == original
    assert normalize(snapshots([*rest, batch]), AS_OF, True).racing == original


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
    from_batches = normalize(snapshots(batched), AS_OF, True)
    from_meetings = normalize(snapshots(per_meeting), AS_OF, True)
    assert from_batches.racing == from_meetings.racing
    # the same warnings (each names its own snapshot, so only their kinds compare)
    assert from_batches.warning_counts() == from_meetings.warning_counts()
