"""Fetch repairs the store and does not trust what cannot be true: false empty answers are asked again
(bounded, with a warning), missing or corrupt blobs are asked again without --refresh, a second fetch plans
under the store's lock, and a lock wait is said and bounded (--wait)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from server_fixtures import FAST, client_settings

from ingestion.cli import main
from ingestion.config import Settings
from ingestion.fetch import FetchOptions, fetch
from ingestion.fetch.plan import (
    PlannedRequest,
    Rowless,
    Season,
    Stored,
    decode_meetings,
    decode_sessions,
    expects_rows,
    plan_meetings,
)
from ingestion.server import RunningServer
from ingestion.store import Event, Request, Store, address_of
from ingestion.store import commands as ops
from ingestion.store.coverage import units_of

PER_SECOND, PER_MINUTE = 200.0, 6000
NOW = datetime(2025, 6, 1, tzinfo=UTC)  # 2024 is over and settled
NO_RESULTS = b'{"detail":"No results found."}'

ServerFactory = Callable[..., RunningServer]


def _settings(server: RunningServer, store: Path) -> Settings:
    return client_settings(server, store, per_second=PER_SECOND, per_minute=PER_MINUTE)


def _options(**changes: object) -> FetchOptions:
    """One request per meeting (faults land on a chosen meeting's GET); batches: test_fetch_batch.py."""
    base = FetchOptions(years=(2024,), retry=FAST, batch=False, revalidate_days=None)
    return msgspec.structs.replace(base, **changes)


@pytest.fixture
def season(world_dir: Path) -> Season:
    return Season(
        2024,
        decode_meetings((world_dir / "2024" / "meetings.json").read_bytes()),
        decode_sessions((world_dir / "2024" / "sessions.json").read_bytes()),
    )


@pytest.fixture
def server(openf1_server: ServerFactory, world_dir: Path) -> RunningServer:
    return openf1_server(rows=[world_dir / "2024"], per_second=PER_SECOND, per_minute=PER_MINUTE)


@pytest.fixture(scope="module")
def complete_2024(tmp_path_factory: pytest.TempPathFactory, world_dir: Path) -> Path:
    """A complete, settled 2024 store fetched once from a healthy server (tests that change it copy it)."""
    from ingestion.server import Dataset, ServerConfig, load_rows, start_server

    root = tmp_path_factory.mktemp("complete") / "store"
    running = start_server(
        Dataset().merged(load_rows([world_dir / "2024"])),
        ServerConfig(per_second=PER_SECOND, per_minute=PER_MINUTE),
    )
    try:
        summary = fetch(_settings(running, root), _options(), NOW)
    finally:
        running.stop()
    assert summary.exit_code == 0 and summary.requests == 77
    return root


def _copy(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target)
    return target


def _statuses(root: Path) -> dict[str, tuple[int, str]]:
    return {key: (e.status, e.address) for key, e in Store(root).latest().items()}


# --- false empty answers ------------------------------------------------------------------------------


def test_expects_rows_follows_the_ended_sessions(season: Season) -> None:
    """Testing (practice only) must have drivers but no grid; a Grand Prix weekend must have all three;
    a meeting before its first session ended must have nothing yet."""
    by_meeting: dict[int, list[object]] = {}
    for s in season.sessions:
        by_meeting.setdefault(s.meeting_key, []).append(s)
    testing, bahrain = by_meeting[1228], by_meeting[1229]
    assert [expects_rows(e, testing, NOW) for e in ("drivers", "session_result", "starting_grid")] == [
        True,
        False,
        False,
    ]
    assert all(expects_rows(e, bahrain, NOW) for e in ("drivers", "session_result", "starting_grid"))
    first_end = min(s.date_end for s in bahrain if s.date_end is not None)
    assert not expects_rows("drivers", bahrain, first_end - timedelta(minutes=1))


def test_plan_asks_again_a_stored_empty_answer_that_cannot_be_true(season: Season) -> None:
    """A settled 404 for drivers of a meeting whose sessions ended is a gap: never settled, planned again
    (reason empty, one ask) on its back-off: 1 h after the first run that stored it, 6 h after the second,
    24 h after the third, then every REVALIDATE_DAYS; never taken as true. A 404 that can be true
    (testing's grid) stays settled."""
    late = datetime(2025, 5, 1, tzinfo=UTC)

    def event(key: str, run: str = "r", when: datetime = late) -> Event:
        endpoint, _, query = key.partition("?")
        return Event(
            run=run, seq=0, endpoint=endpoint, query=query, url=key, status=404, received_at=when,
            address=address_of(NO_RESULTS), size=len(NO_RESULTS),
        )

    keys = ("drivers?meeting_key=1229", "starting_grid?meeting_key=1228", "drivers?meeting_key=1228")
    latest = {key: event(key) for key in keys}
    units = {key: units_of(*key.split("?"))[0] for key in keys}
    stored = Stored(rowless={units[k]: Rowless((latest[k],)) for k in keys})
    def planned(options: FetchOptions, now: datetime, stored: Stored) -> dict[str, PlannedRequest]:
        return {p.key: p for p in plan_meetings(latest, [season], options, now, stored) if p.key in keys}

    assert planned(_options(), late + timedelta(minutes=59), stored) == {}
    due = planned(_options(), late + timedelta(hours=1), stored)
    assert {k: p.reason for k, p in due.items()} == {
        "drivers?meeting_key=1229": "empty",
        "drivers?meeting_key=1228": "empty",
    }
    assert {p.attempts for p in due.values()} == {1}
    key = "drivers?meeting_key=1229"
    for runs, wait in ((2, 6), (3, 24), (4, 30 * 24), (9, 30 * 24)):
        streak = tuple(event(key, f"r{n}", late - timedelta(hours=n)) for n in range(runs))
        again = Stored(rowless={units[key]: Rowless(streak)})
        options = _options(revalidate_days=30)
        assert key not in planned(options, late + timedelta(hours=wait, seconds=-1), again)
        assert planned(options, late + timedelta(hours=wait), again)[key].reason == "empty"


def test_fetch_false_empty_answers_are_asked_again_and_never_stored(
    openf1_server: ServerFactory, world_dir: Path, tmp_path: Path, complete_2024: Path
) -> None:
    """Through a server answering a false "No results found." to every 4th GET, fetch asks those again and
    ends with exactly the store a healthy server gives (the one true empty answer: testing's grid)."""
    server = openf1_server(
        rows=[world_dir / "2024"], per_second=PER_SECOND, per_minute=PER_MINUTE, faults=["empty:4"]
    )
    root = tmp_path / "store"
    summary = fetch(_settings(server, root), _options(), NOW)
    assert summary.exit_code == 0 and summary.warnings == []
    assert summary.reasked_empty > 0
    healthy, got = _statuses(complete_2024), _statuses(root)
    assert [k for k, (status, _) in healthy.items() if status == 404] == ["starting_grid?meeting_key=1228"]
    assert got.keys() == healthy.keys()
    # the only answers that may differ are empty ones that can be true: testing (1228) has no qualifying
    # or race, so its session_result may honestly be empty; every other answer is the healthy one
    differ = {k for k in healthy if got[k] != healthy[k]}
    assert differ <= {"session_result?meeting_key=1228"}
    assert all(got[k][0] == 404 for k in differ)


def test_fetch_empty_after_every_attempt_is_stored_with_a_warning_and_asked_next_run(
    server: RunningServer, tmp_path: Path
) -> None:
    """A meeting's drivers answered empty on every attempt of a run: stored as empty with a warning naming
    it, a gap: asked again by the next fetch after its back-off (1 h; right away it asks nothing), whose
    healthy answer then settles it."""
    root = tmp_path / "store"
    server.fail_at("empty", 3, 4, 5)  # GETs 1-2 are the year lists; 3 is testing's drivers, then 2 re-asks
    summary = fetch(_settings(server, root), _options(), NOW)
    assert summary.exit_code == 0
    (warning,) = summary.warnings
    assert warning.startswith('drivers?meeting_key=1228 answered "No results found." 3 time(s)')
    assert Store(root).latest()["drivers?meeting_key=1228"].status == 404
    server.reset_stats()
    wall = datetime.now(UTC)
    assert fetch(_settings(server, root), _options(), wall).requests == 0
    again = fetch(_settings(server, root), _options(), wall + timedelta(hours=1, minutes=1))
    assert (again.requests, again.warnings, again.exit_code) == (1, [], 0)
    assert Store(root).latest()["drivers?meeting_key=1228"].status == 200


# --- missing or corrupt blobs ---------------------------------------------------------------------------


def test_fetch_asks_again_a_request_whose_blob_is_missing(
    server: RunningServer, tmp_path: Path, complete_2024: Path
) -> None:
    """A deleted result blob is asked again by a plain fetch (1 request, not 77), and fsck is clean after."""
    root = _copy(complete_2024, tmp_path / "store")
    event = Store(root).latest()["session_result?meeting_key=1229"]
    Store(root).blob_path(event.address).unlink()
    summary = fetch(_settings(server, root), _options(), NOW)
    assert (summary.requests, summary.exit_code) == (1, 0)
    assert ops.fsck(Store(root)) == []
    want = {**_statuses(complete_2024), "session_result?meeting_key=1229": (200, event.address)}
    assert _statuses(root) == want


@pytest.mark.parametrize("damage", ["delete", "flip"])
def test_fetch_asks_again_a_year_list_whose_blob_is_missing_or_corrupt(
    server: RunningServer, tmp_path: Path, complete_2024: Path, damage: str
) -> None:
    """A missing or corrupt meetings?year=2024 blob no longer stops fetch: it is asked again (and only
    it), the blob is rewritten whole, and fsck is clean."""
    root = _copy(complete_2024, tmp_path / "store")
    store = Store(root)
    path = store.blob_path(store.latest()["meetings?year=2024"].address)
    if damage == "delete":
        path.unlink()
    else:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x10
        path.write_bytes(bytes(data))
    assert ops.fsck(Store(root)) != []
    summary = fetch(_settings(server, root), _options(), NOW)
    assert (summary.requests, summary.exit_code) == (1, 0), summary.failed
    assert ops.fsck(Store(root)) == []
    refresh = fetch(_settings(server, root), _options(refresh=True), NOW)
    assert refresh.exit_code == 0


def _age_blobs(root: Path, seconds: float = 3600) -> None:
    """Make every blob file look written ``seconds`` ago (fresh files are never remembered as verified)."""
    import os
    import time

    past = time.time() - seconds
    for path in (root / "objects").rglob("*"):
        if path.is_file():
            os.utime(path, (past, past))


def test_settled_fetch_plans_from_the_log_and_a_stat_per_blob(
    server: RunningServer, tmp_path: Path, complete_2024: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a fetch has verified the blobs (cache/checked.json), the next settled fetch reads none of the
    per-meeting blobs again: only the year lists it decodes; it asks nothing."""
    root = _copy(complete_2024, tmp_path / "store")
    _age_blobs(root)
    assert fetch(_settings(server, root), _options(), NOW).requests == 0
    checked = msgspec.json.decode((root / "cache" / "checked.json").read_bytes())
    assert {f"{e.run}#{e.seq}" for e in Store(root).latest().values()} <= set(checked)
    read: list[str] = []
    real = Store.read

    def counting(self: Store, address: str) -> bytes:
        read.append(address)
        return real(self, address)

    monkeypatch.setattr(Store, "read", counting)
    assert fetch(_settings(server, root), _options(), NOW).requests == 0
    lists = {e.address for k, e in Store(root).latest().items() if "?year=" in k}
    assert set(read) <= lists


def test_fetch_asks_again_a_blob_damaged_after_it_was_remembered_as_verified(
    server: RunningServer, tmp_path: Path, complete_2024: Path
) -> None:
    """A bit flipped in a result blob after a fetch verified it (and remembered so) changes the file's
    stamp: the next fetch checks it in full, finds it corrupt and asks that request again (1 request)."""
    root = _copy(complete_2024, tmp_path / "store")
    _age_blobs(root)
    assert fetch(_settings(server, root), _options(), NOW).requests == 0
    event = Store(root).latest()["session_result?meeting_key=1229"]
    path = Store(root).blob_path(event.address)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    summary = fetch(_settings(server, root), _options(), NOW)
    assert (summary.requests, summary.exit_code) == (1, 0)
    assert ops.fsck(Store(root)) == []


def test_settled_fetch_imports_no_http_client(tmp_path: Path, complete_2024: Path) -> None:
    """A fetch that asks nothing (a settled store) never imports httpx, nor pydantic (start-up time)."""
    import subprocess
    import sys

    root = _copy(complete_2024, tmp_path / "store")
    code = (
        "import sys; from ingestion.cli import main\n"
        "try:\n    main(['fetch', '--year', '2024', '--store', sys.argv[1]])\nexcept SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print(sorted(m for m in ('httpx', 'httpcore', 'pydantic') if m in sys.modules))"
    )
    env = {
        "PATH": "/usr/bin:/bin", "OPENF1_BASE_URL": "http://127.0.0.1:9/v1", "REVALIDATE_DAYS": "100000",
        "SOURCES": "openf1", "F1DB_URL": "http://127.0.0.1:9/repos/f1db/f1db",  # f1db asks (httpx)
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", code, str(root)], capture_output=True, text=True, env=env, check=True
    )
    assert "fetch 2024: nothing to ask, every request is stored and settled" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout[-500:]


def test_fetch_after_repair_asks_what_the_torn_tail_lost(
    server: RunningServer, tmp_path: Path, complete_2024: Path
) -> None:
    """A torn last line (a full disk): fsck --repair sets it aside, fsck is clean, and fetch asks again
    exactly the request whose event was lost."""
    root = _copy(complete_2024, tmp_path / "store")
    (log_file,) = Store(root).log_files()
    data = log_file.read_bytes()
    log_file.write_bytes(data[:-40])
    assert ops.fsck(Store(root)) != []
    assert len(ops.repair(Store(root))) == 1
    assert ops.fsck(Store(root)) == []
    summary = fetch(_settings(server, root), _options(), NOW)
    assert (summary.requests, summary.exit_code) == (1, 0)
    assert ops.fsck(Store(root)) == [] and _statuses(root).keys() == _statuses(complete_2024).keys()


# --- the lock ----------------------------------------------------------------------------------------------


def test_fetch_plans_again_after_waiting_for_the_lock(
    server: RunningServer, tmp_path: Path, complete_2024: Path
) -> None:
    """The year lists are in; a second fetch plans the 75 per-meeting requests, then waits while another
    writer stores them all: once it has the lock it asks nothing (planning only before the lock, it asked
    all 75 again)."""
    root = tmp_path / "store"
    source = Store(complete_2024)
    store = Store(root)
    events = source.events()
    assert [e.endpoint for e in events[:2]] == ["meetings", "sessions"]
    with store.writer("lists") as lists:
        for event in events[:2]:
            lists.put(
                event.request, source.read(event.address), url=event.url, status=event.status,
                received_at=event.received_at, content_type=event.content_type,
            )
    waiting = threading.Event()

    class Spy(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "waiting up to" in record.getMessage():
                waiting.set()

    spy = Spy()
    logging.getLogger("ingestion.store").addHandler(spy)
    result: list[object] = []
    try:
        with store.writer("other") as other:
            thread = threading.Thread(
                target=lambda: result.append(fetch(_settings(server, root), _options(lock_wait=30.0), NOW))
            )
            thread.start()
            assert waiting.wait(30), "the second fetch never waited for the lock"
            for event in events[2:]:
                other.put(
                    event.request, source.read(event.address), url=event.url, status=event.status,
                    received_at=event.received_at, content_type=event.content_type,
                )
        thread.join(60)
    finally:
        logging.getLogger("ingestion.store").removeHandler(spy)
    (summary,) = result
    assert summary.requests == 0 and summary.http_requests == 0 and server.stats.gets == 0  # type: ignore[attr-defined]


def test_cli_fetch_wait_says_it_waits_and_gives_up_after_the_wait(
    server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ingest fetch --wait 0.3` while another writer holds the store: a line says it waits, for whom and
    how long; then one error line, exit 1, nothing asked."""
    root = tmp_path / "store"
    monkeypatch.setenv("OPENF1_BASE_URL", server.base_url)
    with Store(root).writer("holder"), pytest.raises(SystemExit) as exited:
        main(["fetch", "--year", "2024", "--store", str(root), "--wait", "0.3", "--now", "2025-06-01"])
    err = capsys.readouterr().err
    assert exited.value.code == 1
    assert "waiting up to 0.3 s for the snapshot store's lock" in err and "run holder" in err
    assert "error: the snapshot store is locked by another writer (held by pid" in err
    assert server.stats.gets == 0


def test_request_rows_check_accepts_ored_meeting_keys() -> None:
    """A batched request (meeting_key repeated, OR'd) accepts rows of any of its meetings."""
    from ingestion.store.check import rows_mismatch

    request = Request.make("drivers", [("meeting_key", "1229"), ("meeting_key", "1230")])
    event = Event(
        run="r", seq=0, endpoint="drivers", query=request.query, url="u", status=200,
        received_at=NOW, address=address_of(b"[]"), size=2,
    )
    assert rows_mismatch(event, b'[{"meeting_key":1229},{"meeting_key":1230}]') is None
    assert "meeting_key=1231" in (rows_mismatch(event, b'[{"meeting_key":1231}]') or "")
