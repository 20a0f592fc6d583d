"""Batched fetch against the project's own server over real 2024 rows: the request floors, the fallback
for a server that does not OR repeated keys, revalidation, and a late correction flowing through replay and
diff. Limits are high (the counts, not the pacing, are under test here; test_fetch.py paces)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from server_fixtures import FAST, client_settings

from ingestion.config import Settings
from ingestion.db import connect
from ingestion.fetch import FetchOptions, fetch
from ingestion.ops.diff import diff, render_diff
from ingestion.replay.load import racing_snapshot
from ingestion.replay.run import run_replay
from ingestion.server import Dataset, RunningServer, load_rows
from ingestion.store import Store
from ingestion.store.coverage import covering
from tests.provenance_support import answer_blind_tables

NOW = datetime(2025, 6, 1, tzinfo=UTC)  # 2024 is over and settled

ServerFactory = Callable[..., RunningServer]


def _settings(server: RunningServer, store: Path) -> Settings:
    return client_settings(server, store)


def _options(**changes: object) -> FetchOptions:
    return msgspec.structs.replace(FetchOptions(years=(2024,), retry=FAST), **changes)


def _meeting_units(store: Path) -> set[tuple[str, str]]:
    """(endpoint, meeting key) of every per-meeting unit the store covers."""
    latest = covering(Store(store).events())
    return {(u.endpoint, u.value) for u in latest if u.field == "meeting_key"}


def test_fetch_batched_cold_season_is_5_then_0_and_revalidate_5(
    openf1_server: ServerFactory, world_dir: Path, tmp_path: Path
) -> None:
    """Cold 2024: 5 requests (2 lists + 1 batch per endpoint of all 25 meetings), no 429; again: 0;
    --revalidate: 5 again, all unchanged (events, no blob); --no-results cold: 3."""
    server = openf1_server(rows=[world_dir / "2024"])
    store = tmp_path / "store"
    cold = fetch(_settings(server, store), _options(), NOW)
    assert cold.exit_code == 0 and server.stats.gets == cold.http_requests == cold.requests == 5
    assert server.stats.rate_limited == 0 and not cold.fallback
    assert len(_meeting_units(store)) == 3 * 25
    assert [len(path) < 2000 for _, path in server.stats.requests] == [True] * 5

    server.reset_stats()
    again = fetch(_settings(server, store), _options(), NOW)
    assert again.http_requests == server.stats.gets == 0

    blobs = len(list(Store(store).addresses()))
    revalidated = fetch(_settings(server, store), _options(revalidate=True), NOW)
    assert server.stats.gets == revalidated.http_requests == 5
    assert revalidated.unchanged == 5 and revalidated.new_snapshots == 0
    assert len(list(Store(store).addresses())) == blobs

    server.reset_stats()
    spoiler_free = fetch(_settings(server, tmp_path / "no-results"), _options(results=False), NOW)
    assert spoiler_free.exit_code == 0 and server.stats.gets == spoiler_free.http_requests == 3


def test_fetch_revalidates_a_settled_year_by_itself_after_revalidate_days(
    openf1_server: ServerFactory, world_dir: Path, tmp_path: Path
) -> None:
    """A settled year whose newest answer is older than REVALIDATE_DAYS is asked again (batched) and the
    summary says so; within the days, nothing is asked."""
    server = openf1_server(rows=[world_dir / "2024"])
    store = tmp_path / "store"
    fetch(_settings(server, store), _options(), NOW)
    wall = datetime.now(UTC)
    server.reset_stats()
    soon = fetch(_settings(server, store), _options(revalidate_days=30), wall + timedelta(days=29))
    assert soon.http_requests == 0 and soon.notes == []
    late = fetch(_settings(server, store), _options(revalidate_days=30), wall + timedelta(days=31))
    assert late.http_requests == server.stats.gets == 5 and late.unchanged == 5
    assert any(note.startswith("2024 revalidated: its newest answer is 3") for note in late.notes)


def test_fetch_falls_back_per_meeting_when_the_server_does_not_or(
    openf1_server: ServerFactory, world_dir: Path, tmp_path: Path, db_factory: Callable[[], str]
) -> None:
    """A server keeping only the last repeated key answers a batch with one meeting's rows: fetch notices
    (sessions say every meeting has drivers), stores no short answer, says so once, asks per meeting for
    the rest of the run and ends complete; the store replays to the same database as a batched one."""
    old = openf1_server(rows=[world_dir / "2024"], or_repeated=False)
    store = tmp_path / "old"
    summary = fetch(_settings(old, store), _options(), NOW)
    assert summary.exit_code == 0 and summary.fallback
    assert summary.http_requests == old.stats.gets == 2 + 1 + 3 * 25
    assert len([n for n in summary.notes if "does not OR repeated keys" in n]) == 1
    assert all("&" not in event.query for event in Store(store).events())
    assert len(_meeting_units(store)) == 3 * 25

    new = openf1_server(rows=[world_dir / "2024"])
    batched = tmp_path / "new"
    fetch(_settings(new, batched), _options(), NOW)
    as_of = datetime.now(UTC)
    tables = []
    for root in (store, batched):
        url = db_factory()
        run_replay(url, Store(root), as_of, results=True)
        with connect(url) as conn:
            tables.append(racing_snapshot(conn))
    assert answer_blind_tables(tables[0]) == answer_blind_tables(tables[1])  # provenance names the answer


def _corrected_world(world_dir: Path) -> tuple[Dataset, dict[str, Any]]:
    """The real 2024 rows with one race result's points changed (a late correction), and that row."""
    tables = {k: list(v) for k, v in load_rows([world_dir / "2024"]).tables.items()}
    rows = tables["session_result"]
    index = next(i for i, r in enumerate(rows) if r.get("points") == 25 and r.get("meeting_key") == 1230)
    rows[index] = {**rows[index], "points": 0.0}
    return Dataset.of(tables), rows[index]


def test_fetch_revalidate_picks_up_a_correction_that_replay_writes_and_diff_lists(
    openf1_server: ServerFactory, world_dir: Path, tmp_path: Path, db_url: str
) -> None:
    """After a settled season is stored and replayed, OpenF1 changes one result's points: `fetch
    --revalidate` stores one new blob (the results batch), replay writes exactly that one row, and `diff`
    between before and after names exactly it."""
    store = tmp_path / "store"
    original = openf1_server(rows=[world_dir / "2024"])
    fetch(_settings(original, store), _options(), NOW)
    run_replay(db_url, Store(store), datetime.now(UTC), results=True)
    with connect(db_url) as conn:
        before = racing_snapshot(conn)
    between = datetime.now(UTC)

    dataset, _ = _corrected_world(world_dir)
    corrected = openf1_server(dataset=dataset)
    summary = fetch(_settings(corrected, store), _options(revalidate=True), NOW)
    assert summary.http_requests == 5 and summary.new_snapshots == 1 and summary.unchanged == 4

    replayed = run_replay(db_url, Store(store), datetime.now(UTC), results=True)
    assert replayed.written == 1
    assert {name for name, counts in replayed.tables.items() if counts.written} == {"results"}
    assert replayed.tables["results"].updated == 1
    with connect(db_url) as conn:
        after = racing_snapshot(conn)
    changed = [name for name in before if before[name] != after[name]]
    assert changed == ["results"]
    assert len(set(before["results"]) ^ set(after["results"])) == 2  # one row, before and after

    change = diff(Store(store), between, datetime.now(UTC), results=True)
    results = change.table("results")
    assert (len(results.added), len(results.removed), len(results.changed)) == (0, 0, 1)
    [edit] = results.changed
    # the correction, and the provenance moving to the answer that made it
    assert [(c.column, c.before, c.after) for c in edit.columns if c.column != "source_version"] == [
        ("points", 25.0, 0.0)
    ]
    [moved] = [c for c in edit.columns if c.column == "source_version"]
    assert moved.before != moved.after
    assert [t.table for t in change.tables if t.added or t.removed or t.changed] == ["results"]
    text = "\n".join(render_diff(change))
    assert "results: 0 added, 0 removed, 1 changed" in text, text


def test_fetch_batch_short_of_one_meeting_is_stored_and_that_meeting_asked_alone(
    openf1_server: ServerFactory, world_dir: Path, tmp_path: Path
) -> None:
    """A server that ORs but has lost one meeting's drivers (issue 21: a gap, not a server that cannot OR):
    the batch is stored for the 24 meetings it holds, the lost one is asked alone (twice: the batch was its
    first ask) and stored empty with a warning; the other batches stay batches. The next fetch right after
    asks nothing (the gap backs off 1 h); past the back-off it asks that one meeting alone, once."""
    tables = {k: list(v) for k, v in load_rows([world_dir / "2024"]).tables.items()}
    tables["drivers"] = [r for r in tables["drivers"] if r.get("meeting_key") != 1240]
    server = openf1_server(dataset=Dataset.of(tables))
    store = tmp_path / "store"
    summary = fetch(_settings(server, store), _options(), NOW)
    assert summary.exit_code == 0 and summary.short_batches == 1 and not summary.fallback
    # the lists, the 3 batches, the lost meeting alone twice
    assert summary.http_requests == server.stats.gets == 2 + 3 + 2
    assert [w for w in summary.warnings if "drivers?meeting_key=1240" in w]
    assert any("those asked alone" in note for note in summary.notes)
    drivers = [e for e in Store(store).events() if e.endpoint == "drivers"]
    assert ["&" in e.query for e in drivers] == [True, False]
    assert len(_meeting_units(store)) == 3 * 25
    [gap] = summary.gaps
    assert gap.startswith("drivers of meeting 1240: no rows since"), gap

    server.reset_stats()
    wall = datetime.now(UTC)
    assert fetch(_settings(server, store), _options(), wall).http_requests == server.stats.gets == 0
    later = fetch(_settings(server, store), _options(), wall + timedelta(hours=2))
    assert server.stats.requests == [("GET", "/v1/drivers?meeting_key=1240")]
    assert later.requests == later.http_requests == 1


def test_fetch_batch_with_rows_of_a_middle_meeting_alone_is_gaps_not_a_server_without_or(
    openf1_server: ServerFactory, world_dir: Path, tmp_path: Path
) -> None:
    """Issue 21: "this server does not OR" is decided only from what such a server does, rows for the LAST
    key's meeting alone. A batch answered with one middle meeting's rows (1240: the others lost upstream) is
    stored, and each other meeting is a gap asked alone (twice); no fallback, the other batches stay."""
    tables = {k: list(v) for k, v in load_rows([world_dir / "2024"]).tables.items()}
    tables["drivers"] = [r for r in tables["drivers"] if r.get("meeting_key") == 1240]
    server = openf1_server(dataset=Dataset.of(tables))
    summary = fetch(_settings(server, tmp_path / "store"), _options(), NOW)
    assert not summary.fallback and summary.exit_code == 0
    assert summary.http_requests == server.stats.gets == 2 + 3 + 24 * 2
    assert not [n for n in summary.notes if "does not OR" in n]
    assert len(summary.gaps) == 24


def test_fetch_batch_with_no_rows_at_all_is_asked_again_whole_then_every_meeting_is_a_gap(
    openf1_server: ServerFactory, world_dir: Path, tmp_path: Path
) -> None:
    """A batch answered "No results found." for every meeting (a false empty of the whole batch, as under
    load; not the signature of a server without OR): asked again as the batch (3 times in all), then stored;
    each of its meetings is a known gap, asked alone later on its back-off, none now."""
    server = openf1_server(rows=[world_dir / "2024"], drops=["drivers:all"])
    summary = fetch(_settings(server, tmp_path / "store"), _options(), NOW)
    assert not summary.fallback and summary.exit_code == 0
    drivers = [path for _, path in server.stats.requests if path.startswith("/v1/drivers")]
    assert len(drivers) == 3 and len(set(drivers)) == 1
    assert summary.http_requests == 2 + 3 + 2
    assert len(summary.gaps) == 25
    assert any("without rows for any of them, 3 time(s): stored" in note for note in summary.notes)
