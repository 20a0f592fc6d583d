"""The snapshot store's library: blobs, the append-only log, latest(as_of), the writer lock (real files)."""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.config import PROJECT_ROOT
from ingestion.store import (
    BlobCorrupt,
    BlobMissing,
    Event,
    InvalidAddress,
    InvalidRunId,
    LogCorrupt,
    NaiveDatetime,
    Request,
    RunExists,
    Store,
    StoreLocked,
    StoreUnwritable,
    WriterClosed,
    address_of,
    make_run_id,
)
from ingestion.store._disk import GITIGNORE
from ingestion.store._log import encode_event
from ingestion.watch.locks import LOCK_FILE
from ingestion.watch.state import STATE_FILE

T0 = datetime(2024, 12, 8, 12, 0, tzinfo=UTC)
DRIVERS = Request.from_url("/v1/drivers?session_key=9472")
_counter = itertools.count()


def fresh_store(base: Path) -> Store:
    """A new, empty store in its own folder (hypothesis runs many examples per test)."""
    return Store(base / f"store{next(_counter)}", lock_timeout=0)


def put(
    store: Store, body: bytes, *, request: Request = DRIVERS, at: datetime = T0, run: str | None = None
) -> Event:
    with store.writer(run) as w:
        return w.put(
            request, body, url=f"https://api.openf1.org/v1{request.path}", status=200, received_at=at
        )


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


HYPO = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@HYPO
@given(body=st.binary(max_size=4096))
def test_store_put_then_read_returns_the_same_bytes(tmp_path: Path, body: bytes) -> None:
    """Any bytes put come back byte for byte from read, from a fresh Store instance too."""
    store = fresh_store(tmp_path)
    event = put(store, body)
    assert store.read(event.address) == body
    assert Store(store.root).read(event.address) == body
    assert event.size == len(body)


@HYPO
@given(body=st.binary(max_size=4096))
def test_store_address_is_the_sha256_of_the_uncompressed_body(tmp_path: Path, body: bytes) -> None:
    """The address is sha256(body) and names the file objects/ab/cdef...."""
    store = fresh_store(tmp_path)
    event = put(store, body)
    expected = hashlib.sha256(body).hexdigest()
    assert event.address == expected == address_of(body)
    assert (store.root / "objects" / expected[:2] / expected[2:]).is_file()


@HYPO
@given(body=st.binary(max_size=2048), times=st.integers(min_value=2, max_value=4))
def test_store_same_body_twice_is_stored_once(tmp_path: Path, body: bytes, times: int) -> None:
    """Putting one body several times (across runs) gives one blob and one event per put."""
    store = fresh_store(tmp_path)
    for i in range(times):
        put(store, body, at=T0 + timedelta(seconds=i))
    assert list(store.addresses()) == [address_of(body)]
    assert len(store.events()) == times


@HYPO
@given(runs=st.lists(st.lists(st.binary(max_size=300), min_size=1, max_size=4), min_size=1, max_size=4))
def test_store_earlier_files_stay_byte_identical(tmp_path: Path, runs: list[list[bytes]]) -> None:
    """After any sequence of puts, every file that existed before is byte-identical (append-only)."""
    store = fresh_store(tmp_path)
    before: dict[str, bytes] = {}
    for number, bodies in enumerate(runs):
        with store.writer(f"run{number:03d}") as w:
            for i, body in enumerate(bodies):
                w.put(DRIVERS, body, url="u", status=200, received_at=T0 + timedelta(seconds=i))
                now = tree(store.root)
                for name, content in before.items():
                    if name == "lock":
                        continue
                    if name == f"log/run{number:03d}.jsonl":  # the open run's own log only grows
                        assert now[name].startswith(content), name
                    else:
                        assert now[name] == content, name
                before = now


KEYS = [Request.from_url(u) for u in ("/v1/meetings?year=2024", "/v1/drivers?session_key=1", "/v1/sessions")]
event_specs = st.lists(
    st.tuples(
        st.sampled_from(range(len(KEYS))), st.integers(min_value=0, max_value=20), st.binary(max_size=8)
    ),
    min_size=1,
    max_size=12,
)


@HYPO
@given(runs=st.lists(event_specs, min_size=1, max_size=3), as_of=st.integers(min_value=-1, max_value=21))
def test_store_latest_is_the_newest_event_not_after_as_of(
    tmp_path: Path, runs: list[list[tuple[int, int, bytes]]], as_of: int
) -> None:
    """latest(as_of) maps every request to its newest event at or before as_of (ties: run, then seq)."""
    store = fresh_store(tmp_path)
    for number, specs in enumerate(runs):
        with store.writer(f"r{number}") as w:
            for key, minute, body in specs:
                w.put(KEYS[key], body, url="u", status=200, received_at=T0 + timedelta(minutes=minute))
    cutoff = T0 + timedelta(minutes=as_of)
    expected: dict[str, Event] = {}
    for event in store.events():
        if event.received_at <= cutoff:
            best = expected.get(event.key)
            if best is None or (event.received_at, event.run, event.seq) > (
                best.received_at,
                best.run,
                best.seq,
            ):
                expected[event.key] = event
    assert store.latest(cutoff) == expected
    assert store.latest() == Store(store.root).latest(T0 + timedelta(days=1))


def test_store_events_are_ordered_by_time_then_run_then_seq(tmp_path: Path) -> None:
    """events() sorts by received_at, then run id, then sequence, whatever the file order."""
    store = Store(tmp_path)
    with store.writer("b") as w:
        w.put(DRIVERS, b"1", url="u", status=200, received_at=T0 + timedelta(seconds=5))
        w.put(DRIVERS, b"2", url="u", status=200, received_at=T0)
        w.put(DRIVERS, b"3", url="u", status=200, received_at=T0)
    put(store, b"4", at=T0, run="a")
    order = [(e.run, e.seq) for e in store.events()]
    assert order == [("a", 0), ("b", 1), ("b", 2), ("b", 0)]
    assert store.latest(T0)[DRIVERS.key].address == address_of(b"3")


def test_store_events_are_fresh_within_a_writer(tmp_path: Path) -> None:
    """The cached log never goes stale: each put is visible to events() and latest() at once."""
    store = Store(tmp_path)
    assert store.events() == []
    with store.writer("r") as w:
        for i in range(3):
            event = w.put(DRIVERS, b"[%d]" % i, url="u", status=200, received_at=T0 + timedelta(seconds=i))
            assert store.events()[-1] == event
            assert store.latest()[DRIVERS.key] == event
    assert len(store.events()) == 3


def test_store_event_records_the_answer_in_utc(tmp_path: Path) -> None:
    """An event records request, url, status, UTC time (microseconds), address, type, attempts, timing."""
    store = Store(tmp_path)
    paris = datetime(2024, 12, 8, 13, 0, 0, 123456, tzinfo=UTC).astimezone(ZoneInfo("Europe/Paris"))
    with store.writer("r1") as w:
        event = w.put(
            DRIVERS,
            b"[]",
            url="https://x/v1/drivers?session_key=9472",
            status=200,
            received_at=paris,
            content_type="application/json",
            attempts=2,
            elapsed_ms=12.5,
        )
    (read,) = Store(tmp_path).events()
    assert read == event
    assert read.received_at == datetime(2024, 12, 8, 13, 0, 0, 123456, tzinfo=UTC)
    assert read.received_at.utcoffset() == timedelta(0)
    assert (read.run, read.seq, read.key, read.attempts, read.elapsed_ms) == ("r1", 0, DRIVERS.key, 2, 12.5)
    assert read.content_type == "application/json" and read.request == DRIVERS


def test_store_read_of_a_flipped_byte_raises_naming_the_file(tmp_path: Path) -> None:
    """A blob no longer hashing to its address raises BlobCorrupt with the path, expected and got."""
    store = Store(tmp_path)
    body = b'[{"driver_number": 1, "full_name": "Max VERSTAPPEN"}]' * 20
    event = put(store, body)
    path = store.blob_path(event.address)
    other_body = body.replace(b"Max", b"max")
    other = Store(tmp_path / "other")
    put(other, other_body)
    # swap in a valid zstd frame of a different body: it decompresses, but the hash differs
    path.write_bytes(other.blob_path(address_of(other_body)).read_bytes())
    with pytest.raises(BlobCorrupt) as caught:
        store.read(event.address)
    assert str(path) in str(caught.value)
    assert caught.value.expected == event.address
    assert caught.value.got == address_of(other_body)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BlobCorrupt, match=str(path)):
        store.read(event.address)


def test_store_read_of_a_missing_blob_raises_blob_missing(tmp_path: Path) -> None:
    """Reading an address that is not stored raises BlobMissing naming the path."""
    with pytest.raises(BlobMissing, match="objects/00/"):
        Store(tmp_path).read("0" * 64)


@pytest.mark.parametrize(
    "bad", ["../../etc/passwd", "A" * 64, "0" * 63, "0" * 65, "g" * 64, "", "00/" + "0" * 61]
)
def test_store_address_is_validated_before_it_becomes_a_path(tmp_path: Path, bad: str) -> None:
    """Anything but 64 lowercase hex digits is refused with InvalidAddress, never opened."""
    store = Store(tmp_path)
    with pytest.raises(InvalidAddress):
        store.read(bad)
    with pytest.raises(InvalidAddress):
        store.blob_path(bad)


def test_store_torn_last_line_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A log whose last line was cut short yields the complete events before it, and logs a warning."""
    store = Store(tmp_path)
    with store.writer("r") as w:
        for i in range(3):
            w.put(DRIVERS, b"[%d]" % i, url="u", status=200, received_at=T0 + timedelta(seconds=i))
    log_file = tmp_path / "log" / "r.jsonl"
    data = log_file.read_bytes()
    log_file.write_bytes(data[: len(data) - 25])
    with caplog.at_level(logging.WARNING, logger="ingestion.store"):
        events = Store(tmp_path).events()
    assert [e.seq for e in events] == [0, 1]
    assert any("r.jsonl line 3" in record.getMessage() for record in caplog.records)
    (issue,) = Store(tmp_path).log_issues()
    assert (issue.problem.kind, issue.problem.line) == ("torn-line", 3)


def test_store_unparsable_complete_line_raises_log_corrupt(tmp_path: Path) -> None:
    """In a log file from before checksums (no line carries one), a complete line that does not parse is
    corruption: LogCorrupt names the file and line. (In a checksummed file it is a damaged line, skipped.)"""
    store = Store(tmp_path)
    event = put(store, b"[]", run="r")
    legacy = msgspec.json.encode(event) + b"\n"  # the line as written before checksums
    (tmp_path / "log" / "r.jsonl").write_bytes(legacy + b'{"run": "r", "seq": "oops"}\n')
    with pytest.raises(LogCorrupt, match=r"r\.jsonl line 2"):
        Store(tmp_path).events()
    assert len(Store(tmp_path).events(strict=False)) == 1


def test_store_event_with_a_bad_address_does_not_parse(tmp_path: Path) -> None:
    """A log line whose address is not a sha256 hex never yields an event (it would otherwise become a path):
    unparsable in a file from before checksums, damaged even when its checksum matches."""
    store = Store(tmp_path)
    event = put(store, b"[]", run="r")
    bad = msgspec.structs.replace(event, address="../../x")
    (tmp_path / "log" / "r.jsonl").write_bytes(msgspec.json.encode(bad) + b"\n")
    assert Store(tmp_path).log_issues()[0].problem.kind == "unparsable-line"
    (tmp_path / "log" / "r.jsonl").write_bytes(encode_event(bad))
    assert Store(tmp_path).events(strict=False) == []
    assert Store(tmp_path).log_issues()[0].problem.kind == "damaged-line"


def test_store_leftover_tmp_file_is_invisible_to_readers(tmp_path: Path) -> None:
    """A half-written blob in tmp/ is neither an address, an event, nor readable."""
    store = Store(tmp_path)
    event = put(store, b"[1]")
    (tmp_path / "tmp").mkdir(exist_ok=True)
    (tmp_path / "tmp" / f"{address_of(b'[2]')[:16]}.abc.tmp").write_bytes(b"\x28\xb5\x2f")
    assert list(store.addresses()) == [event.address]
    assert store.events() == [event]
    with pytest.raises(BlobMissing):
        store.read(address_of(b"[2]"))


def test_store_second_writer_raises_store_locked_after_its_timeout(tmp_path: Path) -> None:
    """While one writer holds the lock, another waits its timeout, then StoreLocked names the holder."""
    store = Store(tmp_path)
    with store.writer("first"):
        with pytest.raises(StoreLocked, match=r"locked by another writer \(held by pid \d+ run first\)"):
            Store(tmp_path).writer("second", timeout=0.05)
        assert Store(tmp_path).events() == []  # readers need no lock
    with Store(tmp_path).writer("second", timeout=0) as w:
        assert w.run == "second"


def test_store_second_writer_waits_for_the_first_to_finish(tmp_path: Path) -> None:
    """A waiting writer gets the lock as soon as the holder releases it, within its timeout."""
    store = Store(tmp_path)
    first = store.writer("first")
    got: list[str] = []

    def second() -> None:
        with Store(tmp_path).writer("second", timeout=30) as w:
            got.append(w.run)

    thread = threading.Thread(target=second)
    thread.start()
    first.close()
    thread.join(timeout=30)
    assert got == ["second"]


def test_store_lock_is_held_across_processes(tmp_path: Path) -> None:
    """A writer in another process blocks this one (fcntl.flock), with its pid in the message."""
    code = (
        "import sys; from pathlib import Path; from ingestion.store import Store\n"
        "w = Store(Path(sys.argv[1])).writer('other')\n"
        "print('locked', flush=True)\nsys.stdin.read()\nw.close()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        with pytest.raises(StoreLocked, match=f"pid {child.pid} run other"):
            Store(tmp_path).writer(timeout=0)
    finally:
        child.communicate("", timeout=30)
    with Store(tmp_path).writer(timeout=0):
        pass


def test_store_killed_writer_leaves_a_valid_log(tmp_path: Path) -> None:
    """A writer killed (SIGKILL) mid-run leaves every event it reported as stored readable, and fsck-able."""
    code = (
        "import sys; from pathlib import Path; from datetime import datetime, UTC\n"
        "from ingestion.store import Store, Request\n"
        "r = Request.from_url('/v1/sessions?year=2024')\n"
        "with Store(Path(sys.argv[1])).writer('killed') as w:\n"
        "    for i in range(10**9):\n"
        "        w.put(r, b'[%d]' % i * 50, url='u', status=200, received_at=datetime.now(UTC))\n"
        "        print(i, flush=True)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    for _ in range(20):
        last = int(child.stdout.readline())
    child.kill()
    child.wait(timeout=30)
    events = Store(tmp_path).events()
    assert len(events) >= last + 1
    assert [e.seq for e in events] == list(range(len(events)))
    for event in events:
        assert Store(tmp_path).read(event.address) == b"[%d]" % event.seq * 50
    assert all(issue.problem.kind == "torn-line" for issue in Store(tmp_path).log_issues())
    with Store(tmp_path).writer(timeout=0):  # the lock died with the process
        pass


def test_store_writer_stops_after_a_failed_append(tmp_path: Path) -> None:
    """A log append cut short (file size limit) raises StoreUnwritable; later puts are refused, so the
    partial line stays a torn LAST line and the events before it stay readable."""
    code = (
        "import resource, signal, sys; from pathlib import Path; from datetime import datetime, UTC\n"
        "from ingestion.store import Store, Request, StoreUnwritable, WriterClosed\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "r = Request.from_url('/v1/sessions?year=2024')\n"
        "with Store(Path(sys.argv[1])).writer('full') as w:\n"
        "    w.put(r, b'[]', url='u', status=200, received_at=datetime(2024, 1, 1, tzinfo=UTC))\n"
        "    size = w.path.stat().st_size\n"
        "    resource.setrlimit(resource.RLIMIT_FSIZE, (2 * size + size // 2, resource.RLIM_INFINITY))\n"
        "    w.put(r, b'[]', url='u', status=200, received_at=datetime(2024, 1, 2, tzinfo=UTC))\n"
        "    for _ in range(2):\n"
        "        try:\n"
        "            w.put(r, b'[]', url='u', status=200, received_at=datetime(2024, 1, 3, tzinfo=UTC))\n"
        "        except (StoreUnwritable, WriterClosed) as error:\n"
        "            print(type(error).__name__, error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60, check=True
    )
    unwritable, closed = done.stdout.splitlines()
    assert unwritable.startswith("StoreUnwritable cannot write to the snapshot store at ")
    assert "full.jsonl" in unwritable
    assert closed == "WriterClosed the writer of run full stopped after a failed write to its log"
    assert [e.received_at.day for e in Store(tmp_path).events()] == [1, 2]
    assert [i.problem.kind for i in Store(tmp_path).log_issues()] == ["torn-line"]


def test_store_unwritable_root_is_a_one_line_store_error(tmp_path: Path) -> None:
    """A store root that cannot be created (under a file) raises StoreUnwritable naming it, no OSError."""
    (tmp_path / "file").write_bytes(b"")
    store = Store(tmp_path / "file" / "snapshots")
    with pytest.raises(StoreUnwritable, match=r"file/snapshots: Not a directory") as caught:
        store.writer()
    assert "\n" not in str(caught.value)


def test_store_run_id_is_used_once(tmp_path: Path) -> None:
    """A second writer with an existing run id raises RunExists; the first log file is untouched."""
    store = Store(tmp_path)
    put(store, b"[]", run="r1")
    before = (tmp_path / "log" / "r1.jsonl").read_bytes()
    with pytest.raises(RunExists, match="r1"):
        store.writer("r1")
    assert (tmp_path / "log" / "r1.jsonl").read_bytes() == before
    with store.writer("r2", timeout=0):  # the failed attempt released the lock
        pass


@pytest.mark.parametrize("bad", ["../x", "", "a/b", "-lead", "x" * 101, "a b"])
def test_store_invalid_run_id_is_refused(tmp_path: Path, bad: str) -> None:
    """Run ids name files: anything but letters, digits, '.', '_', '-' (at most 100) is refused."""
    with pytest.raises(InvalidRunId):
        Store(tmp_path).writer(bad)


def test_store_generated_run_ids_are_sortable_and_unique(tmp_path: Path) -> None:
    """Run ids look like 20241208T120000Z-a1b2c3; make_run_id is pure; generated ones differ."""
    assert make_run_id(T0, "a1b2c3") == "20241208T120000Z-a1b2c3"
    assert make_run_id(T0 + timedelta(seconds=1), "000000") > make_run_id(T0, "ffffff")
    store = Store(tmp_path)
    runs = []
    for _ in range(3):
        with store.writer() as w:
            runs.append(w.run)
    assert len(set(runs)) == 3
    assert all(len(r) == len("20241208T120000Z-a1b2c3") and r[8] == "T" and r[15] == "Z" for r in runs)


def test_store_naive_datetimes_are_refused(tmp_path: Path) -> None:
    """received_at and as_of must carry a timezone: a naive datetime raises NaiveDatetime."""
    store = Store(tmp_path)
    with store.writer() as w, pytest.raises(NaiveDatetime, match="received_at"):
        w.put(DRIVERS, b"[]", url="u", status=200, received_at=datetime(2024, 1, 1))
    with pytest.raises(NaiveDatetime, match="as_of"):
        store.latest(datetime(2024, 1, 1))


def test_store_writer_refuses_puts_after_close(tmp_path: Path) -> None:
    """Leaving the with block closes the writer: a later put raises WriterClosed and writes nothing."""
    store = Store(tmp_path)
    with store.writer("r") as w:
        pass
    with pytest.raises(WriterClosed):
        w.put(DRIVERS, b"[]", url="u", status=200, received_at=T0)
    assert not (tmp_path / "log").exists() or not any((tmp_path / "log").iterdir())


def test_store_missing_root_reads_as_empty(tmp_path: Path) -> None:
    """A store folder that does not exist yet has no events, no blobs, and is not created by reading."""
    store = Store(tmp_path / "nothing")
    assert store.events() == [] and store.latest() == {} and list(store.addresses()) == []
    assert not (tmp_path / "nothing").exists()


def test_store_blobs_are_zstd_frames(tmp_path: Path) -> None:
    """A blob file is a zstd frame (magic 28 b5 2f fd) and smaller than a repetitive body."""
    store = Store(tmp_path)
    body = b'[{"session_key": 9472, "driver_number": 1}]' * 100
    event = put(store, body)
    data = store.blob_path(event.address).read_bytes()
    assert data[:4] == b"\x28\xb5\x2f\xfd"
    assert len(data) < len(body) // 10


def test_request_key_is_canonical() -> None:
    """The same request written in any order or encoding has one key."""
    a = Request.from_url("https://api.openf1.org/v1/sessions?year=2024&date_start%3E=2024-06-01")
    b = Request.from_url("/v1/sessions?date_start>=2024-06-01&year=2024")
    assert a.key == b.key == "sessions?date_start%3E=2024-06-01&year=2024"


def test_store_log_line_is_complete_on_disk_when_put_returns(tmp_path: Path) -> None:
    """Each event is one complete JSON line in the file as soon as put returns (nothing buffered)."""
    store = Store(tmp_path)
    with store.writer("r") as w:
        w.put(DRIVERS, b"[]", url="u", status=404, received_at=T0)
        data = (tmp_path / "log" / "r.jsonl").read_bytes()
        assert data.endswith(b"\n") and data.count(b"\n") == 1
        assert os.stat(tmp_path / "log" / "r.jsonl").st_size == len(data)
        assert Store(tmp_path).events()[0].status == 404


def test_store_gitignore_keeps_the_lock_and_tmp_out_of_git(tmp_path: Path) -> None:
    """The first writer writes a .gitignore naming lock, tmp/, cache/ and the watcher's state (a store
    committed after `ingest watch` ran on it must not carry that machine's watch.json into every clone, where
    healthcheck would read it); later writers leave it as it is."""
    put(Store(tmp_path), b"[]")
    ignore = tmp_path / ".gitignore"
    text = ignore.read_text()
    for runtime in ("lock", "tmp/", "cache/", STATE_FILE, LOCK_FILE):
        assert f"/{runtime}\n" in text
    ignore.write_text(text + "# edited\n")
    put(Store(tmp_path), b"[1]")
    assert ignore.read_text() == text + "# edited\n"


def test_store_committed_snapshots_ignore_what_the_store_ignores() -> None:
    """The committed store (written before the watcher's files were ignored) ignores what a new one does."""
    assert (PROJECT_ROOT / "snapshots" / ".gitignore").read_text() == GITIGNORE
