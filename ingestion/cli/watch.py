"""``ingest watch``: parse the options, call :func:`ingestion.watch.loop.run_watch`, print JSON lines."""

from __future__ import annotations

import contextlib
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer

from ingestion.cli.conventions import Verbosity, verbosity
from ingestion.cli.options import SourceOption, StoreOption, settings_for
from ingestion.cli.progress import WatchLine, WatchProgress, watch_words
from ingestion.cli.render import echo_lines
from ingestion.errors import UsageError
from ingestion.instant import parse_optional

if TYPE_CHECKING:
    from ingestion.config import Settings
    from ingestion.watch.state import WatchState


def _minutes(value: float, option: str) -> timedelta:
    if value <= 0:
        raise UsageError(f"{option} must be a positive number of minutes, got {value:g}")
    return timedelta(minutes=value)


def watch_command(
    once: Annotated[
        bool, typer.Option("--once", help="One pass, then exit 0/1 (for cron or a timer).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the schedule (due, next steps, wake-up); ask nothing.")
    ] = False,
    no_results: Annotated[
        bool, typer.Option("--no-results", help="Never ask nor write results (spoiler-safe).")
    ] = False,
    log_file: Annotated[
        Path | None,
        typer.Option("--log-file", metavar="FILE", dir_okay=False,
                     help="Append the JSON lines there instead of stdout."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON lines on stdout, even on a terminal (one per event).")
    ] = False,
    store: StoreOption = None,
    delay: Annotated[
        float,
        typer.Option("--delay", metavar="MINUTES", help="Wait after a session's end before asking."),
    ] = 15.0,
    max_sleep: Annotated[
        float, typer.Option("--max-sleep", metavar="MINUTES", help="Longest sleep between passes.")
    ] = 60.0,
    now: Annotated[
        str | None,
        typer.Option("--now", help="With --dry-run: the schedule as of this instant (ISO-8601, UTC)."),
    ] = None,
    source: SourceOption = None,
    allow_removals: Annotated[
        bool,
        typer.Option(
            "--allow-removals",
            help="Let replays remove rows of settled seasons beyond the circuit breaker's limit.",
        ),
    ] = False,
) -> None:
    """Keep the database current: fetch what a race weekend makes due, replay, sleep, again.

    Nothing is asked during a live session without credentials; results are asked again after a race
    (1 h, 6 h, 24 h, 3 d, 7 d) until the meeting settles. On a terminal: a short line per action (what it
    asked, what changed, the next wake-up) under a live line that says what it does or waits for, with a
    countdown. One JSON line per action with --json, --log-file or off a terminal. SIGTERM/Ctrl-C stop it
    (exit 0).
    With f1db among the sources (SOURCES, --source), a pass also asks f1db's latest release after each race,
    sprint and qualifying (+3 h, +6 h, +12 h, +24 h, then daily for a week after a race; weekly otherwise;
    one conditional request a step, the last ask kept in watch.json). Data from f1db (CC BY 4.0).

    Example: ingest watch --log-file /var/log/parc-ferme/watch.jsonl
    """
    from ingestion.fetch.sources import chosen_sources
    from ingestion.store import Store
    from ingestion.watch.events import WatchEvent, encode
    from ingestion.watch.loop import StopFlag, WatchConfig, install_signals, restore_signals, run_watch
    from ingestion.watch.plan import render_watch, store_f1db_plan, store_schedule
    from ingestion.watch.schedule import WatchOptions

    if delay < 0:
        raise UsageError(f"--delay must be 0 or more minutes, got {delay:g}")
    settings = settings_for(store)
    options = WatchOptions(
        results=not no_results,
        paid=settings.has_credentials,
        publication_delay=timedelta(minutes=delay),
        max_sleep=_minutes(max_sleep, "--max-sleep"),
        allow_removals=allow_removals,
    )
    instant = parse_optional(now, option="--now")
    if instant is not None and not dry_run:
        raise UsageError("--now only goes with --dry-run (the watcher runs on the real clock)")
    if dry_run:
        at = instant or datetime.now(UTC)
        plan, _ = store_schedule(Store(settings.snapshot_dir), options, at)
        f1db = None
        if "f1db" in chosen_sources(settings, source):
            f1db = store_f1db_plan(Store(settings.snapshot_dir), _state(settings), at)
        echo_lines(render_watch(plan, f1db))
        return
    stream: IO[str] | None = None  # where the JSON lines go
    if log_file is not None:
        try:
            stream = log_file.open("a", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--log-file {log_file}: {exc.strerror or exc}") from None
    elif as_json or not sys.stdout.isatty():
        stream = sys.stdout
    human = stream is not sys.stdout and sys.stdout.isatty() and verbosity() is not Verbosity.QUIET
    display = WatchProgress(sys.stderr, WatchLine(secrets=(settings.openf1_password,)))
    shared = sys.stdout.isatty()  # lines and the live line on one terminal: one at a time
    sink = _JsonLines(stream, log_file)

    def log(event: WatchEvent) -> None:
        with display.paused() if shared else contextlib.nullcontext():
            sink.write(encode(event))
            if human:
                echo_lines(watch_words(event), settings.openf1_password)
        display.event(event)

    stop = StopFlag()
    previous = install_signals(stop)
    try:
        config = WatchConfig(options=options, once=once, sources=chosen_sources(settings, source))
        code = run_watch(settings, config, log=log, stop=stop, progress=display.progress)
    finally:
        display.clear()
        restore_signals(previous)
        sink.close()
    raise SystemExit(code)


def _state(settings: Settings) -> WatchState | None:
    """The watcher's state in the store (its last f1db ask), None when there is none or it is unreadable."""
    from ingestion.watch.state import StateUnreadable, read_state

    try:
        return read_state(settings.snapshot_dir)
    except StateUnreadable:
        return None


class _JsonLines:
    """The watcher's JSON lines on ``stream`` (none when None). A write that fails (a full disk, a log file
    gone read-only) never stops the watcher: one warning on stderr, and the lines go to stderr from then
    on, so the passes still run and nothing said is lost."""

    def __init__(self, stream: IO[str] | None, path: Path | None) -> None:
        self.stream = stream
        self.path = path
        self.failed = False

    def write(self, line: str) -> None:
        if self.stream is None:
            return
        if self.failed:
            typer.echo(line, err=True)
            return
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except OSError as exc:
            self.failed = True
            where = f"--log-file {self.path}" if self.path is not None else "stdout"
            typer.echo(
                f"warning: cannot write {where}: {exc.strerror or exc}; the watcher goes on, its JSON "
                "lines on stderr",
                err=True,
            )
            typer.echo(line, err=True)

    def close(self) -> None:
        if self.stream is not None and self.stream is not sys.stdout:
            with contextlib.suppress(OSError):
                self.stream.close()


def register(app: typer.Typer) -> None:
    app.command("watch")(watch_command)
