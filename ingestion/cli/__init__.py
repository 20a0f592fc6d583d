"""The ``ingest`` command: parses arguments, calls one library function per command, prints.

Each area registers its commands from its own module (``cli/db.py``, ``cli/snapshots.py``...). Errors
raised by the library (:class:`~ingestion.errors.IngestionError`) become one line on stderr and the
error's exit code; nothing here holds pipeline logic.
"""

from __future__ import annotations

import typer

from ingestion.errors import IngestionError
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


def fail(error: IngestionError) -> None:
    """Print ``error`` as one line on stderr and exit with its code."""
    typer.echo(f"error: {mask_text(str(error))}", err=True)
    raise SystemExit(error.exit_code)


def main(argv: list[str] | None = None, prog_name: str = "ingest") -> None:
    """Entry point of ``ingest`` and ``python -m ingestion``: usage errors exit 2, ours with their code."""
    try:
        app(args=argv, prog_name=prog_name)
    except IngestionError as error:
        fail(error)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise SystemExit(130) from None
