"""The rate limiter: sliding per-second and per-minute windows, on a fake clock (no test sleeps)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingestion.openf1.limiter import Limiter, Window, Windows, least_time, windows_for
from ingestion.server import SlidingWindowLimiter


class FakeClock:
    """Monotonic seconds that move only when someone sleeps or the test says so."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += max(0.0, seconds)


def _send_all(
    per_second: float,
    per_minute: float,
    durations: list[float],
    fractions: list[float],
    margin: float = 0.015,
) -> tuple[list[float], list[float], Limiter]:
    """Send one request per duration through a limiter; return (send times, server arrival times)."""
    clock = FakeClock()
    limiter = Limiter(per_second, per_minute, margin=margin, clock=clock, sleep=clock.sleep)
    sent: list[float] = []
    arrived: list[float] = []

    async def go() -> None:
        for duration, fraction in zip(durations, fractions, strict=True):
            ticket = await limiter.acquire()
            sent.append(ticket.sent_at)
            arrived.append(ticket.sent_at + duration * fraction)  # the server counts it somewhere in flight
            clock.t += duration
            limiter.complete(ticket)

    asyncio.run(go())
    return sent, arrived, limiter


def test_least_time_season_at_free_tier() -> None:
    """77 requests at 3/s and 30/min: 30 in the first 10 s, 30 from 60 s, the last 17 from 120 s: 125 s."""
    assert least_time(77, 3, 30) == 125.0
    assert least_time(30, 3, 30) == 9.0
    assert least_time(31, 3, 30) == 60.0
    assert least_time(1, 3, 30) == 0.0
    assert least_time(0, 3, 30) == 0.0


def test_least_time_counts_an_earlier_runs_requests() -> None:
    """Requests an earlier run made `earlier` seconds ago still fill the windows: after 30 requests a
    second ago at 3/s and 30/min, one more waits 59 s; requests a minute old no longer count."""
    assert least_time(1, 3, 30, earlier=[1.0] * 30) == pytest.approx(59.0)
    assert least_time(31, 3, 30, earlier=[1.0] * 30) == pytest.approx(59.0 + 60.0)
    assert least_time(4, 3, 30, earlier=[0.5, 0.5]) == pytest.approx(1.0)
    assert least_time(77, 3, 30, earlier=[61.0] * 30) == least_time(77, 3, 30) == 125.0


def test_least_time_paid_tier() -> None:
    """77 requests at 6/s and 60/min: 60 in 10 s, the last 17 from 60 s (two more seconds): 62 s."""
    assert least_time(77, 6, 60) == 62.0


def test_limiter_windows_for_fractional_rates() -> None:
    """2.5/s becomes 2 in any 0.8 s; 0.5/s becomes 1 in any 2 s; 30/min is 30 in any 60 s."""
    assert windows_for(2.5, 30) == (Window(2, 0.8), Window(30, 60.0))
    assert windows_for(0.5, 30)[0] == Window(1, 2.0)
    with pytest.raises(ValueError):
        windows_for(0, 30)


def test_limiter_first_burst_goes_at_once() -> None:
    """With an empty history, as many requests as the per-second count go without waiting."""
    sent, _, limiter = _send_all(3, 30, [0.0] * 3, [0.0] * 3)
    assert sent == [1000.0] * 3
    assert limiter.waited == 0.0


def test_limiter_counts_a_request_at_its_answer_time() -> None:
    """A slow answer pushes the window: the 4th request waits for 1 s after the 1st one's answer."""
    sent, _, _ = _send_all(3, 30, [0.5, 0.0, 0.0, 0.0], [1.0] * 4, margin=0.0)
    assert sent[3] == pytest.approx(sent[0] + 0.5 + 1.0)


@settings(max_examples=60, deadline=None)
@given(
    per_second=st.integers(1, 8),
    extra_minute=st.integers(0, 40),
    data=st.data(),
)
def test_limiter_never_exceeds_either_window(per_second: int, extra_minute: int, data: st.DataObject) -> None:
    """Whatever the answer times and wherever in flight the server counts a request, the real server's
    sliding-window limiter admits every request: never more than the limits in any window."""
    per_minute = per_second + extra_minute
    n = data.draw(st.integers(1, per_minute * 2 + 5))
    durations = data.draw(st.lists(st.floats(0, 2.0), min_size=n, max_size=n))
    fractions = data.draw(st.lists(st.floats(0, 1.0), min_size=n, max_size=n))
    _, arrived, _ = _send_all(per_second, per_minute, durations, fractions)
    server = SlidingWindowLimiter(per_second, per_minute)
    for i, at in enumerate(sorted(arrived)):
        assert server.admit(at), f"request {i} at {at} would get a 429"
    for i in range(len(arrived)):
        if i >= per_second:
            assert arrived[i] - arrived[i - per_second] > 1.0
        if i >= per_minute:
            assert arrived[i] - arrived[i - per_minute] > 60.0


@settings(max_examples=40, deadline=None)
@given(per_second=st.integers(1, 6), extra_minute=st.integers(0, 60), n=st.integers(1, 150))
def test_limiter_instant_answers_reach_least_time(per_second: int, extra_minute: int, n: int) -> None:
    """With instant answers, the last request goes at the least time plus only the margins."""
    per_minute = per_second + extra_minute
    margin = 0.015
    sent, _, _ = _send_all(per_second, per_minute, [0.0] * n, [0.0] * n, margin=margin)
    least = least_time(n, per_second, per_minute)
    assert least <= sent[-1] - sent[0] <= least + margin * n + 1e-6


def test_limiter_pause_for_holds_every_request() -> None:
    """After pause_for (a Retry-After), nothing goes before the pause ends."""
    clock = FakeClock()
    limiter = Limiter(100, 1000, clock=clock, sleep=clock.sleep)
    limiter.pause_for(5.0)

    async def go() -> float:
        return (await limiter.acquire()).sent_at

    assert asyncio.run(go()) == pytest.approx(1005.0)
    assert limiter.waited == pytest.approx(5.0)


def test_limiter_eta_follows_the_windows() -> None:
    """The ETA of 31 more requests at 3/s and 30/min from an empty history is one minute."""
    clock = FakeClock()
    limiter = Limiter(3, 30, margin=0.0, clock=clock, sleep=clock.sleep)
    assert limiter.eta(31) == pytest.approx(60.0)
    assert limiter.eta(0) == 0.0


def test_windows_move_keeps_the_latest_times() -> None:
    """Moving a recorded time later keeps the history sorted and bounded."""
    windows = Windows((Window(2, 1.0),), margin=0.0)
    windows.record(0.0)
    windows.record(0.1)
    windows.move(0.0, 0.5)
    assert windows.next_allowed(0.2) == pytest.approx(1.1)
    windows.record(2.0)
    assert windows.next_allowed(2.0) == pytest.approx(2.0)  # 0.5 and 2.0 are the last two
    windows.move(0.1, 1.8)  # trimmed away already, but answered late: counted at 1.8
    assert windows.next_allowed(2.0) == pytest.approx(2.8)
