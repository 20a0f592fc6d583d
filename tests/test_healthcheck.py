"""``ingest healthcheck``: real databases (migrated, never migrated, unreachable), files, a local OpenF1."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from naming_support import BOTH_NAMINGS
from server_fixtures import ServerFactory
from test_audit import run_cli, run_module

from ingestion.config import Settings
from ingestion.ops.healthcheck import Check, exit_code, format_check, healthcheck
from ingestion.store import Request, Store

Conn = psycopg.Connection[tuple[object, ...]]
UNREACHABLE = "postgresql://postgres@127.0.0.1:1/postgres"  # port 1: refused at once


def _settings(database_url: str, tmp_path: Path, base_url: str = "http://127.0.0.1:1/v1") -> Settings:
    return Settings(
        database_url=database_url,
        openf1_base_url=base_url,
        snapshot_dir=tmp_path / "snapshots",
        pgdata_dir=tmp_path / "pgdata",
        sources=("openf1",),  # f1db's check: test_f1db_health (never GitHub)
        f1db_url="http://127.0.0.1:1/repos/f1db/f1db",
    )


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


#: The checks the app's own database adds: its migrations applied; the entrants index it lacks (a warning).
EF_CHECKS = {"snake": [], "ef": [("app", "ok"), ("entrants", "warn")]}


@BOTH_NAMINGS
def test_healthcheck_all_green_offline(db_url: str, tmp_path: Path, schema_naming: str) -> None:
    """A migrated database and a fresh snapshot dir: every check passes, OpenF1 skipped, probe removed; the
    database line names the naming found."""
    checks = healthcheck(_settings(db_url, tmp_path), offline=True)
    assert [(c.name, c.status) for c in checks] == [
        ("database", "ok"), ("migrations", "ok"), *EF_CHECKS[schema_naming], ("snapshots", "ok"),
        ("openf1", "skip"),
    ]
    assert exit_code(checks) == 0
    assert "PostgreSQL 1" in checks[0].message and f"naming {schema_naming}" in checks[0].message
    assert "0 events" in _by_name(checks)["snapshots"].message
    assert list((tmp_path / "snapshots" / "tmp").iterdir()) == []


def test_healthcheck_never_migrated_database(empty_db_url: str, tmp_path: Path) -> None:
    """A database never migrated fails the migrations check, with `ingest db migrate` as the fix."""
    checks = _by_name(healthcheck(_settings(empty_db_url, tmp_path), offline=True))
    assert checks["database"].status == "ok"
    assert checks["migrations"].status == "fail"
    assert "0001_racing_schema.sql" in checks["migrations"].message
    assert checks["migrations"].fix == "ingest db migrate"


def test_healthcheck_cli_never_migrated_prints_the_fix(
    empty_db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`ingest healthcheck --offline` on a never-migrated database exits 1 and prints `ingest db migrate`."""
    code, out, _ = run_cli(["healthcheck", "--offline"], empty_db_url, monkeypatch, capsys, tmp_path)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("OK   database")
    assert lines[1].startswith("FAIL migrations")
    assert "fix: ingest db migrate" in lines[2]


def test_healthcheck_missing_unique_index(conn: Conn, db_url: str, tmp_path: Path) -> None:
    """A required unique index dropped after migrating fails the check; the printed SQL restores it."""
    conn.execute("DROP INDEX ix_sessions_open_f1_session_key")
    check = _by_name(healthcheck(_settings(db_url, tmp_path), offline=True))["migrations"]
    assert check.status == "fail"
    assert "sessions.open_f1_session_key" in check.message
    assert check.fix is not None and check.fix.startswith('psql "$DATABASE_URL" -c "DROP INDEX IF EXISTS')
    assert "entrants" not in check.fix  # only what is missing
    conn.execute(check.fix.split(' -c "', 1)[1].rstrip('"'))
    assert _by_name(healthcheck(_settings(db_url, tmp_path), offline=True))["migrations"].status == "ok"


def test_healthcheck_invalid_unique_index_fix_replaces_it(conn: Conn, db_url: str, tmp_path: Path) -> None:
    """An invalid index left under the migration's name (a failed CREATE INDEX CONCURRENTLY) fails the check,
    and the printed SQL works anyway (a bare CREATE would say "already exists")."""
    conn.execute(
        "UPDATE pg_index SET indisvalid = false "
        "WHERE indexrelid = 'ix_entrants_round_id_driver_id_team_id'::regclass"
    )
    check = _by_name(healthcheck(_settings(db_url, tmp_path), offline=True))["migrations"]
    assert check.status == "fail" and "entrants (round_id, driver_id, team_id)" in check.message
    assert check.fix is not None
    conn.execute(check.fix.split(' -c "', 1)[1].rstrip('"'))
    assert _by_name(healthcheck(_settings(db_url, tmp_path), offline=True))["migrations"].status == "ok"


def test_healthcheck_index_fix_targets_the_embedded_server() -> None:
    """Without DATABASE_URL (the embedded server) the fix runs psql on the URL `ingest db url` prints."""
    from ingestion.ops.healthcheck import _index_fix

    fix = _index_fix(["sessions.open_f1_session_key"], embedded=True)
    assert fix.startswith('psql "$(ingest db url)" -c "DROP INDEX IF EXISTS ix_sessions_open_f1_session_key;')
    assert fix.endswith(
        'CREATE UNIQUE INDEX ix_sessions_open_f1_session_key ON sessions (open_f1_session_key);"'
    )


def test_healthcheck_unreachable_database(tmp_path: Path) -> None:
    """An unreachable DATABASE_URL fails the database line (and migrations), without raising."""
    checks = healthcheck(_settings(UNREACHABLE, tmp_path), offline=True)
    statuses = {c.name: c.status for c in checks}
    assert statuses == {"database": "fail", "migrations": "fail", "snapshots": "ok", "openf1": "skip"}
    assert "cannot reach the database" in checks[0].message
    assert exit_code(checks) == 1


def test_healthcheck_python_m_unreachable_database_exits_1(tmp_path: Path) -> None:
    """`python -m ingestion.healthcheck --offline` with an unreachable DATABASE_URL: a FAIL line, exit 1."""
    done = run_module(
        "ingestion.healthcheck", "--offline",
        env={"DATABASE_URL": UNREACHABLE, "SNAPSHOT_DIR": str(tmp_path / "s")}, cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("FAIL database")
    assert "Traceback" not in done.stderr


@BOTH_NAMINGS
def test_healthcheck_python_m_all_green(db_url: str, tmp_path: Path, schema_naming: str) -> None:
    """`python -m ingestion.healthcheck --offline` on a migrated database: one OK line per check, exit 0
    (on the app's database a WARN line, with its fix, does not fail it)."""
    done = run_module(
        "ingestion.healthcheck", "--offline",
        env={"DATABASE_URL": db_url, "SNAPSHOT_DIR": str(tmp_path / "s")}, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    marks = [line.split()[:2] for line in done.stdout.splitlines() if line.split()[0] != "fix:"]
    extra = [["OK", "app"], ["WARN", "entrants"]] if schema_naming == "ef" else []
    expected = [["OK", "database"], ["OK", "migrations"], *extra, ["OK", "snapshots"], ["SKIP", "openf1"]]
    assert marks == expected


def test_healthcheck_snapshot_dir_cannot_be_created(db_url: str, tmp_path: Path) -> None:
    """A snapshot dir that cannot be created (a file is in the way) fails the snapshots check."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings = Settings(database_url=db_url, snapshot_dir=blocker / "snapshots", pgdata_dir=tmp_path)
    check = _by_name(healthcheck(settings, offline=True))["snapshots"]
    assert check.status == "fail" and "cannot create" in check.message


def _one_event_store(root: Path) -> str:
    """A store at ``root`` with one stored answer (2024's sessions, empty); its run id."""
    with Store(root).writer() as writer:
        writer.put(
            Request.make("sessions", [("year", "2024")]), b"[]",
            url="https://api.openf1.org/v1/sessions?year=2024", status=200,
            received_at=datetime(2024, 12, 8, 12, tzinfo=UTC),
        )
        return writer.run


def test_healthcheck_snapshot_store_events_are_read(db_url: str, tmp_path: Path) -> None:
    """A store with an event passes and counts it; a corrupt log line fails the check, not the command."""
    run = _one_event_store(tmp_path / "snapshots")
    check = _by_name(healthcheck(_settings(db_url, tmp_path), offline=True))["snapshots"]
    assert check.status == "ok" and "1 events in 1 runs" in check.message
    with (tmp_path / "snapshots" / "log" / f"{run}.jsonl").open("a") as log:
        log.write("this is not an event\n")
    check = _by_name(healthcheck(_settings(db_url, tmp_path), offline=True))["snapshots"]
    assert check.status == "fail"
    assert "line 2 (damaged-line)" in check.message and check.fix == "ingest snapshots fsck --repair"


def test_healthcheck_snapshot_store_torn_tail_is_a_warning(db_url: str, tmp_path: Path) -> None:
    """A torn last line (a killed run) warns with the repair command; the complete events still count."""
    run = _one_event_store(tmp_path / "snapshots")
    with (tmp_path / "snapshots" / "log" / f"{run}.jsonl").open("a") as log:
        log.write('{"half an ev')
    check = _by_name(healthcheck(_settings(db_url, tmp_path), offline=True))["snapshots"]
    assert check.status == "warn" and check.passed
    assert "torn-line" in check.message and "1 events in 1 runs" in check.message
    assert check.fix == "ingest snapshots fsck --repair"


def test_healthcheck_openf1_reachable(
    db_url: str, tmp_path: Path, openf1_server: ServerFactory, world_dir: Path
) -> None:
    """A local OpenF1 stand-in answering /sessions?session_key=latest passes the OpenF1 check."""
    server = openf1_server(rows=[world_dir / "2024"])
    checks = healthcheck(_settings(db_url, tmp_path, server.base_url), offline=False)
    assert exit_code(checks) == 0
    openf1 = _by_name(checks)["openf1"]
    assert openf1.status == "ok" and server.base_url in openf1.message


def test_healthcheck_openf1_error_status_fails(
    db_url: str, tmp_path: Path, openf1_server: ServerFactory
) -> None:
    """OpenF1 answering 500 fails the check with the status; no retry (one cheap request)."""
    server = openf1_server(faults=["500:1"])
    checks = healthcheck(_settings(db_url, tmp_path, server.base_url), offline=False)
    openf1 = _by_name(checks)["openf1"]
    assert openf1.status == "fail" and "HTTP 500" in openf1.message
    assert exit_code(checks) == 1
    assert server.stats.requests == [("GET", "/v1/sessions?session_key=latest")]


def test_healthcheck_openf1_unreachable_and_slow(
    db_url: str, tmp_path: Path, openf1_server: ServerFactory
) -> None:
    """No server on the port, or one slower than the timeout: the check fails with a short message."""
    refused = _by_name(healthcheck(_settings(db_url, tmp_path), offline=False))["openf1"]
    assert refused.status == "fail" and "cannot reach" in refused.message
    server = openf1_server(faults=["slow:1"], slow_seconds=2.0)
    slow = _by_name(
        healthcheck(_settings(db_url, tmp_path, server.base_url), offline=False, openf1_timeout=0.2)
    )["openf1"]
    assert slow.status == "fail" and "did not answer within 0.2 s" in slow.message


def test_healthcheck_cli_json(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`--json` prints ok and every check with status, message and fix."""
    code, out, _ = run_cli(["healthcheck", "--offline", "--json"], db_url, monkeypatch, capsys, tmp_path)
    assert code == 0
    data = json.loads(out)
    assert data["ok"] is True
    assert [(c["name"], c["status"]) for c in data["checks"]] == [
        ("database", "ok"), ("migrations", "ok"), ("snapshots", "ok"), ("openf1", "skip"),
    ]


def test_healthcheck_format_marks() -> None:
    """ASCII marks when not on a terminal, ✓/✗ on one; a failed check with a fix gets a `fix:` line."""
    failed = Check("migrations", "fail", "1 pending: 0002_ingestion_keys.sql", "ingest db migrate")
    assert format_check(failed, ascii_only=True) == [
        "FAIL migrations 1 pending: 0002_ingestion_keys.sql",
        "                fix: ingest db migrate",
    ]
    assert format_check(failed, ascii_only=False)[0].startswith("✗ migrations")
    assert format_check(Check("database", "ok", "up"), ascii_only=False) == ["✓ database   up"]


def test_healthcheck_openf1_404_passes_only_as_no_results(
    db_url: str, tmp_path: Path, openf1_server: ServerFactory
) -> None:
    """OpenF1's 404 "No results found." (no session yet) passes; a 404 of a page that is not there (a wrong
    OPENF1_BASE_URL) fails with the fix, never "✓ ... answered HTTP 404"."""
    server = openf1_server()  # no rows: /v1/sessions answers "No results found."
    ok = _by_name(healthcheck(_settings(db_url, tmp_path, server.base_url), offline=True))
    found = _by_name(healthcheck(_settings(db_url, tmp_path, server.base_url), offline=False))["openf1"]
    assert found.status == "ok" and "No results found." in found.message and ok["openf1"].status == "skip"
    wrong = server.base_url.replace("/v1", "/v9")
    missing = _by_name(healthcheck(_settings(db_url, tmp_path, wrong), offline=False))["openf1"]
    assert missing.status == "fail" and "HTTP 404" in missing.message
    assert missing.fix is not None and "OPENF1_BASE_URL" in missing.fix


@pytest.mark.parametrize(
    "content", [b'{"pid": 1, "host": "h", "sta', b"\x89PNG garbage", b"\0" * 64, b"", b"[]", None]
)  # fmt: skip
def test_healthcheck_unreadable_watch_state_fails(tmp_path: Path, content: bytes | None) -> None:
    """A truncated, garbage, NUL-filled or empty watch.json (or one made a folder) fails the watch check:
    no pass can be vouched for; never "SKIP: no watcher has run"."""
    settings = _settings(UNREACHABLE, tmp_path)
    settings.snapshot_dir.mkdir()
    state = settings.snapshot_dir / "watch.json"
    if content is None:
        state.mkdir()
    else:
        state.write_bytes(content)
    watch = _by_name(healthcheck(settings, offline=True))["watch"]
    assert watch.status == "fail" and "watch.json is unreadable" in watch.message
    assert watch.fix is not None and "ingest watch --once" in watch.fix


def _f1db_watcher(tmp_path: Path, asked: datetime | None) -> Settings:
    """A store a watcher ran on with f1db among the sources, f1db last asked at ``asked`` (no calendar
    stored: its cadence is the weekly step)."""
    from msgspec import structs

    from ingestion.watch.state import WatchState, write_state

    settings = structs.replace(_settings(UNREACHABLE, tmp_path), sources=("openf1", "f1db"))
    settings.snapshot_dir.mkdir(parents=True)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    write_state(settings.snapshot_dir, WatchState(pid=1, host="h", started=start, last_success=start,
                                                  f1db_asked=asked))
    return settings


def test_healthcheck_f1db_watch_fails_on_an_overdue_step_and_passes_on_time(tmp_path: Path) -> None:
    """f1db last asked 8 days ago (its weekly step a day late, more than the 2 h margin): FAIL, one line
    saying when it was last asked and what was due. Asked a day ago: OK naming the next step. Without
    f1db among the sources the check is not there."""
    from datetime import timedelta

    from msgspec import structs

    from ingestion.ops.healthcheck import f1db_cadence_check

    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    late = f1db_cadence_check(_f1db_watcher(tmp_path / "late", now - timedelta(days=8)), now)
    assert late.status == "fail" and late.fix is not None and "ingest watch --once" in late.fix
    assert late.message == (
        "f1db last asked 2026-02-21T12:00:00Z (192.0 h ago); due since 2026-02-28T12:00:00Z "
        "(24.0 h, more than 2 h late): every 7 d"
    )
    settings = _f1db_watcher(tmp_path / "ok", now - timedelta(days=1))
    ok = f1db_cadence_check(settings, now)
    assert ok.status == "ok" and ok.message.endswith("next step 2026-03-07T12:00:00Z: every 7 d")
    never = f1db_cadence_check(_f1db_watcher(tmp_path / "never", None), now)
    assert never.status == "fail" and "never asked" in never.message
    listed = _by_name(healthcheck(_f1db_watcher(tmp_path / "listed", datetime.now(UTC)), offline=True))
    assert listed["f1db-watch"].status == "ok"
    alone = structs.replace(settings, sources=("openf1",))
    assert "f1db-watch" not in _by_name(healthcheck(alone, offline=True))
