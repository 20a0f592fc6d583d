"""Issue 21: a damaged store never changes data silently (RELIABILITY.md, the store section).

Replay, verify and diff refuse a store whose log has a damaged line (``LogDamaged``: one line naming the
line and ``ingest snapshots fsck --repair``); the committed lines from before checksums are sealed
(``snapshots/sealed.json``), so a changed byte there is a damaged line too; ``fsck --repair`` rebuilds a
line whose one damaged byte can be undone. Attacks: ``"endpoint":"sessions"`` -> ``"sessionz"`` in a
checksummed line, ``drivers`` -> ``drivgrs`` in the committed store, and every byte of every line's endpoint
and query fields (the pure decision: refuse, or read exactly the events read before).
"""

from __future__ import annotations

import random
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from campaign import FULL
from committed import copy_store
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from naming_support import BOTH_NAMINGS
from test_reliability_store import COMMITTED, checksummed_store  # noqa: F401 - a fixture
from test_replay_support import AS_OF, world_store

from ingestion.ops.diff import diff
from ingestion.ops.verify import verify
from ingestion.replay.load import racing_snapshot
from ingestion.replay.run import run_replay, snapshots_of
from ingestion.store import LogDamaged, Store
from ingestion.store import commands as ops
from ingestion.store._log import parse_log
from ingestion.store._seal import SEAL_FILE, decode_seal

Conn = psycopg.Connection[Any]

#: Later than every committed answer.
LATE = datetime(2100, 1, 1, tzinfo=UTC)
_FIELD = re.compile(rb'"(?:endpoint|query)":"([^"]*)"')


def _replace_once(path: Path, old: bytes, new: bytes) -> int:
    """Replace the first ``old`` in ``path`` by ``new``; the 1-based line it was on."""
    data = path.read_bytes()
    at = data.index(old)
    path.write_bytes(data[:at] + new + data[at + len(old):])
    return data[:at].count(b"\n") + 1


def _field_positions(data: bytes) -> list[int]:
    """Every byte offset inside the endpoint and query values of every line."""
    return [i for m in _FIELD.finditer(data) for i in range(m.start(1), m.end(1))]


def _seal_of(root: Path, log: Path) -> list[str] | None:
    seal = root / SEAL_FILE
    return decode_seal(seal.read_bytes()).files.get(log.name) if seal.is_file() else None


@pytest.mark.reliability("damaged log lines")
@BOTH_NAMINGS
def test_replay_refuses_a_checksummed_line_whose_endpoint_changed(
    db_url: str, conn: Conn, tmp_path: Path
) -> None:
    """``"endpoint":"sessions"`` -> ``"sessionz"`` in a checksummed line: replay, verify and diff stop with
    one line naming the file, the line and fsck --repair, having written nothing; fsck --repair rebuilds the
    line (one byte undone, its blob answers it) and replay then changes nothing."""
    store = world_store(tmp_path / "store", years=(2024,))
    run_replay(db_url, store, AS_OF, results=True)
    before = racing_snapshot(conn)
    (log,) = store.log_files()
    line = _replace_once(log, b'"endpoint":"sessions"', b'"endpoint":"sessionz"')
    damaged = Store(store.root)
    for attempt in (
        lambda: run_replay(db_url, damaged, AS_OF, results=True),
        lambda: verify(db_url, damaged, AS_OF, results=True),
        lambda: diff(damaged, AS_OF, LATE, results=True),
    ):
        with pytest.raises(LogDamaged) as refused:
            attempt()
        message = str(refused.value)
        assert f"{log} line {line} (damaged-line" in message and "fsck --repair" in message
        assert "\n" not in message and refused.value.exit_code == 1
    assert racing_snapshot(conn) == before
    (aside,) = ops.repair(Store(store.root))
    assert aside.rebuilt == [line]
    assert ops.fsck(Store(store.root)) == []
    assert run_replay(db_url, Store(store.root), AS_OF, results=True).written == 0
    assert racing_snapshot(conn) == before


@pytest.mark.reliability("damaged log lines")
def test_committed_store_is_sealed_and_a_changed_endpoint_is_refused(tmp_path: Path) -> None:
    """The committed store, ``drivers`` -> ``drivgrs`` in one line without checksum: the seal makes it a
    damaged line (fsck reports it, replay refuses); fsck --repair rebuilds it from the seal."""
    assert ops.fsck(Store(COMMITTED)) == []
    assert Store(COMMITTED).seal().files, "the committed store has no seal"
    root = tmp_path / "store"
    copy_store(COMMITTED, root, ignore=shutil.ignore_patterns("lock", "tmp", "cache", "watch.*"))
    original = Store(root).current(AS_OF)
    (log,) = Store(root).log_files()
    line = _replace_once(log, b'"endpoint":"drivers"', b'"endpoint":"drivgrs"')
    problems = ops.fsck(Store(root))
    assert [p.kind for p in problems if p.kind == "damaged-line"] == ["damaged-line"]
    with pytest.raises(LogDamaged, match=f"line {line} "):
        snapshots_of(Store(root), AS_OF, results=True)
    (aside,) = ops.repair(Store(root))
    assert aside.rebuilt == [line]
    assert ops.fsck(Store(root)) == [] and Store(root).current(AS_OF) == original


def test_store_damaged_seal_is_refused_and_never_repaired_by_dropping_lines(tmp_path: Path) -> None:
    """A seal whose own hash does not match: fsck reports ``damaged-seal``, replay refuses naming it, and
    fsck --repair drops no line (restore the seal instead)."""
    root = tmp_path / "store"
    copy_store(COMMITTED, root, ignore=shutil.ignore_patterns("lock", "tmp", "cache", "watch.*"))
    (log,) = Store(root).log_files()
    pristine = log.read_bytes()
    seal = root / SEAL_FILE
    text = seal.read_bytes()
    at = text.index(b'"', text.index(b".jsonl")) + 10
    seal.write_bytes(text[:at] + (b"0" if text[at:at + 1] != b"0" else b"1") + text[at + 1:])
    assert "damaged-seal" in [p.kind for p in ops.fsck(Store(root))]
    with pytest.raises(LogDamaged, match="damaged-seal"):
        snapshots_of(Store(root), AS_OF, results=True)
    ops.repair(Store(root))
    assert log.read_bytes() == pristine


def test_store_sealed_line_removed_is_damage(tmp_path: Path) -> None:
    """The last line of a sealed file deleted: fsck reports the sealed line missing and replay refuses;
    fsck --repair records it (the old seal in quarantine) and the store is consistent again."""
    root = tmp_path / "store"
    copy_store(COMMITTED, root, ignore=shutil.ignore_patterns("lock", "tmp", "cache", "watch.*"))
    (log,) = Store(root).log_files()
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-1]))
    assert any("sealed line(s) missing" in p.detail for p in ops.fsck(Store(root)))
    with pytest.raises(LogDamaged):
        snapshots_of(Store(root), AS_OF, results=True)
    ops.repair(Store(root))
    assert [p.kind for p in ops.fsck(Store(root)) if p.kind != "unreferenced-blobs"] == []
    assert list((root / "quarantine").glob(f"{SEAL_FILE}.*"))


def _decision(data: bytes, seal: list[str] | None) -> list[object] | None:
    """What a reader of these log bytes does: None (refuses: a problem other than a torn last line), else
    the events it reads (replay's choice of snapshots is a function of them)."""
    parsed = parse_log(data, seal=seal)
    if any(p.kind != "torn-line" for p in parsed.problems):
        return None
    return list(parsed.events)


def _stores(checksummed: Path) -> list[tuple[bytes, list[str] | None]]:
    """The committed log (sealed) and the same events rewritten with checksums."""
    out = []
    for root in (COMMITTED, checksummed):
        (log,) = Store(root).log_files()
        out.append((log.read_bytes(), _seal_of(root, log)))
    return out


@pytest.mark.reliability("damaged log lines")
def test_every_endpoint_and_query_byte_changed_is_refused_or_harmless(
    checksummed_store: Path, record_property: Any  # noqa: F811 - the fixture
) -> None:
    """Every byte position of every line's endpoint and query values, in the committed (sealed) log and in
    the same log with checksums, replaced by another byte (one seeded value per position; eight in the
    full campaign): the reader refuses, or reads exactly the events it read before. Never fewer."""
    tried = 0
    rng = random.Random(21)
    for data, seal in _stores(checksummed_store):
        original = _decision(data, seal)
        assert original is not None
        for position in _field_positions(data):
            values = rng.sample(range(256), 8 if FULL else 1)
            for value in values:
                if value == data[position]:
                    continue
                damaged = data[:position] + bytes([value]) + data[position + 1:]
                got = _decision(damaged, seal)
                assert got is None or got == original, f"byte {position} -> {value}: read other events"
                tried += 1
    record_property("reliability_cases", tried)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pick=st.data())
def test_replay_choice_of_snapshots_refuses_or_is_unchanged_property(
    checksummed_store: Path, pick: st.DataObject  # noqa: F811 - the fixture
) -> None:
    """Property: one byte of a log's endpoint or query fields changed to any other value, anywhere: the
    store refuses (``LogDamaged``) or gives the snapshots it gave before (``Store.current``)."""
    data, seal = pick.draw(st.sampled_from(_stores(checksummed_store)))
    position = pick.draw(st.sampled_from(_field_positions(data)))
    value = pick.draw(st.integers(0, 255).filter(lambda v: v != data[position]))
    got = _decision(data[:position] + bytes([value]) + data[position + 1:], seal)
    assert got is None or got == _decision(data, seal)


@pytest.mark.reliability("damaged log lines")
@BOTH_NAMINGS
def test_replay_of_the_committed_store_with_damaged_fields_refuses_and_writes_nothing(
    db_url: str, conn: Conn, tmp_path: Path
) -> None:
    """End to end, a few positions (an endpoint, a meeting key, a year) of the committed store changed:
    replay stops with LogDamaged and the database is exactly as before."""
    root = tmp_path / "store"
    copy_store(COMMITTED, root, ignore=shutil.ignore_patterns("lock", "tmp", "cache", "watch.*"))
    run_replay(db_url, Store(root), AS_OF, results=True)
    before = racing_snapshot(conn)
    (log,) = Store(root).log_files()
    pristine = log.read_bytes()
    for old, new in ((b'"endpoint":"sessions"', b'"endpoint":"sessionz"'),
                     (b'"query":"meeting_key=11', b'"query":"meeting_key=12'),
                     (b'"query":"year=202', b'"query":"year=201')):
        log.write_bytes(pristine)
        _replace_once(log, old, new)
        with pytest.raises(LogDamaged):
            run_replay(db_url, Store(root), AS_OF, results=True)
        assert racing_snapshot(conn) == before
