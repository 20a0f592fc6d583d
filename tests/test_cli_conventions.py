"""What every command owes the operator: -h, --quiet/--verbose, --version, one metavar style, completion."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main

import ingestion
from ingestion.cli import app, main
from ingestion.config import PROJECT_ROOT


def _paths() -> Iterator[tuple[str, ...]]:
    def walk(command: object, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        yield path
        for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
            yield from walk(sub, (*path, name))

    yield from walk(typer.main.get_command(app), ())


PATHS = list(_paths())


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[object, str]:
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    return done.value.code, capsys.readouterr().out


def _options_section(help_text: str) -> str:
    return help_text.split("\nOptions:\n", 1)[1].split("\nCommands:\n", 1)[0]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "ingest")
def test_cli_conventions_every_command_has_short_help_quiet_verbose(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(capsys, *path, "-h")
    assert code == 0
    options = _options_section(out)
    assert "-q, --quiet" in options and "-v, --verbose" in options and "-h, --help" in options
    assert "<" not in options, options  # no `<bool>`, `<dir>`, `<list[int]>`
    assert "{" not in out.splitlines()[0], out.splitlines()[0]  # usage: `TARGET`, not `{TARGET}`
    for metavar in re.findall(r"^\s+(?:-\w, )?--[\w-]+ ([^\s/]\S*)", options, flags=re.MULTILINE):
        assert re.fullmatch(r"[A-Z][A-Z0-9:_-]*", metavar), f"{path}: metavar {metavar!r} is not in capitals"


def test_cli_conventions_help_wraps_to_the_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    code, out = _run(capsys, "fetch", "--help")
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 60


def test_cli_conventions_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "--version")
    assert code == 0
    assert out == f"ingest {ingestion.__version__}\n"
    # one source: the packaging metadata reads ingestion.__version__
    assert importlib.metadata.version("parc-ferme-ingestion") == ingestion.__version__


def test_cli_conventions_completion_can_be_shown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "--help")
    assert code == 0
    assert "--install-completion" in out and "--show-completion" in out


def test_cli_conventions_python_m_ingestion_db_takes_h() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ingestion.db", "-h"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: python -m ingestion.db [OPTIONS] COMMAND")
    assert "audit" in result.stdout and "-q, --quiet" in result.stdout


def test_cli_conventions_db_migrate_and_status_json(
    empty_db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", empty_db_url)
    code, out = _run(capsys, "db", "status", "--json")
    before = json.loads(out)
    assert code == 0 and before["applied"] == 0 and before["pending"] == len(before["migrations"]) > 0
    code, out = _run(capsys, "db", "migrate", "--json")
    assert code == 0 and json.loads(out)["applied"] == [m["name"] for m in before["migrations"]]
    code, out = _run(capsys, "db", "status", "--json")
    after = json.loads(out)
    assert after["pending"] == 0 and all(m["applied_at"] for m in after["migrations"])
    code, out = _run(capsys, "db", "migrate", "--json")
    assert json.loads(out)["applied"] == []


def test_cli_conventions_fsck_and_gc_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNAPSHOT_DIR", str(PROJECT_ROOT / "snapshots"))
    code, out = _run(capsys, "snapshots", "fsck", "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    code, out = _run(capsys, "snapshots", "gc", "--dry-run", "--json")
    assert code == 0
    assert json.loads(out) == {"dry_run": True, "blobs_removed": 0, "tmp_removed": 0, "bytes_freed": 0}


def test_cli_conventions_clean_racing_json(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    code, out = _run(capsys, "db", "clean-racing", "--dry-run", "--json")
    report = json.loads(out)
    assert code == 0 and report["dry_run"] is True and report["deleted"] is False and report["total"] == 0
    assert {c["table"] for c in report["counts"]} >= {"results", "drivers"}
    with pytest.raises(SystemExit) as refused:
        main(["db", "clean-racing", "--json"])
    assert refused.value.code == 2 and "add --dry-run or --yes" in capsys.readouterr().err
