"""``ingest watch`` end to end: the loop against ``ingest serve`` over the real 2024 rows, with the test
driving both clocks (the watcher's and the server's) and the sleep; no real sleeping."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import msgspec
import psycopg
import pytest
from server_fixtures import FAST, client_settings
from terminal_support import fits

from ingestion.config import Settings
from ingestion.fetch.plan import SETTLE
from ingestion.server import Dataset, RunningServer, ServerConfig, load_rows, start_server
from ingestion.server._time import shift_dataset
from ingestion.store import Store
from ingestion.store.commands import fsck
from ingestion.watch.events import WatchEvent, encode
from ingestion.watch.locks import WatchLocked
from ingestion.watch.loop import (
    StopFlag,
    WatchConfig,
    run_watch,
)
from ingestion.watch.plan import render_schedule, store_schedule, waiting_for
from ingestion.watch.schedule import WatchOptions
from ingestion.watch.state import read_state

ABU_DHABI = 1252
RACE = 9662  # 2024 Abu Dhabi Grand Prix, race: 13:00-15:00 UTC on 2024-12-08
RACE_END = datetime(2024, 12, 8, 15, 0, tzinfo=UTC)
Conn = psycopg.Connection[tuple[object, ...]]


class FakeClock:
    """The test's clock: the watcher, its answers' ``received_at`` and the server's live block read it."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += timedelta(seconds=seconds)


class RequestLog:
    """The server's log stream: every request with the test clock's time."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.lines: list[tuple[datetime, str]] = []

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                self.lines.append((self.clock(), line))
        return len(text)

    def flush(self) -> None:
        pass

    def paths(self, since: datetime | None = None) -> list[str]:
        return [line.split()[1] for at, line in self.lines if since is None or at >= since]


@pytest.fixture(scope="module")
def rows_2024(world_dir: Path) -> Dataset:
    return load_rows([world_dir / "2024"])



class JsonLines(list[dict[str, Any]]):
    """The watcher's events as ``ingest watch`` writes them (its JSON lines), read back."""

    def record(self, event: WatchEvent) -> None:
        self.append(json.loads(encode(event)))


@pytest.fixture
def served(rows_2024: Dataset) -> Iterator[Callable[..., tuple[RunningServer, RequestLog]]]:
    servers: list[RunningServer] = []

    def start(
        clock: FakeClock, dataset: Dataset | None = None, **config: Any
    ) -> tuple[RunningServer, RequestLog]:
        log = RequestLog(clock)
        server = start_server(
            dataset or rows_2024,
            ServerConfig(per_second=0, per_minute=0, live_block=True, **config),
            log=log,  # type: ignore[arg-type]
            wall=clock,
        )
        servers.append(server)
        return server, log

    yield start
    for server in servers:
        server.stop()


def _settings(tmp_path: Path, db_url: str, server: RunningServer) -> Settings:
    return client_settings(server, tmp_path / "store", database_url=db_url)


def _covered(paths: list[str]) -> set[tuple[str, int]]:
    """(endpoint, meeting key) of every per-meeting answer asked, batches (OR'd meeting keys) included."""
    covered: set[tuple[str, int]] = set()
    for path in paths:
        parts = urlsplit(path)
        endpoint = parts.path.rsplit("/", 1)[-1]
        covered |= {(endpoint, int(v)) for k, v in parse_qsl(parts.query) if k == "meeting_key"}
    return covered


def _positions(conn: Conn, session_key: int) -> dict[object, object]:
    rows = conn.execute(
        "SELECT r.entrant_id, r.position FROM results r JOIN sessions s ON s.id = r.session_id "
        "WHERE s.open_f1_session_key = %s",
        (session_key,),
    ).fetchall()
    conn.commit()
    return {row[0]: row[1] for row in rows}


def _count(conn: Conn, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    conn.commit()
    assert row is not None
    return int(str(row[0]))


# --- the server's clock -----------------------------------------------------------------------------------


def test_serve_live_block_answers_401_to_anonymous_requests_during_a_session(
    served: Callable[..., tuple[RunningServer, RequestLog]],
) -> None:
    clock = FakeClock(datetime(2024, 12, 8, 12, 40, tzinfo=UTC))  # 20 min before the race
    server, _ = served(clock, token_user="fan", token_password="pw")
    url = f"{server.base_url}/session_result"
    blocked = httpx.get(url, params={"session_key": RACE})
    assert blocked.status_code == 401 and "Session in progress" in blocked.json()["detail"]
    token = httpx.post(server.token_url, data={"username": "fan", "password": "pw"}).json()["access_token"]
    paid = httpx.get(url, params={"session_key": RACE}, headers={"Authorization": f"Bearer {token}"})
    assert paid.status_code == 200
    clock.advance(3 * 3600 - 9 * 60)  # 15:31: the race ended 31 min ago
    assert httpx.get(url, params={"session_key": RACE}).status_code == 200


def test_serve_shift_dataset_moves_dates_and_years(rows_2024: Dataset) -> None:
    delta = datetime(2026, 11, 30, 18, 0, tzinfo=UTC) - RACE_END - timedelta(hours=3)
    moved = shift_dataset(rows_2024, delta)
    race = next(r for r in moved.rows("sessions") or [] if r["session_key"] == RACE)
    assert race["date_end"] == "2026-11-30T15:00:00+00:00" and race["year"] == 2026
    meeting = next(r for r in moved.rows("meetings") or [] if r["meeting_key"] == ABU_DHABI)
    assert meeting["year"] == 2026
    assert (moved.rows("session_result") or [])[0] == (rows_2024.rows("session_result") or [])[0]


# --- one pass -------------------------------------------------------------------------------------------


def test_watch_once_after_a_race_fetches_the_season_replays_then_asks_nothing(
    tmp_path: Path, db_url: str, conn: Conn, served: Callable[..., tuple[RunningServer, RequestLog]]
) -> None:
    clock = FakeClock(RACE_END + timedelta(hours=3))
    server, requests = served(clock)
    settings = _settings(tmp_path, db_url, server)
    lines = JsonLines()
    config = WatchConfig(once=True, retry=FAST)
    assert run_watch(settings, config, log=lines.record, clock=clock) == 0
    asked = requests.paths()
    assert asked[:2] == ["/v1/meetings?year=2024", "/v1/sessions?year=2024"]
    meetings = {int(str(m["meeting_key"])) for m in server.dataset.rows("meetings") or []}
    endpoints = ("drivers", "session_result", "starting_grid")
    assert _covered(asked[2:]) == {(e, m) for e in endpoints for m in meetings}  # all 25 ended
    assert len(set(asked)) == len(asked) <= 2 + 3 * 25  # each asked once (settled ones batched if fetch does)
    # the 23 settled meetings in one batch per endpoint, Qatar and Abu Dhabi (not over for 14 days) one by one
    assert len(asked) == 2 + 3 + 3 * 2
    assert {"/v1/session_result?meeting_key=1252", "/v1/starting_grid?meeting_key=1252"} <= set(asked)
    assert [line["event"] for line in lines] == [
        "start", "wake", "fetched", "fetched", "replaying", "replayed", "done"
    ]
    assert _positions(conn, RACE)  # the race's results are in the database
    state = read_state(settings.snapshot_dir)
    assert state is not None and state.last_success == clock() and state.failures == 0
    assert run_watch(settings, config, log=lines.record, clock=clock) == 0
    assert len(requests.paths()) == len(asked)  # the second pass asks nothing
    assert fsck(Store(settings.snapshot_dir)) == []


def test_watch_once_no_results_never_asks_nor_writes_results(
    tmp_path: Path, db_url: str, conn: Conn, served: Callable[..., tuple[RunningServer, RequestLog]]
) -> None:
    clock = FakeClock(RACE_END + timedelta(hours=3))
    server, requests = served(clock)
    options = WatchOptions(results=False)
    code = run_watch(
        _settings(tmp_path, db_url, server), WatchConfig(once=True, retry=FAST, options=options),
        log=lambda _: None, clock=clock,
    )
    assert code == 0
    assert not [p for p in requests.paths() if "session_result" in p or "starting_grid" in p]
    assert _count(conn, "results") == 0 and _count(conn, "sessions") > 0


def test_watch_dry_run_prints_a_readable_schedule(
    tmp_path: Path, db_url: str, served: Callable[..., tuple[RunningServer, RequestLog]]
) -> None:
    clock = FakeClock(RACE_END - timedelta(days=4))
    server, requests = served(clock)
    settings = _settings(tmp_path, db_url, server)
    assert run_watch(settings, WatchConfig(once=True, retry=FAST), log=lambda _: None, clock=clock) == 0
    seen = len(requests.paths())
    plan, _ = store_schedule(Store(settings.snapshot_dir), WatchOptions(), RACE_END - timedelta(minutes=30))
    text = "\n".join(render_schedule(plan))
    assert requests.paths()[seen:] == []
    assert "closed until 2024-12-08T15:30:00Z: 2024 Abu Dhabi Grand Prix, Race is live" in text
    assert "due now: nothing" in text
    assert "2024-12-08T15:30:00Z" in text and "session_result?meeting_key=1252" in text
    assert "next wake-up: 2024-12-08T15:30:00Z (in 1 h 00 min)" in text
    assert waiting_for(plan) == "the end of 2024 Abu Dhabi Grand Prix, Race's live window"
    early = RACE_END - timedelta(days=3)  # the next step is days away: the longest sleep comes first
    assert waiting_for(store_schedule(Store(settings.snapshot_dir), WatchOptions(), early)[0]) == (
        "--max-sleep (nothing due sooner)"
    )
    after, _ = store_schedule(Store(settings.snapshot_dir), WatchOptions(max_sleep=timedelta(days=30)), early)
    assert after.closed is None and after.upcoming and after.next_wake == after.upcoming[0].at
    assert waiting_for(after) == f"{after.upcoming[0].key} ({after.upcoming[0].why})"


# --- a simulated race weekend ------------------------------------------------------------------------------


def _corrected(rows: Dataset) -> Dataset:
    """The race's P2 and P3 swapped (a post-race penalty), every other row as served."""
    tables = dict(rows.tables)
    result = []
    for row in tables["session_result"]:
        if row["session_key"] == RACE and row["position"] in (2, 3):
            row = {**row, "position": 5 - int(str(row["position"]))}
        result.append(row)
    tables["session_result"] = result
    return Dataset(tables)


@pytest.mark.slow
def test_watch_simulated_race_weekend(
    tmp_path: Path,
    db_url: str,
    conn: Conn,
    rows_2024: Dataset,
    served: Callable[..., tuple[RunningServer, RequestLog]],
) -> None:
    start = datetime(2024, 12, 3, 12, 0, tzinfo=UTC)  # the Tuesday before Abu Dhabi
    clock = FakeClock(start)
    server, requests = served(clock)
    settings = _settings(tmp_path, db_url, server)
    options = WatchOptions(max_sleep=timedelta(hours=6))
    correction_at = RACE_END + timedelta(days=2)
    stop_at = RACE_END + SETTLE + timedelta(days=5)
    stop = StopFlag()
    lines = JsonLines()
    before: dict[object, object] = {}

    def sleep(seconds: float) -> None:
        assert seconds > 0
        clock.advance(seconds)
        if not before and clock() >= correction_at:
            before.update(_positions(conn, RACE))  # what the database held before the correction
            server.replace_dataset(_corrected(rows_2024))
        if clock() >= stop_at:
            stop.set("SIGTERM")

    code = run_watch(
        settings, WatchConfig(options=options, retry=FAST),
        log=lines.record, clock=clock, sleep=sleep, stop=stop,
    )
    assert code == 0
    assert lines[-1]["event"] == "stopped"
    sessions = [r for r in rows_2024.rows("sessions") or [] if r["meeting_key"] == ABU_DHABI]
    windows = [
        (datetime.fromisoformat(str(s["date_start"])), datetime.fromisoformat(str(s["date_end"])))
        for s in sessions
    ]
    # none during sessions: no request at all while a session runs, and never a 401
    for at, _ in requests.lines:
        assert not any(a <= at <= b for a, b in windows), at
    assert not [line for _, line in requests.lines if " 401 " in line]
    # results after the race: when its window closes (end + 30 min)
    result_times = [at for at, line in requests.lines if "session_result?meeting_key=1252" in line]
    assert RACE_END + timedelta(minutes=30) in result_times
    assert [t for t in result_times if t > RACE_END] == [
        RACE_END + timedelta(minutes=30),
        RACE_END + timedelta(hours=1),
        RACE_END + timedelta(hours=6),
        RACE_END + timedelta(hours=24),
        RACE_END + timedelta(days=3),
        RACE_END + timedelta(days=7),
        RACE_END + SETTLE + timedelta(minutes=1),
    ]
    # the correction served two days later lands in the database (at the +3 d step)
    after_correction = _positions(conn, RACE)
    swapped = {entrant for entrant, position in before.items() if position in (2, 3)}
    assert len(swapped) == 2
    assert {e: after_correction[e] for e in swapped} == {e: 5 - int(str(before[e])) for e in swapped}
    assert {e: p for e, p in after_correction.items() if e not in swapped} == {
        e: p for e, p in before.items() if e not in swapped
    }
    replays = [line for line in lines if line["event"] == "replayed"]
    assert any(
        line["at"] == (RACE_END + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
        and "results" in line["tables"]
        for line in replays
    )
    # nothing after settlement: only the year lists (daily) once the meeting settled
    after = requests.paths(since=RACE_END + SETTLE + timedelta(minutes=2))
    assert after and set(after) <= {"/v1/meetings?year=2024", "/v1/sessions?year=2024"}
    assert len(after) <= 2 * 6  # every 24 h
    assert fsck(Store(settings.snapshot_dir)) == []
    state = read_state(settings.snapshot_dir)
    assert state is not None and state.failures == 0


def test_watch_errors_never_stop_it_and_back_off(
    tmp_path: Path, db_url: str, served: Callable[..., tuple[RunningServer, RequestLog]]
) -> None:
    clock = FakeClock(RACE_END + timedelta(hours=3))
    server, requests = served(clock)
    # OpenF1 down for three passes: two with both year lists failing every try, one with the first list
    server.fail_next("503", 5 * FAST.attempts)
    stop = StopFlag()
    sleeps: list[float] = []
    lines = JsonLines()

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)
        if len(sleeps) == 4:
            stop.set("SIGINT")

    settings = _settings(tmp_path, db_url, server)
    code = run_watch(settings, WatchConfig(retry=FAST), log=lines.record, clock=clock, sleep=sleep, stop=stop)
    assert code == 0
    errors = [line for line in lines if line["event"] == "error"]
    assert errors and errors[0]["status"] == 503
    assert sleeps[:3] == [60.0, 120.0, 240.0]  # back-off doubles after each failed pass
    waits = [line["waiting_for"] for line in lines if line["event"] == "sleep"]
    assert waits[:3] == ["a retry after the failed pass"] * 3
    state = read_state(settings.snapshot_dir)
    assert state is not None and state.failures == 0 and state.last_success is not None  # then recovered
    assert "/v1/session_result?meeting_key=1252" in requests.paths()


def test_watch_a_second_watcher_says_who_holds_the_store_and_exits_1(
    tmp_path: Path, db_url: str, served: Callable[..., tuple[RunningServer, RequestLog]],
    db_factory: Callable[[], str],
) -> None:
    clock = FakeClock(RACE_END + timedelta(hours=3))
    server, _ = served(clock)
    settings = _settings(tmp_path, db_url, server)
    stop = StopFlag()
    outcome: dict[str, Any] = {}

    def sleep(seconds: float) -> None:
        with pytest.raises(WatchLocked) as second:
            run_watch(settings, WatchConfig(once=True, retry=FAST), log=lambda _: None, clock=clock)
        outcome["error"] = second.value
        stop.set()

    run_watch(settings, WatchConfig(retry=FAST), log=lambda _: None, clock=clock, sleep=sleep, stop=stop)
    error = outcome["error"]
    assert error.exit_code == 1
    assert f"ingest watch pid {os.getpid()}" in str(error) and "another watcher" in str(error)
    other = msgspec.structs.replace(settings, snapshot_dir=tmp_path / "other")
    # A watcher of another database on the same server holds the same key first: advisory locks are per
    # database, so it neither blocks this one nor is named as its holder (two CI workers watched at once).
    elsewhere = psycopg.connect(db_factory(), autocommit=True, application_name="a watcher elsewhere")
    blocker = psycopg.connect(db_url, autocommit=True, application_name="the other watcher")
    try:
        elsewhere.execute("SELECT pg_advisory_lock(%s)", (0x0050_4657_4154_4348,))
        blocker.execute("SELECT pg_advisory_lock(%s)", (0x0050_4657_4154_4348,))
        with pytest.raises(WatchLocked, match="the other watcher"):
            run_watch(other, WatchConfig(once=True, retry=FAST), log=lambda _: None, clock=clock)
    finally:
        blocker.close()
        elsewhere.close()


# --- SIGTERM ------------------------------------------------------------------------------------------------


def _env(tmp_path: Path, db_url: str, server: RunningServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENF1_", "SNAPSHOT_", "DATABASE_"))}
    env.update(
        DATABASE_URL=db_url,
        OPENF1_BASE_URL=server.base_url,
        SNAPSHOT_DIR=str(tmp_path / "store"),
        OPENF1_RATE_PER_SECOND="1000",
        OPENF1_RATE_PER_MINUTE="100000",
    )
    return env


def _shifted(rows: Dataset, ago: timedelta) -> Dataset:
    """The 2024 rows moved so that Abu Dhabi's race ended ``ago`` before the real now."""
    return shift_dataset(rows, datetime.now(UTC) - ago - RACE_END)


def _watch_process(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ingestion", "watch", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.slow
def test_watch_process_once_against_a_season_shifted_to_now(
    tmp_path: Path, db_url: str, conn: Conn, rows_2024: Dataset,
    served: Callable[..., tuple[RunningServer, RequestLog]],
) -> None:
    clock = FakeClock(datetime.now(UTC))
    server, requests = served(clock, dataset=_shifted(rows_2024, timedelta(hours=3)))
    env = _env(tmp_path, db_url, server)
    first = _watch_process(env, "--once")
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    events = [json.loads(line)["event"] for line in out.splitlines()]
    assert events[-3:] == ["replaying", "replayed", "done"]
    year = datetime.now(UTC).year
    assert requests.paths()[:2] == [f"/v1/meetings?year={year}", f"/v1/sessions?year={year}"]
    assert "/v1/session_result?meeting_key=1252" in requests.paths()
    assert _positions(conn, RACE)
    seen = len(requests.paths())
    second = _watch_process(env, "--once")
    assert second.wait(timeout=120) == 0
    assert len(requests.paths()) == seen


def _stop_when(process: subprocess.Popen[str], event: str) -> list[dict[str, Any]]:
    assert process.stdout is not None
    seen: list[dict[str, Any]] = []
    for line in process.stdout:
        seen.append(json.loads(line))
        if seen[-1]["event"] == event:
            process.send_signal(signal.SIGTERM)
            break
    return seen


def test_watch_sigterm_during_a_fetch_exits_0_and_keeps_the_store_whole(
    tmp_path: Path, db_url: str, conn: Conn, rows_2024: Dataset,
    served: Callable[..., tuple[RunningServer, RequestLog]],
) -> None:
    clock = FakeClock(datetime.now(UTC))
    server, requests = served(clock, dataset=_shifted(rows_2024, timedelta(hours=3)), slow_seconds=30)
    server.fail_at("slow", 5)  # the fifth request hangs: the watcher is inside a fetch
    process = _watch_process(_env(tmp_path, db_url, server))
    deadline = datetime.now(UTC) + timedelta(seconds=60)
    while len(requests.lines) < 4 and datetime.now(UTC) < deadline:
        threading.Event().wait(0.05)
    assert len(requests.lines) == 4  # the fifth is recorded once answered: it is in flight
    threading.Event().wait(0.5)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    last = json.loads(out.splitlines()[-1])
    assert last["event"] == "stopped" and last["signal"] == "SIGTERM"
    store = Store(tmp_path / "store")
    assert fsck(store) == []
    assert 2 <= len(store.latest()) < 77
    assert _count(conn, "sessions") == 0  # the replay never started: the database is untouched


def test_watch_sigterm_during_a_replay_exits_0_and_the_database_is_all_or_nothing(
    tmp_path: Path, db_url: str, conn: Conn, rows_2024: Dataset,
    served: Callable[..., tuple[RunningServer, RequestLog]],
) -> None:
    clock = FakeClock(datetime.now(UTC))
    server, _ = served(clock, dataset=_shifted(rows_2024, timedelta(hours=3)))
    process = _watch_process(_env(tmp_path, db_url, server))
    seen = _stop_when(process, "replaying")
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    tail = [json.loads(line) for line in out.splitlines()]
    assert (seen + tail)[-1]["event"] == "stopped"
    assert fsck(Store(tmp_path / "store")) == []
    sessions, results = _count(conn, "sessions"), _count(conn, "results")
    if any(line["event"] == "replayed" for line in tail):
        assert sessions > 0 and results > 0  # it finished before the signal: everything
    else:
        assert sessions == 0 and results == 0  # abandoned: nothing


# --- the healthcheck ----------------------------------------------------------------------------------------


def test_healthcheck_reports_the_last_watch_pass_and_fails_when_it_is_too_old(
    tmp_path: Path, db_url: str, served: Callable[..., tuple[RunningServer, RequestLog]]
) -> None:
    from ingestion.ops.healthcheck import healthcheck, watch_check

    clock = FakeClock(RACE_END + timedelta(hours=3))
    server, _ = served(clock)
    settings = _settings(tmp_path, db_url, server)
    assert "watch" not in [c.name for c in healthcheck(settings, offline=True)]  # no watcher ran here
    assert watch_check(settings).status == "skip"
    assert run_watch(settings, WatchConfig(once=True, retry=FAST), log=lambda _: None, clock=clock) == 0
    fresh = watch_check(settings, now=clock() + timedelta(minutes=90))
    assert fresh.status == "ok" and "last successful pass 2024-12-08T18:00:00Z (90 min ago)" in fresh.message
    stale = watch_check(settings, now=clock() + timedelta(hours=2, minutes=1))
    assert stale.status == "fail" and "older than 120 min" in stale.message
    assert stale.fix == "ingest watch --once"
    assert [c.name for c in healthcheck(settings, offline=True)][-2:] == ["watch", "openf1"]


def test_watch_a_live_401_waits_for_the_window_instead_of_retrying(
    tmp_path: Path, db_url: str, served: Callable[..., tuple[RunningServer, RequestLog]]
) -> None:
    clock = FakeClock(RACE_END + timedelta(hours=3))
    server, requests = served(clock)
    server.fail_next("401", 1)  # a session the store does not know about is live
    settings = _settings(tmp_path, db_url, server)
    assert run_watch(settings, WatchConfig(once=True, retry=FAST), log=lambda _: None, clock=clock) == 3
    assert requests.paths() == ["/v1/meetings?year=2024"]  # stopped at the 401, nothing else asked
    stop = StopFlag()
    lines = JsonLines()
    server.fail_next("401", 1)

    def sleep(seconds: float) -> None:
        clock.advance(seconds)
        if len([line for line in lines if line["event"] == "sleep"]) == 3:
            stop.set()

    run_watch(settings, WatchConfig(retry=FAST), log=lines.record, clock=clock, sleep=sleep, stop=stop)
    blocked = next(line for line in lines if line["event"] == "blocked")
    assert blocked["until"] == (RACE_END + timedelta(hours=3, minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    sleeps = [line for line in lines if line["event"] == "sleep"]
    assert sleeps[0]["until"] == blocked["until"]  # one wait until the window is over, no retry loop
    assert requests.paths()[:3] == ["/v1/meetings?year=2024"] * 3
    rest = requests.paths()[3:]
    assert rest[0] == "/v1/sessions?year=2024" and len(set(rest)) == len(rest)  # then each request once
    assert ("session_result", ABU_DHABI) in _covered(rest)


def test_watch_database_lock_is_taken_again_after_the_session_is_lost(db_url: str) -> None:
    from ingestion.watch.locks import DatabaseLock

    lock = DatabaseLock(db_url)
    lock.take()
    admin = psycopg.connect(db_url, autocommit=True)
    try:
        pid = lock.conn.info.backend_pid
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))  # the server restarted under the watcher
        lock.take()
        assert lock.conn.info.backend_pid != pid
        held = admin.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = %s",
            (lock.conn.info.backend_pid,),
        ).fetchone()
        assert held == (1,)
    finally:
        lock.release()
        admin.close()


# --- the command -----------------------------------------------------------------------------------------


def _ingest(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingestion", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_watch_command_bad_options_exit_2_before_anything(
    tmp_path: Path, db_url: str, served: Callable[..., tuple[RunningServer, RequestLog]]
) -> None:
    server, requests = served(FakeClock(datetime.now(UTC)))
    env = _env(tmp_path, db_url, server)
    for args, message in (
        (("--delay", "-1"), "--delay must be 0 or more minutes"),
        (("--max-sleep", "0"), "--max-sleep must be a positive number of minutes"),
        (("--now", "2024-12-08"), "--now only goes with --dry-run"),
    ):
        done = _ingest(env, "watch", *args)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
    bad = _ingest({**env, "OPENF1_RATE_PER_SECOND": "fast"}, "watch", "--once")
    assert bad.returncode == 2 and "OPENF1_RATE_PER_SECOND" in bad.stderr
    assert requests.paths() == []


def test_watch_command_dry_run_prints_the_schedule_and_asks_nothing(
    tmp_path: Path, db_url: str, served: Callable[..., tuple[RunningServer, RequestLog]]
) -> None:
    server, requests = served(FakeClock(datetime.now(UTC)))
    done = _ingest(_env(tmp_path, db_url, server), "watch", "--dry-run", "--now", "2024-12-08T14:30:00Z")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [  # an empty store: the year lists first
        "watch schedule at 2024-12-08T14:30:00Z (seasons 2024)",
        "due now: 2 request(s)",
        "  meetings?year=2024                   missing",
        "  sessions?year=2024                   missing",
        "  (the meetings of a season are scheduled once its year lists are stored)",
        "next wake-up: 2024-12-08T15:30:00Z (in 1 h 00 min)",
    ]
    assert requests.paths() == []


def test_watch_database_down_is_logged_and_retried_not_fatal(
    tmp_path: Path, db_url: str, conn: Conn, served: Callable[..., tuple[RunningServer, RequestLog]]
) -> None:
    clock = FakeClock(RACE_END + timedelta(hours=3))
    server, requests = served(clock)
    settings = _settings(tmp_path, db_url, server)
    gone = db_url.rsplit("/", 1)[0] + "/pf_no_such_database"
    lines = JsonLines()
    once = WatchConfig(once=True, retry=FAST)
    assert run_watch(settings, once, log=lines.record, clock=clock, database=gone) == 1
    errors = [line for line in lines if line["event"] == "error"]
    assert [e["stage"] for e in errors] == ["start", "pass"] and "pf_no_such_database" in errors[-1]["reason"]
    assert requests.paths() == []  # nothing fetched for a database this watcher could not lock
    state = read_state(settings.snapshot_dir)
    assert state is not None and state.failures == 1 and state.last_success is None
    assert run_watch(settings, once, log=lines.record, clock=clock) == 0  # the database is back
    assert _positions(conn, RACE)
    state = read_state(settings.snapshot_dir)
    assert state is not None and state.failures == 0 and state.last_success == clock()
    success = clock()
    clock.advance(900)
    assert run_watch(settings, once, log=lines.record, clock=clock, database=gone) == 1  # down again
    state = read_state(settings.snapshot_dir)
    assert state is not None and state.failures == 1 and state.last_success == success  # kept for healthcheck


def _on_a_terminal(env: dict[str, str], *args: str) -> tuple[int, str]:
    """`ingest watch ARGS` with its stdout on a terminal (a pty); its exit code and what the terminal got."""
    main, other = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "ingestion", "watch", *args], env={**env, "COLUMNS": "80"},
        stdout=other, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(other)
    chunks = []
    with contextlib.suppress(OSError):  # EIO once the child has gone
        while chunk := os.read(main, 65536):
            chunks.append(chunk)
    os.close(main)
    return process.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def test_watch_on_a_terminal_prints_short_lines_and_json_only_when_asked(
    tmp_path: Path, db_url: str, world_2024_server: RunningServer
) -> None:
    """On a terminal `ingest watch` prints a short human line per action (what it asked, the replay, the
    end), no JSON; `--json` gives the JSON lines there too."""
    env = _env(tmp_path, db_url, world_2024_server)
    code, shown = _on_a_terminal(env, "--once")
    assert code == 0, shown
    lines = shown.splitlines()
    assert lines and not any(line.lstrip().startswith("{") for line in lines), shown
    assert any(" asked " in line for line in lines) and lines[-1].endswith("done: exit 0")
    assert [line for line in lines if not fits(line)] == []  # a long store path may stand alone
    code, shown = _on_a_terminal(env, "--once", "--json")
    assert code == 0
    assert [json.loads(line)["event"] for line in shown.splitlines()][-1] == "done"
