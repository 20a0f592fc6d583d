"""``ingest serve``: an OpenF1-compatible server over raw rows or a snapshot store (offline mirror, tests)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ingestion.cli.lazy import lazy
from ingestion.instant import parse_optional

if TYPE_CHECKING:
    from ingestion.server import Drop, Fault, ServerConfig, serve
else:  # the server (http.server, its answers) only when `ingest serve` runs
    ServerConfig = lazy("ingestion.server", "ServerConfig")
    serve = lazy("ingestion.server", "serve")

#: ``ingestion.server.FAULT_KINDS``, written out for --help without importing the server (a test keeps
#: the two equal).
FAULT_KINDS = (
    "429", "500", "502", "503", "504", "401", "html", "empty", "truncated", "reset", "slow", "deep"
)


def _fault(text: str) -> Fault:
    from ingestion.server import Fault

    return Fault.parse(text)


def _drop(text: str) -> Drop:
    from ingestion.server import Drop

    return Drop.parse(text)


def _rate(flag: str, text: str) -> Any:
    """One of the four rate-limit options (free/paid, per second/minute): a number of requests."""
    return typer.Option(flag, metavar="N", help=text)


def serve_command(
    rows: Annotated[
        list[Path] | None,
        typer.Option("--rows", metavar="DIR", file_okay=False,
                     help="A folder of ENDPOINT.json files (JSON arrays of rows); repeatable."),
    ] = None,
    store: Annotated[
        Path | None,
        typer.Option("--store", metavar="DIR", file_okay=False,
                     help="A snapshot store: serve the rows of its latest snapshots."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="With --store: the store as it was then (ISO-8601, UTC if no zone)."),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on; 0 picks a free one.")] = 8000,
    per_second: Annotated[float, _rate("--per-second", "Free tier: requests a second (0: no limit).")] = 3.0,
    per_minute: Annotated[float, _rate("--per-minute", "Free tier: requests a minute (0: no limit).")] = 30.0,
    paid_per_second: Annotated[
        float, _rate("--paid-per-second", "With a Bearer token: requests per second.")
    ] = 6.0,
    paid_per_minute: Annotated[
        float, _rate("--paid-per-minute", "With a Bearer token: requests per minute.")
    ] = 60.0,
    token_user: Annotated[
        str | None, typer.Option("--token-user", help="Enable POST /token for this username.")
    ] = None,
    token_password: Annotated[
        str | None,
        typer.Option("--token-password", help="The password POST /token expects.",
                     envvar="OPENF1_SERVE_TOKEN_PASSWORD"),
    ] = None,
    token_ttl: Annotated[float, typer.Option("--token-ttl", help="Token lifetime in seconds.")] = 3600.0,
    fault: Annotated[
        list[str] | None,
        typer.Option("--fault", metavar="KIND:EVERY",
                     help=f"Every EVERY-th GET fails as KIND ({', '.join(FAULT_KINDS)}); repeatable."),
    ] = None,
    slow_seconds: Annotated[
        float, typer.Option("--slow-seconds", help="Delay of a `slow` fault, in seconds.")
    ] = 2.0,
    now_is: Annotated[
        str | None,
        typer.Option("--now-is", help="Move the rows in time: this instant of theirs is now (ISO-8601)."),
    ] = None,
    live_block: Annotated[
        bool,
        typer.Option("--live-block", help="Answer 401 to anonymous GETs from 30 min before a session "
                     "to 30 min after it, as OpenF1 does."),
    ] = False,
    no_or: Annotated[
        bool,
        typer.Option("--no-or", help="Like OpenF1 before August 2025: a repeated filter key keeps only its "
                     "last value (meeting_key=1229&meeting_key=1230 answers 1230 alone)."),
    ] = False,
    drop: Annotated[
        list[str] | None,
        typer.Option("--drop", metavar="ENDPOINT:KEYS",
                     help="Serve ENDPOINT without these meetings' rows (a gap, as OpenF1 has them): "
                     "drivers:1250,1251,1252, or sessions:all; repeatable."),
    ] = None,
    f1db: Annotated[
        Path | None,
        typer.Option(
            "--f1db",
            metavar="DIR",
            file_okay=False,
            help="A folder of f1db release archives (f1db-YYYY.R.P.tar.gz): also answer GitHub's "
            "release endpoints for them (releases/latest, releases/tags/TAG, tarball/TAG). "
            "Data from f1db (CC BY 4.0).",
        ),
    ] = None,
    f1db_limit: Annotated[
        int | None,
        typer.Option(
            "--f1db-limit",
            metavar="N",
            help="With --f1db: answer N API requests, then GitHub's 403 with x-ratelimit-remaining: 0.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No line per request on stderr.")] = False,
) -> None:
    """Serve OpenF1's API (GET /v1/ENDPOINT?filters) from rows on disk or a snapshot store, until Ctrl-C.

    Answers like OpenF1: same filters, 404 {"detail":"No results found."} when nothing matches,
    429 "Rate exceeded" over the limits. Point OPENF1_BASE_URL at the printed URL. With --f1db, also
    GitHub's f1db release endpoints from a folder of archives: point F1DB_URL at the printed URL.
    Data from f1db (CC BY 4.0).

    Example: ingest serve --rows ../shared/openf1/world/2024 --f1db ../shared/f1db --port 8000
    """
    config = ServerConfig(
        host=host,
        port=port,
        per_second=per_second,
        per_minute=per_minute,
        paid_per_second=paid_per_second,
        paid_per_minute=paid_per_minute,
        token_user=token_user,
        token_password=token_password,
        token_ttl=token_ttl,
        faults=tuple(_fault(text) for text in fault or ()),
        slow_seconds=slow_seconds,
        live_block=live_block,
        or_repeated=not no_or,
        drops=tuple(_drop(text) for text in drop or ()),
        f1db_limit=f1db_limit,
    )
    stats = serve(
        list(rows or ()),
        store,
        config,
        as_of=parse_optional(as_of, option="--as-of"),
        now_is=parse_optional(now_is, option="--now-is"),
        f1db=f1db,
        announce=typer.echo,
        log=None if quiet else sys.stderr,
    )
    typer.echo(f"stopped after {stats.total} request(s)", err=True)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
