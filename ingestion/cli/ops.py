"""Operations: ``ingest healthcheck``, ``ingest db audit`` and ``ingest db clean-racing``.

Each command parses its options, calls one library function (:func:`ingestion.ops.healthcheck.healthcheck`,
:func:`ingestion.ops.audit.audit_database`, :func:`ingestion.db.commands.clean_racing_database`) and prints
what it returns.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from ingestion.cli.db import db_app
from ingestion.cli.lazy import lazy
from ingestion.cli.render import echo_lines, json_text
from ingestion.cli.reports import print_audit
from ingestion.config import load_settings
from ingestion.errors import UsageError

if TYPE_CHECKING:
    from ingestion.db.clean import CleanReport
    from ingestion.db.commands import clean_racing_database
    from ingestion.ops.audit import audit_database
    from ingestion.ops.healthcheck import exit_code, format_check, healthcheck
else:  # the database, audit and healthcheck only when their command runs
    clean_racing_database = lazy("ingestion.db.commands", "clean_racing_database")
    audit_database = lazy("ingestion.ops.audit", "audit_database")
    exit_code = lazy("ingestion.ops.healthcheck", "exit_code")
    format_check = lazy("ingestion.ops.healthcheck", "format_check")
    healthcheck = lazy("ingestion.ops.healthcheck", "healthcheck")

__all__ = ["audit_command", "clean_racing_command", "healthcheck_command", "register"]


def _json(value: object) -> None:
    typer.echo(json_text(value))


def healthcheck_command(
    offline: bool = typer.Option(False, "--offline", help="Ask neither OpenF1 nor GitHub (no network)."),
    json: bool = typer.Option(False, "--json", help="Print the checks as JSON."),
) -> None:
    """Check the database, migrations, snapshot store and OpenF1: one line each.

    Migrations: none pending, none changed, and the unique indexes every re-sync upserts on. With f1db
    among the sources: how old the newest f1db release in the store is, and (not --offline) whether
    GitHub (F1DB_URL) answers. Data from f1db (CC BY 4.0).
    Exit 0 only if every check that ran passed; a failed check prints the command that fixes it.

    Example: ingest healthcheck --offline
    """
    settings = load_settings()
    checks = healthcheck(settings, offline=offline)
    code = exit_code(checks)
    if json:
        _json({"ok": code == 0, "checks": checks})
    else:
        ascii_only = not sys.stdout.isatty()
        for check in checks:
            echo_lines(format_check(check, ascii_only=ascii_only))
    raise typer.Exit(code)


def audit_command(
    json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    results: bool | None = typer.Option(
        None, "--results/--no-results",
        help="Run the checks that need results or skip them (default: as the last replay ran).",
    ),
) -> None:
    """Audit the racing data's quality (read-only); exit 1 on an integrity problem.

    Nulls where values are expected, orphans, duplicate drivers, rounds without sessions, completed races
    without results, sessions that do not fit their round's pattern, and a summary per season. The result
    checks follow the last replay (a --no-results sync has no results by design) unless told.

    Exit 1 on an integrity problem, 0 when there are only warnings. Read-only.

    Example: ingest db audit --no-results
    """
    report = audit_database(load_settings(), results=results)
    if json:
        _json(report.json())
    else:
        print_audit(report)
    raise typer.Exit(0 if report.ok else 1)


def _print_counts(report: CleanReport, verb: str) -> None:
    for c in report.counts:
        typer.echo(f"  {c.table:<16} {c.rows:>8}")
    typer.echo(f"{verb} {report.total} racing row(s) in {len(report.counts)} tables")


def clean_racing_command(
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be deleted; delete nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON (with --dry-run or --yes)."),
) -> None:
    """Delete all racing data so the next replay rebuilds it; never user data.

    Deletes results, entrants, sessions, rounds, seasons, series, drivers, teams, circuits and the alias
    tables in one transaction. Refuses, deleting nothing, when a table outside the racing set holds rows
    that reference racing rows. Asks for confirmation unless --yes.

    Example: ingest db clean-racing --dry-run
    """
    if as_json and not (dry_run or yes):
        raise UsageError("clean-racing --json does not ask for confirmation: add --dry-run or --yes")
    if not dry_run and not yes and not sys.stdin.isatty():
        raise UsageError(
            "clean-racing deletes every racing row and there is no terminal to confirm on: pass --yes"
        )
    settings = load_settings()
    if as_json:
        run = clean_racing_database(settings, dry_run=dry_run)
        _json(run.json())
        raise typer.Exit(1 if run.report.blockers else 0)

    def preview(database: str, report: CleanReport) -> None:
        typer.echo(f"racing data in {database}:")
        _print_counts(report, "would delete")

    def confirm(database: str, report: CleanReport) -> bool:
        return typer.confirm(f"Delete these {report.total} rows from {database}?", default=False)

    ask = None if yes else confirm
    run = clean_racing_database(settings, dry_run=dry_run, on_preview=preview, confirm=ask)
    if dry_run:
        if run.report.blockers:
            typer.echo("would refuse: user data references racing data:")
            for r in run.report.blockers:
                typer.echo(f"  {r.describe()}")
            raise typer.Exit(1)
        typer.echo("dry run: nothing was deleted")
        return
    if run.aborted:
        typer.echo("aborted: nothing was deleted")
        raise typer.Exit(1)
    _print_counts(run.report, "deleted")
    typer.echo("racing data cleaned: the next `ingest replay` rebuilds it")


def register(app: typer.Typer) -> None:
    app.command("healthcheck")(healthcheck_command)
    db_app.command("audit")(audit_command)
    db_app.command("clean-racing")(clean_racing_command)
