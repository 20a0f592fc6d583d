"""Every command has help with an example, and the README or docs/ document it with that example."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import typer.main
from typer.testing import CliRunner

from ingestion.cli import app
from ingestion.config import PROJECT_ROOT


def _commands() -> Iterator[tuple[str, ...]]:
    def walk(command: object, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            if getattr(command, "invoke_without_command", False):
                yield path  # a group that is a command itself: `ingest runs`
            for name, sub in sorted(subcommands.items()):
                yield from walk(sub, (*path, name))
        else:
            yield path

    yield from walk(typer.main.get_command(app), ())


COMMANDS = list(_commands())


def _documentation() -> str:
    texts = [(PROJECT_ROOT / "README.md").read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8") for p in sorted((PROJECT_ROOT / "docs").glob("*.md"))]
    return "\n".join(texts)


def test_cli_has_the_documented_areas() -> None:
    """The CLI registers the command groups the README promises."""
    top = {path[0] for path in COMMANDS}
    assert {"db", "snapshots", "serve", "fetch", "replay"} <= top


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_cli_command_has_help_with_example(path: tuple[str, ...]) -> None:
    """`ingest <command> --help` exits 0 and shows an `Example:` line for that command."""
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="ingest")
    assert result.exit_code == 0, result.output
    example = re.search(r"Example:\s*(ingest [^\n]*)", result.output)
    assert example, f"`ingest {' '.join(path)} --help` has no `Example: ingest ...` line"
    assert example.group(1).startswith("ingest " + " ".join(path)), example.group(1)


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_cli_command_is_documented(path: tuple[str, ...]) -> None:
    """The README or a page in docs/ shows `ingest <command>` being typed."""
    needle = "ingest " + " ".join(path)
    assert needle in _documentation(), f"`{needle}` is not documented in README.md or docs/"


def test_cli_serve_help_lists_the_server_fault_kinds() -> None:
    """`ingest serve --help` names the fault kinds without importing the server: the same as the server's."""
    from ingestion.cli import serve as serve_cli
    from ingestion.server import FAULT_KINDS

    assert serve_cli.FAULT_KINDS == FAULT_KINDS, "a fault kind was added: list it in ingestion/cli/serve.py"


def test_cli_help_imports_no_command_library() -> None:
    """`ingest --help` (a fresh interpreter) imports neither psycopg, httpx, the server, the fetch stage nor
    pydantic: each command imports its library when it runs (start-up time)."""
    import subprocess
    import sys

    code = (
        "import sys; from ingestion.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ['psycopg', 'httpx', 'pydantic', 'ingestion.server', 'ingestion.fetch',\n"
        "         'ingestion.replay', 'ingestion.db.connection', 'asyncio']\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout[-500:]
