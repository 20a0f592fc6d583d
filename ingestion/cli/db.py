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
    from ingestion.db.migrate import unknown
    from ingestion.db.naming import detect, resolve
else:  # psycopg only when a database command runs
    database = LazyModule("ingestion.db")
    embedded = LazyModule("ingestion.db.embedded")
    unknown = lazy("ingestion.db.migrate", "unknown")
    detect = lazy("ingestion.db.naming", "detect")
    resolve = lazy("ingestion.db.naming", "resolve")

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
    settings = load_settings()
    url = database.database_url(settings)
    with database.connect(url, autocommit=True) as conn:
        naming = resolve(conn, settings.database_schema)
        applied = database.migrate(conn, naming=naming)
    if as_json:
        _json({"database": mask_url(url), "naming": naming.kind, "applied": applied})
        return
    if naming.kind == "ef":
        typer.echo("the app's database (EF Core naming): only schema ingestion is managed here; "
                   "its own tables come from the app's migrations")
    if applied:
        for name in applied:
            typer.echo(f"applied {name}")
        typer.echo(f"{len(applied)} migration(s) applied to {mask_url(url)}")
    else:
        typer.echo(f"nothing to do: {mask_url(url)} is up to date")


@db_app.command("status")
def status_command(as_json: bool = JSON) -> None:
    """List applied and pending migrations.

    Example: ingest db status
    """
    settings = load_settings()
    url = database.database_url(settings)
    with database.connect(url, autocommit=True) as conn:
        naming = resolve(conn, settings.database_schema)
        found = detect(conn)
        states = database.status(conn, naming=naming)
        strangers = unknown(conn, naming=naming)
    pending = sum(1 for s in states if s.applied_at is None)
    if as_json:
        _json({
            "database": mask_url(url),
            "naming": naming.kind,
            "applied": len(states) - pending,
            "pending": pending,
            "migrations": states,
            "unknown": strangers,
        })  # fmt: skip
        raise typer.Exit(0)
    typer.echo(f"database: {mask_url(url)}")
    typer.echo(f"naming: {naming.kind} ({_naming_source(found, settings.database_schema)})")
    for s in states:
        if s.applied_at is None:
            mark = "pending"
        elif s.changed:
            mark = "CHANGED since applied"
        else:
            mark = f"applied {s.applied_at:%Y-%m-%d %H:%M:%S %Z}"
        typer.echo(f"  {s.name:<32} {mark}")
    for name in strangers:
        typer.echo(f"  {name:<32} applied, but not shipped by this version (renamed, or a newer ingester)")
    typer.echo(f"{len(states) - pending} applied, {pending} pending")


def _naming_source(found: str | None, setting: str) -> str:
    if setting != "auto":
        return f"DATABASE_SCHEMA={setting}; the catalog shows {found or 'no racing schema'}"
    if found == "ef":
        return "the app's EF Core database: only schema ingestion is the ingester's"
    if found == "snake":
        return "the ingester's own schema"
    return ("no racing schema yet: `ingest db migrate` creates the ingester's own; for the app's database, "
            "run its migrations (dotnet ef database update) first")


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
