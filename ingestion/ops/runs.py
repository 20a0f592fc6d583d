"""Run history: what each fetch and each replay did, newest first (``ingest runs``).

Fetch runs come from the snapshot store: its log (one file per run: which requests were answered, when, how
many attempts) and the record a fetch leaves in ``runs/RUN.json`` when it ends (what was asked, 429s,
failures, exit code). A run without a record (stopped by Ctrl-C or a kill, or an ``ingest snapshots
import``) is still listed from its log, its exit status unknown. Replay runs come from the database's
``ingestion.replay_runs`` (one row per committed replay: rows written per table).

:func:`fetch_runs` is pure over what it is given; :func:`replay_runs` is a thin shell. The records
themselves are written and read by :mod:`ingestion.fetch.record`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal

import msgspec
import psycopg

from ingestion.fetch.record import FetchRecord
from ingestion.instant import as_utc
from ingestion.store.model import Event, Release

__all__ = ["RunInfo", "fetch_runs", "find_run", "history", "release_runs", "replay_runs"]

Kind = Literal["fetch", "replay", "import"]


class RunInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One run, fetch or replay, in the same shape (fields that do not apply are None)."""

    kind: Kind
    id: str
    started_at: datetime
    finished_at: datetime | None
    asked: str
    requests: int | None = None  # answers stored (fetch)
    throttled: int | None = None  # 429s (fetch, when its record exists)
    failed: int | None = None  # requests given up on (fetch, when its record exists)
    written: int | None = None  # racing rows inserted + updated + removed (replay)
    rows: dict[str, dict[str, int]] = msgspec.field(default_factory=dict)  # per table (replay)
    bytes: int | None = None  # bytes of the bodies stored (fetch)
    exit_code: int | None = None  # None: unknown (no record: interrupted, or an import)
    duration_s: float | None = None
    details: dict[str, object] = msgspec.field(default_factory=dict)  # everything known, for `runs show`


_YEAR = re.compile(r"(?:^|&)year=(\d{4})(?:&|$)")
_MEETING = re.compile(r"(?:^|&)meeting_key=(\d+)(?:&|$)")


def _asked_from_events(events: Sequence[Event]) -> str:
    years = sorted({int(m.group(1)) for e in events if (m := _YEAR.search(e.query))})
    meetings = {m.group(1) for e in events if (m := _MEETING.search(e.query))}
    parts = []
    if years:
        parts.append("years " + ", ".join(map(str, years)))
    if meetings:
        parts.append(f"{len(meetings)} meeting(s)")
    return "; ".join(parts) or ", ".join(sorted({e.endpoint for e in events}))


def fetch_runs(events: Iterable[Event], records: Mapping[str, FetchRecord]) -> list[RunInfo]:
    """One :class:`RunInfo` per run of the store's log (and per record whose run stored nothing)."""
    by_run: dict[str, list[Event]] = {}
    for event in events:
        by_run.setdefault(event.run, []).append(event)
    runs: list[RunInfo] = []
    for run_id in sorted(set(by_run) | set(records)):
        run_events = sorted(by_run.get(run_id, []), key=lambda e: (e.received_at, e.seq))
        record = records.get(run_id)
        stored = sum(e.size for e in run_events)
        if record is not None:
            finished = record.finished_at
            started = finished - timedelta(seconds=record.wall_s)
            if run_events:
                started = min(started, run_events[0].received_at)
            runs.append(
                RunInfo(
                    kind="fetch",
                    id=run_id,
                    started_at=started,
                    finished_at=finished,
                    asked=f"{record.command} {record.asked}".strip(),
                    requests=len(run_events),
                    throttled=record.throttled,
                    failed=len(record.failed),
                    bytes=stored,
                    exit_code=record.exit_code,
                    duration_s=record.wall_s,
                    details=msgspec.to_builtins(record),
                )
            )
            continue
        first, last = run_events[0].received_at, run_events[-1].received_at
        imported = all(not e.url.startswith(("http://", "https://")) for e in run_events)
        runs.append(
            RunInfo(
                kind="import" if imported else "fetch",
                id=run_id,
                started_at=first,
                finished_at=None,
                asked=_asked_from_events(run_events),
                requests=len(run_events),
                bytes=stored,
                duration_s=(last - first).total_seconds(),
                details={
                    "note": "no record of how this run ended (interrupted, killed, or not a fetch): "
                    "counts are from the store's log",
                    "retried_requests": sum(1 for e in run_events if e.attempts > 1),
                },
            )
        )
    return runs


def release_runs(releases: Iterable[Release]) -> list[RunInfo]:
    """One :class:`RunInfo` per recorded release (f1db): a fetch (from GitHub or its stand-in) or an import
    of an archive downloaded by hand (``url`` ``file:...``). Pure."""
    runs = []
    for release in releases:
        imported = release.url.startswith("file:")
        runs.append(
            RunInfo(
                kind="import" if imported else "fetch",
                id=release.run,
                started_at=release.received_at,
                finished_at=release.received_at,
                asked=f"{release.source} {release.tag} ({release.files} files)",
                requests=None if imported else 2,
                bytes=release.size,
                exit_code=0,
                duration_s=release.elapsed_ms / 1000,
                details=msgspec.to_builtins(release),
            )
        )
    return runs


def replay_runs(conn: psycopg.Connection[tuple[object, ...]], limit: int | None = None) -> list[RunInfo]:
    """The replays recorded in ``ingestion.replay_runs``, newest first (none when the table is missing)."""
    exists = conn.execute("SELECT to_regclass('ingestion.replay_runs') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return []
    rows = conn.execute(
        "SELECT id, started_at, finished_at, as_of, results, summary FROM ingestion.replay_runs "
        "ORDER BY id DESC" + (f" LIMIT {int(limit)}" if limit is not None else "")
    ).fetchall()
    runs = []
    for run_id, started, finished, as_of, results, summary in rows:
        assert isinstance(started, datetime) and isinstance(finished, datetime)
        assert isinstance(as_of, datetime)
        document = summary if isinstance(summary, dict) else {}
        tables = document.get("tables", {})
        rows_by_table: dict[str, dict[str, int]] = {
            str(name): {str(k): int(v) for k, v in counts.items()}
            for name, counts in (tables.items() if isinstance(tables, dict) else [])
            if isinstance(counts, dict)
        }
        written = sum(c.get("inserted", 0) + c.get("updated", 0) + c.get("removed", 0)
                      for c in rows_by_table.values())
        as_of_text = as_utc(as_of).isoformat().replace("+00:00", "Z")
        runs.append(
            RunInfo(
                kind="replay",
                id=str(run_id),
                started_at=as_utc(started),
                finished_at=as_utc(finished),
                asked=f"replay --as-of {as_of_text}" + ("" if results else " --no-results"),
                written=written,
                rows=rows_by_table,
                exit_code=0,  # a replay_runs row exists only for a committed replay
                duration_s=(finished - started).total_seconds(),
                details={k: v for k, v in document.items() if k != "tables"},
            )
        )
    return runs


def history(fetches: Sequence[RunInfo], replays: Sequence[RunInfo]) -> list[RunInfo]:
    """All runs, newest first (by start time; ties: replays after fetches, then by id)."""
    return sorted([*fetches, *replays], key=lambda r: (r.started_at, r.kind != "replay", r.id), reverse=True)


def find_run(runs: Sequence[RunInfo], wanted: str) -> RunInfo | None:
    """The run called ``wanted``: a fetch run id (or a unique prefix of one), or a replay's number."""
    text = wanted.strip()
    if text.lower().startswith("replay"):
        text = text[len("replay"):].strip(" -#")
    exact = [r for r in runs if r.id == text]
    if exact:
        return exact[0]
    prefixed = [r for r in runs if r.kind != "replay" and r.id.startswith(text)]
    return prefixed[0] if len(prefixed) == 1 else None
