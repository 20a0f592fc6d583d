"""CLI misuse and extreme values: a table of cases, each refused with one line and exit 2 (never a traceback).

The campaign's findings (issue 17, defect 8): instants near year 1 or 9999 with offsets overflowed
(``--as-of 0001-01-01T00:00:00+14:00``, ``--now 9999-12-31T23:59:59-14:00``, ``diff --from``), day counts
(``--recent 999999999``), rates (``OPENF1_RATE_PER_SECOND=1e-9`` waited for ever) and serve's limits were
accepted. Commands run in-process (``ingestion.cli.main``) against a store and a database that exist, with
OpenF1 at a dead port, so a case that is wrongly accepted fails loudly instead of hanging; ``serve`` cases run
as a subprocess with a timeout (an accepted one would serve for ever).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from committed import copy_store, openf1_fixture

from ingestion.cli import main
from ingestion.config import PROJECT_ROOT
from ingestion.errors import UsageError
from ingestion.instant import parse_instant

HUGE = "9" * 5000
OLD = "0001-01-01T00:00:00+14:00"
FAR = "9999-12-31T23:59:59-14:00"
DRY_RUN = ["fetch", "--year", "2024", "--dry-run"]

#: (id, argv, extra environment): each must end in one line on stderr and exit 2.
CASES: list[tuple[str, list[str], dict[str, str]]] = [
    ("replay --as-of year 1 +14:00", ["replay", "--as-of", OLD], {}),
    ("replay --as-of year 9999 -14:00", ["replay", "--as-of", FAR], {}),
    ("replay --as-of 0001-01-01", ["replay", "--as-of", "0001-01-01"], {}),
    ("replay --as-of 9999-12-31T23:59:59Z", ["replay", "--as-of", "9999-12-31T23:59:59Z"], {}),
    ("fetch --now year 9999 -14:00", ["fetch", "--year", "2024", "--dry-run", "--now", FAR], {}),
    ("fetch --now year 1", ["fetch", "--year", "2024", "--dry-run", "--now", OLD], {}),
    ("fetch --recent 999999999", ["fetch", "--recent", "999999999", "--dry-run"], {}),
    ("fetch --recent 0", ["fetch", "--recent", "0", "--dry-run"], {}),
    ("fetch --year huge", ["fetch", "--year", "99999999999999999999", "--dry-run"], {}),
    ("fetch --year 0", ["fetch", "--year", "0", "--dry-run"], {}),
    ("sync --recent 999999999", ["sync", "--recent", "999999999"], {}),
    ("sync --as-of year 1", ["sync", "--year", "2024", "--as-of", OLD], {}),
    ("sync --now year 9999", ["sync", "--year", "2024", "--now", FAR], {}),
    ("diff --from year 1 +01:00", ["diff", "--from", "0001-01-01T00:00+01:00", "--to", "2024-12-20"], {}),
    ("diff --to year 9999 -05:00", ["diff", "--from", "2024-12-08", "--to", "9999-12-31T23:00-05:00"], {}),
    ("verify --store missing", ["verify", "--store", "/nonexistent/store"], {}),
    ("bulk --start-year huge", ["bulk", "--start-year", "99999999999999999999"], {}),
    ("bulk --retries 999999999", ["bulk", "--current", "--retries", "999999999"], {}),
    ("OPENF1_RATE_PER_SECOND=1e-9", DRY_RUN, {"OPENF1_RATE_PER_SECOND": "1e-9"}),
    ("OPENF1_RATE_PER_SECOND=nan", DRY_RUN, {"OPENF1_RATE_PER_SECOND": "nan"}),
    ("OPENF1_RATE_PER_MINUTE=huge", DRY_RUN, {"OPENF1_RATE_PER_MINUTE": HUGE}),
    ("DATABASE_URL= (empty)", ["replay"], {"DATABASE_URL": ""}),
    ("replay --store missing", ["replay", "--store", "/nonexistent/store"], {}),
]

#: Refused by typer itself (its usage panel, exit 2): values that are not numbers at all.
TYPER_CASES: list[tuple[str, list[str]]] = [
    ("fetch --recent 5000 digits", ["fetch", "--recent", HUGE, "--dry-run"]),
    ("fetch --year abc", ["fetch", "--year", "abc", "--dry-run"]),
    ("diff --limit 5000 digits", ["diff", "--from", "2024-01-01", "--to", "2024-02-01", "--limit", HUGE]),
    ("replay --bogus", ["replay", "--bogus"]),
    ("no such command", ["fetchh"]),
]

#: serve's options: refused before anything is bound.
SERVE_CASES: list[tuple[str, list[str]]] = [
    ("serve --port 99999", ["--port", "99999"]),
    ("serve --port -1", ["--port", "-1"]),
    ("serve --per-second 1e-9", ["--per-second", "1e-9"]),
    ("serve --per-second -1", ["--per-second", "-1"]),
    ("serve --per-minute nan", ["--per-minute", "nan"]),
    ("serve --token-ttl 1e300", ["--token-user", "a", "--token-password", "b", "--token-ttl", "1e300"]),
    ("serve --slow-seconds 1e12", ["--slow-seconds", "1e12"]),
    ("serve --fault 503:0", ["--fault", "503:0"]),
    ("serve --as-of year 1", ["--store", "STORE", "--as-of", OLD]),
]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    copy = tmp_path / "store"
    copy_store(openf1_fixture(), copy)
    return copy


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, store: Path, db_url: str) -> Path:
    """A working directory without .env, the copied store, a migrated database, OpenF1 at a dead port."""
    for name in list(os.environ):
        if name.startswith(("OPENF1_", "SNAPSHOT_DIR", "EMBEDDED_", "DATABASE_URL")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SNAPSHOT_DIR", str(store))
    monkeypatch.setenv("OPENF1_BASE_URL", "http://127.0.0.1:9/v1")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.mark.reliability("CLI misuse and extreme values")
@pytest.mark.parametrize(("argv", "env"), [(argv, env) for _, argv, env in CASES], ids=[c[0] for c in CASES])
def test_cli_extreme_value_is_one_line_exit_2(
    argv: list[str],
    env: dict[str, str],
    environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as done:
        main(argv)
    err = capsys.readouterr().err
    assert done.value.code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert len(lines[0]) < 300, lines[0]  # a 5,000-digit value is not echoed whole


@pytest.mark.reliability("CLI misuse and extreme values")
@pytest.mark.parametrize("argv", [c[1] for c in TYPER_CASES], ids=[c[0] for c in TYPER_CASES])
def test_cli_unparsable_value_is_a_usage_error(
    argv: list[str], environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main(argv)
    err = capsys.readouterr().err
    assert done.value.code == 2, err
    assert "Traceback" not in err and err.strip()


@pytest.mark.reliability("CLI misuse and extreme values")
@pytest.mark.parametrize("options", [c[1] for c in SERVE_CASES], ids=[c[0] for c in SERVE_CASES])
def test_cli_serve_extreme_value_is_one_line_exit_2(options: list[str], store: Path, tmp_path: Path) -> None:
    options = [str(store) if o == "STORE" else o for o in options]
    rows = ["--rows", str(PROJECT_ROOT.parent / "shared" / "openf1" / "world" / "2024")]
    port = [] if "--port" in options else ["--port", "0"]  # an accepted case must not take a fixed port
    command = [
        sys.executable, "-m", "ingestion", "serve", *([] if "--store" in options else rows), *port, *options
    ]
    try:
        result = subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"serve accepted {options} and served")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


@pytest.mark.parametrize("text", [OLD, FAR, "0001-01-01", "9999-12-31T23:59:59Z", "1899-12-31T23:59:59Z"])
def test_instant_out_of_range_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match=r"^--as-of: .* between 1900-01-01 and 2999-12-31"):
        parse_instant(text, option="--as-of")


@pytest.mark.parametrize("text", ["1900-01-01T00:00:00Z", "2999-12-31T23:59:59Z", "2024-12-08T18:00+14:00"])
def test_instant_in_range_is_read(text: str) -> None:
    assert parse_instant(text).year in (1900, 2999, 2024)
