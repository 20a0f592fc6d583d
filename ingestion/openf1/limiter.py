"""Pacing requests under OpenF1's two sliding windows (per second and per minute).

The core, :class:`Windows`, is pure: it holds the send times it was told about and answers "when may the
next request go?" for a given time. :class:`Limiter` is the thin async shell around it, with an injectable
clock and sleep so tests run on a fake clock and never sleep.

Each window is a count and a length: ``per_second=3`` is "at most 3 requests in any 1 s", ``per_minute=30``
is "at most 30 in any 60 s". A request may go at ``t`` when the request ``count`` places earlier went at
least ``length + margin`` before ``t``.

The server counts *arrival* times, which the client cannot see: a request may arrive long after it was
sent (the first one opens the connection; TLS; a slow network), so two requests sent a window apart
could arrive closer than that. So a request's slot is first recorded when it is sent, then moved to
when its answer came back (:meth:`Limiter.complete`): the server cannot have counted it later than
that. The margin (a few milliseconds) covers clock granularity.
A fractional rate such as ``2.5`` per second becomes "2 in any 0.8 s"; below 1 per second, "1 per 1/rate s".
"""

from __future__ import annotations

import asyncio
import bisect
import math
import time
from collections.abc import Awaitable, Callable, Iterable

import msgspec

#: Extra spacing added to each window, in seconds.
DEFAULT_MARGIN = 0.005


class Window(msgspec.Struct, frozen=True):
    """At most ``count`` requests in any ``length`` seconds."""

    count: int
    length: float


def windows_for(per_second: float, per_minute: float) -> tuple[Window, Window]:
    """The two windows of a rate limit: ``(3, 30)`` -> 3 in any 1 s and 30 in any 60 s."""
    if not per_second > 0 or not per_minute > 0:
        raise ValueError(f"rate limits must be greater than 0, got {per_second}/s and {per_minute}/min")
    second_count = max(1, math.floor(per_second))
    minute_count = max(1, math.floor(per_minute))
    return (
        Window(second_count, second_count / per_second),
        Window(minute_count, 60.0 * minute_count / per_minute),
    )


class Windows:
    """The pure core: the send times that matter, and the earliest time the next request may go."""

    def __init__(self, windows: tuple[Window, ...], margin: float = DEFAULT_MARGIN) -> None:
        if margin < 0:
            raise ValueError("margin must be >= 0")
        self.windows = windows
        self.margin = margin
        self._depth = max(w.count for w in windows)
        self._sent: list[float] = []  # sorted, the latest ``_depth`` send times
        self._not_before = -math.inf

    def next_allowed(self, now: float) -> float:
        """The earliest time >= ``now`` at which one more request keeps every window within its count."""
        earliest = max(now, self._not_before)
        sent = self._sent
        for window in self.windows:
            if len(sent) >= window.count:
                earliest = max(earliest, sent[-window.count] + window.length + self.margin)
        return earliest

    def record(self, at: float) -> None:
        """A request was sent at ``at``."""
        bisect.insort(self._sent, at)
        if len(self._sent) > self._depth:
            del self._sent[: len(self._sent) - self._depth]

    def move(self, old: float, new: float) -> None:
        """The request recorded at ``old`` is to be counted at ``new`` (later: when it was answered)."""
        index = bisect.bisect_left(self._sent, old)
        if index < len(self._sent) and self._sent[index] == old:
            del self._sent[index]
            self.record(max(old, new))
        elif self._sent and new > self._sent[0]:
            self.record(new)  # already trimmed away: the later time still counts

    def pause_until(self, at: float) -> None:
        """Send nothing before ``at`` (a server's Retry-After)."""
        self._not_before = max(self._not_before, at)

    def schedule(self, n: int, now: float) -> list[float]:
        """When the next ``n`` requests would go if sent as early as allowed (does not change the state)."""
        copy = Windows(self.windows, self.margin)
        copy._sent = list(self._sent)
        copy._not_before = self._not_before
        times: list[float] = []
        t = now
        for _ in range(n):
            t = copy.next_allowed(t)
            copy.record(t)
            times.append(t)
        return times


def least_time(n: int, per_second: float, per_minute: float, earlier: Iterable[float] = ()) -> float:
    """The least time, in seconds, from the start to the last of ``n`` requests the two limits allow.

    Requests go as early as the sliding windows let them (no margin): for 77 requests at 3/s and 30/min,
    30 go in the first 10 s (3 at 0 s, 3 at 1 s, ... 3 at 9 s), the next 30 from 60 s, the last 17 from
    120 s, the last one at 125 s. ``earlier`` are the ages, in seconds at the start, of requests the
    server still counts (an earlier run's): 30 requests a second old leave the next one 59 s to wait.
    """
    if n <= 0:
        return 0.0
    windows = Windows(windows_for(per_second, per_minute), margin=0.0)
    for age in earlier:
        windows.record(-age)
    return windows.schedule(n, 0.0)[-1]


class Ticket(msgspec.Struct, frozen=True):
    """A request let through: when it was sent (monotonic seconds), and how long it waited."""

    sent_at: float
    waited: float


Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Limiter:
    """Waits before each request as long as the windows require; counts the time spent waiting."""

    def __init__(
        self,
        per_second: float,
        per_minute: float,
        *,
        margin: float = DEFAULT_MARGIN,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.per_second = per_second
        self.per_minute = per_minute
        self.windows = Windows(windows_for(per_second, per_minute), margin)
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        #: Total seconds spent waiting for the limit.
        self.waited = 0.0
        #: Requests let through.
        self.sent = 0

    async def acquire(self, on_wait: Callable[[float], None] | None = None) -> Ticket:
        """Wait until one more request is allowed and record it as sent now.

        Call :meth:`complete` with the ticket once the answer (or the error) is in.
        """
        async with self._lock:
            waited = 0.0
            while True:
                now = self._clock()
                at = self.windows.next_allowed(now)
                if at <= now:
                    break
                if on_wait is not None:
                    on_wait(at - now)
                await self._sleep(at - now)
                waited += max(0.0, self._clock() - now)
            self.windows.record(now)
            self.waited += waited
            self.sent += 1
            return Ticket(now, waited)

    def complete(self, ticket: Ticket) -> None:
        """The request of ``ticket`` is over: count it at this time, the latest it can have arrived."""
        self.windows.move(ticket.sent_at, self._clock())

    @property
    def horizon(self) -> float:
        """How long, in seconds, a request keeps counting against the windows."""
        return max(w.length for w in self.windows.windows) + self.windows.margin

    def seed(self, ages: Iterable[float]) -> None:
        """Count requests answered ``ages`` seconds ago (by an earlier run): the server still counts them."""
        now = self._clock()
        for age in ages:
            if 0 <= age <= self.horizon:
                self.windows.record(now - age)

    def pause_for(self, seconds: float) -> None:
        """Send nothing for ``seconds`` from now (a server's Retry-After)."""
        self.windows.pause_until(self._clock() + seconds)

    def eta(self, remaining: int) -> float:
        """Seconds from now until the last of ``remaining`` requests could go."""
        if remaining <= 0:
            return 0.0
        now = self._clock()
        return max(0.0, self.windows.schedule(remaining, now)[-1] - now)
