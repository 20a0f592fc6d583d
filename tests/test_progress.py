"""Progress of fetch/sync/bulk: one live line that fits the terminal, plain lines elsewhere."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from ingestion.cli.conventions import Verbosity, set_verbosity
from ingestion.cli.progress import LiveLine, ProgressLine, clock_time
from ingestion.fetch import Progress
from ingestion.instant import format_duration as _duration

REQUEST = Progress(
    stage="request", phase=2, done=30, planned=77, current="session_result?meeting_key=1229", eta_s=120.0
)
WAIT = Progress(
    stage="note", phase=2, done=30, planned=77, current="session_result?meeting_key=1229",
    message="waiting 50.00 s for the rate limit", wait_s=50.0, eta_s=170.0,
)  # fmt: skip
ANSWER = Progress(
    stage="answer", phase=2, done=31, planned=77, current="session_result?meeting_key=1229",
    message="200 new (5123 bytes)",
)  # fmt: skip
DONE = Progress(stage="done", phase=2, done=77, planned=77)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _render(line: LiveLine, width: int) -> str:
    console = Console(width=width, record=True, force_terminal=True, file=io.StringIO(), color_system=None)
    console.print(line)
    return console.export_text()


@pytest.fixture(autouse=True)
def _normal_verbosity() -> None:
    set_verbosity(Verbosity.NORMAL)


def test_progress_live_line_at_80_columns_has_bar_counts_eta_and_request() -> None:
    clock = Clock()
    line = LiveLine(clock)
    clock.now += 65
    line.update(REQUEST)
    text = _render(line, 80)
    assert text.count("\n") == 1 and len(text.rstrip("\n")) <= 80
    assert text == "━━━━────── 30/77  39% 1:05 ETA 2:00  session_result?meeting_key=1229\n"


def test_progress_live_line_counts_down_a_rate_limit_wait_between_events() -> None:
    clock = Clock()
    line = LiveLine(clock)
    line.update(WAIT)
    clock.now += 10  # no event: the refresh alone moves the countdown, the elapsed time and the ETA
    assert "1:10" not in _render(line, 80)
    text = _render(line, 80)
    assert "rate limit, next in 40.0 s" in text and " 0:10 ETA 2:40" in text
    clock.now += 39.5
    assert "next in 0.5 s" in _render(line, 80)
    line.update(ANSWER)  # the wait is over: the request is shown again
    assert "session_result?meeting_key=1229" in _render(line, 80) and "next in" not in _render(line, 80)


@pytest.mark.parametrize("width", [40, 60, 80, 120])
def test_progress_live_line_never_wraps(width: int) -> None:
    clock = Clock()
    line = LiveLine(clock)
    clock.now += 3725
    line.update(WAIT)
    text = _render(line, width)
    assert text.count("\n") == 1 and len(text.rstrip("\n")) <= width, text


def test_progress_on_a_terminal_is_one_live_line_cleared_at_the_end() -> None:
    stream = io.StringIO()
    console = Console(file=stream, width=80, force_terminal=True, color_system=None)
    clock = Clock()
    progress = ProgressLine(stream, console=console, clock=clock)
    for event in (REQUEST, WAIT, ANSWER):
        progress(event)
    progress(DONE)
    written = stream.getvalue()
    assert "30/77" in written and "31/77" in written and "rate limit, next in 50.0 s" in written
    assert written.endswith("\x1b[2K")  # erased: the summary is printed in its place


def test_progress_off_a_terminal_is_one_plain_line_per_answer() -> None:
    stream = io.StringIO()
    progress = ProgressLine(stream)
    for event in (REQUEST, WAIT, ANSWER, DONE):
        progress(event)
    assert stream.getvalue().splitlines() == [
        "[31/77] session_result?meeting_key=1229 200 new (5123 bytes) (waited 0.0 s, 0 retries, 0 x 429)"
    ]


def test_progress_verbose_shows_requests_and_waits_quiet_shows_nothing() -> None:
    set_verbosity(Verbosity.VERBOSE)
    verbose = io.StringIO()
    progress = ProgressLine(verbose)
    for event in (REQUEST, WAIT, ANSWER, DONE):
        progress(event)
    assert len(verbose.getvalue().splitlines()) == 3
    assert "waiting 50.00 s for the rate limit" in verbose.getvalue()

    set_verbosity(Verbosity.QUIET)
    quiet = io.StringIO()
    progress = ProgressLine(quiet, console=Console(file=quiet, force_terminal=True))
    for event in (REQUEST, WAIT, ANSWER, DONE):
        progress(event)
    assert quiet.getvalue() == ""


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.04, "0:00"), (59.6, "1:00"), (65.4, "1:05"), (119.6, "2:00"), (3725, "1:02:05")]
)
def test_progress_clock_time(seconds: float, text: str) -> None:
    assert clock_time(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(8.94, "8.9 s"), (59.96, "1 min 00.0 s"), (119.97, "2 min 00.0 s"), (65.0, "1 min 05.0 s"),
     (3599.96, "1 h 00 min"), (3725, "1 h 02 min"), (7199.9, "2 h 00 min"),
     (86369.0, "23 h 59 min"), (86399.0, "1 d 00 h"), (266400, "3 d 02 h")],
)
def test_fetch_summary_duration_never_says_60_seconds(seconds: float, text: str) -> None:
    assert _duration(seconds) == text
