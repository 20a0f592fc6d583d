"""Provenance (issue 24, item 2): each result row says which source its classification came from and which
release or snapshot that was, on both database layouts (ours: columns of ``results``; the app's:
``ingestion.result_provenance``, keyed by the result's id).

The store is the committed OpenF1 2023-2024 snapshots (fetched 2026-11-30) plus f1db's real v2025.24.2
release cut to its 2023 and 2024 seasons (every driver, constructor and circuit file kept; the seasons
OpenF1 has, replayed in a second rather than 1950-2025's minute), received 2026-12-06: replayed as of
2026-12-01 f1db does not have those sessions yet, as of 2026-12-31 it does.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from committed import copy_store, openf1_fixture
from naming_support import BOTH_NAMINGS, VIEWS

from ingestion.db import connect
from ingestion.db.clean import clean_racing
from ingestion.f1db import read_archive
from ingestion.f1db.record import SOURCE
from ingestion.ops.diff import diff_racing
from ingestion.ops.verify import verify
from ingestion.replay.f1db import PIT_LANE
from ingestion.replay.rows import ResultStatus, SessionType
from ingestion.replay.run import replay, run_replay
from ingestion.store import Store
from ingestion.tables import RACING_TABLES

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "f1db"
TAG = "v2025.24.2"
BEFORE = datetime(2026, 12, 1, tzinfo=UTC)  # after OpenF1's answers (2026-11-30), before f1db's release
RECEIVED = datetime(2026, 12, 6, tzinfo=UTC)
AFTER = datetime(2026, 12, 31, tzinfo=UTC)
SEASONS = ("2023", "2024")
RACE, QUALIFYING = int(SessionType.Race), int(SessionType.Qualifying)
DSQ = int(ResultStatus.DSQ)

Conn = psycopg.Connection[Any]

pytestmark = pytest.mark.slow  # end to end: five replays and a verify per layout


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The committed OpenF1 snapshots and v2025.24.2's 2023-2024 seasons, received after them (recorded as
    ``ingest snapshots import`` records a release, with the other seasons' folders left out)."""
    root = tmp_path_factory.mktemp("provenance") / "snapshots"
    copy_store(openf1_fixture(), root)
    release = read_archive((SHARED / "f1db-2025.24.2.tar.gz").read_bytes())
    season = re.compile(r"src/data/seasons/(\d{4})/")
    files = {
        path: body for path, body in release.files.items()
        if (m := season.match(path)) is None or m.group(1) in SEASONS
    }
    store = Store(root)
    with store.writer() as writer:
        writer.put_release(
            source=SOURCE, tag=TAG, files=files, received_at=RECEIVED, url=f"file:{TAG}",
            committed_at=release.committed_at,
        )
    return store


#: id, round slug, type, last name, position, points, status, grid, source, version, path
Row = tuple[Any, ...]


def _conn(url: str, naming: str) -> Conn:
    conn = connect(url, autocommit=True)
    if naming == "ef":
        conn.execute(f"SET search_path = {VIEWS}, public")
    return conn


def _results(conn: Conn) -> dict[Any, Row]:
    rows = conn.execute(
        """
        SELECT x.id, ro.slug, s.type, d.last_name, x.position, x.points, x.status, x.grid_position,
               x.source, x.source_version, x.source_path
        FROM results x JOIN sessions s ON s.id = x.session_id JOIN rounds ro ON ro.id = s.round_id
        JOIN entrants e ON e.id = x.entrant_id JOIN drivers d ON d.id = e.driver_id
        """
    ).fetchall()
    return {r[0]: tuple(r) for r in rows}


def _ids(conn: Conn) -> dict[str, set[Any]]:
    return {t: {r[0] for r in conn.execute(f"SELECT id FROM {t}").fetchall()} for t in RACING_TABLES}


def _session(rows: dict[Any, Row], round_slug: str, kind: int) -> dict[str, Row]:
    """One session's results by the driver's last name."""
    return {r[3]: r for r in rows.values() if r[1] == round_slug and r[2] == kind}


@BOTH_NAMINGS
def test_provenance_before_and_after_f1db_has_the_sessions(
    db_url: str, schema_naming: str, store: Store
) -> None:
    """The same sessions replayed before f1db has them (OpenF1's values, provenance OpenF1: the stored
    answer's address and its request) and after (f1db's values, provenance f1db v2025.24.2 and its file),
    on both layouts: the named corrections of issue 24 (2023 Saudi Arabia Verstappen 19 points; 2023
    United States Hamilton and Leclerc DSQ, Norris P2 with 18 points; 2023 Belgian qualifying's 20 rows;
    pit-lane starts) say f1db; every 2023-2024 row keeps its id; a second replay writes 0 rows; verify
    exits 0; replayed as of before the release again, every row is as it was before (f1db's own rows and
    their provenance removed); clean-racing leaves no provenance behind."""
    url, naming = db_url, schema_naming
    run_replay(url, store, BEFORE, results=True)
    with _conn(url, naming) as conn:
        before, ids_before = _results(conn), _ids(conn)
    assert {r[8] for r in before.values()} == {"openf1"}
    for address in {r[9] for r in before.values()}:
        assert store.read(address)  # the answer each row came from is a blob of the store
    assert all(str(r[10]).startswith("session_result?") for r in before.values())
    saudi = _session(before, "2023-saudi-arabian-grand-prix", RACE)["Verstappen"]
    assert saudi[5] == 0  # OpenF1's error, as OpenF1 serves it: in the answer the row names
    answer = json.loads(store.read(saudi[9]))
    served = [r for r in answer if (r["session_key"], r["driver_number"]) == (7779, 1)]
    assert [r["points"] for r in served] == [0] and "meeting_key=1142" in saudi[10]

    run_replay(url, store, AFTER, results=True)
    with _conn(url, naming) as conn:
        after, ids_after = _results(conn), _ids(conn)
    for table, ids in ids_before.items():  # every 2023-2024 row keeps the id it has without f1db
        assert ids <= ids_after[table], table
    f1db = {"source": "f1db", "version": TAG}

    def said(row: Row, file: str) -> None:
        assert {"source": row[8], "version": row[9]} == f1db, row
        assert re.fullmatch(rf"src/data/seasons/2023/races/\d\d-{file}", str(row[10])), row

    verstappen = _session(after, "2023-saudi-arabian-grand-prix", RACE)["Verstappen"]
    assert verstappen[0] == saudi[0] and (verstappen[4], verstappen[5]) == (2, 19)
    said(verstappen, "saudi-arabia/race-results.yml")
    us = _session(after, "2023-united-states-grand-prix", RACE)
    for name in ("Hamilton", "Leclerc"):
        assert us[name][0] in before and us[name][6] == DSQ and us[name][4] is None
        said(us[name], "united-states/race-results.yml")
    assert (us["Norris"][4], us["Norris"][5]) == (2, 18)
    said(us["Norris"], "united-states/race-results.yml")
    belgium = _session(after, "2023-belgian-grand-prix", QUALIFYING)
    assert len(belgium) == 20 and len(_session(before, "2023-belgian-grand-prix", QUALIFYING)) < 20
    for row in belgium.values():
        said(row, "belgium/qualifying-results.yml")
    pit_lane = [r for r in after.values() if r[7] == PIT_LANE and r[0] in before]
    assert pit_lane and any(before[r[0]][7] != PIT_LANE for r in pit_lane)
    assert all(r[8:10] == ("f1db", TAG) for r in pit_lane)
    # what f1db does not classify (pre-season testing) stays OpenF1's, provenance and all
    kept = {r[1] for r in after.values() if r[8] == "openf1"}
    assert kept == {"2024-pre-season-testing"}  # (OpenF1 has no classification of 2023's)
    assert all(after[k] == before[k] for k, r in after.items() if r[8] == "openf1")

    again = run_replay(url, store, AFTER, results=True)
    assert again.written == 0
    assert verify(url, store).exit_code == 0

    run_replay(url, store, BEFORE, results=True, allow_removals=True)  # as if f1db had not come yet
    with _conn(url, naming) as conn:
        assert _results(conn) == before
        if naming == "ef":  # no provenance row outlives its result
            provenance = conn.execute("SELECT count(*) FROM ingestion.result_provenance").fetchone()
            assert provenance == (len(before),)
        clean_racing(conn, dry_run=False)
        if naming == "ef":
            assert conn.execute("SELECT count(*) FROM ingestion.result_provenance").fetchone() == (0,)


def test_provenance_a_new_release_dates_only_the_files_it_changed(store: Store, tmp_path: Path) -> None:
    """A result's release is the one its file has been as it is since: a later release (here v2025.24.3,
    the same files but 2023 Saudi Arabia's race results, where a time penalty is noted) moves the
    provenance of that file's rows only; every other row keeps v2025.24.2, so ``ingest diff`` between the
    two names those 20 rows (nothing else), and a store holding only one release dates every row by it."""
    later = Store(tmp_path / "snapshots")
    copy_store(store.root, later.root)
    release = later.f1db_release(AFTER)
    assert release is not None and release.tag == TAG
    saudi = "src/data/seasons/2023/races/02-saudi-arabia/race-results.yml"
    files = {path: later.read(address) for path, address in release.files.items()}
    files[saudi] = files[saudi].replace(b"  timePenalty:\n", b'  timePenalty: "5"\n', 1)
    with later.writer() as writer:
        writer.put_release(
            source=SOURCE, tag="v2025.24.3", files=files, received_at=datetime(2027, 1, 10, tzinfo=UTC),
            url="file:v2025.24.3", committed_at=datetime(2027, 1, 9, tzinfo=UTC),
        )
    before = replay(later, AFTER, results=True).racing
    after = replay(later, datetime(2027, 1, 31, tzinfo=UTC), results=True).racing
    versions = Counter(r.source_version for r in after.results if r.source == "f1db")
    assert versions["v2025.24.3"] == 20 and versions[TAG] > 1000 and len(versions) == 2
    moved = {r.source_path for r in after.results if r.source_version == "v2025.24.3"}
    assert moved == {saudi}
    (change,) = diff_racing(before, after).tables
    assert change.table == "results" and not change.added and not change.removed
    assert len(change.changed) == 20
    assert {c.column for row in change.changed for c in row.columns} == {"source_version"}
    assert {r.source_version for r in before.results if r.source == "f1db"} == {TAG}
