"""Progress of fetch, sync, bulk, watch and replay on stderr: a live line on a terminal, plain lines off it.

On a terminal the line is drawn by rich (imported only then) and always fits the terminal's width: a bar,
done/total, percentage, elapsed time, ETA, and the current request or, while waiting for the rate limit, a
429 or a retry backoff, a countdown that moves on its own. It is cleared at the end, when the summary is
printed. Off a terminal (a pipe, a cron log) each answer, plan and notable event is one plain line; waits
for the rate limit happen before most requests and are printed only with ``--verbose``. ``--quiet`` shows
no progress at all. Colour follows rich's rules: none off a terminal, none with ``NO_COLOR`` set.

``ingest watch`` (:class:`WatchProgress`) draws the same kind of line: what the watcher does, or what it
waits for with a countdown to its next wake-up, and fetch's own line while a pass fetches; its plain form is
its JSON lines. ``ingest replay`` (:class:`StageProgress`) shows the stage it is in, once it has run long
enough to matter; nothing off a terminal.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

from ingestion.cli.conventions import Verbosity, verbosity
from ingestion.cli.lazy import lazy
from ingestion.masking import mask_text

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

    from ingestion.fetch import Progress, render_progress
    from ingestion.replay.summary import ReplayStep
    from ingestion.watch.events import WatchEvent
else:  # the fetch stage only once progress is drawn
    render_progress = lazy("ingestion.fetch", "render_progress")

__all__ = ["LiveLine", "ProgressLine", "StageProgress", "WatchLine", "WatchProgress", "watch_words"]

BAR_WIDTH = 20  # the widest bar (160 columns and more): an eighth of the width below, so words keep room


def clock_time(seconds: float) -> str:
    """``65.4`` -> ``"1:05"``, ``3725`` -> ``"1:02:05"``: compact, fixed in shape, rounded once."""
    whole = max(round(seconds), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def bar_width(width: int) -> int:
    return min(BAR_WIDTH, max(width // 8, 4))


def fit(words: str, room: int) -> str:
    """``words`` cut to ``room`` characters, an ellipsis marking the cut."""
    return words if len(words) <= room else words[: max(room - 1, 0)] + "…"


def bar_line(fraction: float, words: str, width: int) -> Any:
    """A rich Text of one line: the bar (``fraction`` filled), then ``words``, never wider than ``width``."""
    from rich.text import Text

    bar = bar_width(width)
    filled = round(fraction * bar)
    line = Text.assemble(
        ("━" * filled, "bar.complete"), ("─" * (bar - filled), "bar.back"), " ", words,
        no_wrap=True, overflow="ellipsis",
    )  # fmt: skip
    line.truncate(width, overflow="ellipsis")
    return line


class LiveLine:
    """The state of the live line and how it renders at a given width (a rich renderable).

    ``clock`` (monotonic seconds) is read at render time, so the countdown and the elapsed time move
    between events: rich's Live refreshes it several times a second.
    """

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, secrets: tuple[str | None, ...] = ()
    ) -> None:
        self.clock = clock
        self.secrets = secrets
        self.started = clock()
        self.last: Progress | None = None
        self.last_at = self.started
        self.wait_until: float | None = None
        self.wait_label = ""

    def update(self, progress: Progress) -> None:
        now = self.clock()
        self.last, self.last_at = progress, now
        if progress.stage == "note" and progress.wait_s > 0:
            self.wait_until = now + progress.wait_s
            if progress.message.startswith("429"):
                self.wait_label = "429, waiting"
            elif "retrying" in progress.message:
                self.wait_label = progress.message.split(":", 1)[0] + ", retry in"
            else:
                self.wait_label = "rate limit, next in"
        elif progress.stage != "note":
            self.wait_until = None

    def text(self, width: int) -> tuple[float, str]:
        """The fraction done and the words after the bar, cut to fit ``width - bar_width(width) - 1``."""
        now = self.clock()
        p = self.last
        done, planned = (p.done, p.planned) if p is not None else (0, 0)
        if p is not None and p.phase == 1:  # the year lists: the total is known once they are in
            fraction = 0.0
            parts = [f"year lists {done}/{planned}, then the meetings", clock_time(now - self.started)]
        else:
            fraction = done / planned if planned else 0.0
            parts = [f"{done}/{planned}", f"{fraction:4.0%}", clock_time(now - self.started)]
        if p is not None and p.eta_s is not None:
            parts.append("ETA " + clock_time(p.eta_s - (now - self.last_at)))
        words = " ".join(parts)
        if self.wait_until is not None and self.wait_until > now:
            words += f"  {self.wait_label} {self.wait_until - now:.1f} s"
        elif p is not None and p.current:
            words += f"  {p.current}"
        words = mask_text(words, *self.secrets)
        return fraction, fit(words, max(width - bar_width(width) - 1, 10))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        fraction, words = self.text(options.max_width)
        yield bar_line(fraction, words, options.max_width)


class ProgressLine:
    """The ``progress`` callback of fetch, sync and bulk: live on a terminal, plain lines elsewhere.

    ``console``: draw the live line on this rich console (tests: a fixed width, recorded); by default one
    on ``stream`` when it is a terminal.
    """

    def __init__(
        self,
        stream: TextIO,
        secrets: tuple[str | None, ...] = (),
        *,
        console: Console | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.secrets = secrets
        self.level = verbosity()
        self.tty = console is not None or stream.isatty()
        self.clock = clock
        self._line: LiveLine | None = None
        self._live = _Live(stream, console)

    def __call__(self, progress: Progress) -> None:
        if self.level is Verbosity.QUIET:
            return
        if self.tty:
            self._live_update(progress)
            return
        waiting = progress.stage == "note" and progress.message.startswith("waiting")
        if waiting and self.level is not Verbosity.VERBOSE:
            return  # rate-limit waits happen before most requests: only a terminal (or --verbose) shows them
        if progress.stage in ("plan", "answer", "note") or (
            self.level is Verbosity.VERBOSE and progress.stage == "request"
        ):
            self.stream.write(mask_text(render_progress(progress), *self.secrets) + "\n")
            self.stream.flush()

    def _live_update(self, progress: Progress) -> None:
        if progress.stage == "done":
            self.clear()
            return
        if self._line is None:
            self._line = LiveLine(self.clock, self.secrets)
        self._line.update(progress)
        self._live.show(self._line)

    def clear(self) -> None:
        """Stop and erase the live line (the summary comes next); nothing to do for plain lines."""
        self._live.stop()
        self._line = None


class _Live:
    """One rich Live on ``stream`` (or ``console``): started by the first :meth:`show`, refreshed four
    times a second (so countdowns move on their own), erased by :meth:`stop`."""

    def __init__(self, stream: TextIO, console: Console | None) -> None:
        self.stream = stream
        self.console = console
        self.live: Any = None

    def show(self, renderable: Any) -> None:
        if self.live is None:
            from rich.console import Console as RichConsole
            from rich.live import Live

            console = self.console or RichConsole(file=self.stream)
            self.live = Live(renderable, console=console, refresh_per_second=4, transient=True)
            self.live.start()
        self.live.refresh()

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def _at(value: str) -> str:
    """``2024-12-08T15:30:00Z`` -> ``15:30Z`` (the live line has little room)."""
    return value[11:16] + "Z" if len(value) >= 16 else value


def _keys(keys: list[str], room: int = 3) -> str:
    from ingestion.store.model import short_key

    shown = ", ".join(short_key(k, 40) for k in keys[:room])
    return shown + (f" and {len(keys) - room} more" if len(keys) > room else "")


def watch_words(event: WatchEvent) -> list[str]:
    """What a person at the terminal reads for one of the watcher's events (``ingest watch`` on a
    terminal, under its live line): what it asked, what changed, the next wake-up; none for a wake-up (the
    pass's own lines follow). The JSON line says it all (``--json``, ``--log-file``)."""
    when = _at(event.at)
    if event.event == "start":
        results = "results on" if event.results else "no results"
        return [f"{when} watching {event.store} ({event.mode}, {event.tier} tier, {results})"]
    if event.event == "fetched":
        asked = (
            f"{when} asked {event.requests} request(s): {event.new} new, {event.unchanged} unchanged, "
            f"{event.empty} empty, {event.failed} failed"
        )
        return [asked, *([f"  changed: {_keys(event.changed)}"] if event.changed else [])]
    if event.event == "f1db":
        tag = f" {event.tag}" if event.tag else ""
        asked = f"{event.requests} request(s), {event.new_blobs} new blob(s)"
        return [f"{when} f1db{tag}: {event.outcome}, {asked}"]
    if event.event == "blocked":
        session = f" {event.session}" if event.session else ""
        return [f"{when} live session{session}: nothing asked until {_at(event.until)}"]
    if event.event == "error":
        where = f" {_keys([event.request], 1)}" if isinstance(event.request, str) else ""
        return [f"{when} error ({event.stage}{where}): {event.reason}"]
    if event.event == "replayed":
        lines = [f"{when} replayed {event.snapshots} snapshot(s): {event.written} row(s) written"]
        writes = event.tables.items()
        tables = ", ".join(f"{name} +{c.inserted} ~{c.updated} -{c.removed}" for name, c in writes)
        kept = [f"  kept: {message}" for message in event.kept or ()]  # never silent: the earlier rows stay
        return lines + ([f"  {tables}"] if tables else []) + kept
    if event.event == "sleep":
        retry = f", {event.failures} failed pass(es)" if event.failures else ""
        return [
            f"{when} next wake-up {_at(event.until)} (in {clock_time(event.seconds)}) for "
            f"{event.waiting_for or 'the next step'}{retry}"
        ]
    if event.event == "done":
        return [f"{when} done: exit {event.exit_code}"]
    if event.event == "stopped":
        return [f"{when} stopped by {event.signal} during the {event.during}"]
    return []  # wake, replaying: the live line says it


class WatchLine:
    """The live line of ``ingest watch`` (a rich renderable): what the watcher is doing, or, while it
    sleeps, a countdown to its next wake-up and what that wake-up is for; during a fetch, fetch's line."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, secrets: tuple[str | None, ...] = ()
    ) -> None:
        self.clock = clock
        self.secrets = secrets
        self.fetch: LiveLine | None = None
        self.doing = "starting"
        self.since = clock()
        self.wake_at: float | None = None
        self.wake_text = ""
        self.last = ""

    def event(self, event: WatchEvent) -> None:
        """Take one of the watcher's events."""
        now = self.clock()
        self.wake_at = None
        if event.event == "sleep":
            self.wake_at = now + event.seconds
            self.wake_text = f"{_at(event.until)} for {event.waiting_for or 'the next step'}"
            return
        if event.event == "wake":
            self.doing, self.since, self.last = "pass: looking for what is due", now, ""
        elif event.event == "fetched":
            self.fetch = None
            self.last = f"{event.new} new, {event.failed} failed"
            self.doing = f"pass: fetched ({self.last})"
        elif event.event == "replaying":
            self.doing = "pass: replaying into the database"
        elif event.event == "replayed":
            written = f"{event.written} row(s) written"
            if event.kept:  # never silent: a detected fault kept the earlier rows
                written += f", {len(event.kept)} answer(s) that cannot be true kept out"
            self.last = f"{self.last}, {written}" if self.last else written
            self.doing = "pass: replayed"
        elif event.event == "f1db":
            self.last = f"f1db {event.outcome} {event.tag or ''}".rstrip()
        elif event.event == "blocked":
            self.last = f"live session, closed until {_at(event.until)}"
        elif event.event == "error":
            self.last = f"error: {event.reason}"

    def progress(self, progress: Progress) -> None:
        if progress.stage == "done":
            self.fetch = None
            return
        if self.fetch is None:
            self.fetch = LiveLine(self.clock, self.secrets)
        self.fetch.update(progress)

    def text(self, width: int) -> str:
        now = self.clock()
        if self.wake_at is not None:
            words = f"watch: next wake-up in {clock_time(self.wake_at - now)}, at {self.wake_text}"
            if self.last:
                words += f"  · last pass: {self.last}"
        else:
            words = f"watch: {self.doing} {clock_time(now - self.since)}"
        return fit(mask_text(words, *self.secrets), width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.fetch is not None:
            yield from self.fetch.__rich_console__(console, options)
            return
        from rich.text import Text

        yield Text(self.text(options.max_width), no_wrap=True, overflow="ellipsis")


class WatchProgress:
    """``ingest watch``'s live line on a terminal (stderr); nothing off a terminal or with ``--quiet``:
    there the JSON lines, one per event, are the plain form. ``console``: draw there (tests)."""

    def __init__(self, stream: TextIO, line: WatchLine, *, console: Console | None = None) -> None:
        self.on = verbosity() is not Verbosity.QUIET and (console is not None or stream.isatty())
        self.line = line
        self._live = _Live(stream, console)

    def event(self, event: WatchEvent) -> None:
        if not self.on:
            return
        self.line.event(event)
        if event.event in ("done", "stopped"):
            self.clear()
        else:
            self._live.show(self.line)

    def progress(self, progress: Progress) -> None:
        if self.on:
            self.line.progress(progress)
            self._live.show(self.line)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Erase the line while something else writes to the terminal; it comes back on the next event."""
        self._live.stop()
        yield

    def clear(self) -> None:
        self._live.stop()


class StageProgress:
    """The stages of a long replay on a terminal (stderr): a bar over the stages, the stage, its count, the
    time so far. Shown only once the replay has run ``after`` seconds (a quick replay shows nothing);
    nothing off a terminal or with ``--quiet``."""

    def __init__(
        self,
        stream: TextIO,
        *,
        console: Console | None = None,
        clock: Callable[[], float] = time.monotonic,
        after: float = 1.0,
    ) -> None:
        self.on = verbosity() is not Verbosity.QUIET and (console is not None or stream.isatty())
        self.clock = clock
        self.after = after
        self.started = clock()
        self.step: ReplayStep | None = None
        self._live = _Live(stream, console)

    def __call__(self, step: ReplayStep) -> None:
        if not self.on:
            return
        self.step = step
        self._live.show(self)

    def text(self, width: int) -> tuple[float, str]:
        step = self.step
        if step is None:
            return 0.0, ""
        words = f"{step.index}/{step.stages} {step.name}"
        if step.count is not None:
            words += f" {step.count:,} {step.unit}"
        words += f" {clock_time(self.clock() - self.started)}"
        return step.index / step.stages, fit(words, max(width - bar_width(width) - 1, 10))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.step is None or self.clock() - self.started < self.after:
            return  # nothing drawn yet: a replay this short needs no progress
        fraction, words = self.text(options.max_width)
        yield bar_line(fraction, words, options.max_width)

    def clear(self) -> None:
        self._live.stop()
