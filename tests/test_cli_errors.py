"""How every command ends on an error or Ctrl-C: one line on stderr, the right exit code, no traceback."""

from __future__ import annotations

import pytest
import typer

from ingestion.cli import INTERRUPTED, run_app
from ingestion.errors import ConfigError, Interrupted


def _app(action: BaseException) -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.command()
    def boom() -> None:
        raise action

    return app


def _run(app: typer.Typer, capsys: pytest.CaptureFixture[str]) -> tuple[object, str]:
    with pytest.raises(SystemExit) as done:
        run_app(app, [], "ingest")
    return done.value.code, capsys.readouterr().err


def test_cli_error_is_one_masked_line_with_its_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    """An IngestionError prints `error: <message>` (passwords masked) and exits with its code."""
    code, err = _run(_app(ConfigError("DATABASE_URL", "bad postgresql://u:hunter2@h/db")), capsys)
    assert code == 2
    assert err == "error: DATABASE_URL: bad postgresql://u:***@h/db\n"


def test_cli_ctrl_c_says_nothing_was_half_written_and_exits_130(capsys: pytest.CaptureFixture[str]) -> None:
    """Ctrl-C in any command (typer makes it a silent exit 130) prints one line saying what was kept."""
    code, err = _run(_app(KeyboardInterrupt()), capsys)
    assert code == 130
    assert err.strip() == INTERRUPTED
    assert "Traceback" not in err


def test_cli_interrupted_error_prints_its_own_message_once(capsys: pytest.CaptureFixture[str]) -> None:
    """A command that reports its own interruption (fetch) prints that line alone, without `error:`."""
    code, err = _run(_app(Interrupted("interrupted: 12 answers kept")), capsys)
    assert code == 130
    assert err == "interrupted: 12 answers kept\n"


_DRIVER_WARNS_THEN_FAILS = """
import logging, sys, typer
from ingestion.cli import run_app
from ingestion.errors import ConfigError
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
@app.command()
def boom(verbose: bool = False) -> None:
    if verbose:
        from ingestion.cli import conventions
        conventions.set_verbosity(conventions.Verbosity.VERBOSE)
    lost = "error ignored terminating %s: the connection is lost"
    logging.getLogger("psycopg").warning(lost, "<Copy [BAD]>")
    raise ConfigError("DATABASE_URL", "lost")
run_app(app, sys.argv[1:], "ingest")
"""


@pytest.mark.parametrize("verbose", [False, True])
def test_cli_driver_cleanup_warning_is_not_a_second_error_line(verbose: bool) -> None:
    """psycopg's own warning while a lost connection is cleaned up (seen when a replay's backend is
    terminated mid-COPY) does not reach stderr beside the one error line, in a fresh process where logging
    has no handler of its own (its last-resort handler would print it); ``--verbose`` shows it, named."""
    import subprocess
    import sys

    argv = [sys.executable, "-c", _DRIVER_WARNS_THEN_FAILS] + (["--verbose"] if verbose else [])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2
    assert lines[-1] == "error: DATABASE_URL: lost"
    if verbose:
        assert lines[:-1] == ["psycopg: error ignored terminating <Copy [BAD]>: the connection is lost"]
    else:
        assert lines == ["error: DATABASE_URL: lost"]
