"""The record a fetch leaves in ``<store>/runs/<run>.json`` when it ends (what was asked, 429s, failures,
exit code), for ``ingest runs``. :func:`record_of` and :func:`describe_options` are pure; :func:`write_record`
and :func:`read_records` are the thin shells."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import msgspec

from ingestion.fetch.plan import FetchOptions
from ingestion.fetch.summary import FetchSummary
from ingestion.instant import as_utc
from ingestion.store import write_atomic

__all__ = ["RUNS_DIR", "FetchRecord", "describe_options", "read_records", "record_of", "write_record"]

RUNS_DIR = "runs"


class FetchRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What a fetch leaves in ``<store>/runs/<run>.json`` when it ends."""

    run: str
    command: str  # "fetch", "sync", "bulk"
    asked: str  # "--year 2024 --no-results"
    finished_at: datetime
    wall_s: float
    exit_code: int
    planned: int
    requests: int
    http_requests: int
    new_snapshots: int
    unchanged: int
    empty: int
    throttled: int
    retries: int
    failed: list[str] = msgspec.field(default_factory=list)  # "KEY: reason"
    blocked: str | None = None


def describe_options(
    *, years: Sequence[int], recent_days: int | None, all_years: bool, results: bool, refresh: bool
) -> str:
    """The options of a fetch as they would be typed: ``--year 2023 --year 2024 --no-results``."""
    parts: list[str] = []
    if all_years:
        parts.append("--all")
    elif recent_days is not None:
        parts.append(f"--recent {recent_days}")
    parts += [f"--year {y}" for y in years if not all_years and recent_days is None]
    if not results:
        parts.append("--no-results")
    if refresh:
        parts.append("--refresh")
    return " ".join(parts)


def record_of(summary: FetchSummary, options: FetchOptions, finished_at: datetime) -> FetchRecord:
    """The record of a fetch that stored something (``summary.run`` set)."""
    assert summary.run is not None
    asked = describe_options(
        years=summary.years if not (options.all_years or options.recent_days is not None) else (),
        recent_days=options.recent_days,
        all_years=options.all_years,
        results=options.results,
        refresh=options.refresh,
    )
    # The counts a record shares with the summary (run, wall_s, exit_code, planned, requests, ...) are taken
    # by name from it: the record is the summary's fields it declares, plus what only the record says.
    return msgspec.convert(
        msgspec.structs.asdict(summary)
        | {
            "command": "fetch",
            "asked": asked,
            "finished_at": as_utc(finished_at),
            "failed": [f"{f.key}: {f.reason}" for f in summary.failed],
            "blocked": summary.blocked.advice if summary.blocked is not None else None,
        },
        FetchRecord,
    )


def read_records(store_root: Path) -> dict[str, FetchRecord]:
    """The fetch records in ``<store>/runs/``; an unreadable one is skipped (the log still lists its run)."""
    folder = store_root / RUNS_DIR
    records: dict[str, FetchRecord] = {}
    if not folder.is_dir():
        return records
    for path in sorted(folder.glob("*.json")):
        with contextlib.suppress(OSError, msgspec.DecodeError, msgspec.ValidationError):
            record = msgspec.json.decode(path.read_bytes(), type=FetchRecord)
            records[record.run] = record
    return records


def write_record(store_root: Path, record: FetchRecord) -> None:
    """Write ``record`` all-or-nothing and durably (the store's :func:`~ingestion.store.write_atomic`:
    temporary file, fsync, rename, folder fsync); a failure to write it is not fatal."""
    folder = store_root / RUNS_DIR
    data = msgspec.json.format(msgspec.json.encode(record), indent=2) + b"\n"
    with contextlib.suppress(OSError):
        write_atomic(folder / f"{record.run}.json", data, tmp_dir=folder, prefix=f".{record.run}.json.")
