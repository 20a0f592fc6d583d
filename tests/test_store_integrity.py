"""The store protects its event log like its blobs: a checksum per line, damaged lines reported and skipped,
blobs checked against their events, a torn tail repaired, orphans noticed while the log looks cut short."""

from __future__ import annotations

import json
import logging
import random
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from committed import copy_store, openf1_fixture

from ingestion.config import PROJECT_ROOT
from ingestion.db import connect
from ingestion.store import (
    BlobMismatch,
    Event,
    LogIncomplete,
    Request,
    Store,
    StoreLocked,
    address_of,
)
from ingestion.store import commands as ops
from ingestion.store._log import encode_event, parse_log

T0 = datetime(2025, 12, 1, tzinfo=UTC)
COMMITTED = PROJECT_ROOT / "snapshots"
OPENF1 = openf1_fixture()  # the committed store's OpenF1 2023 + 2024 (tests/committed.py)


def _put_many(store: Store, bodies: list[bytes], *, run: str = "r", endpoint: str = "drivers") -> list[Event]:
    with store.writer(run) as w:
        return [
            w.put(
                Request.make(endpoint, [("meeting_key", str(1200 + i))]),
                body,
                url=f"/v1/{endpoint}?meeting_key={1200 + i}",
                status=200,
                received_at=T0 + timedelta(seconds=i),
                content_type="application/json",
            )
            for i, body in enumerate(bodies)
        ]


def _flip(path: Path, bit: int) -> None:
    data = bytearray(path.read_bytes())
    data[bit // 8] ^= 1 << (bit % 8)
    path.write_bytes(bytes(data))


# --- the checksum per line -----------------------------------------------------------------------


def test_log_line_carries_a_checksum_of_its_event(tmp_path: Path) -> None:
    """Each line the writer appends ends with a crc32 of the event's bytes, and reads back as the event."""
    store = Store(tmp_path)
    (event,) = _put_many(store, [b"[1]"])
    line = store.log_path("r").read_bytes()
    assert line == encode_event(event)
    assert line.endswith(b'"}\n') and b',"crc32":"' in line
    assert Store(tmp_path).events() == [event]


def test_log_committed_lines_without_checksum_still_read() -> None:
    """The committed snapshots/' OpenF1 log was written before checksums (its lines are sealed in
    sealed.json), the f1db release's line after: the whole store reads (148 OpenF1 events and the release)
    and fsck is clean."""
    store = Store(COMMITTED)
    sealed = set(json.loads((COMMITTED / "sealed.json").read_bytes())["files"])
    old = [path for path in store.log_files() if path.name in sealed]
    new = [path for path in store.log_files() if path.name not in sealed]
    assert len(old) == 1 and b"crc32" not in old[0].read_bytes()
    assert len(new) == 1 and all(b',"crc32":"' in line for line in new[0].read_bytes().splitlines())
    assert len(store.events()) == 148
    assert store.f1db_release(datetime.now(UTC)) is not None
    assert ops.fsck(store) == []


def test_log_damaged_line_is_reported_and_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A line whose checksum does not match (a timestamp moved) is skipped with a warning naming file and
    line, reported by fsck as damaged-line; the other events still read."""
    store = Store(tmp_path)
    events = _put_many(store, [b"[1]", b"[2]", b"[3]"])
    path = store.log_path("r")
    data = path.read_bytes().replace(b'"2025-12-01T00:00:01Z"', b'"2036-12-01T00:00:01Z"')
    path.write_bytes(data)
    with caplog.at_level(logging.WARNING, logger="ingestion.store"):
        assert Store(tmp_path).events() == [events[0], events[2]]
    assert any("r.jsonl line 2" in r.getMessage() and "checksum" in r.getMessage() for r in caplog.records)
    problem, orphans = ops.fsck(Store(tmp_path))
    assert (problem.kind, problem.path) == ("damaged-line", path)
    assert problem.detail.startswith("line 2:")
    # the damaged event's blob is unreferenced while the log is damaged: gc must not take it
    assert (orphans.kind, orphans.detail) == (
        "unreferenced-blobs",
        "1 blob(s) no event refers to while 1 log line(s) are torn, damaged or unparsable",
    )


def test_log_line_without_checksum_in_a_checksummed_file_is_damaged(tmp_path: Path) -> None:
    """A file whose lines carry checksums cannot hold one without (a flip in the key, a forged line)."""
    store = Store(tmp_path)
    events = _put_many(store, [b"[1]", b"[2]"])
    path = store.log_path("r")
    forged = Event(**{**{f: getattr(events[1], f) for f in events[1].__struct_fields__}, "seq": 2})
    legacy = encode_event(forged).split(b',"crc32"')[0] + b"}\n"
    path.write_bytes(path.read_bytes() + legacy)
    assert Store(tmp_path).events() == events
    assert [p.kind for p in ops.fsck(Store(tmp_path))] == ["damaged-line"]


def test_log_parse_incremental_keeps_the_file_checksummed(tmp_path: Path) -> None:
    """A reader that has already read a checksummed file still refuses a later line without checksum."""
    store = Store(tmp_path)
    _put_many(store, [b"[1]"])
    reader = Store(tmp_path)
    assert len(reader.events()) == 1
    path = store.log_path("r")
    path.write_bytes(path.read_bytes() + encode_event(reader.events()[0]).split(b',"crc32"')[0] + b"}\n")
    assert len(reader.events()) == 1
    assert [i.problem.kind for i in reader.log_issues()] == ["damaged-line"]


@pytest.mark.parametrize("seed", range(3))
def test_log_bit_flips_are_detected_or_harmless(tmp_path: Path, seed: int) -> None:
    """A sample of single-bit flips anywhere in a log file: the events read are either exactly the original
    ones, or the original ones minus the damaged lines with fsck reporting them. Never a changed event."""
    _flip_campaign(tmp_path, seed, flips=60)


def _flip_campaign(tmp_path: Path, seed: int, *, flips: int) -> tuple[int, int, int]:
    """(tried, detected, harmless); fails the test on a silent change."""
    base = tmp_path / "base"
    store = Store(base)
    original = _put_many(store, [b"[%d]" % i for i in range(4)])
    path = store.log_path("r")
    pristine = path.read_bytes()
    rng = random.Random(seed)
    detected = harmless = 0
    for _ in range(flips):
        path.write_bytes(pristine)
        _flip(path, rng.randrange(len(pristine) * 8))
        reader = Store(base)
        try:
            got = reader.events()
        except Exception as error:
            got = None
            assert "fsck" in str(error) or "line" in str(error)
        problems = ops.fsck(reader)
        if got == original:
            harmless += 1
            continue
        assert problems, "a flipped bit changed the events and fsck saw nothing"
        if got is not None:
            assert set(got) <= set(original), f"a flipped bit changed an event: {got}"
        detected += 1
    path.write_bytes(pristine)
    return flips, detected, harmless


def test_parse_log_reports_the_checksum_mismatch_detail() -> None:
    """The pure parser names the mismatch: expected and got."""
    event = Event(
        run="r", seq=0, endpoint="drivers", query="", url="u", status=200, received_at=T0,
        address=address_of(b"[]"), size=2,
    )
    line = encode_event(event).replace(b'"seq":0', b'"seq":1')
    parsed = parse_log(line)
    assert parsed.events == []
    (problem,) = parsed.problems
    assert problem.kind == "damaged-line" and "checksum" in problem.detail


# --- blobs checked against their events ---------------------------------------------------------------


def test_read_event_refuses_a_blob_of_another_request(tmp_path: Path, world_dir: Path) -> None:
    """An event pointed at another meeting's blob (size fixed too) is refused with one line naming both."""
    store = Store(tmp_path)
    ev = _put_many(store, [b"[]"])[0]
    with store.writer("x") as w:
        wrong = w.put(
            Request.make("meetings", [("year", "2023")]),
            (world_dir / "2024" / "meetings.json").read_bytes(),
            url="/v1/meetings?year=2023",
            status=200,
            received_at=T0,
        )
    with pytest.raises(BlobMismatch, match=r"meetings\?year=2023.*year=2024"):
        store.read_event(wrong)
    assert store.read_event(ev) == b"[]"


def test_read_event_refuses_a_size_that_differs(tmp_path: Path) -> None:
    """The blob hashes fine but the event says another size: refused, naming the request and the sizes."""
    store = Store(tmp_path)
    (ev,) = _put_many(store, [b"[1, 2]"])
    forged = Event(**{**{f: getattr(ev, f) for f in ev.__struct_fields__}, "size": 99})
    with pytest.raises(BlobMismatch, match=r"drivers\?meeting_key=1200.*99 bytes.*6"):
        store.read_event(forged)


def test_fsck_reports_rows_of_another_request(tmp_path: Path, world_dir: Path) -> None:
    """fsck re-checks each event's rows against its query: meetings of 2024 under year=2023 is a problem."""
    store = Store(tmp_path)
    with store.writer("x") as w:
        w.put(
            Request.make("meetings", [("year", "2023")]),
            (world_dir / "2024" / "meetings.json").read_bytes(),
            url="/v1/meetings?year=2023",
            status=200,
            received_at=T0,
        )
    (problem,) = ops.fsck(store)
    assert problem.kind == "wrong-rows" and "year=2024" in problem.detail


# --- orphans while the log looks cut short ------------------------------------------------------------


def test_fsck_notices_unreferenced_blobs_when_a_log_file_is_missing(tmp_path: Path) -> None:
    """A deleted log file leaves its blobs unreferenced: fsck says so, and gc refuses without force."""
    store = Store(tmp_path)
    _put_many(store, [b"[%d]" % i for i in range(5)], run="a")
    _put_many(store, [b"[%d]" % i for i in range(5, 7)], run="b")
    store.log_path("a").unlink()
    problems = ops.fsck(Store(tmp_path))
    assert [p.kind for p in problems] == ["unreferenced-blobs"]
    assert "5 blob(s)" in problems[0].detail
    with pytest.raises(LogIncomplete, match="--force"):
        ops.gc(Store(tmp_path))
    assert len(list(Store(tmp_path).addresses())) == 7
    report = ops.gc(Store(tmp_path), force=True)
    assert report.blobs_removed == 5


def test_fsck_unreferenced_blobs_when_the_whole_log_is_gone(tmp_path: Path) -> None:
    store = Store(tmp_path)
    _put_many(store, [b"[1]"])
    shutil.rmtree(tmp_path / "log")
    assert [p.kind for p in ops.fsck(Store(tmp_path))] == ["unreferenced-blobs"]
    with pytest.raises(LogIncomplete):
        ops.gc(Store(tmp_path), dry_run=True)


def test_fsck_one_orphan_of_a_killed_run_is_not_a_problem(tmp_path: Path) -> None:
    """A run killed between its blob and its event leaves one orphan next to its own log file: gc's job."""
    store = Store(tmp_path)
    _put_many(store, [b"[1]"])
    with store.writer("killed") as w:
        w.put_blob(b"[orphan]")
    assert ops.fsck(Store(tmp_path)) == []
    assert ops.gc(Store(tmp_path)).blobs_removed == 1


# --- fsck --repair ----------------------------------------------------------------------------------------


def test_repair_sets_a_torn_tail_aside_and_fsck_is_clean_after(tmp_path: Path) -> None:
    """A last line cut short (a full disk) fails fsck; repair moves its bytes to quarantine/, keeps every
    complete event byte for byte, and fsck is clean afterwards."""
    store = Store(tmp_path)
    events = _put_many(store, [b"[1]", b"[2]", b"[3]"])
    path = store.log_path("r")
    whole = path.read_bytes()
    path.write_bytes(whole[:-30])
    assert [p.kind for p in ops.fsck(Store(tmp_path))] == ["torn-line", "unreferenced-blobs"]
    (aside,) = ops.repair(Store(tmp_path))
    assert (aside.log, aside.lines, aside.kinds) == (path, [3], ["torn-line"])
    first_two = b"".join(whole.splitlines(keepends=True)[:2])
    assert path.read_bytes() == first_two
    assert aside.to.parent == tmp_path / "quarantine" and aside.to.read_bytes() == whole[len(first_two) : -30]
    assert ops.fsck(Store(tmp_path)) == []
    assert Store(tmp_path).events() == events[:2]
    assert ops.repair(Store(tmp_path)) == []


def test_repair_sets_damaged_lines_aside_keeping_the_lines_after_them(tmp_path: Path) -> None:
    """A damaged line in the middle that cannot be rebuilt (two bytes damaged) goes to quarantine; the
    complete events after it stay."""
    store = Store(tmp_path)
    events = _put_many(store, [b"[1]", b"[2]", b"[3]"])
    path = store.log_path("r")
    first_line = path.read_bytes().splitlines(keepends=True)[0]
    _flip(path, 8 * (len(first_line) + 50) + 3)  # a bit in the middle of line 2
    _flip(path, 8 * (len(first_line) + 60) + 3)  # and one in another byte: no single-byte repair
    assert Store(tmp_path).events() == [events[0], events[2]]
    (aside,) = ops.repair(Store(tmp_path))
    assert aside.kinds == ["damaged-line"]
    assert ops.fsck(Store(tmp_path)) == []
    assert Store(tmp_path).events() == [events[0], events[2]]


def test_cli_fsck_repair_reports_what_it_set_aside(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ingestion.cli import main

    store = Store(tmp_path)
    _put_many(store, [b"[1]", b"[2]"])
    path = store.log_path("r")
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(SystemExit) as exited:
        main(["snapshots", "fsck", "--store", str(tmp_path)])
    assert exited.value.code == 1
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(["snapshots", "fsck", "--repair", "--store", str(tmp_path)])
    out = capsys.readouterr().out
    assert exited.value.code in (0, None)
    assert f"set aside line 2 (torn-line) of {path} into {tmp_path / 'quarantine'}" in out
    assert out.rstrip().endswith(f"ok: {tmp_path} has no problems")


# --- waiting for the lock -----------------------------------------------------------------------------


def test_store_lock_wait_says_what_it_waits_for(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A second writer says once that it waits, for how long at most and for whom; then StoreLocked."""
    store = Store(tmp_path)
    with (
        store.writer("first"),
        caplog.at_level(logging.WARNING, logger="ingestion.store"),
        pytest.raises(StoreLocked, match=r"waited 0.2 s"),
    ):
        Store(tmp_path).writer("second", timeout=0.2)
    (record,) = [r for r in caplog.records if "waiting" in r.getMessage()]
    assert "waiting up to 0.2 s for the snapshot store's lock" in record.getMessage()
    assert "held by pid" in record.getMessage() and "run first" in record.getMessage()


def test_replay_refuses_an_event_pointed_at_another_meetings_blob(
    tmp_path: Path,
    db_factory: Callable[[], str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An event re-pointed at another meeting's drivers blob, size and checksum fixed too: replay exits 1
    with one line naming the request, and writes nothing."""
    from ingestion.cli import main

    root = tmp_path / "snapshots"
    copy_store(OPENF1, root)
    store = Store(root)
    latest = store.latest()
    right, other = latest["drivers?meeting_key=1229"], latest["drivers?meeting_key=1230"]
    forged = Event(
        **{
            **{f: getattr(right, f) for f in right.__struct_fields__},
            "run": "forged",
            "seq": 0,
            "received_at": right.received_at + timedelta(seconds=1),
            "address": other.address,
            "size": other.size,
        }
    )
    (root / "log" / "forged.jsonl").write_bytes(encode_event(forged))
    url = db_factory()
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(SystemExit) as exited:
        main(["replay", "--store", str(root)])
    err = capsys.readouterr().err
    assert exited.value.code == 1
    assert err.count("\n") == 1
    assert "drivers?meeting_key=1229" in err and "meeting_key=1230" in err and other.address in err
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM public.rounds").fetchone() == (0,)


# --- waiting for the replay lock ------------------------------------------------------------------------


def test_replay_waits_for_the_replay_lock_with_a_message_then_gives_up(
    db_factory: Callable[[], str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replay lock held from psql (an open transaction): `ingest replay --wait 0.4` says it waits and for
    whom, then one error line naming the holder, exit 1, nothing written; once released, replay runs."""
    from ingestion.cli import main
    from ingestion.replay.load import LOCK_KEY

    url = db_factory()
    monkeypatch.setenv("DATABASE_URL", url)
    with psycopg.connect(url, application_name="psql") as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        pid = holder.info.backend_pid
        with pytest.raises(SystemExit) as exited:
            main(["replay", "--store", str(OPENF1), "--wait", "0.4"])
        err = capsys.readouterr().err
        assert exited.value.code == 1
        waiting, error = err.splitlines()
        held = f"(held by pid {pid}, psql, idle in transaction)"
        assert waiting == f"waiting up to 0.4 s for the replay lock {held}"
        assert error.startswith(f"error: another replay holds the database's replay lock (held by pid {pid}")
        assert "waited 0.4 s, nothing was written" in error
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM ingestion.replay_runs").fetchone() == (0,)
        holder.rollback()
    with pytest.raises(SystemExit) as exited:
        main(["replay", "--store", str(OPENF1), "--wait", "0.4"])
    assert exited.value.code in (0, None)


# --- verify: meetings with sessions but no drivers -------------------------------------------------------


def test_verify_shows_the_gap_of_a_round_whose_drivers_answer_was_a_false_empty(
    tmp_path: Path, db_factory: Callable[[], str], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A false "No results found." stored for drivers?meeting_key=1229 after its rows (issue 21): replay
    keeps the round's entrants (it used to replay to a round without any) and names the answer; verify
    passes (the database holds what the snapshots imply) and lists the gap: what, since when, next ask."""
    from ingestion.cli import main

    root = tmp_path / "snapshots"
    copy_store(OPENF1, root)
    later = Store(root).latest()["drivers?meeting_key=1229"].received_at + timedelta(seconds=1)
    empty = tmp_path / "empty.json"
    empty.write_bytes(b'{"detail":"No results found."}')
    ops.import_file(Store(root), empty, "/v1/drivers?meeting_key=1229", later)
    url = db_factory()
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(SystemExit) as exited:
        main(["replay", "--store", str(root)])
    assert exited.value.code in (0, None)
    replayed = capsys.readouterr().out
    assert "kept: drivers?meeting_key=1229 (blob " in replayed and "kept the rows of" in replayed
    with connect(url) as conn:
        entrants = conn.execute(
            "SELECT count(*) FROM entrants e JOIN rounds r ON r.id = e.round_id"
            " WHERE r.open_f1_meeting_key = 1229"
        ).fetchone()
    assert entrants is not None and entrants[0] == 20
    with pytest.raises(SystemExit) as exited:
        main(["verify", "--store", str(root)])
    out = capsys.readouterr().out
    assert exited.value.code in (0, None), out
    assert not [x for x in out.splitlines() if x.startswith("INCOMPLETE")]
    (line,) = [x for x in out.splitlines() if "gap: drivers of meeting 1229" in x]
    assert "no rows since" in line and "next ask" in line


def test_cli_gc_refuses_in_one_line_while_a_log_file_is_missing_and_force_deletes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ingestion.cli import main

    store = Store(tmp_path)
    _put_many(store, [b"[%d]" % i for i in range(3)], run="a")
    _put_many(store, [b"[9]"], run="b")
    store.log_path("a").unlink()
    with pytest.raises(SystemExit) as exited:
        main(["snapshots", "gc", "--store", str(tmp_path)])
    err = capsys.readouterr().err
    assert exited.value.code == 1 and err.count("\n") == 1
    assert err.startswith(f"error: gc refused in {tmp_path}: 3 blob(s) no event refers to")
    assert "--force" in err
    assert len(list(Store(tmp_path).addresses())) == 4
    with pytest.raises(SystemExit) as exited:
        main(["snapshots", "gc", "--force", "--store", str(tmp_path)])
    assert exited.value.code in (0, None)
    assert "removed 3 unreferenced blob(s)" in capsys.readouterr().out
    assert ops.fsck(Store(tmp_path)) == []
