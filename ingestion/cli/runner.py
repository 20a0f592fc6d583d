"""Running a typer app as a command: our errors become one line and their exit code.

Used by ``ingest`` (:func:`ingestion.cli.main`) and by the ``python -m ingestion.bulk_sync``, ``.healthcheck``
and ``.db`` entry points (:func:`run_standalone`), so every way in behaves the same.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import typer

from ingestion.errors import IngestionError, Interrupted
from ingestion.masking import mask_text

__all__ = ["INTERRUPTED", "database_failure", "fail", "os_failure", "run_app", "run_standalone"]

#: What Ctrl-C leaves behind, for every command: writes are all-or-nothing (one transaction per replay and
#: migration; each snapshot is written to a temporary file and renamed), so nothing is half-written.
INTERRUPTED = "interrupted: nothing was left half-written; run the same command again to finish"
#: What a command stopped by SIGTERM says (exit 143; a replay cancels its statement in the server first).
TERMINATED = "terminated (SIGTERM): nothing was left half-written; run the same command again to finish"


def fail(error: IngestionError) -> None:
    """Print ``error`` as one line on stderr and exit with its code."""
    prefix = "" if isinstance(error, Interrupted) else "error: "
    typer.echo(f"{prefix}{mask_text(str(error))}", err=True)
    raise SystemExit(error.exit_code)


class FileSystemError(IngestionError):
    """An operating-system error no command handled itself: a folder that cannot be created, a read-only
    file system, a full disk, a missing path (exit 1)."""


def os_failure(exc: OSError) -> IngestionError:
    """The one line for an OS error escaping a command: what failed, on which path, never a traceback."""
    what = exc.strerror or type(exc).__name__
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    where = f": {' -> '.join(paths)}" if paths else ""
    detail = "" if exc.strerror else f" ({exc})" if str(exc) else ""
    return FileSystemError(f"{what}{where}{detail}")


class _Watched:
    """``sys.stdout`` while a ``--json`` command runs: remembers whether anything was written, so a failure
    that printed nothing still leaves one JSON document on stdout (:func:`_json_failure`)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.written = False

    def write(self, text: str) -> int:
        if text:
            self.written = True
        return int(self._stream.write(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _json_failure(stdout: _Watched, code: int, message: str) -> None:
    """A failed ``--json`` command that printed nothing on stdout prints ``{"ok": false, ...}`` there."""
    if stdout.written or code == 0:
        return
    import msgspec

    document = {"ok": False, "exit_code": code, "error": mask_text(message)}
    stdout.write(msgspec.json.encode(document).decode("utf-8") + "\n")
    stdout.flush()


def database_failure(exc: BaseException) -> IngestionError | None:
    """The one-line error for a database failure escaping a command (any psycopg error after connecting:
    a statement timeout, a read-only database, a lost connection...); ``None`` for anything else. The one
    place every command's database errors are mapped
    (:func:`~ingestion.db.connection.translate_database_error`)."""
    psycopg = sys.modules.get("psycopg")  # not imported: no database was used, so this is not one
    if psycopg is None or not isinstance(exc, psycopg.Error):
        return None
    from ingestion.db.connection import translate_database_error

    return translate_database_error(exc)


class _WarningLines(logging.Handler):
    """The library's warnings (a lock being waited for, a damaged log line skipped) as plain lines on
    stderr, masked, whatever logging configuration the process has."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        typer.echo(mask_text(record.getMessage()), err=True)


class _DriverLines(logging.Handler):
    """psycopg's own warnings (``error ignored terminating <psycopg.Copy>`` while a lost connection is cleaned
    up) add nothing to the one line that already says the connection was lost: they show with ``--verbose``
    only, as ``psycopg: ...`` lines, instead of reaching stderr through logging's last-resort handler."""

    def emit(self, record: logging.LogRecord) -> None:
        from ingestion.cli import conventions

        if conventions.verbosity() is conventions.Verbosity.VERBOSE:
            typer.echo(mask_text(f"{record.name}: {record.getMessage()}"), err=True)


def run_app(command: typer.Typer, argv: list[str] | None, prog_name: str) -> None:
    """Run ``command`` as ``prog_name``: our errors become one line and their exit code; usage errors exit 2
    (typer); a database failure is one line too (:func:`database_failure`); Ctrl-C, which typer turns
    into a silent exit 130, says what it left behind. The library's warnings go to stderr, one line each;
    the database driver's go there with ``--verbose`` only."""
    lines, driver_lines = _WarningLines(), _DriverLines()
    library, driver = logging.getLogger("ingestion"), logging.getLogger("psycopg")
    library.addHandler(lines)
    driver.addHandler(driver_lines)
    driver_propagates, driver.propagate = driver.propagate, False
    try:
        _run(command, argv, prog_name)
    finally:
        library.removeHandler(lines)
        driver.removeHandler(driver_lines)
        driver.propagate = driver_propagates


def _run(command: typer.Typer, argv: list[str] | None, prog_name: str) -> None:
    args = sys.argv[1:] if argv is None else argv
    if "--json" not in args:
        _run_command(command, argv, prog_name)
        return
    watched = _Watched(sys.stdout)
    stderr, sys.stdout = sys.stderr, watched
    tee = _Tee(stderr)
    sys.stderr = tee
    try:
        _run_command(command, argv, prog_name)
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        said = [line for line in tee.tail.splitlines() if line.strip()]
        _json_failure(watched, code, said[-1].removeprefix("error: ") if said else f"exit {code}")
        raise
    finally:
        sys.stdout, sys.stderr = watched._stream, stderr


class _Tee:
    """stderr as it is, its last few kB kept (the last line is the error a ``--json`` failure reports; a
    watcher's live line would otherwise grow it for ever)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.tail = ""

    def write(self, text: str) -> int:
        self.tail = (self.tail + text)[-4096:]
        return int(self._stream.write(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _run_command(command: typer.Typer, argv: list[str] | None, prog_name: str) -> None:
    from typer.main import get_command

    from ingestion.cli import conventions

    conventions.set_verbosity(conventions.Verbosity.NORMAL)
    click_command = conventions.apply(get_command(command), version=True)
    try:
        click_command(args=argv, prog_name=prog_name)
    except IngestionError as error:
        fail(error)
    except BrokenPipeError:  # `ingest runs | head`: the reader has gone, nothing more to say
        raise SystemExit(1) from None
    except OSError as exc:  # psycopg's errors are not OSErrors: they are mapped below
        fail(os_failure(exc))
    except Exception as exc:
        mapped = database_failure(exc)
        if mapped is None:
            raise
        fail(mapped)
    except SystemExit as done:
        if done.code == 130:
            typer.echo(INTERRUPTED, err=True)
        elif done.code == 143:
            typer.echo(TERMINATED, err=True)
        raise


def run_standalone(
    command: typer.Typer | Callable[..., None], argv: list[str] | None, prog_name: str
) -> None:
    """Run one command (or a group) as ``prog_name``: ``python -m ingestion.bulk_sync``, ``.healthcheck``,
    ``.db``, exactly as ``ingest`` runs its commands."""
    if isinstance(command, typer.Typer):
        app = command
    else:
        app = typer.Typer(
            add_completion=False,
            pretty_exceptions_enable=False,
            context_settings={"help_option_names": ["-h", "--help"]},
        )
        app.command()(command)
    run_app(app, argv, prog_name)
