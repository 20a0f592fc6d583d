"""``db audit`` on a real database seeded with real OpenF1 rows (2024 Bahrain: testing and the Grand Prix).

``seed_racing`` is shared with the clean-racing and healthcheck tests: until replay lands, the racing rows are
plain INSERTs built from ``shared/openf1/world/2024``, nothing typed by hand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from naming_support import BOTH_NAMINGS

from ingestion.cli import main
from ingestion.config import PROJECT_ROOT
from ingestion.ops.audit import AuditReport, audit

Conn = psycopg.Connection[tuple[object, ...]]

NS = uuid.UUID("6f0c5c3e-1d0a-4e0b-9a57-2024b4a1a1a1")
MEETINGS = (1228, 1229)  # 2024 Pre-Season Testing and Bahrain Grand Prix (Sakhir)
RACE_KEY = 9472  # the 2024 Bahrain Grand Prix race
TYPE_OF_NAME = {
    "Practice 1": 0, "Practice 2": 1, "Practice 3": 2, "Qualifying": 3,
    "Sprint Qualifying": 4, "Sprint Shootout": 4, "Sprint": 5, "Race": 6,
}


def _id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(NS, "/".join(str(p) for p in parts))


def _slug(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def _load(world_dir: Path, endpoint: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads((world_dir / "2024" / f"{endpoint}.json").read_text("utf-8"))
    return rows


def _when(text: object) -> datetime:
    return datetime.fromisoformat(str(text))


class Seed:
    """Ids and counts of what :func:`seed_racing` inserted."""

    def __init__(self) -> None:
        self.rounds: dict[int, uuid.UUID] = {}
        self.sessions: dict[int, uuid.UUID] = {}
        self.drivers: dict[int, uuid.UUID] = {}
        self.entrants: dict[int, uuid.UUID] = {}
        self.driver_names: dict[int, tuple[str, str]] = {}
        self.counts: dict[str, int] = {}


def seed_racing(conn: Conn, world_dir: Path) -> Seed:
    """Insert 2024 Bahrain (testing + GP): sessions, the race's 20 drivers and teams, entrants, results."""
    seed = Seed()
    meetings = [m for m in _load(world_dir, "meetings") if m["meeting_key"] in MEETINGS]
    sessions = [s for s in _load(world_dir, "sessions") if s["meeting_key"] in MEETINGS]
    drivers = [d for d in _load(world_dir, "drivers") if d["session_key"] == RACE_KEY]
    results = [r for r in _load(world_dir, "session_result") if r["session_key"] == RACE_KEY]
    series_id, season_id = _id("series", "formula-1"), _id("season", 2024)
    conn.execute(
        "INSERT INTO series (id, name, slug, governing_body) VALUES (%s, 'Formula 1', 'formula-1', 'FIA')",
        (series_id,),
    )
    conn.execute("INSERT INTO seasons (id, series_id, year) VALUES (%s, %s, 2024)", (season_id, series_id))
    first = meetings[0]
    circuit_id = _id("circuit", first["circuit_key"])
    conn.execute(
        """INSERT INTO circuits (id, name, slug, location, country, country_code, open_f1_circuit_key)
           VALUES (%s, %s, %s, %s, %s, %s, %s)""",
        (circuit_id, first["circuit_short_name"], _slug(str(first["circuit_short_name"])), first["location"],
         first["country_name"], first["country_code"], first["circuit_key"]),
    )
    for number, meeting in enumerate(sorted(meetings, key=lambda m: str(m["date_start"]))):
        key = int(str(meeting["meeting_key"]))
        own = [s for s in sessions if s["meeting_key"] == key]
        round_id = seed.rounds[key] = _id("round", key)
        conn.execute(
            """INSERT INTO rounds (id, season_id, circuit_id, name, slug, round_number, date_start, date_end,
                                   open_f1_meeting_key) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (round_id, season_id, circuit_id, meeting["meeting_name"],
             f"2024-{_slug(str(meeting['meeting_name']))}", number, _when(meeting["date_start"]).date(),
             max(_when(s["date_end"]) for s in own).date(), key),
        )
        for s in own:
            session_key = int(str(s["session_key"]))
            seed.sessions[session_key] = _id("session", session_key)
            conn.execute(
                """INSERT INTO sessions (id, round_id, type, start_time_utc, status, open_f1_session_key)
                   VALUES (%s, %s, %s, %s, 2, %s)""",
                (seed.sessions[session_key], round_id, TYPE_OF_NAME[str(s["session_name"])],
                 _when(s["date_start"]), session_key),
            )
    gp = seed.rounds[1229]
    teams: dict[str, uuid.UUID] = {}
    for d in drivers:
        team = str(d["team_name"])
        if team not in teams:
            teams[team] = _id("team", team)
            conn.execute(
                "INSERT INTO teams (id, name, slug, primary_color) VALUES (%s, %s, %s, %s)",
                (teams[team], team, _slug(team), d["team_colour"]),
            )
        number = int(str(d["driver_number"]))
        first_name, last_name = str(d["first_name"]), str(d["last_name"])
        seed.driver_names[number] = (first_name, last_name)
        driver_id = seed.drivers[number] = _id("driver", first_name, last_name)
        conn.execute(
            """INSERT INTO drivers (id, first_name, last_name, slug, abbreviation, nationality, headshot_url,
                                    driver_number, open_f1_driver_number)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (driver_id, first_name, last_name, _slug(f"{first_name} {last_name}"), d["name_acronym"],
             d["country_code"], d["headshot_url"], number, number),
        )
        seed.entrants[number] = _id("entrant", gp, driver_id)
        conn.execute(
            "INSERT INTO entrants (id, round_id, driver_id, team_id, role) VALUES (%s, %s, %s, %s, 0)",
            (seed.entrants[number], gp, driver_id, teams[team]),
        )
    for r in results:
        number = int(str(r["driver_number"]))
        status = 3 if r["dsq"] else 2 if r["dns"] else 1 if r["dnf"] else 0
        conn.execute(
            """INSERT INTO results (id, session_id, entrant_id, position, status, points, laps, fastest_lap)
               VALUES (%s, %s, %s, %s, %s, %s, %s, false)""",
            (_id("result", RACE_KEY, number), seed.sessions[RACE_KEY], seed.entrants[number], r["position"],
             status, r.get("points"), r["number_of_laps"]),
        )
    set_provenance(conn, ("openf1", "0" * 64, f"session_result?session_key={RACE_KEY}"))
    seed.counts = racing_counts(conn)
    return seed


def set_provenance(conn: Conn, provenance: tuple[str, str, str]) -> None:
    """Every result's provenance (source, version, path), as a replay writes it: on ``results`` (ours), or in
    ``ingestion.result_provenance`` (the app's database, where the tests' ``results`` is a view)."""
    row = conn.execute("SELECT to_regclass('ingestion.result_provenance') IS NOT NULL").fetchone()
    if row is not None and row[0]:
        conn.execute("INSERT INTO ingestion.result_provenance SELECT id, %s, %s, %s FROM results", provenance)
    else:
        conn.execute("UPDATE results SET source = %s, source_version = %s, source_path = %s", provenance)


RACING = (
    "series", "seasons", "circuits", "rounds", "sessions", "drivers", "teams", "entrants", "results",
    "driver_aliases", "team_aliases", "circuit_aliases",
)


def racing_counts(conn: Conn) -> dict[str, int]:
    counts = {}
    for table in RACING:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        counts[table] = int(str(row[0]))
    return counts


def run_cli(argv: Sequence[str], db_url: str, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str], tmp_path: Path) -> tuple[int, str, str]:
    """Run ``ingest ARGV`` in-process against ``db_url``; return (exit code, stdout, stderr)."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SNAPSHOT_DIR", str(tmp_path / "snapshots"))
    monkeypatch.chdir(tmp_path)  # no stray .env
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0 if code is None else 1), out.out, out.err


def run_module(module: str, *args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m MODULE ARGS`` with ``env`` over the current environment, stdin not a terminal."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **env},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _checks(report: AuditReport) -> dict[str, str]:
    return {f.check: f.severity for f in report.findings}


@pytest.fixture
def seeded(conn: Conn, world_dir: Path) -> Seed:
    return seed_racing(conn, world_dir)


# --- the library ---------------------------------------------------------------------------------------

@BOTH_NAMINGS
def test_audit_clean_seed_has_no_findings(conn: Conn, seeded: Seed) -> None:
    """Real 2024 Bahrain rows, consistently seeded: no problem, no warning, every expected value present."""
    report = audit(conn, results=True)
    assert report.ok
    assert report.findings == (), report.findings
    assert all(n.nulls == 0 and n.rows > 0 for n in report.nulls)
    assert {(n.table, n.column) for n in report.nulls} >= {
        ("drivers", "abbreviation"), ("drivers", "headshot_url"), ("drivers", "driver_number"),
        ("teams", "primary_color"), ("sessions", "open_f1_session_key"),
    }


@BOTH_NAMINGS
def test_audit_season_summary_counts_the_season(conn: Conn, seeded: Seed) -> None:
    """The season summary counts rounds, sessions, entrants, drivers and results of 2024."""
    (season,) = audit(conn, results=True).seasons
    assert (season.series, season.year) == ("Formula 1", 2024)
    assert season.rounds == 2
    assert season.sessions == seeded.counts["sessions"] == 8  # 3 testing days + FP1-3, Q, R
    assert season.completed_sessions == 8
    assert season.entrants == season.drivers == 20
    assert season.results == seeded.counts["results"] == 20


@BOTH_NAMINGS
def test_audit_duplicate_driver_name_is_a_problem(conn: Conn, seeded: Seed) -> None:
    """A second driver row with the same first and last name (another slug) is an integrity problem."""
    first, last = seeded.driver_names[1]
    conn.execute(
        "INSERT INTO drivers (id, first_name, last_name, slug) VALUES (%s, %s, %s, 'max-verstappen-2')",
        (uuid.uuid4(), first.upper(), last),
    )
    report = audit(conn, results=True)
    assert not report.ok
    (finding,) = [f for f in report.problems if f.check == "duplicate_driver_name"]
    assert finding.count == 2
    assert any("Verstappen" in e for e in finding.examples)


@BOTH_NAMINGS
def test_audit_completed_race_without_results(conn: Conn, seeded: Seed) -> None:
    """A race completed long ago without results is a problem, within a day a warning; off: not checked."""
    conn.execute("DELETE FROM results")
    race_start = datetime(2024, 3, 2, 15, tzinfo=UTC)
    late = audit(conn, results=True, now=race_start + timedelta(days=30))
    assert _checks(late)["completed_race_without_results"] == "problem"
    (finding,) = [f for f in late.findings if f.check == "completed_race_without_results"]
    assert finding.examples == ("2024 Bahrain Grand Prix Race (session_key 9472)",)
    soon = audit(conn, results=True, now=race_start + timedelta(hours=3))
    assert "completed_race_without_results" not in _checks(soon)
    assert _checks(soon)["completed_race_results_pending"] == "warning"
    off = audit(conn, results=False, now=race_start + timedelta(days=30))
    assert off.ok and not off.results_checked
    assert not {"completed_race_without_results", "entrant_without_result"} & set(_checks(off))


@BOTH_NAMINGS
def test_audit_entrant_without_result_is_a_warning(conn: Conn, seeded: Seed) -> None:
    """A regular entrant missing from a race that has results is a warning, not a problem."""
    conn.execute("DELETE FROM results WHERE entrant_id = %s", (seeded.entrants[44],))
    report = audit(conn, results=True)
    assert report.ok
    (finding,) = [f for f in report.findings if f.check == "entrant_without_result"]
    assert finding.severity == "warning" and finding.count == 1
    assert "Hamilton" in finding.examples[0]


@BOTH_NAMINGS
def test_audit_nulls_where_values_are_expected(conn: Conn, seeded: Seed) -> None:
    """A null headshot and a null team colour show as shares and warnings, without failing the audit."""
    conn.execute("UPDATE drivers SET headshot_url = NULL WHERE id = %s", (seeded.drivers[1],))
    conn.execute("UPDATE teams SET primary_color = NULL WHERE name = 'Ferrari'")
    report = audit(conn, results=True)
    assert report.ok
    shares = {(n.table, n.column): n for n in report.nulls}
    assert (shares["drivers", "headshot_url"].nulls, shares["drivers", "headshot_url"].rows) == (1, 20)
    assert shares["drivers", "headshot_url"].share == pytest.approx(0.05)
    assert shares["teams", "primary_color"].nulls == 1
    messages = [f.message for f in report.warnings if f.check == "expected_value_null"]
    assert "drivers.headshot_url: 1 of 20 rows (5.0%) are null" in messages


@BOTH_NAMINGS
def test_audit_result_without_provenance_is_a_warning(conn: Conn, seeded: Seed, schema_naming: str) -> None:
    """A result that does not say where its classification came from (written by hand, or before migration
    0003) is a warning naming it, without failing the audit; ours keeps provenance on ``results``, the
    app's database in ``ingestion.result_provenance``."""
    result = _id("result", RACE_KEY, 1)
    if schema_naming == "ef":
        conn.execute("DELETE FROM ingestion.result_provenance WHERE result_id = %s", (result,))
    else:
        conn.execute("UPDATE results SET source = NULL WHERE id = %s", (result,))
    report = audit(conn, results=True)
    assert report.ok
    (finding,) = [f for f in report.findings if f.check == "result_without_provenance"]
    assert finding.severity == "warning" and finding.count == 1
    assert "Verstappen" in finding.examples[0] and "Race" in finding.examples[0]


@BOTH_NAMINGS
def test_audit_round_patterns(conn: Conn, seeded: Seed) -> None:
    """A GP without a Race, a repeated type, a lone Sprint, a Moto class, a sessionless round: warnings."""
    gp = seeded.rounds[1229]
    conn.execute("UPDATE sessions SET type = 5 WHERE open_f1_session_key = 9468")  # Qualifying -> Sprint
    conn.execute(
        "INSERT INTO sessions (id, round_id, type, start_time_utc, status) VALUES (%s, %s, 8, %s, 2)",
        (uuid.uuid4(), gp, datetime(2024, 3, 2, 12, tzinfo=UTC)),
    )
    conn.execute(
        """INSERT INTO rounds (id, season_id, circuit_id, name, slug, round_number, date_start, date_end)
           SELECT %s, season_id, circuit_id, 'Saudi Arabian Grand Prix', '2024-saudi', 2,
                  '2024-03-07', '2024-03-09'
           FROM rounds WHERE id = %s""",
        (uuid.uuid4(), gp),
    )
    conn.execute("UPDATE sessions SET type = 0 WHERE open_f1_session_key = 9466")  # FP2 stored as a 2nd FP1
    checks = _checks(audit(conn, results=False))  # the new Sprint has no results: not what this is about
    assert checks["sprint_without_pair"] == "warning"
    assert checks["session_type_not_f1"] == "warning"
    assert checks["round_without_sessions"] == "warning"
    assert checks["duplicate_session_type"] == "warning"
    conn.execute("DELETE FROM sessions WHERE round_id = %s AND type = 6", (gp,))
    report = audit(conn, results=False)
    assert _checks(report)["round_without_race"] == "warning"
    assert report.ok


@BOTH_NAMINGS
def test_audit_testing_round_with_a_race_is_flagged(conn: Conn, seeded: Seed) -> None:
    """A testing round holds practice sessions only; it needs no Race."""
    conn.execute(
        "UPDATE sessions SET type = 6 WHERE round_id = %s AND type = 2", (seeded.rounds[1228],)
    )
    checks = _checks(audit(conn, results=True))
    assert checks["testing_session_not_practice"] == "warning"
    assert "round_without_race" not in checks


@BOTH_NAMINGS
def test_audit_testing_round_is_the_one_numbered_0(conn: Conn, seeded: Seed) -> None:
    """A testing round is the round numbered 0 (the calendar's rule, as replay stores it), not a name with the
    letters "test" in it: a Grand Prix called "Greatest Show Grand Prix" without a Race is flagged, and a
    testing round named without the word is still testing."""
    gp, testing = seeded.rounds[1229], seeded.rounds[1228]
    conn.execute("UPDATE rounds SET name = 'Greatest Show Grand Prix' WHERE id = %s", (gp,))
    conn.execute("UPDATE rounds SET name = 'Pre-Season Track Days' WHERE id = %s", (testing,))
    conn.execute("DELETE FROM sessions WHERE round_id = %s AND type = 6", (gp,))
    report = audit(conn, results=False)
    (finding,) = [f for f in report.findings if f.check == "round_without_race"]
    assert finding.examples == ("2024 R1 Greatest Show Grand Prix",)
    assert "testing_session_not_practice" not in _checks(report)


@BOTH_NAMINGS
def test_audit_driver_number_shared_in_a_season(conn: Conn, seeded: Seed) -> None:
    """Two drivers of one season under the same number (in one round or in two) are a warning naming the
    season, the number and each driver once; the same number in another season is not."""
    conn.execute("UPDATE drivers SET driver_number = 1 WHERE id = %s", (seeded.drivers[11],))
    report = audit(conn, results=True)
    (finding,) = [f for f in report.findings if f.check == "driver_number_shared_in_season"]
    assert finding.severity == "warning" and finding.count == 2
    assert finding.examples == (
        "2024: #1 Max Verstappen (max-verstappen)", "2024: #1 Sergio Perez (sergio-perez)"
    )
    # Perez moved to the testing round only: no round has both, the season still does
    conn.execute("DELETE FROM results WHERE entrant_id = %s", (seeded.entrants[11],))
    conn.execute(
        "UPDATE entrants SET round_id = %s WHERE id = %s", (seeded.rounds[1228], seeded.entrants[11])
    )
    report = audit(conn, results=True)
    (finding,) = [f for f in report.findings if f.check == "driver_number_shared_in_season"]
    assert finding.count == 2
    # Perez in a 2025 round instead: different seasons share numbers legitimately
    conn.execute("INSERT INTO seasons (id, series_id, year) SELECT %s, series_id, 2025 FROM seasons",
                 (uuid.uuid4(),))
    conn.execute(
        """INSERT INTO rounds (id, season_id, circuit_id, name, slug, round_number, date_start, date_end)
           SELECT %s, (SELECT id FROM seasons WHERE year = 2025), circuit_id, name, '2025-bahrain', 1,
                  date_start + 365, date_end + 365 FROM rounds WHERE id = %s""",
        (round_2025 := uuid.uuid4(), seeded.rounds[1229]),
    )
    conn.execute("UPDATE entrants SET round_id = %s WHERE id = %s", (round_2025, seeded.entrants[11]))
    assert "driver_number_shared_in_season" not in _checks(audit(conn, results=True))


def test_audit_result_of_an_entrant_of_another_round(conn: Conn, seeded: Seed) -> None:
    """A result whose entrant belongs to another round than its session is an integrity problem."""
    conn.execute(
        "UPDATE entrants SET round_id = %s WHERE id = %s", (seeded.rounds[1228], seeded.entrants[4])
    )
    report = audit(conn, results=True)
    assert [f.check for f in report.problems] == ["result_round_mismatch"]


def test_audit_orphans_when_constraints_are_gone(conn: Conn, seeded: Seed) -> None:
    """With a foreign key dropped, a session whose round is missing is reported as an orphan."""
    conn.execute("ALTER TABLE sessions DROP CONSTRAINT sessions_round_id_fkey")
    conn.execute("DELETE FROM rounds WHERE id = %s", (seeded.rounds[1228],))
    report = audit(conn, results=True)
    (finding,) = [f for f in report.problems if f.check == "orphan_sessions_round_id"]
    assert finding.count == 3


@BOTH_NAMINGS
def test_audit_stale_statuses(conn: Conn, seeded: Seed) -> None:
    """A session still Scheduled a day after it started, or Completed before it starts, is a warning."""
    conn.execute("UPDATE sessions SET status = 0 WHERE open_f1_session_key = 9465")
    report = audit(conn, results=True, now=datetime(2024, 3, 1, 12, tzinfo=UTC))
    checks = _checks(report)
    assert checks["session_status_stale"] == "warning"
    assert checks["session_completed_in_future"] == "warning"


@BOTH_NAMINGS
def test_audit_empty_database_is_ok(conn: Conn) -> None:
    """A migrated database without racing rows has nothing wrong with it."""
    report = audit(conn, results=True)
    assert report.ok and report.seasons == () and report.findings == ()


# --- the command -----------------------------------------------------------------------------------------

@BOTH_NAMINGS
def test_audit_cli_exit_codes(
    db_url: str, seeded: Seed, conn: Conn, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    """`ingest db audit` exits 0 on a clean seed and 1 naming the duplicate driver once one is added."""
    code, out, _ = run_cli(["db", "audit"], db_url, monkeypatch, capsys, tmp_path)
    assert code == 0, out
    assert "Formula 1 2024: 2 rounds, 8 sessions (8 completed), 20 entrants, 20 drivers, 20 results" in out
    assert "drivers.headshot_url" in out and "audit: OK" in out
    conn.execute(
        "INSERT INTO drivers (id, first_name, last_name, slug) VALUES (%s, 'Lando', 'Norris', 'l-norris')",
        (uuid.uuid4(),),
    )
    code, out, _ = run_cli(["db", "audit"], db_url, monkeypatch, capsys, tmp_path)
    assert code == 1
    assert "PROBLEM [duplicate_driver_name]" in out and "Lando Norris (l-norris)" in out


@BOTH_NAMINGS
def test_audit_cli_json(
    db_url: str, seeded: Seed, conn: Conn, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    """`--json --no-results` prints the report as JSON, results checks skipped."""
    conn.execute("DELETE FROM results")
    code, out, _ = run_cli(["db", "audit", "--json", "--no-results"], db_url, monkeypatch, capsys, tmp_path)
    assert code == 0
    data = json.loads(out)
    assert data["ok"] is True and data["problems"] == 0 and data["results_checked"] is False
    assert data["seasons"][0]["year"] == 2024 and data["tables"]["sessions"] == 8


def test_audit_cli_not_migrated(
    empty_db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """On a never-migrated database the audit stops with one line telling to migrate."""
    code, _, err = run_cli(["db", "audit"], empty_db_url, monkeypatch, capsys, tmp_path)
    assert code == 1
    assert "ingest db migrate" in err and "Traceback" not in err


@BOTH_NAMINGS
def test_audit_python_m_ingestion_db_audit(db_url: str, seeded: Seed, conn: Conn, tmp_path: Path) -> None:
    """`python -m ingestion.db audit` runs as the team types it: exit 0, then 1 on a duplicate driver."""
    done = run_module("ingestion.db", "audit", env={"DATABASE_URL": db_url}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Formula 1 2024" in done.stdout
    conn.execute(
        "INSERT INTO drivers (id, first_name, last_name, slug) VALUES (%s, 'Max', 'Verstappen', 'mv')",
        (uuid.uuid4(),),
    )
    done = run_module("ingestion.db", "audit", env={"DATABASE_URL": db_url}, cwd=tmp_path)
    assert done.returncode == 1
    assert "duplicate_driver_name" in done.stdout


# --- on a database replayed from the real store ----------------------------------------------------------

@BOTH_NAMINGS
def test_audit_replayed_world_has_no_problem_and_follows_the_last_replays_results(
    db_url: str, conn: Conn, tmp_path: Path
) -> None:
    """2023-2024 replayed from the real store: no problem with results; replayed without results, the
    default audit skips the result checks (exit 0, as `sync --no-results` then `db audit` is typed), while
    asking for them finds every completed race without results."""
    from test_replay_support import AS_OF, world_store

    from ingestion.replay.run import run_replay

    store = world_store(tmp_path / "store")
    run_replay(db_url, store, AS_OF, results=True)
    full = audit(conn)
    assert full.ok and full.results_checked, full.problems
    assert [(s.year, s.rounds, s.results) for s in full.seasons] == [(2023, 23, 2171), (2024, 25, 2441)]
    assert "orphan_sessions_round_id" not in _checks(full)

    conn.execute("DELETE FROM results")
    run_replay(db_url, store, AS_OF, results=False)
    following = audit(conn)
    assert following.ok and not following.results_checked
    assert following.results_source == "as the last replay"
    asked = audit(conn, results=True)
    (missing,) = [f for f in asked.problems if f.check == "completed_race_without_results"]
    assert missing.count == 46 + 12  # every Race (22 + 24) and Sprint (6 + 6) of both seasons

    done = run_module("ingestion.db", "audit", env={"DATABASE_URL": db_url}, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "result checks skipped: the last replay ran without results" in done.stdout
    done = run_module("ingestion.db", "audit", "--results", env={"DATABASE_URL": db_url}, cwd=tmp_path)
    assert done.returncode == 1 and "PROBLEM [completed_race_without_results]" in done.stdout


def test_audit_nationality_openf1_never_gives_is_one_note_not_a_warning(conn: Conn, seeded: Seed) -> None:
    """drivers.nationality is null because OpenF1 has no such field: a note, said once, never a warning."""
    conn.execute("UPDATE drivers SET nationality = NULL")
    report = audit(conn, results=True)
    assert not [f for f in report.findings if "nationality" in f.message]
    assert report.notes == (
        "drivers.nationality is null for 20 of 20 rows: OpenF1 provides no nationality "
        "(fill it from another source if the app shows it)",
    )
    conn.execute("UPDATE drivers SET nationality = 'GBR'")
    assert audit(conn, results=True).notes == ()
