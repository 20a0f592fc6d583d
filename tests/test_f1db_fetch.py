"""``ingest fetch --source f1db`` against the project's own stand-in (``ingest serve --f1db``), never GitHub:
requests counted, blobs counted, rate limits, the token, one source failing without the other."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from server_fixtures import ServerFactory, client_settings
from test_store_commands import cli

from ingestion.f1db.github import rate_limit
from ingestion.fetch.f1db import fetch_f1db
from ingestion.store import Store

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "f1db"
OLD, NEW = "f1db-2024.24.2.tar.gz", "f1db-2025.24.2.tar.gz"
needs_archives = pytest.mark.skipif(not (SHARED / NEW).is_file(), reason="no real f1db archives here")


def small_archive(folder: Path, version: str, files: dict[str, bytes] | None = None) -> Path:
    """A small release archive ``f1db-VERSION.tar.gz`` in ``folder``, as ``git archive`` makes one."""
    body = f"id: x\nversion: {version}\n".encode()
    files = files or {"src/data/drivers/x.yml": body, "README.md": b"f1db\n"}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(f"f1db-{version}/{name}")
            info.size, info.mtime = len(body), 1_750_000_000
            tar.addfile(info, io.BytesIO(body))
    path = folder / f"f1db-{version}.tar.gz"
    path.write_bytes(out.getvalue())
    return path


def state(store: Path) -> tuple[set[str], list[bytes]]:
    """Every blob address and every log file's bytes: what a fetch may have written."""
    s = Store(store)
    return set(s.addresses()), [p.read_bytes() for p in s.log_files()]


@needs_archives
def test_fetch_f1db_cold_then_again_then_newer_release(
    tmp_path: Path, openf1_server: ServerFactory
) -> None:
    """Against ``serve --f1db`` over a folder holding v2024.24.2: a cold fetch is 2 API requests (the
    release, the tarball; the archive download is not an API call); the same fetch again is 1 request
    (a 304) writing nothing. With v2025.24.2 added, a fetch is 2 requests and writes exactly one blob per
    file content that differs between the two archives, and the manifest."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    (folder / OLD).symlink_to(SHARED / OLD)
    server = openf1_server(f1db=folder)
    settings = client_settings(server, tmp_path / "store", sources=("f1db",))
    cold = fetch_f1db(settings)
    assert (cold.outcome, cold.tag, cold.requests) == ("new", "v2024.24.2", 2)
    assert (server.stats.f1db_api, server.stats.f1db_downloads) == (2, 1)
    before = state(settings.snapshot_dir)

    server.reset_stats()
    again = fetch_f1db(settings)
    assert (again.outcome, again.requests, again.new_blobs) == ("unchanged", 1, 0)
    assert server.stats.f1db_api == 1 and server.stats.by_status == {304: 1}
    assert state(settings.snapshot_dir) == before

    (folder / NEW).symlink_to(SHARED / NEW)
    server.reset_stats()
    newer = fetch_f1db(settings)
    assert (newer.outcome, newer.tag, newer.requests) == ("new", "v2025.24.2", 2)
    store = Store(settings.snapshot_dir)
    old_files, new_files = (store.manifest(r).files for r in store.releases("f1db"))
    differing = set(new_files.values()) - set(old_files.values())
    added = set(store.addresses()) - before[0]
    assert newer.new_blobs == len(added) == len(differing) + 1
    release = store.f1db_release(store.releases("f1db")[-1].received_at)
    assert release is not None and release.tag == "v2025.24.2"
    assert release.published_at is not None  # GitHub's published_at, from the API answer


def test_fetch_f1db_pinned_release_asks_its_tag_and_a_known_tag_nothing(
    tmp_path: Path, openf1_server: ServerFactory
) -> None:
    """``--release TAG`` asks ``releases/tags/TAG``, not the latest; a tag the store holds asks nothing."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    small_archive(folder, "2025.1.0")
    small_archive(folder, "2025.2.0")
    server = openf1_server(f1db=folder)
    settings = client_settings(server, tmp_path / "store", sources=("f1db",))
    pinned = fetch_f1db(settings, tag="v2025.1.0")
    assert (pinned.outcome, pinned.tag, pinned.requests) == ("new", "v2025.1.0", 2)
    assert any("/releases/tags/v2025.1.0" in path for _, path in server.stats.requests)
    server.reset_stats()
    known = fetch_f1db(settings, tag="v2025.1.0")
    assert (known.outcome, known.requests) == ("known", 0) and server.stats.total == 0
    latest = fetch_f1db(settings)
    assert (latest.outcome, latest.tag) == ("new", "v2025.2.0")


def test_fetch_f1db_rate_limit_is_one_line_with_the_reset_time_and_no_retry(
    tmp_path: Path, openf1_server: ServerFactory, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GitHub's 403 with x-ratelimit-remaining: 0 is one line naming the reset time, exit 1, after exactly
    one request; nothing is written."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    small_archive(folder, "2025.1.0")
    server = openf1_server(f1db=folder, f1db_limit=0)
    monkeypatch.setenv("F1DB_URL", server.f1db_url)
    code, out, err = cli(capsys, "fetch", "--source", "f1db", "--store", str(tmp_path / "store"))
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "rate limit" in lines[0] and "resets at 20" in lines[0]
    assert server.stats.f1db_api == 1 and server.stats.by_status == {403: 1}
    assert not (tmp_path / "store" / "objects").exists()


def test_rate_limit_reads_githubs_headers() -> None:
    """403 + remaining 0 and 429 are the limit (reset from x-ratelimit-reset, else retry-after); another
    403 (a forbidden repository) is not."""
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    limited = rate_limit(403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1767229200"}, now)
    assert limited is not None and limited.reset == datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
    after = rate_limit(429, {"Retry-After": "60"}, now)
    assert after is not None and after.reset == datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    assert rate_limit(403, {"X-RateLimit-Remaining": "12"}, now) is None
    assert rate_limit(500, {}, now) is None


def test_fetch_f1db_sends_the_token_and_never_shows_it(
    tmp_path: Path, openf1_server: ServerFactory, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With GITHUB_TOKEN every API request carries ``Authorization: Bearer``; the token appears in no output
    and nowhere in the store."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    small_archive(folder, "2025.1.0")
    server = openf1_server(f1db=folder)
    token = "ghp_secretTOKEN1234567890"
    monkeypatch.setenv("F1DB_URL", server.f1db_url)
    monkeypatch.setenv("GITHUB_TOKEN", token)
    code, out, err = cli(capsys, "fetch", "--source", "f1db", "--store", str(tmp_path / "store"), "--json")
    assert code == 0
    assert json.loads(out)["f1db"]["outcome"] == "new"
    api = [r for r in server.stats.records if r.tier == "f1db-api"]
    assert api and all(r.bearer for r in api)
    assert token not in out + err
    for root, _, files in os.walk(tmp_path / "store"):
        for name in files:
            assert token.encode() not in (Path(root) / name).read_bytes()


def test_fetch_both_sources_one_unreachable_costs_only_its_part(
    tmp_path: Path, openf1_server: ServerFactory, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--source all`` with f1db unreachable: one line about f1db, exit 1, and OpenF1's answers still
    land (the other way round: test_sync_f1db)."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    small_archive(folder, "2025.1.0")
    server = openf1_server(f1db=folder)  # no OpenF1 rows: every list is empty
    monkeypatch.setenv("OPENF1_BASE_URL", server.base_url)
    monkeypatch.setenv("F1DB_URL", "http://127.0.0.1:9/repos/f1db/f1db")  # nothing listens on port 9
    store = tmp_path / "store"
    code, _, err = cli(capsys, "fetch", "--source", "all", "--year", "2024", "--store", str(store))
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 1 and len(errors) == 1 and errors[0].startswith("error: f1db:")
    assert any(e.key == "meetings?year=2024" for e in Store(store).events())



def test_fetch_before_2023_asks_openf1_nothing(
    tmp_path: Path, openf1_server: ServerFactory, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``fetch --year 1994`` with both sources asks OpenF1 nothing (a note says why) and f1db its release."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    small_archive(folder, "2025.1.0")
    server = openf1_server(f1db=folder)
    monkeypatch.setenv("OPENF1_BASE_URL", server.base_url)
    monkeypatch.setenv("F1DB_URL", server.f1db_url)
    monkeypatch.setenv("SOURCES", "openf1,f1db")
    code, out, _ = cli(capsys, "fetch", "--year", "1994", "--store", str(tmp_path / "store"))
    assert code == 0, out
    assert "OpenF1 starts in 2023" in out and "recorded v2025.1.0" in out
    assert all(r.tier.startswith("f1db") for r in server.stats.records)


def test_f1db_health_says_how_old_the_newest_release_is_and_whether_github_answers(
    tmp_path: Path, openf1_server: ServerFactory
) -> None:
    """healthcheck's f1db line: no release yet is a warning naming the fetch; after a fetch it gives the
    newest release's tag and age, and (not offline) that the stand-in answered; a rate limit fails."""
    from datetime import UTC, datetime

    from ingestion.ops.healthcheck import f1db_check

    folder = tmp_path / "mirror"
    folder.mkdir()
    small_archive(folder, "2025.1.0")  # files stamped 2025-06-15T15:06:40Z
    server = openf1_server(f1db=folder)
    settings = client_settings(server, tmp_path / "store", sources=("f1db",))
    now = datetime(2025, 7, 15, tzinfo=UTC)
    empty = f1db_check(settings, offline=True, now=now)
    assert empty.status == "warn" and "no f1db release" in empty.message and empty.fix is not None
    fetch_f1db(settings)
    offline = f1db_check(settings, offline=True, now=now)
    assert offline.status == "ok" and "v2025.1.0 of 2025-06-15 (29 days old)" in offline.message
    online = f1db_check(settings, offline=False, now=now)
    assert online.status == "ok" and "304" in online.message
    limited = openf1_server(f1db=folder, f1db_limit=0)
    refused = f1db_check(client_settings(limited, settings.snapshot_dir), offline=False, now=now)
    assert refused.status == "fail" and "rate limit" in refused.message


@pytest.mark.parametrize(
    "command",
    ["fetch", "sync", "bulk", "watch", "serve", "healthcheck", "snapshots import", "snapshots ls",
     "snapshots show", "snapshots diff"],
)  # fmt: skip
def test_f1db_help_of_every_command_using_f1db_credits_it(command: str) -> None:
    """f1db's licence (CC BY 4.0) asks for attribution: the --help of every command that uses it says
    "Data from f1db (CC BY 4.0)"."""
    from typer.testing import CliRunner

    from ingestion.cli import app

    result = CliRunner().invoke(app, [*command.split(), "--help"], prog_name="ingest", terminal_width=400)
    assert result.exit_code == 0
    assert "Data from f1db (CC BY 4.0)" in " ".join(result.output.split())
