"""``ingest sync`` and ``ingest bulk`` with both sources (SOURCES=openf1,f1db): a season before 2023 asks
OpenF1 nothing, f1db is asked once, and a source that fails costs only its own part. Real HTTP against the
project's stand-in (``serve --f1db`` over the real v2024.24.2 archive), a real PostgreSQL.

These tests are about requests and outcomes, not decoding: each store starts with the release's decode cache
and the merge memo an earlier test of this process left (``f1db_warm``: derived caches, read only when they
fit the replay's inputs)."""

from __future__ import annotations

from pathlib import Path

import pytest
from f1db_warm import warm_store
from server_fixtures import FAST, ServerFactory, client_settings

from ingestion.ops.bulk_sync import BulkOptions, bulk_sync, bulk_years, render_bulk
from ingestion.ops.sync import SyncOptions, render_sync, sync
from ingestion.store import Store

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "f1db"
ARCHIVE = "f1db-2024.24.2.tar.gz"
BOTH = ("openf1", "f1db")
#: The label of the merge memo these tests share (OpenF1 holds nothing, v2024.24.2, results: one key).
MEMO = "v2024.24.2 alone"

pytestmark = pytest.mark.skipif(not (SHARED / ARCHIVE).is_file(), reason="no real f1db archives here")


def mirror(tmp_path: Path) -> Path:
    folder = tmp_path / "mirror"
    folder.mkdir()
    (folder / ARCHIVE).symlink_to(SHARED / ARCHIVE)
    return folder


def test_sync_f1db_lands_while_openf1_fails_and_1994_asks_openf1_nothing(
    tmp_path: Path, db_url: str, openf1_server: ServerFactory, world_dir: Path
) -> None:
    """OpenF1 answering 500 to everything: its requests fail (exit 1) and f1db's release still lands, and
    the store is replayed. Then ``sync --year 1994`` asks OpenF1 nothing and f1db one conditional
    request (304): exit 0."""
    server = openf1_server([world_dir / "2024"], f1db=mirror(tmp_path), faults=["500:1"])
    settings = client_settings(server, tmp_path / "store", database_url=db_url, sources=BOTH)
    with warm_store(settings.snapshot_dir, ARCHIVE, memo=MEMO):
        failing = sync(settings, SyncOptions(year=2024, retry=FAST), database=db_url)
    assert failing.exit_code == 1 and failing.failed > 0
    assert failing.f1db is not None and failing.f1db.tag == "v2024.24.2"
    assert [r.tag for r in Store(settings.snapshot_dir).releases("f1db")] == ["v2024.24.2"]

    server.clear_faults()
    server.reset_stats()
    old = sync(settings, SyncOptions(year=1994, retry=FAST), database=db_url)
    assert old.exit_code == 0, render_sync(old)
    assert all(r.tier == "f1db-api" for r in server.stats.records)  # OpenF1 was asked nothing
    assert server.stats.f1db_api == 1 and server.stats.by_status == {304: 1}
    text = "\n".join(render_sync(old))
    assert "OpenF1 starts in 2023" in text and "unchanged (304)" in text and old.years == [1994]


def test_sync_f1db_unreachable_is_one_line_and_openf1_still_lands(
    tmp_path: Path, db_url: str, openf1_server: ServerFactory, world_dir: Path
) -> None:
    """f1db refusing (GitHub's rate limit): one error line naming it, exit 1; OpenF1's answers are stored
    and replayed."""
    server = openf1_server([world_dir / "2024"], f1db=mirror(tmp_path), f1db_limit=0)
    settings = client_settings(server, tmp_path / "store", database_url=db_url, sources=BOTH)
    summary = sync(settings, SyncOptions(year=2024, results=False, retry=FAST), database=db_url)
    assert summary.exit_code == 1 and summary.failed == 0
    assert len(summary.failures) == 1 and "rate limit" in summary.failures[0]
    assert summary.synced["meetings"].inserted > 0
    errors = [line for line in render_sync(summary) if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: f1db:")


def test_bulk_f1db_seasons_before_2023_ask_f1db_once_and_openf1_nothing(
    tmp_path: Path, db_url: str, openf1_server: ServerFactory
) -> None:
    """``bulk --start-year 1950 --end-year 2022`` is allowed with f1db (refused with OpenF1 alone); a bulk
    over seasons before 2023 asks f1db once (its release holds them all) and OpenF1 nothing."""
    assert bulk_years(start_year=1950, end_year=2022, now=_now(), first=1950)[0] == 1950
    with pytest.raises(Exception, match="2023"):
        bulk_years(start_year=1950, end_year=2022, now=_now())
    server = openf1_server(f1db=mirror(tmp_path))
    settings = client_settings(server, tmp_path / "store", database_url=db_url, sources=BOTH)
    with warm_store(settings.snapshot_dir, ARCHIVE, memo=MEMO):
        summary = bulk_sync(settings, BulkOptions(years=(1994, 1995), retry=FAST), database=db_url)
    assert summary.exit_code == 0, render_bulk(summary)
    assert [s.status for s in summary.seasons] == ["ok", "ok"]
    assert summary.f1db is not None and summary.f1db.outcome == "new"
    assert server.stats.f1db_api == 2 and all(r.tier.startswith("f1db") for r in server.stats.records)


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime(2026, 12, 1, tzinfo=UTC)


def test_watch_f1db_asks_once_per_step_across_once_runs_and_a_rate_limit_waits_for_its_reset(
    tmp_path: Path, db_url: str, openf1_server: ServerFactory
) -> None:
    """``watch --once`` from cron with f1db: the first pass records the release (an ``f1db`` event, then a
    replay); a second run at the same time asks f1db nothing (no step passed since the ask, kept in
    watch.json); a week later (the weekly step) one conditional request (304), recorded as the last ask.
    A rate limit is an ``error`` of stage f1db (exit 1) and holds the next ask back until its reset: a run
    before the reset asks nothing and succeeds."""
    import json
    from datetime import UTC, datetime, timedelta

    from ingestion.watch.events import WatchEvent, encode
    from ingestion.watch.loop import WatchConfig, run_watch
    from ingestion.watch.state import read_state

    server = openf1_server(f1db=mirror(tmp_path))
    settings = client_settings(server, tmp_path / "store", database_url=db_url, sources=("f1db",))
    lines: list[dict[str, object]] = []
    at = [datetime(2026, 12, 1, 12, 0, tzinfo=UTC)]

    def log(event: WatchEvent) -> None:
        lines.append(json.loads(encode(event)))

    def clock() -> datetime:
        return at[0]

    config = WatchConfig(once=True, retry=FAST)
    with warm_store(settings.snapshot_dir, ARCHIVE, memo=MEMO):
        assert run_watch(settings, config, log=log, clock=clock) == 0
    f1db = [line for line in lines if line["event"] == "f1db"]
    assert [(e["outcome"], e["tag"], e["requests"], e["why"]) for e in f1db] == [
        ("new", "v2024.24.2", 2, "never asked")
    ]
    kinds = [line["event"] for line in lines]
    assert kinds.index("replaying") > kinds.index("f1db")
    state = read_state(settings.snapshot_dir)
    assert state is not None and state.f1db_asked == at[0]

    lines.clear()
    server.reset_stats()
    at[0] += timedelta(hours=1)
    assert run_watch(settings, config, log=log, clock=clock) == 0
    assert server.stats.f1db_api == 0 and not [line for line in lines if line["event"] == "f1db"]

    at[0] += timedelta(days=7)
    assert run_watch(settings, config, log=log, clock=clock) == 0
    assert server.stats.by_status == {304: 1}
    assert [(e["outcome"], e["why"]) for e in lines if e["event"] == "f1db"] == [("unchanged", "every 7 d")]
    state = read_state(settings.snapshot_dir)
    assert state is not None and state.f1db_asked == at[0]

    limited = openf1_server(f1db=tmp_path / "mirror", f1db_limit=0)
    lines.clear()
    refused = client_settings(limited, settings.snapshot_dir, database_url=db_url, sources=("f1db",))
    at[0] += timedelta(days=7)
    assert run_watch(refused, config, log=log, clock=clock) == 1
    errors = [line for line in lines if line["event"] == "error"]
    assert len(errors) == 1 and errors[0]["stage"] == "f1db" and "rate limit" in str(errors[0]["reason"])
    state = read_state(settings.snapshot_dir)
    assert state is not None and state.f1db_blocked_until is not None and state.f1db_blocked_until > at[0]
    assert state.f1db_asked == at[0] - timedelta(days=7)  # a refusal is not an answer
    limited.reset_stats()
    assert run_watch(refused, config, log=log, clock=clock) == 0  # before the reset: nothing asked
    assert limited.stats.f1db_api == 0
