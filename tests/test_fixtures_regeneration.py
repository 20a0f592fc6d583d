"""`make snapshots` (python -m tools.fixtures): fixtures come through ingest serve + ingest fetch."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from committed import COMMITTED

from ingestion.errors import UsageError
from ingestion.store import Store
from ingestion.store.commands import fsck
from tools.fixtures import DEFAULT_RELEASE, build_fixture_snapshots, import_fixture_release

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def test_fixtures_regenerating_twice_adds_events_but_no_blob(world_dir: Path, tmp_path: Path) -> None:
    """Two regenerations from the same rows: the second asks every request again (new events), stores
    no new blob, and the store stays clean."""
    store_dir = tmp_path / "snapshots"
    first = build_fixture_snapshots(world_dir, store_dir, years=(2024,), now=NOW)
    assert first.exit_code == 0
    assert first.requests == 77  # 2 year lists + 3 per meeting for 25 meetings
    store = Store(store_dir)
    blobs = sorted(store.addresses())
    events = len(store.events())

    second = build_fixture_snapshots(world_dir, store_dir, years=(2024,), now=NOW)
    assert second.exit_code == 0
    assert second.requests == 77 and second.new_snapshots == 0
    store = Store(store_dir)
    assert sorted(store.addresses()) == blobs
    assert len(store.events()) == 2 * events
    assert fsck(store) == []


def test_fixtures_refuse_a_world_folder_without_the_season(tmp_path: Path) -> None:
    """A --world folder lacking a season's rows is a one-line usage error, and nothing is stored."""
    with pytest.raises(UsageError, match="no OpenF1 rows"):
        build_fixture_snapshots(tmp_path, tmp_path / "store", years=(2024,), now=NOW)
    assert not (tmp_path / "store").exists()


def test_fixtures_release_import_matches_the_committed_store_and_is_written_once(tmp_path: Path) -> None:
    """`make snapshots` imports f1db v2025.24.2 after the fetch: the same release (tag, manifest) as the
    committed store holds, in its own log file; imported again, nothing is written."""
    first = import_fixture_release(DEFAULT_RELEASE, tmp_path, now=NOW)
    committed = Store(COMMITTED).f1db_release()
    assert first.release is not None and committed is not None
    assert (first.tag, first.release.manifest) == ("v2025.24.2", committed.manifest)
    assert [p.name for p in Store(tmp_path).log_files()] == [f"{first.release.run}.jsonl"]
    again = import_fixture_release(DEFAULT_RELEASE, tmp_path, now=NOW)
    assert again.release is None and again.tag == "v2025.24.2"
    assert len(Store(tmp_path).log_files()) == 1


def test_fixtures_refuse_a_missing_release_archive(tmp_path: Path) -> None:
    """A --release file that does not exist is a one-line usage error, and nothing is stored."""
    with pytest.raises(UsageError, match="no f1db release"):
        import_fixture_release(tmp_path / "f1db-2025.24.2.tar.gz", tmp_path / "store", now=NOW)
    assert not (tmp_path / "store").exists()
