"""``ingest runs``: the history of fetch runs (the store's log) and replay runs (the database), newest
first."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ingestion.cli.conventions import Verbosity, verbosity
from ingestion.cli.lazy import lazy
from ingestion.cli.options import JsonOption, StoreOption, settings_for
from ingestion.cli.render import human_size, json_text, print_table, wrap_summary
from ingestion.errors import IngestionError, UsageError
from ingestion.instant import format_duration
from ingestion.masking import mask_text

if TYPE_CHECKING:
    from ingestion.fetch.record import read_records
    from ingestion.ops.runs import RunInfo, fetch_runs, find_run, history, release_runs, replay_runs
    from ingestion.store import Store
else:  # the store, fetch and the database only when `ingest runs` runs
    read_records = lazy("ingestion.fetch.record", "read_records")
    fetch_runs = lazy("ingestion.ops.runs", "fetch_runs")
    release_runs = lazy("ingestion.ops.runs", "release_runs")
    find_run = lazy("ingestion.ops.runs", "find_run")
    history = lazy("ingestion.ops.runs", "history")
    replay_runs = lazy("ingestion.ops.runs", "replay_runs")
    Store = lazy("ingestion.store", "Store")

runs_app = typer.Typer(invoke_without_command=True)  # its help: runs_command's docstring (with its example)



def _collect(store: Path | None) -> tuple[list[RunInfo], str | None]:
    """Every run; and a note when the database could not be read (fetch runs are listed anyway)."""
    settings = settings_for(store)
    root = settings.snapshot_dir
    the_store = Store(root)
    events = the_store.events(strict=False) if (root / "log").is_dir() else []
    fetches = fetch_runs(events, read_records(root))
    if (root / "log").is_dir():  # f1db releases: a run of their own each, with no OpenF1 event
        fetches += release_runs(the_store.releases(strict=False))
    note = None
    replays: list[RunInfo] = []
    try:
        from ingestion.db import connect, database_url

        url = database_url(settings)
        with connect(url, autocommit=True) as conn:
            replays = replay_runs(conn)
    except IngestionError as error:
        note = f"replay runs not listed: {mask_text(str(error))}"
    return history(fetches, replays), note


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S}Z"


def _short_when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


def _asked(run: RunInfo) -> str:
    """What was asked, compact: a replay's instant to the second (``runs show`` has it whole)."""
    return re.sub(r"(T\d\d:\d\d:\d\d)\.\d+", r"\1", run.asked)


def _cell(run: RunInfo) -> str:
    """The RESULT cell: ``5979 rows``, ``148 answers, 2.9 MB, 2 failed``."""
    return _result(run, compact=True)


def _value(value: object, unit: str = "") -> str:
    """A detail of ``runs show`` as words: ``read 0.02 s, decode 0.05 s``, ``yes``, ``3``."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}{unit}" if unit else f"{value:.3g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_value(v, unit)}" for k, v in value.items()) or "none"
    return str(value)


#: Details ``runs show`` leaves to --json: shown above already, or a digest that means nothing to a reader.
_JSON_ONLY = frozenset({"run", "unchanged_proof", "command", "asked", "finished_at", "wall_s", "exit_code"})


def _result(run: RunInfo, *, compact: bool = False) -> str:
    """What a run did: ``5979 row(s) written``, ``148 answer(s), 2.9 MB, 2 failed`` (``compact``: the
    table's cell, ``5979 rows``, ``148 answers, ...``)."""
    if run.kind == "replay":
        return f"{run.written} rows" if compact else f"{run.written} row(s) written"
    parts = [f"{run.requests} answers" if compact else f"{run.requests} answer(s)"]
    if run.bytes:
        parts.append(human_size(run.bytes))
    if run.throttled:
        parts.append(f"{run.throttled} x 429")
    if run.failed:
        parts.append(f"{run.failed} failed")
    return ", ".join(parts)


def _exit(run: RunInfo) -> str:
    return "?" if run.exit_code is None else str(run.exit_code)


def _json(value: object) -> None:
    typer.echo(json_text(value))


@runs_app.callback()
def runs_command(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, metavar="N", help="At most N runs.")] = 20,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """List past runs, newest first: when, what was asked, what it did, exit status, duration.

    Fetch runs come from the snapshot store's log (exit status "?" when a run left no record: interrupted
    or killed); replay runs from the database's ingestion.replay_runs. Show one in full with
    `ingest runs show RUN`.

    Example: ingest runs --limit 5
    """
    if ctx.invoked_subcommand is not None:
        return
    runs, note = _collect(store)
    shown = runs[:limit]
    if as_json:
        _json({"runs": shown, "total": len(runs), "note": note})
        return
    if note and verbosity() is not Verbosity.QUIET:
        typer.echo(f"note: {note}", err=True)
    if not runs:
        typer.echo("no runs yet: `ingest fetch` and `ingest replay` (or `ingest sync`) leave one each")
        return
    print_table(
        ["KIND", "RUN", "STARTED (UTC)", "ASKED", "RESULT", "EXIT", "TOOK"],
        [
            [r.kind, r.id, _short_when(r.started_at), _asked(r), _cell(r), _exit(r),
             "-" if r.duration_s is None else format_duration(r.duration_s)]
            for r in shown
        ],
        right=[5, 6],
        shrink=[3, 4],  # one line a run at the terminal's width: ASKED and RESULT are cut, the id never
        drop=[0, 6],  # then KIND (ASKED says replay or fetch) and TOOK go
    )
    if len(runs) > limit and verbosity() is not Verbosity.QUIET:
        typer.echo(f"({len(runs) - limit} older run(s) not shown: --limit {len(runs)})")


@runs_app.command("show")
def show_command(
    run: Annotated[
        str, typer.Argument(metavar="RUN", help="A fetch run id (or its unique start) or a replay number.")
    ],
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """Show one run in full: counts, per-table rows for a replay, failures and 429s for a fetch.

    Example: ingest runs show 20261130T000757Z-b4d6db
    """
    runs, note = _collect(store)
    found = find_run(runs, run)
    if found is None:
        where = f" ({note})" if note else ""
        raise UsageError(f"no run {run!r}: `ingest runs` lists them{where}")
    if as_json:
        _json(found)
        return
    typer.echo(f"{found.kind} run {found.id}")
    typer.echo(f"  asked     {found.asked}")
    typer.echo(f"  started   {_when(found.started_at)}")
    typer.echo(f"  finished  {_when(found.finished_at)}")
    if found.duration_s is not None:
        typer.echo(f"  took      {format_duration(found.duration_s)}")
    typer.echo(f"  exit      {_exit(found)}")
    if found.kind != "replay":
        typer.echo(f"  result    {_result(found)}")
    for key, value in found.details.items():
        label = key.replace("_", " ")
        if isinstance(value, list):
            typer.echo(f"  {label}: {len(value)}")
            for item in value:
                typer.echo(f"    {item}")
        elif key not in _JSON_ONLY and value is not None:
            unit = " s" if key == "seconds" else ""
            for line in wrap_summary(f"  {label:<9} {_value(value, unit)}", indent=" " * 12):
                typer.echo(line)
    if found.rows:
        print_table(
            ["TABLE", "INSERTED", "UPDATED", "UNCHANGED", "REMOVED"],
            [
                [name, *(str(c.get(k, 0)) for k in ("inserted", "updated", "unchanged", "removed"))]
                for name, c in found.rows.items()
            ],
            right=[1, 2, 3, 4],
        )


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")
