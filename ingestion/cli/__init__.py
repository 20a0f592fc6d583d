"""The ``ingest`` command: parses arguments, calls one library function per command, prints.

Each area registers its commands from its own module (``cli/db.py``, ``cli/snapshots.py``...). Errors
raised by the library (:class:`~ingestion.errors.IngestionError`) become one line on stderr and the
error's exit code; nothing here holds pipeline logic.
"""

from __future__ import annotations

import os
import sys

import typer

from ingestion.cli.runner import INTERRUPTED, fail, run_app

__all__ = ["INTERRUPTED", "app", "entry", "fail", "main", "run_app"]

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


def entry(argv: list[str] | None = None) -> None:
    """The ``ingest`` console script and ``python -m ingestion``: :func:`main`, then a fast exit.

    Once the command has returned and its output is flushed, the process ends with ``os._exit``: the
    interpreter's teardown (freeing every module and object: 130-200 ms here) does nothing a command
    needs. Every command closes its own files, connections and locks before it returns (context managers);
    nothing in the package registers atexit handlers. In-process callers (tests) use :func:`main`.
    """
    code: int = 0
    try:
        main(argv)
    except SystemExit as done:
        if isinstance(done.code, str):
            print(done.code, file=sys.stderr)
            code = 1
        else:
            code = done.code or 0
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # a closed pipe (| head): nothing more to say
        code = code or 1
    os._exit(code)
