"""The store's commands: ls, show, fsck, gc, import, stats, as library functions and as `ingest snapshots`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from ingestion.cli import main
from ingestion.cli.render import human_size
from ingestion.errors import UsageError
from ingestion.store import (
    ImportRejected,
    LogCorrupt,
    LogIncomplete,
    NotFound,
    Request,
    Store,
    StoreLocked,
    address_of,
)
from ingestion.store import commands as ops
from ingestion.store._log import encode_event, parse_log

T0 = datetime(2025, 12, 1, tzinfo=UTC)
NO_RESULTS_BODY = b'{"detail":"No results found."}'


@pytest.fixture
def meetings_2024(world_dir: Path) -> Path:
    return world_dir / "2024" / "meetings.json"


@pytest.fixture
def store(tmp_path: Path, world_dir: Path) -> Store:
    """A store built by import from the real 2023 and 2024 files, plus a 404 and a re-fetch."""
    s = Store(tmp_path / "snapshots", lock_timeout=0)
    for year in (2023, 2024):
        ops.import_file(s, world_dir / str(year) / "meetings.json", f"/v1/meetings?year={year}", T0)
        ops.import_file(s, world_dir / str(year) / "sessions.json", f"/v1/sessions?year={year}", T0)
    empty = tmp_path / "empty.json"
    empty.write_bytes(NO_RESULTS_BODY)
    ops.import_file(s, empty, "/v1/drivers?session_key=1", T0)
    ops.import_file(s, world_dir / "2024" / "meetings.json", "/v1/meetings?year=2024", T0 + timedelta(days=1))
    return s


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run `ingest ARGV` through the real entry point; return (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else (0 if code is None else 1)), out.out, out.err


# --- import --------------------------------------------------------------------------------------


def test_import_file_stores_the_real_body_byte_for_byte(tmp_path: Path, meetings_2024: Path) -> None:
    """Importing world/2024/meetings.json records a 200 event whose blob reads back as the file."""
    s = Store(tmp_path)
    event = ops.import_file(s, meetings_2024, "/v1/meetings?year=2024", T0)
    assert (event.status, event.key, event.url) == (200, "meetings?year=2024", "/v1/meetings?year=2024")
    assert event.size == meetings_2024.stat().st_size
    assert s.read(event.address) == meetings_2024.read_bytes()
    assert len(json.loads(s.read(event.address))) == 25
    assert s.latest(T0)["meetings?year=2024"] == event


def test_import_file_of_an_edge_case_keeps_its_duplicates(tmp_path: Path, shared_dir: Path) -> None:
    """An edge case (one driver under two teams, OpenF1 #461) is stored exactly, duplicates and all."""
    path = (
        shared_dir
        / "openf1"
        / "edge-cases"
        / "drivers_session11353_duplicate_driver_two_teams__issue461.json"
    )
    s = Store(tmp_path)
    event = ops.import_file(s, path, "https://api.openf1.org/v1/drivers?session_key=11353", T0)
    assert event.key == "drivers?session_key=11353" and event.status == 200
    assert s.read(event.address) == path.read_bytes()


def test_import_file_of_no_results_is_a_404_event(tmp_path: Path) -> None:
    """OpenF1's {"detail":"No results found."} is recorded as a 404: the request was answered with nothing."""
    body = tmp_path / "none.json"
    body.write_bytes(NO_RESULTS_BODY)
    event = ops.import_file(Store(tmp_path / "s"), body, "/v1/drivers?session_key=1", T0)
    assert event.status == 404 and event.address == address_of(NO_RESULTS_BODY)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "not JSON"),
        (b"<html>500</html>", "not JSON"),
        (b'{"detail":"Session in progress"}', "expected a JSON array"),
        (b'"text"', "expected a JSON array"),
        (b"[1, 2]", "expected a JSON array"),  # fetch retries it, replay skips it: import refuses it too
    ],
)
def test_import_file_rejects_what_is_not_an_openf1_answer(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    """A body neither a JSON array nor "No results found." raises ImportRejected; nothing is stored."""
    body = tmp_path / "body.json"
    body.write_bytes(content)
    s = Store(tmp_path / "s")
    with pytest.raises(ImportRejected, match=reason) as caught:
        ops.import_file(s, body, "/v1/drivers", T0)
    assert "\n" not in str(caught.value)
    assert s.events() == [] and list(s.addresses()) == []


def test_import_file_rejects_a_bad_url_or_missing_file(tmp_path: Path, meetings_2024: Path) -> None:
    """A URL without an endpoint is a UsageError; a missing file is ImportRejected."""
    with pytest.raises(UsageError, match="--url"):
        ops.import_file(Store(tmp_path), meetings_2024, "/", T0)
    with pytest.raises(ImportRejected, match="No such file"):
        ops.import_file(Store(tmp_path), tmp_path / "absent.json", "/v1/meetings", T0)


# --- ls / show / stats ---------------------------------------------------------------------------


def test_ls_lists_the_latest_answer_of_every_request(store: Store) -> None:
    """ls gives one row per request (sorted by key) with its latest event; filters by endpoint and as_of."""
    rows = ops.ls(store)
    assert [r.key for r in rows] == [
        "drivers?session_key=1",
        "meetings?year=2023",
        "meetings?year=2024",
        "sessions?year=2023",
        "sessions?year=2024",
    ]
    by_key = {r.key: r for r in rows}
    assert by_key["drivers?session_key=1"].status == 404
    assert by_key["meetings?year=2024"].received_at == T0 + timedelta(days=1)
    assert ops.ls(store, as_of=T0)[2].received_at == T0
    assert [r.key for r in ops.ls(store, endpoint="sessions")] == ["sessions?year=2023", "sessions?year=2024"]
    assert ops.ls(store, as_of=T0 - timedelta(seconds=1)) == []


def test_show_prints_a_request_or_an_address_pretty(store: Store, world_dir: Path) -> None:
    """show finds a body by URL, by key or by address and pretty-prints it as JSON."""
    text = ops.show(store, "/v1/meetings?year=2023")
    assert text.startswith("[\n  {\n")
    assert json.loads(text) == json.loads((world_dir / "2023" / "meetings.json").read_bytes())
    assert ops.show(store, "meetings?year=2023") == text
    address = address_of((world_dir / "2023" / "meetings.json").read_bytes())
    assert ops.show(store, address) == text
    assert json.loads(ops.show(store, "drivers?session_key=1")) == {"detail": "No results found."}


def test_show_of_an_unknown_request_raises_not_found(store: Store) -> None:
    """A request never asked, or not asked yet as of a time, or an unknown address, is NotFound."""
    with pytest.raises(NotFound, match="drivers\\?session_key=2"):
        ops.show(store, "/v1/drivers?session_key=2")
    with pytest.raises(NotFound, match="as of"):
        ops.show(store, "meetings?year=2024", as_of=T0 - timedelta(days=1))
    with pytest.raises(NotFound, match="blob"):
        ops.show(store, "0" * 64)


def test_stats_counts_blobs_events_requests_and_bytes(store: Store, world_dir: Path) -> None:
    """stats: 5 distinct bodies, 6 events, 5 requests, raw = the bodies' sizes, stored = the files' sizes."""
    result = ops.stats(store)
    raw = sum(
        (world_dir / str(y) / f"{e}.json").stat().st_size
        for y in (2023, 2024)
        for e in ("meetings", "sessions")
    )
    raw += len(NO_RESULTS_BODY)
    stored = sum(p.stat().st_size for p in (store.root / "objects").rglob("*") if p.is_file())
    assert (result.blobs, result.events, result.requests) == (5, 6, 5)
    assert (result.raw_bytes, result.stored_bytes) == (raw, stored)
    assert result.ratio == pytest.approx(raw / stored) and result.ratio > 3


def test_stats_of_an_empty_store_is_zero(tmp_path: Path) -> None:
    """An empty (or absent) store has zero of everything and a ratio of 0."""
    assert ops.stats(Store(tmp_path)) == ops.Stats(
        blobs=0, events=0, requests=0, raw_bytes=0, stored_bytes=0, ratio=0.0
    )


# --- fsck / gc -----------------------------------------------------------------------------------


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_fsck_of_a_healthy_store_finds_nothing(store: Store) -> None:
    """A store built by import has no problems; an orphan blob and a tmp file are not problems."""
    with store.writer() as w:
        w.put_blob(b"[orphan]")
    (store.root / "tmp" / "leftover.tmp").write_bytes(b"partial")
    assert ops.fsck(store) == []


def test_fsck_reports_a_flipped_byte_in_a_blob(store: Store, world_dir: Path) -> None:
    """A blob with a flipped byte is a corrupt-blob problem naming its file."""
    address = address_of((world_dir / "2024" / "sessions.json").read_bytes())
    path = store.blob_path(address)
    flip_a_byte(path)
    (problem,) = ops.fsck(store)
    assert problem.kind == "corrupt-blob" and problem.path == path
    assert str(path) in problem.message and address in problem.message


def test_fsck_reports_a_missing_blob_once(store: Store, world_dir: Path) -> None:
    """A blob deleted under events referring to it is one missing-blob problem naming an event."""
    address = address_of((world_dir / "2024" / "meetings.json").read_bytes())
    store.blob_path(address).unlink()
    (problem,) = ops.fsck(store)
    assert problem.kind == "missing-blob" and "meetings?year=2024" in problem.detail


def test_fsck_reports_torn_and_unparsable_lines(store: Store) -> None:
    """A torn last line, an unparsable complete line (in a file from before checksums) and a damaged line (in
    a checksummed file) are all reported, with file and line; the event lost with the torn line leaves its
    blob unreferenced while the log is torn, which is reported too."""
    by_key = {parse_log(path.read_bytes()).events[0].key: path for path in store.log_files()}
    first = by_key["meetings?year=2023"]  # imported once: its blob is referenced by that one event
    second, third = by_key["sessions?year=2023"], by_key["sessions?year=2024"]
    data = first.read_bytes()
    first.write_bytes(data[:-10])
    (event,) = parse_log(second.read_bytes()).events
    second.write_bytes(msgspec.json.encode(event) + b"\nnot json\n")  # a file written before checksums
    third.write_bytes(third.read_bytes() + b"not json\n")
    problems = ops.fsck(store)
    assert {(p.kind, p.path, p.detail.split(":")[0]) for p in problems} == {
        ("torn-line", first, "line 1"),
        ("unparsable-line", second, "line 2"),
        ("damaged-line", third, "line 2"),
        (
            "unreferenced-blobs",
            store.objects_dir,
            "1 blob(s) no event refers to while 3 log line(s) are torn, damaged or unparsable",
        ),
    }


def test_fsck_reports_a_size_mismatch_and_a_stray_file(store: Store) -> None:
    """An event whose size differs from its blob's, and a badly named file in objects/, are problems."""
    (store.root / "objects" / "zz").mkdir()
    (store.root / "objects" / "zz" / "not-a-blob").write_bytes(b"x")
    log_file = store.log_files()[0]
    (event,) = parse_log(log_file.read_bytes()).events
    forged = msgspec.structs.replace(event, size=event.size + 1)
    log_file.write_bytes(encode_event(forged))  # its checksum recomputed too
    kinds = sorted(p.kind for p in ops.fsck(store))
    assert kinds == ["size-mismatch", "stray-file"]


def test_gc_removes_unreferenced_blobs_and_stale_tmp_files(store: Store) -> None:
    """gc removes orphans and tmp files (dry-run only counts them) and keeps every referenced blob."""
    with store.writer() as w:
        orphan = w.put_blob(b"[1, 2, 3]" * 100)
    tmp_file = store.root / "tmp" / "stale.tmp"
    tmp_file.write_bytes(b"half a blob")
    expected_bytes = store.blob_path(orphan).stat().st_size + len(b"half a blob")
    before = ops.stats(store)

    dry = ops.gc(store, dry_run=True)
    assert (dry.dry_run, dry.blobs_removed, dry.tmp_removed, dry.bytes_freed) == (True, 1, 1, expected_bytes)
    assert store.has(orphan) and tmp_file.exists()

    report = ops.gc(store)
    assert (report.blobs_removed, report.tmp_removed, report.bytes_freed) == (1, 1, expected_bytes)
    assert not store.has(orphan) and not tmp_file.exists()
    assert not store.blob_path(orphan).parent.exists()  # the emptied fan-out folder goes too
    assert ops.stats(store).blobs == before.blobs - 1
    assert ops.fsck(store) == []
    for event in store.events():
        store.read(event.address)
    assert ops.gc(store).bytes_freed == 0


def test_gc_alongside_a_writer_in_another_process_keeps_every_referenced_blob(tmp_path: Path) -> None:
    """gc run again and again while another process writes runs (each with an orphan blob) never removes a
    blob an event refers to: afterwards fsck is clean, every event reads, and only orphans went."""
    code = (
        "import sys; from pathlib import Path; from datetime import datetime, timedelta, UTC\n"
        "from ingestion.store import Store, Request\n"
        "store = Store(Path(sys.argv[1]), lock_timeout=30)\n"
        "for i in range(40):\n"
        "    with store.writer(f'run{i:03d}') as w:\n"
        "        w.put_blob(b'[\"orphan %d\"]' % i)\n"
        "        w.put(Request.from_url(f'/v1/drivers?session_key={i}'), b'[%d]' % i, url='u', status=200,\n"
        "              received_at=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=i))\n"
    )
    store = Store(tmp_path / "s", lock_timeout=30)
    child = subprocess.Popen([sys.executable, "-c", code, str(store.root)])
    removed = 0
    try:
        while child.poll() is None:
            if store.root.is_dir():
                removed += ops.gc(store).blobs_removed
    finally:
        child.wait(timeout=60)
    assert child.returncode == 0
    removed += ops.gc(store).blobs_removed
    events = store.events()
    assert len(events) == 40 and removed == 40
    assert ops.fsck(store) == []
    assert [store.read(e.address) for e in events] == [b"[%d]" % i for i in range(40)]
    assert sorted(store.addresses()) == sorted(address_of(b"[%d]" % i) for i in range(40))


def test_gc_of_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    """gc of a folder that does not exist reports nothing freed and does not create a store there."""
    report = ops.gc(Store(tmp_path / "absent"))
    assert (report.blobs_removed, report.tmp_removed, report.bytes_freed) == (0, 0, 0)
    assert not (tmp_path / "absent").exists()


def test_gc_refuses_while_the_log_is_unparsable(store: Store) -> None:
    """gc removes nothing while a log line cannot be read (it might refer to a blob): unparsable in a file
    from before checksums (LogCorrupt), damaged in a checksummed one (LogIncomplete)."""
    log_file = store.log_files()[0]
    log_file.write_bytes(log_file.read_bytes() + b"garbage\n")
    with store.writer() as w:
        orphan = w.put_blob(b"[orphan]")
    with pytest.raises(LogIncomplete, match="1 log line"):
        ops.gc(store)
    assert store.has(orphan)
    (event,) = parse_log(log_file.read_bytes()).events
    log_file.write_bytes(msgspec.json.encode(event) + b"\ngarbage\n")
    with pytest.raises(LogCorrupt):
        ops.gc(store)
    assert store.has(orphan)


def test_gc_waits_for_the_writer_lock(store: Store) -> None:
    """gc takes the writer lock: while a writer runs it raises StoreLocked."""
    with store.writer("busy"), pytest.raises(StoreLocked):
        ops.gc(Store(store.root), timeout=0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-12-08", datetime(2024, 12, 8, tzinfo=UTC)),
        ("2024-12-08T12:30", datetime(2024, 12, 8, 12, 30, tzinfo=UTC)),
        ("2024-12-08T12:30:00Z", datetime(2024, 12, 8, 12, 30, tzinfo=UTC)),
        ("2024-12-08T14:30:00+02:00", datetime(2024, 12, 8, 12, 30, tzinfo=UTC)),
        ("2024-12-08T12:30:00.123456", datetime(2024, 12, 8, 12, 30, 0, 123456, tzinfo=UTC)),
    ],
)
def test_parse_time_reads_iso_8601_in_utc(text: str, expected: datetime) -> None:
    """Dates, times with or without zone become UTC datetimes (no zone means UTC)."""
    assert ops.parse_time(text) == expected
    assert ops.parse_time(text).utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01", "12/08/2024", ""])
def test_parse_time_refuses_what_is_not_iso_8601(text: str) -> None:
    """Anything else is a one-line UsageError naming the option."""
    with pytest.raises(UsageError, match="--as-of: not an ISO-8601 date or time") as caught:
        ops.parse_time(text, option="--as-of")
    assert "\n" not in str(caught.value)


# --- the CLI -------------------------------------------------------------------------------------


def test_cli_snapshots_import_ls_show_stats(
    tmp_path: Path, meetings_2024: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ingest snapshots import` fills SNAPSHOT_DIR; ls, show and stats read it back."""
    monkeypatch.setenv("SNAPSHOT_DIR", str(tmp_path / "snap"))
    code, out, _ = cli(
        capsys, "snapshots", "import", str(meetings_2024), "--url", "/v1/meetings?year=2024",
        "--received-at", "2025-12-01",
    )  # fmt: skip
    assert code == 0 and "meetings?year=2024: status 200" in out
    code, out, _ = cli(capsys, "snapshots", "ls")
    assert code == 0
    assert (
        "meetings?year=2024" in out
        and "2025-12-01T00:00:00Z" in out
        and human_size(meetings_2024.stat().st_size) in out  # "9.1 kB" for people
    )
    code, out, _ = cli(capsys, "snapshots", "ls", "--json", "--endpoint", "meetings")
    (row,) = json.loads(out)
    assert row["key"] == "meetings?year=2024" and row["status"] == 200
    assert row["size"] == meetings_2024.stat().st_size  # exact bytes for programs
    code, out, _ = cli(capsys, "snapshots", "ls", "--as-of", "2025-11-30")
    assert code == 0 and "0 request(s)" in out
    code, out, _ = cli(capsys, "snapshots", "show", "/v1/meetings?year=2024")
    assert code == 0 and json.loads(out) == json.loads(meetings_2024.read_bytes())
    code, out, _ = cli(capsys, "snapshots", "stats", "--json")
    assert code == 0 and json.loads(out)["events"] == 1
    code, out, _ = cli(capsys, "snapshots", "stats")
    assert code == 0 and "ratio" in out


def test_cli_snapshots_store_option_overrides_snapshot_dir(
    tmp_path: Path, meetings_2024: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--store DIR is used instead of SNAPSHOT_DIR."""
    monkeypatch.setenv("SNAPSHOT_DIR", str(tmp_path / "default"))
    other = tmp_path / "other"
    code, _, _ = cli(
        capsys, "snapshots", "import", str(meetings_2024), "--url", "/v1/meetings", "--store", str(other)
    )
    assert code == 0
    assert len(Store(other).events()) == 1 and not (tmp_path / "default").exists()


def test_cli_snapshots_fsck_exits_non_zero_on_a_corrupt_blob(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    """fsck prints 'ok' and exits 0 on a healthy store; prints each problem and exits 1 on a flipped byte."""
    code, out, _ = cli(capsys, "snapshots", "fsck", "--store", str(store.root))
    assert code == 0 and out.startswith("ok:")
    path = store.blob_path(store.events()[0].address)
    flip_a_byte(path)
    code, out, err = cli(capsys, "snapshots", "fsck", "--store", str(store.root))
    assert code == 1
    assert f"corrupt-blob: {path}" in out and "1 problem(s)" in err


def test_cli_snapshots_fsck_of_a_missing_store_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """fsck of a folder holding no store exits 0 but says there was nothing to check (a mistyped --store)."""
    code, out, _ = cli(capsys, "snapshots", "fsck", "--store", str(tmp_path / "typo"))
    assert code == 0 and out.strip().endswith("(no store there yet: nothing to check)")


def test_cli_snapshots_gc_reports_bytes_freed(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    """gc --dry-run reports what it would free; gc frees it."""
    (store.root / "tmp" / "stale.tmp").write_bytes(b"12345")
    code, out, _ = cli(capsys, "snapshots", "gc", "--dry-run", "--store", str(store.root))
    assert (
        code == 0 and "would remove 0 unreferenced blob(s) and 1 temporary file(s); would free 5 B" in out
    )
    code, out, _ = cli(capsys, "snapshots", "gc", "--store", str(store.root))
    assert code == 0 and "removed 0 unreferenced blob(s) and 1 temporary file(s); freed 5 B" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ls", "--as-of", "tomorrow"], "error: --as-of: not an ISO-8601 date or time: 'tomorrow'"),
        (["show", "../../etc"], "error: not in the store: request etc"),
        (["import", "missing.json", "--url", "/v1/drivers"], "error: cannot import missing.json"),
        (["import", "x.json", "--url", "/v1/drivers", "--received-at", "soon"], "error: --received-at"),
    ],
)
def test_cli_snapshots_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """Bad times, unknown requests and unreadable files end with one line on stderr and a non-zero exit."""
    code, _, err = cli(capsys, "snapshots", *argv, "--store", str(tmp_path))
    assert code in (1, 2)
    assert err.startswith(message) and err.count("\n") == 1


def test_cli_snapshots_unwritable_store_is_one_line(
    tmp_path: Path, meetings_2024: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """import into a store that cannot be created ends with one `error:` line and exit 1, no traceback."""
    (tmp_path / "file").write_bytes(b"")
    target = str(tmp_path / "file" / "snap")
    code, _, err = cli(
        capsys, "snapshots", "import", str(meetings_2024), "--url", "/v1/meetings", "--store", target
    )
    assert code == 1
    assert err.startswith(f"error: cannot write to the snapshot store at {target}") and err.count("\n") == 1


def test_request_key_of_import_matches_a_fetch_of_the_same_url(tmp_path: Path, meetings_2024: Path) -> None:
    """An import and a fetch of one URL (in any parameter order) are the same request: latest sees one key."""
    s = Store(tmp_path)
    ops.import_file(s, meetings_2024, "/v1/sessions?year=2024&meeting_key=1229", T0)
    with s.writer() as w:
        w.put(
            Request.from_url("https://api.openf1.org/v1/sessions?meeting_key=1229&year=2024"),
            b"[]", url="u", status=200, received_at=T0 + timedelta(hours=1),
        )  # fmt: skip
    assert list(s.latest()) == ["sessions?meeting_key=1229&year=2024"]
    assert s.latest(T0)["sessions?meeting_key=1229&year=2024"].size == meetings_2024.stat().st_size


def test_import_of_every_shared_world_file_gives_a_clean_store(tmp_path: Path, shared_dir: Path) -> None:
    """Every world/ file and edge case imports, and fsck, stats, ls and show agree on the result."""
    s = Store(tmp_path)
    openf1 = shared_dir / "openf1"
    files = sorted((openf1 / "world").glob("*/*.json"))
    for path in files:
        ops.import_file(s, path, f"/v1/{path.stem}?year={path.parent.name}", T0)
    edge = sorted((openf1 / "edge-cases").glob("*.json"))
    for number, path in enumerate(edge):
        endpoint = re.match(r"([a-z_]+?)_(?:session)?\d", path.name)
        assert endpoint, path.name
        ops.import_file(s, path, f"/v1/{endpoint.group(1)}?edge_case={number}", T0)
    assert ops.fsck(s) == []
    result = ops.stats(s)
    total = len(files) + len(edge)
    assert (result.events, result.requests) == (total, total)
    assert result.raw_bytes == sum(p.stat().st_size for p in {*files, *edge})
    assert len(ops.ls(s, endpoint="drivers")) == 2 + 2  # two seasons, two edge cases
    assert {r.endpoint for r in ops.ls(s)} == {
        "meetings",
        "sessions",
        "drivers",
        "session_result",
        "starting_grid",
    }
    sessions_2023 = json.loads(ops.show(s, "/v1/sessions?year=2023"))
    assert len(sessions_2023) == 113
