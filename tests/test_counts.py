"""The one per-season count query (``ingestion.ops.counts``), read by the report, ``db audit`` and ``ingest
bulk``: the same counts on both namings (ours and the app's EF Core tables)."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
from naming_support import BOTH_NAMINGS
from test_audit import seed_racing

from ingestion.ops.audit import audit
from ingestion.ops.bulk_sync import held
from ingestion.ops.counts import SeasonCounts, season_counts
from ingestion.ops.report import build_report

Conn = psycopg.Connection[tuple[object, ...]]

BAHRAIN_2024 = SeasonCounts(
    series="Formula 1", year=2024, rounds=2, grands_prix=1, testing=1, sessions=8, completed_sessions=8,
    entrants=20, drivers=20, results=20,
)  # fmt: skip
EMPTY_2023 = SeasonCounts(
    series="Formula 1", year=2023, rounds=0, grands_prix=0, testing=0, sessions=0, completed_sessions=0,
    entrants=0, drivers=0, results=0,
)  # fmt: skip


@BOTH_NAMINGS
def test_season_counts_same_on_both_namings_and_read_by_all_three(
    conn: Conn, db_url: str, world_dir: Path
) -> None:
    """2024 Bahrain seeded (testing as round 0, the Grand Prix as round 1) and an empty 2023 season: one
    row per season in year order, a year alone on request; the report, the audit and bulk's final table
    show the query's counts."""
    seed_racing(conn, world_dir)
    (series_id,) = conn.execute("SELECT id FROM series").fetchone() or (None,)
    conn.execute("INSERT INTO seasons (id, series_id, year) VALUES (%s, %s, 2023)", (uuid.uuid4(), series_id))
    conn.commit()

    assert season_counts(conn) == [EMPTY_2023, BAHRAIN_2024]
    assert season_counts(conn, year=2024) == [BAHRAIN_2024]
    assert season_counts(conn, year=2022) == []

    report = build_report(conn)
    assert [(s.year, s.grands_prix, s.testing, s.sessions, s.results) for s in report.seasons] == [
        (2023, 0, 0, 0, 0), (2024, 1, 1, 8, 20),
    ]  # fmt: skip
    assert audit(conn, results=True).seasons == (EMPTY_2023, BAHRAIN_2024)
    assert held(db_url, 2024) == (2, 8, 20)
    assert held(db_url, 2023) == (0, 0, 0)
