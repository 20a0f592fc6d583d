"""``ingest db ...``: migrate, status, url, up, down (audit and clean-racing live in cli/ops.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ingestion.cli.lazy import LazyModule, lazy
from ingestion.cli.render import json_text
from ingestion.config import load_settings
from ingestion.masking import mask_url

if TYPE_CHECKING:
    from ingestion import db as database
    from ingestion.db import embedded
    from ingestion.db.commands import database_status, migrate_database
else:  # psycopg only when a database command runs
    database = LazyModule("ingestion.db")
    embedded = LazyModule("ingestion.db.embedded")
    database_status = lazy("ingestion.db.commands", "database_status")
    migrate_database = lazy("ingestion.db.commands", "migrate_database")

db_app = typer.Typer(help="The database: migrations, URL, the embedded server, audit, clean-racing.",
                     no_args_is_help=True)


def _json(value: object) -> None:
    typer.echo(json_text(value))


JSON = typer.Option(False, "--json", help="Print the result as JSON.")


@db_app.command("migrate")
def migrate_command(as_json: bool = JSON) -> None:
    """Apply pending migrations in order, each in its own transaction.

    On the app's own database (EF Core naming, see DATABASE_SCHEMA) only schema ingestion is managed.

    Example: ingest db migrate
    """
    done = migrate_database(load_settings())
    if as_json:
        _json(done)
        return
    if done.naming == "ef":
        typer.echo("the app's database (EF Core naming): only schema ingestion is managed here; "
                   "its own tables come from the app's migrations")
    if done.applied:
        for name in done.applied:
            typer.echo(f"applied {name}")
        typer.echo(f"{len(done.applied)} migration(s) applied to {done.database}")
    else:
        typer.echo(f"nothing to do: {done.database} is up to date")


@db_app.command("status")
def status_command(as_json: bool = JSON) -> None:
    """List applied and pending migrations.

    Example: ingest db status
    """
    found = database_status(load_settings())
    if as_json:
        _json(found.json())
        raise typer.Exit(0)
    typer.echo(f"database: {found.database}")
    typer.echo(f"naming: {found.naming} ({found.source})")
    for s in found.migrations:
        if s.applied_at is None:
            mark = "pending"
        elif s.changed:
            mark = "CHANGED since applied"
        else:
            mark = f"applied {s.applied_at:%Y-%m-%d %H:%M:%S %Z}"
        typer.echo(f"  {s.name:<32} {mark}")
    for name in found.unknown:
        typer.echo(f"  {name:<32} applied, but not shipped by this version (renamed, or a newer ingester)")
    typer.echo(f"{found.applied} applied, {found.pending} pending")


@db_app.command("url")
def url_command() -> None:
    """Print the database URL in use (password masked); starts the embedded server if needed.

    Example: ingest db url
    """
    settings = load_settings()
    typer.echo(mask_url(database.database_url(settings)))


@db_app.command("up")
def up_command() -> None:
    """Start the embedded PostgreSQL (or say which DATABASE_URL is in use).

    Example: ingest db up
    """
    settings = load_settings()
    if settings.database_url:
        shown = mask_url(settings.database_url)
        typer.echo(f"DATABASE_URL is set: using {shown} (no embedded server needed)")
        return
    url = embedded.start(settings.pgdata_dir)
    typer.echo(f"embedded PostgreSQL running: {url} (data in {settings.pgdata_dir})")


@db_app.command("down")
def down_command() -> None:
    """Stop the embedded PostgreSQL, if it runs.

    Example: ingest db down
    """
    settings = load_settings()
    if embedded.stop(settings.pgdata_dir):
        typer.echo(f"embedded PostgreSQL stopped (data kept in {settings.pgdata_dir})")
    else:
        typer.echo("embedded PostgreSQL is not running")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
