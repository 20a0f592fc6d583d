"""Progress of fetch/sync/bulk, watch and replay: one live line that fits the terminal, plain lines off it."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from ingestion.cli.conventions import Verbosity, set_verbosity
from ingestion.cli.progress import LiveLine, ProgressLine, StageProgress, WatchLine, WatchProgress, clock_time
from ingestion.fetch import Progress
from ingestion.instant import format_duration as _duration
from ingestion.replay.summary import ReplayStep
from ingestion.watch.events import Error, Fetched, Replayed, Replaying, Sleep, Stopped, Wake

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


def _render(line: object, width: int) -> str:
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


AT = "2024-12-08T14:27:00Z"
SLEEP = Sleep(
    at=AT, until="2024-12-08T15:30:00Z", seconds=3723.0, failures=0,
    waiting_for="session_result?meeting_key=1252 (correction +6 h)",
)  # fmt: skip
WAKE = Wake(at=AT)
STOPPED = Stopped(at=AT, signal="SIGTERM", during="sleep")


def _fetched(*, new: int, failed: int) -> Fetched:
    asked = new + failed
    return Fetched(
        at=AT, requests=asked, http_requests=asked, new=new, unchanged=0, empty=0, failed=failed, changed=[],
        why={},
    )  # fmt: skip


def _replayed(written: int) -> Replayed:
    return Replayed(at=AT, as_of=AT, snapshots=1, written=written, tables={})


def test_watch_line_at_80_columns_counts_down_to_the_next_wake_and_says_what_for() -> None:
    clock = Clock()
    line = WatchLine(clock)
    line.event(WAKE)
    clock.now += 3
    assert _render(line, 80) == "watch: pass: looking for what is due 0:03\n"
    line.event(_fetched(new=2, failed=0))
    line.event(_replayed(40))
    line.event(SLEEP)
    text = _render(line, 80)
    assert text.count("\n") == 1 and len(text.rstrip("\n")) <= 80, text
    assert text.startswith("watch: next wake-up in 1:02:03, at 15:30Z for session_result?meeting_key=1252 (")
    clock.now += 10  # no event: the refresh alone moves the countdown
    assert "next wake-up in 1:01:53," in _render(line, 80)
    assert "last pass: 2 new, 0 failed, 40 row(s) written" in _render(line, 200)
    line.event(WAKE)
    line.event(_replayed(0))  # a pass that fetched nothing
    line.event(SLEEP)
    assert _render(line, 200).rstrip().endswith("· last pass: 0 row(s) written")


def test_watch_line_during_a_fetch_is_fetch_s_own_line() -> None:
    clock = Clock()
    line = WatchLine(clock)
    line.event(WAKE)
    line.progress(WAIT)
    assert "rate limit, next in 50.0 s" in _render(line, 80)
    line.progress(DONE)
    line.event(Replaying(at=AT, as_of=AT, changed=True))
    assert _render(line, 80).startswith("watch: pass: replaying into the database")


@pytest.mark.parametrize("width", [40, 80, 120])
def test_watch_line_never_wraps(width: int) -> None:
    line = WatchLine(Clock())
    line.event(Error(at=AT, stage="pass", reason="x" * 300))
    line.event(SLEEP)
    text = _render(line, width)
    assert text.count("\n") == 1 and len(text.rstrip("\n")) <= width, text


def test_watch_progress_on_a_terminal_only_and_not_with_quiet() -> None:
    stream = io.StringIO()
    console = Console(file=stream, width=80, force_terminal=True, color_system=None)
    shown = WatchProgress(stream, WatchLine(Clock()), console=console)
    shown.event(SLEEP)
    shown.event(STOPPED)
    assert "next wake-up in" in stream.getvalue() and stream.getvalue().endswith("\x1b[2K")
    piped = io.StringIO()  # off a terminal the watcher's JSON lines are the plain form: nothing more here
    plain = WatchProgress(piped, WatchLine(Clock()))
    for record in (WAKE, SLEEP, STOPPED):
        plain.event(record)
    plain.progress(WAIT)
    assert piped.getvalue() == ""
    set_verbosity(Verbosity.QUIET)
    quiet = io.StringIO()
    hushed_console = Console(file=quiet, width=80, force_terminal=True)
    hushed = WatchProgress(quiet, WatchLine(Clock()), console=hushed_console)
    hushed.event(SLEEP)
    assert quiet.getvalue() == ""


def test_replay_stages_show_after_a_second_on_a_terminal_and_never_piped() -> None:
    clock = Clock()
    stream = io.StringIO()
    console = Console(file=stream, width=80, force_terminal=True, color_system=None)
    stages = StageProgress(stream, console=console, clock=clock)
    stages(ReplayStep(index=0, name="reading the store"))
    assert _render(stages, 80) == ""  # a replay this short shows nothing
    clock.now += 2.5
    stages(ReplayStep(index=2, name="normalizing", count=1234, unit="snapshot(s) decoded"))
    assert _render(stages, 80) == "━━━━━───── 2/4 normalizing 1,234 snapshot(s) decoded 0:02\n"
    stages.clear()
    assert "2/4 normalizing" in stream.getvalue() and stream.getvalue().endswith("\x1b[2K")
    piped = io.StringIO()
    plain = StageProgress(piped, clock=clock)
    plain(ReplayStep(index=1, name="decoding", count=3, unit="snapshot(s)"))
    clock.now += 5
    plain(ReplayStep(index=4, name="loaded", count=8, unit="table(s)"))
    plain.clear()
    assert piped.getvalue() == ""


def test_watch_words_are_short_human_lines() -> None:
    """On a terminal each event is a short line (what it asked, what changed, the next wake-up), never the
    JSON: a fetched event with a 25-meeting batch key is one line under 80 columns, the key shortened."""
    from ingestion.cli.progress import watch_words
    from ingestion.cli.render import wrap_line

    batch = "session_result?" + "&".join(f"meeting_key={k}" for k in range(1229, 1254))
    fetched = Fetched(
        at=AT, requests=1, http_requests=1, new=1, unchanged=0, empty=0, failed=0, changed=[batch],
        why={batch: "after the race, +1 h " * 10},
    )  # fmt: skip
    lines = watch_words(fetched)
    assert lines == [
        "14:27Z asked 1 request(s): 1 new, 0 unchanged, 0 empty, 0 failed",
        "  changed: session_result?meeting_key=1229&...&meeting_key=1253 (25)",
    ]
    assert watch_words(SLEEP) == [
        "14:27Z next wake-up 15:30Z (in 1:02:03) for session_result?meeting_key=1252 (correction +6 h)"
    ]
    assert watch_words(WAKE) == []
    assert watch_words(_replayed(40)) == ["14:27Z replayed 1 snapshot(s): 40 row(s) written"]
    assert watch_words(Error(at=AT, stage="fetch", request=batch, status=503, reason="HTTP 503")) == [
        "14:27Z error (fetch session_result?meeting_key=1229&...&meeting_key=1253 (25)): HTTP 503"
    ]
    for event in (fetched, SLEEP, STOPPED, _replayed(40)):
        assert all(len(part) <= 80 for line in watch_words(event) for part in wrap_line(line, 80))


def test_fetch_line_never_fills_then_drops_between_the_phases() -> None:
    """The year lists come first and the meetings are planned from them: while the lists are asked, the
    line says so and its bar stays empty, so it never shows 2/2 100% and then 2/3 67%."""
    clock = Clock()
    line = LiveLine(clock)
    shown = []
    for progress in (
        Progress(stage="answer", phase=1, done=1, planned=2),
        Progress(stage="answer", phase=1, done=2, planned=2),
        Progress(stage="plan", phase=2, done=2, planned=27),
        Progress(stage="answer", phase=2, done=27, planned=27),
    ):
        line.update(progress)
        shown.append(line.text(80))
    fractions = [fraction for fraction, _ in shown]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert shown[1][1].startswith("year lists 2/2, then the meetings") and "100%" not in shown[1][1]
