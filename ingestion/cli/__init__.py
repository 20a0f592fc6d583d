"""The ``ingest`` command: parses arguments, calls one library function per command, prints.

Each area registers its commands from its own module (``cli/db.py``, ``cli/snapshots.py``...). Errors
raised by the library (:class:`~ingestion.errors.IngestionError`) become one line on stderr and the
error's exit code; nothing here holds pipeline logic.
"""

from __future__ import annotations

import typer

from ingestion.cli.runner import INTERRUPTED, fail, run_app

__all__ = ["INTERRUPTED", "app", "fail", "main", "run_app"]

app = typer.Typer(
    name="ingest",
    help="Parc Fermé ingestion: fetch OpenF1 into immutable snapshots, replay them into PostgreSQL.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _register() -> None:
    from ingestion.cli import check, db, fetch, ops, replay, run, runs, serve, snapshots, sync, watch

    for module in (db, snapshots, serve, fetch, replay, sync, watch, ops, run, check, runs):
        module.register(app)


_register()


def main(argv: list[str] | None = None, prog_name: str = "ingest") -> None:
    """Entry point of ``ingest`` and ``python -m ingestion``."""
    run_app(app, argv, prog_name)
