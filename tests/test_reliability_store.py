"""The store and fetch part of the reliability campaign (RELIABILITY.md): kill -9 of fetch, random bit flips
in blobs and log lines, concurrent fetches and gc. ``make test`` runs a sample; ``make reliability`` all."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from campaign import FULL, cases
from committed import openf1_fixture

from ingestion.config import PROJECT_ROOT
from ingestion.errors import IngestionError
from ingestion.replay.run import replay
from ingestion.server import Dataset, RunningServer, ServerConfig, load_rows, start_server
from ingestion.store import Store
from ingestion.store import commands as ops

NOW = "2025-06-01T00:00:00Z"  # 2024 is over and settled
RATE = 40  # requests per second: a cold 2024 (77 requests) takes about 2 s, long enough to be killed in
COMMITTED = openf1_fixture()  # the committed store's OpenF1 2023 + 2024 (tests/committed.py)
AS_OF = datetime(2100, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def server(world_dir: Path) -> Iterator[RunningServer]:
    running = start_server(
        Dataset().merged(load_rows([world_dir / "2024"])),
        ServerConfig(per_second=1000.0, per_minute=100_000.0),
    )
    yield running
    running.stop()


def _env(server: RunningServer) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("OPENF1_")},
        "OPENF1_BASE_URL": server.base_url,
        "OPENF1_RATE_PER_SECOND": str(RATE),
        "OPENF1_RATE_PER_MINUTE": str(RATE * 60),
    }


def _fetch_argv(store: Path) -> list[str]:
    return [
        sys.executable, "-m", "ingestion", "fetch", "--year", "2024", "--now", NOW, "--store", str(store),
        "--wait", "120", "--per-meeting",  # 77 requests, not 5 batches: many more instants to be killed at
    ]


def _latest(root: Path) -> dict[str, tuple[int, str]]:
    return {key: (e.status, e.address) for key, e in Store(root).latest().items()}


@pytest.fixture(scope="module")
def reference(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str]]:
    """The latest answers of an uninterrupted cold fetch: every killed run must end with exactly these."""
    root = tmp_path_factory.mktemp("reference") / "store"
    done = subprocess.run(_fetch_argv(root), env=_env(server), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    latest = _latest(root)
    assert len(latest) == 77 and ops.fsck(Store(root)) == []
    return latest


# --- kill -9 of fetch ---------------------------------------------------------------------------------------


@pytest.mark.reliability("kill -9 of fetch")
@pytest.mark.parametrize("seed", cases(full=24, sample=2))
def test_fetch_killed_at_any_instant_leaves_a_clean_store_and_a_rerun_completes_identical(
    server: RunningServer, reference: dict[str, tuple[int, str]], tmp_path: Path, seed: int
) -> None:
    """SIGKILL a cold fetch after a seeded number of progress lines plus a seeded delay (before its first
    request, between two, in the middle of writing one): the store is fsck-clean, a rerun exits 0 and the
    store then holds exactly the answers of an uninterrupted fetch."""
    rng = random.Random(seed)
    root = tmp_path / "store"
    lines = rng.randrange(0, 80)
    child = subprocess.Popen(
        _fetch_argv(root), env=_env(server), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert child.stderr is not None
    seen = 0
    while seen < lines:
        if not child.stderr.readline():
            break
        seen += 1
    time.sleep(rng.uniform(0, 0.05))
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=60)
    assert ops.fsck(Store(root)) == [], f"seed {seed}: after the kill"
    again = subprocess.run(_fetch_argv(root), env=_env(server), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert ops.fsck(Store(root)) == []
    assert _latest(root) == reference


# --- random bit flips ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checksummed_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed snapshots written again by today's writer (every log line with its checksum)."""
    source = Store(COMMITTED)
    root = tmp_path_factory.mktemp("flips") / "store"
    with Store(root).writer("copy") as writer:
        for event in source.events():
            writer.put(
                event.request, source.read(event.address), url=event.url, status=event.status,
                received_at=event.received_at, content_type=event.content_type,
                attempts=event.attempts, elapsed_ms=event.elapsed_ms,
            )
    return root


def _loaded(root: Path) -> object:
    """What replay would load (the racing rows), or the one-line error that stops it."""
    try:
        return replay(Store(root), AS_OF, results=True).racing
    except IngestionError as error:
        return error


@pytest.mark.reliability("bit flips in blobs and log lines")
@pytest.mark.parametrize("seed", cases(full=10, sample=1))
def test_bit_flips_are_detected_or_harmless(
    checksummed_store: Path, tmp_path: Path, seed: int, record_property: Callable[[str, object], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """20 single-bit flips per seed (8 in the sample), half in blobs and half in log lines, each on a fresh
    copy: either what replay loads is exactly the original, or the damage is reported (fsck finds a
    problem, and replay stops with one line or warns about the line it skipped). Never a silent change of
    the loaded data."""
    flips = 20 if FULL else 8
    record_property("reliability_cases", flips)
    original = _loaded(checksummed_store)
    assert not isinstance(original, IngestionError)
    rng = random.Random(seed)
    blobs = [path for path, _ in Store(checksummed_store).blob_files()]
    logs = Store(checksummed_store).log_files()
    outcomes = {"harmless": 0, "detected": 0}
    for n in range(flips):
        root = tmp_path / f"copy{n}"
        shutil.copytree(checksummed_store, root)
        pool = blobs if n % 2 == 0 else logs
        target = root / rng.choice(pool).relative_to(checksummed_store)
        data = bytearray(target.read_bytes())
        bit = rng.randrange(len(data) * 8)
        data[bit // 8] ^= 1 << (bit % 8)
        target.write_bytes(bytes(data))
        caplog.clear()
        loaded = _loaded(root)
        problems = ops.fsck(Store(root))
        where = f"seed {seed} flip {n}: bit {bit} of {target.relative_to(root)}"
        if loaded == original:
            outcomes["harmless"] += 1
        else:
            assert problems, f"{where}: the loaded data changed and fsck found nothing"
            warned = any(r.name.startswith("ingestion.store") for r in caplog.records)
            assert isinstance(loaded, IngestionError) or warned, f"{where}: changed silently"
            outcomes["detected"] += 1
        shutil.rmtree(root)
    assert sum(outcomes.values()) == flips


# --- concurrent fetches and gc ---------------------------------------------------------------------------


@pytest.mark.reliability("concurrent fetches and gc")
@pytest.mark.parametrize("seed", cases(full=6, sample=1))
def test_concurrent_fetches_and_gc_ask_each_request_once_and_end_identical(
    server: RunningServer, reference: dict[str, tuple[int, str]], tmp_path: Path, seed: int
) -> None:
    """Three cold fetches of one store started together, with gc run over and over meanwhile: each waits for
    the lock, plans again, and asks only what is left, so the 77 requests are asked once in all; every
    process exits 0, fsck is clean and the store holds exactly the uninterrupted answers."""
    rng = random.Random(seed)
    root = tmp_path / "store"
    server.reset_stats()
    children = []
    for _ in range(3):
        children.append(
            subprocess.Popen(
                _fetch_argv(root), env=_env(server), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                text=True,
            )
        )
        time.sleep(rng.uniform(0, 0.3))
    collected = 0
    while any(child.poll() is None for child in children):
        if root.is_dir():
            collected += ops.gc(Store(root, lock_timeout=120)).blobs_removed
        time.sleep(rng.uniform(0, 0.2))
    for child in children:
        _, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
    assert collected == 0  # no run was killed: nothing was ever unreferenced
    assert ops.fsck(Store(root)) == []
    assert _latest(root) == reference
    assert server.stats.gets == 77


# --- kill -9 of an f1db release import ----------------------------------------------------------------------

F1DB_ARCHIVE = PROJECT_ROOT.parent / "shared" / "f1db" / "f1db-2024.24.2.tar.gz"


def _entries(folder: Path) -> int:
    """How many files and folders lie below ``folder`` (what ``rglob("*")`` counts): os.walk's scandir
    takes ~20 ms over a release's 16,000 blobs where rglob took ~340 ms, so the poll below no longer
    spends a core beside the import it watches, and kills it nearer the seeded count."""
    return sum(len(dirs) + len(files) for _, dirs, files in os.walk(folder))


@pytest.mark.reliability("kill -9 of an f1db release import")
@pytest.mark.skipif(not F1DB_ARCHIVE.is_file(), reason="no real f1db archive here")
@pytest.mark.parametrize("seed", cases(full=8, sample=1))
def test_f1db_import_killed_while_writing_its_files_leaves_a_clean_store_and_a_rerun_completes(
    tmp_path: Path, seed: int
) -> None:
    """SIGKILL ``snapshots import`` of a real release after a seeded number of its ~15,600 blobs are in
    objects/ (its files are written before its one line): fsck is clean (the orphans lie beside the run's
    empty log file), gc removes them, and importing again records the release whole, fsck-clean."""
    rng = random.Random(seed)
    root = tmp_path / "store"
    wanted = rng.randrange(1, 12_000)
    argv = [sys.executable, "-m", "ingestion", "snapshots", "import", str(F1DB_ARCHIVE), "--store", str(root)]
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    objects = root / "objects"
    deadline = time.monotonic() + 120
    while child.poll() is None and time.monotonic() < deadline:
        if objects.is_dir() and _entries(objects) - 256 >= wanted:
            break
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    store = Store(root)
    assert ops.fsck(store) == [], f"seed {seed}: after the kill"
    if not store.releases("f1db"):  # killed before its line: only orphans, which gc may remove
        ops.gc(store)
        assert list(store.addresses()) == []
    again = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    store = Store(root)
    assert [r.tag for r in store.releases("f1db")] == ["v2024.24.2"]
    assert ops.fsck(store) == []
    release = store.f1db_release()
    assert release is not None and len(release.files) == 15_914
