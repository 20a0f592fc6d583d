"""Progress of fetch, sync and bulk on stderr: a live line on a terminal, a plain line per event elsewhere.

On a terminal the line is drawn by rich (imported only then) and always fits the terminal's width: a bar,
done/total, percentage, elapsed time, ETA, and the current request or, while waiting for the rate limit, a
429 or a retry backoff, a countdown that moves on its own. It is cleared at the end, when the summary is
printed. Off a terminal (a pipe, a cron log) each answer, plan and notable event is one plain line; waits
for the rate limit happen before most requests and are printed only with ``--verbose``. ``--quiet`` shows
no progress at all. Colour follows rich's rules: none off a terminal, none with ``NO_COLOR`` set.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from ingestion.cli.conventions import Verbosity, verbosity
from ingestion.cli.lazy import lazy
from ingestion.masking import mask_text

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

    from ingestion.fetch import Progress, render_progress
else:  # the fetch stage only once progress is drawn
    render_progress = lazy("ingestion.fetch", "render_progress")

__all__ = ["LiveLine", "ProgressLine"]

BAR_WIDTH = 20  # the widest bar (160 columns and more): an eighth of the width below, so words keep room


def clock_time(seconds: float) -> str:
    """``65.4`` -> ``"1:05"``, ``3725`` -> ``"1:02:05"``: compact, fixed in shape, rounded once."""
    whole = max(round(seconds), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def bar_width(width: int) -> int:
    return min(BAR_WIDTH, max(width // 8, 4))


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
        room = max(width - bar_width(width) - 1, 10)
        if len(words) > room:
            words = words[: room - 1] + "…"
        return fraction, words

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.text import Text

        fraction, words = self.text(options.max_width)
        bar = bar_width(options.max_width)
        filled = round(fraction * bar)
        line = Text.assemble(
            ("━" * filled, "bar.complete"), ("─" * (bar - filled), "bar.back"), " ", words,
            no_wrap=True, overflow="ellipsis",
        )  # fmt: skip
        line.truncate(options.max_width, overflow="ellipsis")
        yield line


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
        self.console = console
        self._line: LiveLine | None = None
        self._live: Any = None

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
        if self._live is None:
            from rich.console import Console as RichConsole
            from rich.live import Live

            self._line = LiveLine(self.clock, self.secrets)
            console = self.console or RichConsole(file=self.stream)
            self._live = Live(self._line, console=console, refresh_per_second=4, transient=True)
            self._live.start()
        assert self._line is not None
        self._line.update(progress)
        self._live.refresh()

    def clear(self) -> None:
        """Stop and erase the live line (the summary comes next); nothing to do for plain lines."""
        if self._live is not None:
            self._live.stop()
            self._live = None
