"""The ``ingest`` command: parses arguments, calls one library function per command, prints.

Each area registers its commands from its own module (``cli/db.py``, ``cli/snapshots.py``...). Errors
raised by the library (:class:`~ingestion.errors.IngestionError`) become one line on stderr and the
error's exit code; nothing here holds pipeline logic.
"""

from __future__ import annotations

import typer

from ingestion.errors import IngestionError, Interrupted
from ingestion.secrets import mask_text

app = typer.Typer(
    name="ingest",
    help="Parc Fermé ingestion: fetch OpenF1 into immutable snapshots, replay them into PostgreSQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _register() -> None:
    from ingestion.cli import db, fetch, ops, replay, run, serve, snapshots, sync

    for module in (db, snapshots, serve, fetch, replay, sync, ops, run):
        module.register(app)


_register()


#: What Ctrl-C leaves behind, for every command: writes are all-or-nothing (one transaction per replay and
#: migration; each snapshot is written to a temporary file and renamed), so nothing is half-written.
INTERRUPTED = "interrupted: nothing was left half-written; run the same command again to finish"


def fail(error: IngestionError) -> None:
    """Print ``error`` as one line on stderr and exit with its code."""
    prefix = "" if isinstance(error, Interrupted) else "error: "
    typer.echo(f"{prefix}{mask_text(str(error))}", err=True)
    raise SystemExit(error.exit_code)


def run_app(command: typer.Typer, argv: list[str] | None, prog_name: str) -> None:
    """Run ``command`` as ``prog_name``: our errors become one line and their exit code; usage errors exit 2
    (typer); Ctrl-C, which typer turns into a silent exit 130, says what it left behind."""
    try:
        command(args=argv, prog_name=prog_name)
    except IngestionError as error:
        fail(error)
    except SystemExit as done:
        if done.code == 130:
            typer.echo(INTERRUPTED, err=True)
        raise


def main(argv: list[str] | None = None, prog_name: str = "ingest") -> None:
    """Entry point of ``ingest`` and ``python -m ingestion``."""
    run_app(app, argv, prog_name)
