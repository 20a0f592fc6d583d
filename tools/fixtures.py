"""Regenerate the committed fixture snapshots from real OpenF1 rows, through the real doors.

``make snapshots`` (``python -m tools.fixtures``, from the checkout; not in the installed package) starts
``ingest serve`` over ``../shared/openf1/world/<year>`` on 127.0.0.1 and runs the real ``ingest fetch``
against it, results included, so ``snapshots/`` holds genuine requests and answers in its log. A
regeneration asks every request again (``--refresh``): it adds events, and no blob when the data has not
changed. Then it imports the f1db release ``../shared/f1db/f1db-2025.24.2.tar.gz`` (as ``ingest snapshots
import`` does: its own log file, its blobs and manifest), so ``make run`` shows every season since 1950;
the store holding that release already, nothing is written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ingestion.config import Settings, load_settings
from ingestion.errors import IngestionError, UsageError
from ingestion.f1db.record import Recorded, import_archive
from ingestion.fetch import FetchOptions, FetchSummary, fetch, render_summary
from ingestion.server import ServerConfig, load_rows, start_server
from ingestion.store import Store

#: The source checkout (this tool needs ``../shared`` beside it).
PROJECT_ROOT = Path(__file__).resolve().parents[1]
FIXTURE_YEARS = (2023, 2024)
DEFAULT_WORLD = PROJECT_ROOT.parent / "shared" / "openf1" / "world"
#: The f1db release the committed store holds beside OpenF1's 2023 and 2024 (every season since 1950).
DEFAULT_RELEASE = PROJECT_ROOT.parent / "shared" / "f1db" / "f1db-2025.24.2.tar.gz"
#: The stand-in server and the client agree on a fast pace: the limits are exercised, not waited out.
FIXTURE_RATE = (50.0, 3000)


def build_fixture_snapshots(
    world: Path,
    store_dir: Path,
    *,
    years: Sequence[int] = FIXTURE_YEARS,
    now: datetime,
    refresh: bool = True,
) -> FetchSummary:
    """Serve ``world/<year>`` rows like OpenF1 and fetch ``years`` (results included) into ``store_dir``."""
    missing = [str(world / str(y)) for y in years if not (world / str(y)).is_dir()]
    if missing:
        raise UsageError(f"no OpenF1 rows at {', '.join(missing)}: pass --world DIR")
    per_second, per_minute = FIXTURE_RATE
    dataset = load_rows([world / str(y) for y in years])
    config = ServerConfig(per_second=per_second, per_minute=per_minute)
    with start_server(dataset, config) as server:
        settings = Settings(
            database_url=None,
            openf1_base_url=server.base_url,
            snapshot_dir=store_dir,
            pgdata_dir=PROJECT_ROOT / ".pgdata",
            rate_per_second=per_second,
            rate_per_minute=per_minute,
        )
        # per meeting, as the committed store was first written: regenerating it adds events and no blob
        options = FetchOptions(years=tuple(years), results=True, refresh=refresh, batch=False)
        summary = fetch(settings, options, now)
        if server.stats.rate_limited:
            raise IngestionError(
                f"the stand-in server answered {server.stats.rate_limited} request(s) with 429"
            )
    return summary


def import_fixture_release(archive: Path, store_dir: Path, *, now: datetime) -> Recorded:
    """Record the f1db release ``archive`` in ``store_dir`` as ``ingest snapshots import`` does (nothing is
    written when the store holds its tag already)."""
    if not archive.is_file():
        raise UsageError(f"no f1db release at {archive}: pass --release FILE")
    return import_archive(Store(store_dir), archive, received_at=now)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.fixtures",
        description="Regenerate the fixture snapshots from ../shared/openf1/world via ingest serve + fetch.",
    )
    parser.add_argument(
        "--world", type=Path, default=DEFAULT_WORLD, help="folder of <year>/ENDPOINT.json rows"
    )
    parser.add_argument("--store", type=Path, default=None, help="snapshot store (default SNAPSHOT_DIR)")
    parser.add_argument(
        "--year", type=int, action="append", help="season to fetch (repeatable; default 2023, 2024)"
    )
    parser.add_argument(
        "--release", type=Path, default=DEFAULT_RELEASE, help="f1db release archive to import after the fetch"
    )
    args = parser.parse_args(argv)
    try:
        store_dir = args.store or load_settings().snapshot_dir
        summary = build_fixture_snapshots(
            args.world, store_dir, years=tuple(args.year or FIXTURE_YEARS), now=datetime.now(UTC)
        )
        for line in render_summary(summary):
            print(line)
        if summary.exit_code != 0:
            return summary.exit_code
        recorded = import_fixture_release(args.release, store_dir, now=datetime.now(UTC))
    except IngestionError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    if recorded.release is None:
        print(f"f1db {recorded.tag} is already in the store: nothing written")
    else:
        print(f"imported {args.release} as f1db {recorded.tag}: {recorded.new_blobs} new blob(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
