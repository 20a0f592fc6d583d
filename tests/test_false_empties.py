"""Issue 21, items 1 and 2: false empties are no information, and known gaps cost nothing.

Attacks against ``ingest serve`` over the committed 2024 world: after a good fetch and replay, the server
answers ``sessions?year=2024`` with 404 "No results found." (as OpenF1 does under load), or loses a
meeting's drivers or results (``--drop``). No row may be removed: replay keeps the earlier rows of each unit
whose latest answer cannot be true, and says so naming the answer. And a season with three meetings'
drivers missing upstream costs 5 requests plus the bounded re-asks, then nothing until the gaps' back-off.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from campaign import FULL
from naming_support import NAMINGS
from server_fixtures import FAST, client_settings

from ingestion.db import connect
from ingestion.fetch import FetchOptions, fetch, known_gaps
from ingestion.ops.check import render_check
from ingestion.ops.check.read import check_database
from ingestion.ops.healthcheck import gaps_check
from ingestion.ops.verify import render_verify, verify
from ingestion.replay.load import racing_snapshot
from ingestion.replay.run import run_replay
from ingestion.replay.summary import render_summary
from ingestion.server import RunningServer
from ingestion.store import Store

NOW = datetime(2025, 6, 1, tzinfo=UTC)  # 2024 is over and settled

ServerFactory = Callable[..., RunningServer]

#: (--drop, the request whose answer cannot be true)
ATTACKS = [
    ("sessions:all", "sessions?year=2024"),
    ("drivers:1250", "drivers?meeting_key=1250"),
    ("session_result:1250", "session_result?meeting_key=1250"),
    ("starting_grid:1250", "starting_grid?meeting_key=1250"),
]


def _options(**changes: object) -> FetchOptions:
    return msgspec.structs.replace(FetchOptions(years=(2024,), retry=FAST, revalidate_days=30), **changes)


#: every attack on both database layouts (ours, the app's); the sample: two of them, one on each
CASES = (
    [(drop, key, naming) for drop, key in ATTACKS for naming in NAMINGS]
    if FULL
    else [(*ATTACKS[0], "snake"), (*ATTACKS[1], "ef")]
)


@pytest.mark.reliability("false empties (issue 21)")
@pytest.mark.parametrize(("drop", "key", "schema_naming"), CASES, indirect=["schema_naming"])
def test_false_empty_never_removes_a_row(
    openf1_server: ServerFactory, world_dir: Path, tmp_path: Path, db_url: str, drop: str, key: str
) -> None:
    """A good 2024 store replayed, then a revalidation against a server answering no rows for a unit that
    must have some: fetch asks it again (bounded) and warns; replay removes nothing, changes nothing and
    names the answer (request and blob) in an `answer_cannot_be_true` warning; the next fetch right after
    asks nothing (the gap backs off 1 h) and plans it once the back-off is over."""
    store = tmp_path / "store"
    healthy = openf1_server(rows=[world_dir / "2024"])
    assert fetch(client_settings(healthy, store), _options(), NOW).exit_code == 0
    run_replay(db_url, Store(store), datetime.now(UTC), results=True)
    with connect(db_url) as conn:
        before = racing_snapshot(conn)

    faulty = openf1_server(rows=[world_dir / "2024"], drops=[drop])
    summary = fetch(client_settings(faulty, store), _options(revalidate=True), NOW)
    assert summary.exit_code == 0 and summary.reasked_empty >= 1
    warned = [w for w in summary.warnings if w.startswith(f'{key} answered "No results found."')]
    assert warned, summary.warnings
    false = Store(store).latest()[key]
    assert false.status == 404

    replayed = run_replay(db_url, Store(store), datetime.now(UTC), results=True)
    assert all(counts.removed == 0 and counts.written == 0 for counts in replayed.tables.values())
    with connect(db_url) as conn:
        assert racing_snapshot(conn) == before
    assert replayed.warnings.get("answer_cannot_be_true") == 1
    [kept] = replayed.kept
    assert kept.startswith(f"{key} (blob {false.address[:12]}) has no rows for"), kept
    assert any(line.startswith(f"kept: {key}") for line in render_summary(replayed))

    faulty.reset_stats()
    wall = datetime.now(UTC)
    assert fetch(client_settings(faulty, store), _options(), wall).http_requests == 0
    late = fetch(client_settings(faulty, store), _options(dry_run=True), wall + timedelta(hours=1, minutes=1))
    assert [(p.key, p.reason) for p in late.plan] == [(key, "empty")]
    [gap] = known_gaps(Store(store), wall)
    assert gap.key == key and gap.kept and gap.runs == 1


@pytest.mark.reliability("known gaps cost nothing (issue 21)")
def test_fetch_three_dropped_meetings_cost_five_requests_plus_bounded_reasks_then_nothing(
    openf1_server: ServerFactory, world_dir: Path, tmp_path: Path, db_url: str
) -> None:
    """Done-when of issue 21 item 2: `ingest serve` over the 2024 world with three meetings' drivers
    dropped, at OpenF1's 3/s and 30/min: a cold fetch makes 5 requests with rows (2 lists, 3 batches) plus
    the bounded re-asks (each lost meeting alone, twice), no 429; a re-fetch right after asks nothing; the
    three gaps show in verify, healthcheck and check (meeting, endpoint, since when, next ask)."""
    server = openf1_server(
        rows=[world_dir / "2024"], per_second=3, per_minute=30, drops=["drivers:1250,1251,1252"]
    )
    store = tmp_path / "store"
    settings = client_settings(server, store, per_second=3, per_minute=30)
    cold = fetch(settings, _options(), NOW)
    assert cold.exit_code == 0 and not cold.fallback and server.stats.rate_limited == 0
    answered = [r for r in server.stats.records if r.method == "GET"]
    assert [r.status for r in answered].count(200) == 5
    assert len(answered) == cold.http_requests == 5 + 3 * 2
    assert sorted(r.path for r in answered if r.status == 404) == sorted(
        f"/v1/drivers?meeting_key={m}" for m in (1250, 1251, 1252) for _ in range(2)
    )
    assert len(cold.gaps) == 3

    server.reset_stats()
    again = fetch(settings, _options(), datetime.now(UTC))
    assert again.http_requests == server.stats.gets == 0

    run_replay(db_url, Store(store), datetime.now(UTC), results=True)
    report = verify(db_url, Store(store))
    text = "\n".join(render_verify(report))
    assert len(report.gaps) == 3 and report.ok, text
    for meeting in (1250, 1251, 1252):
        assert f"gap: drivers of meeting {meeting}: no rows since" in text and "next ask" in text
    health = gaps_check(settings)
    assert health.status == "warn" and health.message.startswith("3 known gap(s): drivers of meeting 1250")
    with connect(db_url) as conn:
        checked = check_database(conn, store=Store(store))
    assert [g.split(":")[0] for g in checked.gaps] == [f"drivers of meeting {m}" for m in (1250, 1251, 1252)]
    assert any(line.startswith("gap: drivers of meeting 1251") for line in render_check(checked))
