"""An f1db release in the snapshot store: one blob per file, a manifest, one release line in the log
(ingestion.f1db.record, Store.f1db_release), and what fsck and gc make of it (real files)."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestion.errors import UsageError
from ingestion.f1db.record import record_release, tag_from_name
from ingestion.store import (
    Event,
    ManifestUnreadable,
    Release,
    Request,
    Store,
)
from ingestion.store._log import encode_event, parse_log
from ingestion.store.commands import fsck, gc

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
_counter = itertools.count()


def archive(files: dict[str, bytes], *, top: str = "f1db-2025.1.0", mtime: int = 1_750_000_000) -> bytes:
    """A small release archive as ``git archive`` makes one: one top folder, every file stamped ``mtime``."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(body)
            info.mtime = mtime
            tar.addfile(info, io.BytesIO(body))
    return out.getvalue()


SMALL = {
    "README.md": b"# f1db\n",
    "src/data/drivers/lewis-hamilton.yml": b"id: lewis-hamilton\ndateOfBirth: 1985-01-07\n",
    "src/data/seasons/2025/races/01-australia/race.yml": b"id: 1125\ntime: 04:00:00Z\n",
    "src/data/seasons/2025/races/01-australia/race-results.yml": b"- position: 1\n",
}


def record(
    store: Store, files: dict[str, bytes], tag: str, *, at: datetime = T0, mtime: int = 1_750_000_000
) -> Release:
    done = record_release(store, archive(files, mtime=mtime), tag=tag, url=f"{tag}.tar.gz", received_at=at)
    assert done.release is not None
    return done.release


def objects(store: Store) -> set[str]:
    return set(store.addresses())


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / f"store{next(_counter)}", lock_timeout=0)


def test_f1db_store_release_is_one_blob_per_file_and_a_manifest(store: Store) -> None:
    """Every file of the archive is a blob of its exact bytes (path relative to the top folder); the
    manifest names them all; the log has one release line naming the source, the tag and the date."""
    release = record(store, SMALL, "v2025.1.0")
    got = store.f1db_release(T0)
    assert got is not None
    assert got.tag == "v2025.1.0" and got.manifest == release.manifest
    assert got.committed_at == datetime.fromtimestamp(1_750_000_000, UTC)
    assert set(got.files) == set(SMALL)
    assert {path: store.read(address) for path, address in got.files.items()} == SMALL
    assert objects(store) == set(got.files.values()) | {got.manifest}
    lines = b"".join(path.read_bytes() for path in store.log_files()).splitlines()
    assert len(lines) == 1 and lines[0].startswith(b'{"kind":"release"')
    assert (release.source, release.tag, release.files) == ("f1db", "v2025.1.0", 4)


def test_f1db_store_manifest_is_canonical_whatever_the_archive_order(tmp_path: Path) -> None:
    """The same release recorded from archives listing its files in another order, at another time, has
    the same manifest address."""
    a = record(Store(tmp_path / "a"), SMALL, "v2025.1.0", at=T0)
    backwards = dict(reversed(list(SMALL.items())))
    b = record(Store(tmp_path / "b"), backwards, "v2025.1.0", at=T0 + timedelta(days=3))
    assert a.manifest == b.manifest


def test_f1db_store_same_tag_again_writes_nothing(store: Store) -> None:
    """Tags never change: recording a tag the store holds writes no blob and no line."""
    record(store, SMALL, "v2025.1.0")
    before, logs = objects(store), store.log_files()
    again = record_release(store, archive(SMALL), tag="v2025.1.0", url="x", received_at=T0 + timedelta(1))
    assert again.release is None and again.new_blobs == 0
    assert objects(store) == before and store.log_files() == logs


def test_f1db_store_release_as_of_is_the_newest_release_received_by_then(store: Store) -> None:
    """f1db_release(as_of) is the newest release (by its own date) received at or before as_of: None
    before the first; an older archive imported later does not replace a newer one."""
    changed = {**SMALL, "src/data/seasons/2025/races/01-australia/race-results.yml": b"- position: 2\n"}
    record(store, changed, "v2025.1.1", at=T0, mtime=1_760_000_000)
    record(store, SMALL, "v2025.1.0", at=T0 + timedelta(hours=1), mtime=1_750_000_000)
    assert store.f1db_release(T0 - timedelta(seconds=1)) is None
    at_t0 = store.f1db_release(T0)
    later = store.f1db_release(T0 + timedelta(days=1))
    assert at_t0 is not None and later is not None
    assert at_t0.tag == later.tag == "v2025.1.1"
    assert [r.tag for r in store.f1db_releases()] == ["v2025.1.0", "v2025.1.1"]


def test_f1db_store_release_lines_and_openf1_lines_share_one_log_format(tmp_path: Path) -> None:
    """A release line parses beside OpenF1 events, old lines without a checksum still parse, and a flipped
    bit in a release line makes it a damaged line."""
    event = Event(
        run="r",
        seq=0,
        endpoint="drivers",
        query="",
        url="/v1/drivers",
        status=200,
        received_at=T0,
        address="0" * 64,
        size=2,
    )
    release = Release(
        run="r",
        seq=1,
        source="f1db",
        tag="v2025.1.0",
        received_at=T0,
        url="u",
        manifest="1" * 64,
        size=9,
        files=3,
    )
    parsed = parse_log(encode_event(event) + encode_event(release))
    assert (parsed.events, parsed.releases, parsed.problems) == ([event], [release], [])
    old = msgspec.json.encode(event) + b"\n"  # a line from before checksums
    assert parse_log(old).events == [event]
    line = bytearray(encode_event(release))
    line[40] ^= 0x01
    damaged = parse_log(encode_event(event) + bytes(line))
    assert damaged.releases == [] and [p.kind for p in damaged.problems] == ["damaged-line"]


def test_gc_keeps_every_blob_a_release_manifest_names(store: Store) -> None:
    """The files of a release are referenced by its manifest, not by a line: gc keeps them all."""
    record(store, SMALL, "v2025.1.0")
    before = objects(store)
    report = gc(store)
    assert report.blobs_removed == 0 and objects(store) == before
    assert fsck(store) == []


def test_gc_refuses_while_a_release_manifest_is_missing(store: Store) -> None:
    """Without its manifest gc cannot tell which blobs a release uses: it refuses, deleting nothing; fsck
    names the missing manifest, and the files it named now lie unreferenced."""
    release = record(store, SMALL, "v2025.1.0")
    store.blob_path(release.manifest).unlink()
    before = objects(store)
    with pytest.raises(ManifestUnreadable, match=r"v2025\.1\.0"):
        gc(store)
    assert objects(store) == before
    assert [p.kind for p in fsck(store)] == ["missing-blob", "unreferenced-blobs"]


def test_fsck_reports_a_missing_file_of_a_release(store: Store) -> None:
    """A file blob a manifest names that is missing is a missing-blob problem naming the release and the
    file."""
    release = record(store, SMALL, "v2025.1.0")
    address = hashlib.sha256(SMALL["README.md"]).hexdigest()
    store.blob_path(address).unlink()
    problems = fsck(store)
    assert [p.kind for p in problems] == ["missing-blob"]
    assert "v2025.1.0" in problems[0].detail and "README.md" in problems[0].detail
    assert release.tag in problems[0].message


def test_fsck_reports_a_manifest_that_is_not_its_release(store: Store) -> None:
    """A release line whose manifest is another release's (intact, wrong tag) is a bad-manifest problem."""
    other = record(store, SMALL, "v2025.1.0")
    forged = msgspec.structs.replace(other, run="forged-run", seq=0, tag="v2025.2.0")
    (store.log_dir / "forged-run.jsonl").write_bytes(encode_event(forged))
    assert [p.kind for p in fsck(store)] == ["bad-manifest"]


def test_f1db_store_killed_release_run_leaves_orphans_gc_removes(store: Store) -> None:
    """A release run killed before its line leaves its files' blobs beside its empty log file: fsck sees
    no problem and gc removes them (a killed OpenF1 run leaves at most one)."""
    record(store, SMALL, "v2025.1.0")
    kept = objects(store)
    with store.writer("killed-run") as writer:
        writer._open_log()  # what put_release does first
        for n in range(5):
            writer.put_blob(f"file {n}\n".encode())
    assert (store.log_dir / "killed-run.jsonl").stat().st_size == 0
    assert fsck(store) == []
    assert gc(store).blobs_removed == 5
    assert objects(store) == kept


@given(
    st.from_regex(r"\d{4}\.\d{1,2}\.\d{1,2}", fullmatch=True), st.sampled_from(["f1db-", "v", "", "x/f1db-"])
)
def test_tag_from_name_reads_the_version_of_an_archive_name(version: str, prefix: str) -> None:
    """``f1db-2025.24.2.tar.gz`` (or ``v2025.24.2.tar.gz``, ``.tgz``) names tag v2025.24.2."""
    assert tag_from_name(f"{prefix}{version}.tar.gz") == f"v{version}"
    assert tag_from_name(f"{prefix}{version}.tgz") == f"v{version}"


@pytest.mark.parametrize("name", ["f1db.tar.gz", "release.zip", "f1db-2025.24.tar.gz"])
def test_tag_from_name_without_a_version_asks_for_tag(name: str) -> None:
    """A name without vYYYY.R.P is a usage error that says to give --tag."""
    with pytest.raises(UsageError, match="--tag"):
        tag_from_name(name)


def test_request_and_event_untouched_by_release_lines(store: Store) -> None:
    """OpenF1 readers (events, latest, current) never see a release: they stay as they were."""
    with store.writer() as writer:
        writer.put(
            Request.from_url("/v1/drivers?session_key=1"),
            b"[]",
            url="/v1/drivers?session_key=1",
            status=200,
            received_at=T0,
        )
    record(store, SMALL, "v2025.1.0")
    assert [e.key for e in store.events()] == ["drivers?session_key=1"]
    assert list(store.latest()) == ["drivers?session_key=1"]
    assert os.path.exists(store.blob_path(hashlib.sha256(b"[]").hexdigest()))


def test_snapshots_ls_show_diff_stats_runs_know_releases(store: Store) -> None:
    """ls lists the releases and marks the one replay reads; show prints a manifest or a file; diff names
    the files each release changed; stats counts releases; runs lists a run per release."""
    from ingestion.ops.runs import release_runs
    from ingestion.store.commands import ls_releases, show, snapshot_diff, stats

    path = "src/data/seasons/2025/races/01-australia/race-results.yml"
    record(store, SMALL, "v2025.1.0", at=T0, mtime=1_750_000_000)
    changed = {**SMALL, path: b"- position: 2\n", "src/data/drivers/new.yml": b"id: new\n"}
    record(store, changed, "v2025.1.1", at=T0 + timedelta(hours=2), mtime=1_760_000_000)
    rows = ls_releases(store)
    assert [(r.tag, r.in_force) for r in rows] == [("v2025.1.0", False), ("v2025.1.1", True)]
    assert [r.in_force for r in ls_releases(store, as_of=T0 + timedelta(hours=1))] == [True]
    assert show(store, f"f1db:v2025.1.0:{path}") == "- position: 1\n"
    assert show(store, f"f1db::{path}") == "- position: 2\n"  # f1db::PATH: the release in force
    assert '"tag": "v2025.1.1"' in show(store, "f1db")
    change = snapshot_diff(store, T0 + timedelta(hours=1), T0 + timedelta(days=1))
    assert [(c.before, c.after, c.changed, c.added, c.removed) for c in change.releases] == [
        ("v2025.1.0", "v2025.1.1", [path], ["src/data/drivers/new.yml"], [])
    ]
    assert stats(store).releases == 2
    runs = release_runs(store.releases("f1db"))
    assert [(r.kind, r.asked) for r in runs] == [
        ("fetch", "f1db v2025.1.0 (4 files)"),
        ("fetch", "f1db v2025.1.1 (5 files)"),
    ]


def test_cli_snapshots_import_archive_then_ls_and_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ingest snapshots import f1db-2025.1.0.tar.gz` records the release (tag from the name) as an import
    run; a second import writes nothing; a file without a version needs --tag; ls and runs show it."""
    from test_store_commands import cli as run

    def cli(*argv: str) -> tuple[int, str, str]:
        return run(capsys, *argv)

    monkeypatch.setenv("SNAPSHOT_DIR", str(tmp_path / "snap"))
    named = tmp_path / "f1db-2025.1.0.tar.gz"
    named.write_bytes(archive(SMALL))
    code, out, _ = cli("snapshots", "import", str(named))
    assert code == 0 and "as f1db v2025.1.0: 4 files, 5 new blob(s)" in out
    code, out, _ = cli("snapshots", "import", str(named))
    assert code == 0 and "already in the store: nothing written" in out
    anonymous = tmp_path / "download.tar.gz"
    anonymous.write_bytes(archive({**SMALL, "README.md": b"other\n"}))
    code, _, err = cli("snapshots", "import", str(anonymous))
    assert code == 2 and "--tag" in err
    code, out, _ = cli("snapshots", "import", str(anonymous), "--tag", "v2025.1.1")
    assert code == 0 and "1 new blob(s)" not in out and "2 new blob(s)" in out  # README and manifest
    code, out, _ = cli("snapshots", "ls", "--source", "f1db")
    assert code == 0 and "* f1db v2025.1.1" in out and "2 f1db release(s)" in out
    code, out, _ = cli("runs")
    assert code == 0 and out.count("import") >= 2 and "f1db v2025.1.1" in out


@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-", min_size=1, max_size=30),
    st.integers(min_value=0, max_value=10_000),
    st.booleans(),
    st.data(),
)
def test_f1db_store_release_line_round_trips_and_any_bit_flip_is_caught(
    tag: str, files: int, published: bool, data: st.DataObject
) -> None:
    """Any release line parses back to itself; flipping any one bit of it makes it a damaged line (never a
    different release, never an OpenF1 event), even the checksum member's name: release lines were always
    written with a checksum, so one without is damaged (unlike OpenF1 lines from before checksums)."""
    release = Release(
        run="20261201T120000Z-abcdef", seq=files % 7, source="f1db", tag=tag, received_at=T0,
        published_at=T0 - timedelta(days=3) if published else None, url="https://x/tarball/" + tag,
        manifest="ab" * 32, size=files * 90, files=files, etag='W/"0a"' if published else None,
    )  # fmt: skip
    line = encode_event(release)
    assert parse_log(line).releases == [release]
    bit = data.draw(st.integers(min_value=0, max_value=(len(line) - 1) * 8 - 1))  # not the newline
    flipped = bytearray(line)
    flipped[bit // 8] ^= 1 << (bit % 8)
    parsed = parse_log(bytes(flipped))
    assert parsed.releases == [] and parsed.events == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("openf1", ("openf1",)),
        ("f1db", ("f1db",)),
        ("f1db, openf1", ("openf1", "f1db")),
        ("all", ("openf1", "f1db")),
    ],
)
def test_config_sources_reads_openf1_f1db_or_all(raw: str, expected: tuple[str, ...]) -> None:
    """SOURCES (and --source) name the sources, in one order; a typo is a one-line ConfigError (exit 2)."""
    from ingestion.config import load_settings, parse_sources
    from ingestion.errors import ConfigError

    assert parse_sources(raw) == expected
    assert load_settings({"SOURCES": raw}, cwd=Path("/nonexistent")).sources == expected
    assert load_settings({}, cwd=Path("/nonexistent")).sources == ("openf1", "f1db")
    with pytest.raises(ConfigError, match="SOURCES") as caught:
        load_settings({"SOURCES": "openf1,ergast"}, cwd=Path("/nonexistent"))
    assert caught.value.exit_code == 2
    with pytest.raises(ConfigError, match="F1DB_URL"):
        load_settings({"F1DB_URL": "ftp://x"}, cwd=Path("/nonexistent"))
