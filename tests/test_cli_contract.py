"""What every command owes the operator, checked over every command at once (the README's promises):

- every ``--json`` output is exactly one JSON document on stdout, on success and on failure;
- no command prints a traceback for an OS error: a read-only store, a full disk, a missing path;
- every table and summary fits 80 columns (an id, a request or a URL is never split to get there).

Each command runs in-process through the real entry point (fast: no interpreter per command) against a
copy of the committed store, one database replayed from it, and the project's own OpenF1 stand-in.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main
from committed import copy_store, openf1_fixture
from conftest import DbFactory
from terminal_support import fits
from test_store_commands import cli

from ingestion.cli import app
from ingestion.config import PROJECT_ROOT
from ingestion.replay.run import run_replay
from ingestion.server import RunningServer
from ingestion.store import Store
from ingestion.watch.state import STATE_FILE

COMMITTED = openf1_fixture()  # the committed store's OpenF1 2023 + 2024 (tests/committed.py)
MEETINGS = PROJECT_ROOT.parent / "shared" / "openf1" / "world" / "2024" / "meetings.json"
BEFORE, AFTER = "2026-11-29T00:00:00Z", "2026-12-01T00:00:00Z"  # around the committed store's fetch


def _json_commands() -> list[str]:
    """Every command (as typed) that takes --json."""
    found: list[str] = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        params = getattr(command, "params", [])
        if any("--json" in getattr(p, "opts", ()) for p in params):
            found.append(" ".join(path))
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return sorted(found)


#: Each command that takes --json, as it succeeds on the committed store (watch: JSON lines, below).
SUCCEEDS: dict[str, list[str]] = {
    "bulk": ["bulk", "--start-year", "2024", "--end-year", "2024"],
    "check": ["check", "--season", "2023"],  # exit 1: findings, still one document
    "db audit": ["db", "audit"],
    "db clean-racing": ["db", "clean-racing", "--dry-run"],
    "db migrate": ["db", "migrate"],
    "db status": ["db", "status"],
    "diff": ["diff", "--from", BEFORE, "--to", AFTER, "--limit", "1"],
    "fetch": ["fetch", "--year", "2024"],
    "healthcheck": ["healthcheck", "--offline"],
    "replay": ["replay"],
    "run": ["run"],
    "runs": ["runs"],
    "runs show": ["runs", "show", "1"],
    "snapshots diff": ["snapshots", "diff", "--from", BEFORE, "--to", AFTER],
    "snapshots fsck": ["snapshots", "fsck"],
    "snapshots gc": ["snapshots", "gc", "--dry-run"],
    "snapshots import": ["snapshots", "import", str(MEETINGS), "--url", "/v1/meetings?year=2024"],
    "snapshots ls": ["snapshots", "ls"],
    "snapshots stats": ["snapshots", "stats"],
    "sync": ["sync", "--year", "2024"],
    "verify": ["verify"],
}

#: Failures the library reports (one line on stderr, and with --json one document on stdout).
FAILS: list[list[str]] = [
    ["verify", "--store", "{empty}"],
    ["diff", "--from", AFTER, "--to", BEFORE],
    ["check", "--season", "1949"],
    ["runs", "show", "nope"],
    ["replay", "--store", "{missing}"],
    ["fetch", "--year", "1949"],
    ["snapshots", "ls", "--as-of", "not-a-time"],
    ["snapshots", "diff", "--from", AFTER, "--to", BEFORE],
    ["watch", "--once", "--max-sleep", "0"],
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the committed store (commands may write to it)."""
    root = tmp_path_factory.mktemp("contract") / "snapshots"
    copy_store(COMMITTED, root)
    return root


@pytest.fixture(scope="module")
def replayed(db_factory: DbFactory, store: Path) -> str:
    from datetime import UTC, datetime

    url = db_factory()
    run_replay(url, Store(store), datetime.now(UTC), results=True)
    return url


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, store: Path, replayed: str,
    world_2024_server: RunningServer,
) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("SNAPSHOT_DIR", str(store))
    monkeypatch.setenv("DATABASE_URL", replayed)
    monkeypatch.setenv("OPENF1_BASE_URL", world_2024_server.base_url)
    monkeypatch.setenv("REVALIDATE_DAYS", "0")  # the committed seasons are settled: nothing to ask
    monkeypatch.setenv("COLUMNS", "80")
    return tmp_path


def _args(argv: list[str], tmp_path: Path) -> list[str]:
    (tmp_path / "empty").mkdir(exist_ok=True)
    places = {"{empty}": str(tmp_path / "empty"), "{missing}": str(tmp_path / "missing")}
    return [places.get(a, a) for a in argv]


def _one_document(out: str, argv: list[str]) -> object:
    try:
        return json.loads(out)  # one document: json.loads refuses "extra data" after it
    except json.JSONDecodeError as exc:
        shown = f"`ingest {' '.join(argv)}`"
        raise AssertionError(f"{shown} printed no single JSON document: {exc}\n{out[:400]}") from None


# --- --json -------------------------------------------------------------------------------------------


def test_cli_json_commands_are_all_exercised() -> None:
    """The list below covers every command that takes --json (a new one must join it)."""
    assert _json_commands() == sorted([*SUCCEEDS, "watch"])


def test_cli_json_is_one_document_on_success_and_on_failure(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every `--json` prints exactly one JSON document on stdout: when it succeeds (verify included: no
    text report after it), when the command fails (`{"ok": false, "exit_code": N, "error": ...}`) and when
    the usage is wrong."""
    for name, argv in SUCCEEDS.items():
        args = [*_args(argv, env), "--json"]
        if name == "snapshots import":
            args += ["--store", str(env / "scratch")]
        code, out, err = cli(capsys, *args)
        assert code in (0, 1), f"`ingest {' '.join(args)}` exited {code}: {err}"
        _one_document(out, args)
        code, out, _ = cli(capsys, *args, "--no-such-option")
        assert code == 2
        document = _one_document(out, args)
        assert isinstance(document, dict) and document["ok"] is False and document["exit_code"] == 2
    for argv in FAILS:
        args = [*_args(argv, env), "--json"]
        code, out, err = cli(capsys, *args)
        assert code == 2, f"`ingest {' '.join(args)}` exited {code}: {err}"
        document = _one_document(out, args)
        assert isinstance(document, dict) and document["ok"] is False
        assert document["error"] == err.strip().splitlines()[-1].removeprefix("error: ")


def test_cli_watch_json_is_one_document_per_line(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ingest watch --json`: one JSON document per line (an event each), the last one `done`."""
    code, out, err = cli(capsys, "watch", "--once", "--json")
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert events[0]["event"] == "start" and events[-1] == {**events[-1], "event": "done", "exit_code": 0}


# --- OS errors: one line, never a traceback -------------------------------------------------------------


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """``path`` read-only: a read-only bind mount as root (root writes through permissions), else
    permissions."""
    if os.geteuid() == 0:
        if not (_mount("--bind", str(path), str(path)) and _mount("-o", "remount,bind,ro", str(path))):
            subprocess.run(["umount", str(path)], capture_output=True)
            pytest.skip("root without the right to mount: no read-only file system to test on")
        try:
            yield
        finally:
            subprocess.run(["umount", str(path)], check=True)
        return
    modes = {p: p.stat().st_mode for p in [path, *path.rglob("*")]}
    for p in modes:
        p.chmod(modes[p] & ~0o222)
    try:
        yield
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


@contextlib.contextmanager
def _full_disk(path: Path, size: str = "1m") -> Iterator[None]:
    """A small tmpfs at ``path``, to be filled (root only)."""
    path.mkdir()
    if os.geteuid() != 0 or not _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)):
        pytest.skip("no tmpfs to fill (needs root)")
    try:
        yield
    finally:
        subprocess.run(["umount", str(path)], check=True)


def _fill(path: Path) -> None:
    with open(path / "filler", "wb") as filler, contextlib.suppress(OSError):
        while True:
            filler.write(b"\0" * 65536)
            filler.flush()


#: Commands that read or write the store, as typed (OPENF1 is the stand-in, nothing is due but 2026's lists).
ON_THE_STORE: list[list[str]] = [
    ["fetch", "--year", "2024", "--refresh"],
    ["sync", "--year", "2024", "--refresh"],
    ["replay"],
    ["verify"],
    ["diff", "--from", BEFORE, "--to", AFTER],
    ["runs"],
    ["check", "--season", "2023"],
    ["snapshots", "ls"],
    ["snapshots", "show", "meetings?year=2024"],
    ["snapshots", "fsck"],
    ["snapshots", "fsck", "--repair"],
    ["snapshots", "gc"],
    ["snapshots", "import", str(MEETINGS), "--url", "/v1/meetings?year=2025"],
    ["snapshots", "stats"],
    ["watch", "--once"],
    ["watch", "--dry-run"],
    ["healthcheck", "--offline"],
    ["run"],
]


def _runs_cleanly(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    """Run ``argv``: any exception but the exit itself fails the test (that would be a traceback); a
    failure says so in one ``error:`` line."""
    code, _, err = cli(capsys, *argv)
    assert "Traceback" not in err, f"`ingest {' '.join(argv)}`: {err}"
    if code not in (0, 3):
        lines = [x for x in err.splitlines() if x.startswith("error:")]
        assert len(lines) <= 1, f"`ingest {' '.join(argv)}`: {err}"
    return code, err


def test_cli_read_only_store_is_one_line_never_a_traceback(
    env: Path, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every command against a read-only store (and a store folder that cannot be created below it): a
    result, or one line saying what could not be written; watch --once exits 1 with it."""
    ro = env / "ro"
    copy_store(store, ro)
    with _read_only(ro):
        for argv in ON_THE_STORE:
            code, err = _runs_cleanly(capsys, [*argv, "--store", str(ro)] if argv[0] != "run" else argv)
            if argv[:2] in (["watch", "--once"], ["snapshots", "gc"], ["snapshots", "import"]):
                assert code == 1 and "Read-only file system" in err, err
        code, err = _runs_cleanly(capsys, ["watch", "--once", "--store", str(ro / "sub")])
        assert code == 1 and err.startswith("error: cannot write to the snapshot store") and len(
            err.splitlines()
        ) == 1


def test_cli_full_disk_is_one_line_never_a_traceback(
    env: Path, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every command against a store on a full disk: one line at most, and watch with its --log-file on
    the full disk still runs its pass (a warning, its JSON lines on stderr), instead of crashing."""
    disk = env / "disk"
    with _full_disk(disk):
        full = disk / "snapshots"
        copy_store(store, full)
        _fill(disk)
        for argv in ON_THE_STORE:
            _runs_cleanly(capsys, [*argv, "--store", str(full)] if argv[0] != "run" else argv)
        code, err = _runs_cleanly(capsys, ["watch", "--once", "--log-file", str(disk / "watch.jsonl")])
        assert code == 0, err
        assert "warning: cannot write --log-file" in err and '"event":"done"' in err


def test_cli_missing_paths_are_one_line(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file or folder that is not there: one line, exit 1 or 2."""
    for argv in (
        ["snapshots", "import", str(env / "nope.json"), "--url", "/v1/meetings?year=2024"],
        ["serve", "--rows", str(env / "nope")],
        ["verify", "--store", str(env / "nope")],
        ["replay", "--store", str(env / "nope")],
    ):
        code, _ = _runs_cleanly(capsys, argv)
        assert code in (1, 2)


def test_watch_state_file_unwritable_fails_the_pass(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """watch.json made a folder: `watch --once` cannot record its pass, so it exits 1 (not 0 with no
    state written) and says why."""
    root = env / "store"
    copy_store(COMMITTED, root)
    (root / STATE_FILE).mkdir()
    code, out, _ = cli(capsys, "watch", "--once", "--store", str(root))
    assert code == 1
    errors = [json.loads(x) for x in out.splitlines() if '"event":"error"' in x]
    assert [e["stage"] for e in errors] == ["state"]
    assert "cannot write the watcher's state" in errors[0]["reason"]


# --- 80 columns -------------------------------------------------------------------------------------------

#: Every command that prints a table or a summary, as typed (plain: what a pipe, a cron log or an 80-column
#: terminal gets).
TABLES: list[list[str]] = [
    ["runs"],
    ["runs", "show", "1"],
    ["runs", "show", "20261130T000757Z"],
    ["snapshots", "ls"],
    ["snapshots", "ls", "--store", "{batched}"],
    ["snapshots", "stats"],
    ["snapshots", "fsck"],
    ["snapshots", "gc", "--dry-run"],
    ["replay"],
    ["verify"],
    ["diff", "--from", BEFORE, "--to", AFTER],
    ["check", "--season", "2023"],
    ["db", "status"],
    ["db", "audit"],
    ["db", "clean-racing", "--dry-run"],
    ["healthcheck", "--offline"],
    ["fetch", "--year", "2024"],
    ["fetch", "--year", "2024", "--dry-run", "--refresh"],
    ["fetch", "--year", "2024", "--no-results", "--store", "{batched}"],
    ["sync", "--year", "2024", "--store", "{batched}"],
    ["bulk", "--start-year", "2024", "--end-year", "2024"],
    ["watch", "--dry-run"],
    ["run"],
]



def test_cli_tables_and_summaries_fit_80_columns(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On an 80-column terminal every table is one line a row and every summary wraps within the width;
    ids, requests and URLs stay whole. `ingest runs` is one line a run."""
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)  # stdout is the terminal (COLUMNS=80)
    monkeypatch.setenv("NO_COLOR", "1")
    batched = env / "batched"
    for argv in TABLES:
        args = [a.replace("{batched}", str(batched)) for a in argv]
        code, out, err = cli(capsys, *args)
        assert code in (0, 1), f"`ingest {' '.join(args)}` exited {code}: {err}"
        assert out.strip(), f"`ingest {' '.join(args)}` printed nothing"
        out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out)  # the terminal's bold headers
        wide = [line for line in out.splitlines() if not fits(line)]
        assert not wide, f"`ingest {' '.join(args)}` is wider than 80 columns:\n" + "\n".join(wide)
    code, out, _ = cli(capsys, "runs")
    assert "20261130T000757Z-b4d6db" in out and len(out.strip().splitlines()) == 1 + len(
        json.loads(cli(capsys, "runs", "--json")[1])["runs"]
    )


def test_replay_from_the_wrong_folder_says_so_before_starting_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ingest replay` with no store there (run from the wrong folder, no DATABASE_URL): one line, exit 2,
    and no embedded PostgreSQL started first; nor for a store with nothing to replay at --as-of (exit 1)."""
    from ingestion.db import embedded

    def started(*_: object, **__: object) -> str:
        raise AssertionError("the embedded PostgreSQL was started before the store was checked")

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SNAPSHOT_DIR", raising=False)
    monkeypatch.setattr(embedded, "start", started)
    for argv in (["replay"], ["replay", "--as-of", "2020-01-01T00:00:00Z", "--store", str(COMMITTED)]):
        code, out, err = cli(capsys, *argv)
        assert code == (2 if argv == ["replay"] else 1) and out == "" and len(err.splitlines()) == 1, err
        assert err.startswith(("error: no snapshot store at", "error: nothing to replay"))
