"""Shared helpers of the replay tests (no tests here): stores built from the real OpenF1 world files.

The world rows are split the way fetch stores them: ``/v1/meetings?year=Y``, ``/v1/sessions?year=Y``, and per
meeting ``/v1/drivers?meeting_key=M``, ``/v1/session_result?meeting_key=M``,
``/v1/starting_grid?meeting_key=M``
(status 200 with the rows, or 404 ``{"detail":"No results found."}`` when a meeting has none).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingestion.replay import Snapshot
from ingestion.store import Event, Request, Store

WORLD = Path(__file__).resolve().parents[2] / "shared" / "openf1" / "world"
EDGE = WORLD.parent / "edge-cases"
NO_RESULTS = b'{"detail":"No results found."}'
FETCHED = datetime(2025, 12, 1, 12, 0, tzinfo=UTC)
#: Long after every 2023-2024 session: everything is Completed and every result is in.
AS_OF = datetime(2026, 1, 1, tzinfo=UTC)

#: The official 2024 drivers' championship (top eight), from outside the project.
CHAMPIONSHIP_2024 = {
    "VER": 437,
    "NOR": 374,
    "LEC": 356,
    "PIA": 292,
    "SAI": 290,
    "RUS": 245,
    "HAM": 223,
    "PER": 152,
}

Answer = tuple[str, int, bytes]  # path, status, body


@functools.cache
def world_rows(year: int, endpoint: str) -> tuple[dict[str, object], ...]:
    return tuple(json.loads((WORLD / str(year) / f"{endpoint}.json").read_bytes()))


def body_of(rows: list[dict[str, object]] | tuple[dict[str, object], ...]) -> tuple[int, bytes]:
    return (200, json.dumps(list(rows), ensure_ascii=False).encode()) if rows else (404, NO_RESULTS)


@functools.cache
def world_answers(year: int) -> tuple[Answer, ...]:
    """Every request fetch would store for ``year``, with its real answer."""
    out: list[Answer] = []
    for endpoint in ("meetings", "sessions"):
        out.append((f"/v1/{endpoint}?year={year}", *body_of(world_rows(year, endpoint))))
    meetings = [int(m["meeting_key"]) for m in world_rows(year, "meetings")]  # type: ignore[call-overload]
    for endpoint in ("drivers", "session_result", "starting_grid"):
        by_meeting: dict[int, list[dict[str, object]]] = defaultdict(list)
        for row in world_rows(year, endpoint):
            by_meeting[int(row["meeting_key"])].append(row)  # type: ignore[call-overload]
        for key in meetings:
            out.append((f"/v1/{endpoint}?meeting_key={key}", *body_of(by_meeting.get(key, []))))
    return tuple(out)


def put_answers(
    store: Store, answers: list[Answer] | tuple[Answer, ...], when: datetime = FETCHED
) -> list[Event]:
    """Store ``answers`` as one fetch run, received one millisecond apart from ``when``."""
    events = []
    with store.writer() as writer:
        for i, (path, status, body) in enumerate(answers):
            events.append(
                writer.put(
                    Request.from_url(path),
                    body,
                    url=f"https://api.openf1.org{path}",
                    status=status,
                    received_at=when + timedelta(milliseconds=i),
                    content_type="application/json",
                )
            )
    return events


def world_store(root: Path, years: tuple[int, ...] = (2023, 2024)) -> Store:
    store = Store(root)
    for year in years:
        put_answers(store, world_answers(year))
    return store


def snapshots(
    answers: list[Answer] | tuple[Answer, ...], when: datetime = FETCHED, run: str = "run"
) -> list[Snapshot]:
    """The answers as in-memory snapshots (for the pure tests: no store needed), each addressed as the store
    addresses it (the sha256 of its body: a result's provenance names it, whatever order it came in)."""
    out = []
    for i, (path, status, body) in enumerate(answers):
        request = Request.from_url(path)
        event = Event(
            run=run,
            seq=i,
            endpoint=request.endpoint,
            query=request.query,
            url=path,
            status=status,
            received_at=when + timedelta(milliseconds=i),
            address=hashlib.sha256(body).hexdigest(),
            size=len(body),
        )
        out.append(Snapshot(event, body))
    return out

